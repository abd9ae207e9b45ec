// Comparing agents, for the verbs that take several --server (status,
// config apply): each VIP's ring digest on every agent side by side, and
// the VIPs where they differ. Two agents that report the same digest for a
// VIP send every new flow to it to the same backend (VipStatus.ring_digest
// in proto/xlb/v1/xlb.proto), so a flow the router moves between them
// keeps its backend.
#ifndef XLB_TOOLS_XLBCTL_AGREEMENT_H_
#define XLB_TOOLS_XLBCTL_AGREEMENT_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {

// One agent's VIPs and their ring digests, in the agent's order.
struct AgentRings {
  std::string server;  // as given with --server
  struct Vip {
    std::string key;          // FormatVipKey
    std::string ring_digest;  // "" when the VIP has no ring
  };
  std::vector<Vip> vips;
};

AgentRings RingsOf(std::string server, const v1::GetStatusResponse& status);

// Every VIP any agent has (in the order first seen), each agent's digest
// for it (nullopt where the agent lacks the VIP), and whether all agree.
struct RingComparison {
  struct Row {
    std::string vip;
    std::vector<std::optional<std::string>> digests;  // one per agent
    bool agree = true;
  };
  std::vector<std::string> servers;
  std::vector<Row> rows;

  bool agree() const;
  std::vector<std::string> disagreeing_vips() const;
};

RingComparison CompareRings(const std::vector<AgentRings>& agents);

// VIP, one column per agent (the digest, "-" without a ring, "absent"
// where the agent lacks the VIP), and AGREE (yes / NO); or a line saying
// no agent has a VIP.
void PrintRingComparison(std::ostream& out, const RingComparison& comparison,
                         const std::string& indent = "");

// {"vips": [{"vip", "ring_digests": {server: digest or null}, "agree"}],
//  "agree": bool}
google::protobuf::Struct RingComparisonJson(const RingComparison& comparison);

// The failure for agents that disagree (exit code kExitDisagree): names
// every VIP that differs and each agent's digest for it. `when` says when,
// e.g. "after the apply".
absl::Status DisagreementStatus(const RingComparison& comparison,
                                absl::string_view when);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_AGREEMENT_H_
