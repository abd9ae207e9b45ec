// Everything a probe of one target needs, resolved once when the target is
// added or updated (address, request bytes, TLS context) so that starting a
// probe allocates little and parses nothing. What the VIP's spec already says
// (expected codes, body, UDP bytes) is read from the shared spec, not copied:
// a checker may hold tens of thousands of plans.
#ifndef XLB_LB_HEALTH_PROBE_PLAN_H_
#define XLB_LB_HEALTH_PROBE_PLAN_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lb/base/unique_fd.h"
#include "lb/health/probe.h"
#include "lb/health/target.h"
#include "lb/health/tls.h"

namespace xlb::health {

// The probed address: sockaddr_in or sockaddr_in6 (not sockaddr_storage,
// 100 bytes larger).
union ProbeAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

struct ProbePlan {
  SharedSpec spec;  // the VIP's check: type, expectations, UDP bytes
  ProbeAddress address{};
  socklen_t address_len = 0;
  uint32_t mark = 0;  // 0: no SO_MARK
  // Host header or :authority.
  std::string host;
  // kHttps: SNI and the name the certificate must carry.
  std::string tls_name;
  // Sent once connected (HTTP request, HTTP/2 greeting); UDP sends
  // spec->udp_request.
  std::string request;
  const TlsContexts* tls = nullptr;
  bool verify_tls = false;
  // Test hook: sees every probe socket right after it is set up.
  std::function<void(int fd)> socket_observer;
};

// Builds the plan; `tls` must outlive it.
absl::StatusOr<std::shared_ptr<const ProbePlan>> MakeProbePlan(
    const HealthTarget& target, const TlsContexts* tls,
    std::function<void(int fd)> socket_observer);

// A fresh probe of the plan's type; TCP checks come from SynProber.
std::unique_ptr<Probe> MakeProbe(std::shared_ptr<const ProbePlan> plan);

// Opens a non-blocking socket of `type` (SOCK_STREAM, SOCK_DGRAM) for the
// plan's address family, sets SO_MARK and starts connect(). On success
// `*in_progress` says whether the connect is still pending.
std::optional<ProbeResult> OpenProbeSocket(const ProbePlan& plan, int type,
                                           UniqueFd* fd, bool* in_progress);

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_PROBE_PLAN_H_
