// When this host announces a VIP's address over BGP, and why not: pure
// functions of the configuration, the VIPs' health and the host's state, so
// the rule is tested without a daemon.
//
// A VIP qualifies when BGP is configured, the data plane is attached, the
// host is not drained, its family has a next hop, and at least
// announce_min_healthy of its backends are healthy and in its ring. A route
// is per address (/32 or /128): an address is announced while any VIP on it
// (any port, protocol) qualifies, since withdrawing it would also take away
// the VIPs on it that can be served.
#ifndef XLB_LB_BGP_ANNOUNCE_POLICY_H_
#define XLB_LB_BGP_ANNOUNCE_POLICY_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lb/base/ip_address.h"
#include "lb/model/model.h"
#include "lb/model/model_config.h"

namespace xlb::bgp {

// What does not change while the agent runs.
struct HostFacts {
  bool bgp_configured = false;
  bool dataplane_attached = false;
  std::optional<IpAddress> next_hop_v4;
  std::optional<IpAddress> next_hop_v6;
};

// A host route to a VIP address (/32 or /128) and its next hop.
struct Route {
  IpAddress prefix;
  IpAddress next_hop;

  auto operator<=>(const Route&) const = default;
  std::string ToString() const;  // "192.0.2.1/32 via 198.51.100.10"
};

struct VipDecision {
  VipKey vip;
  bool qualifies = false;
  std::string reason;  // why not; empty when it qualifies
  uint32_t healthy_backends = 0;
  uint32_t min_healthy = 0;
};

struct AnnouncePlan {
  std::vector<VipDecision> vips;  // sorted by key
  std::set<Route> routes;         // one per address with a qualifying VIP
};

// Backends of `vip` that are healthy, up and in its ring.
uint32_t HealthyInRing(const VipStatus& vip);

// What announcing one VIP depends on, besides the host: a few numbers, so
// the plan is remade from every VIP's without walking any backend.
struct VipServing {
  uint32_t healthy_backends = 0;  // HealthyInRing
  uint32_t min_healthy = 0;       // its announce_min_healthy
};

// `status` null: the VIP has none (no healthy backend).
VipServing ServingOf(const VipConfig& vip, const VipStatus* status);

// The VIPs whose VipServing changed; nullopt: the VIP was deleted.
using ServingChanges =
    std::vector<std::pair<VipKey, std::optional<VipServing>>>;

// `vips` holds every configured VIP.
AnnouncePlan PlanAnnouncements(const HostFacts& host, bool host_drained,
                               const std::map<VipKey, VipServing>& vips);

// What the daemon holds of this host's routes, as the announcer knows it.
struct DaemonView {
  bool reachable = false;     // in sync with the daemon
  std::set<Route> installed;  // meaningful only when reachable
};

struct VipAnnouncement {
  VipKey vip;
  bool announced = false;
  std::string reason;  // see xlb.v1.BgpVipStatus.reason
  uint32_t healthy_backends = 0;
  uint32_t min_healthy = 0;
};

// Every planned VIP's announcement state: announced when its address's
// route is installed; otherwise the plan's reason, or why a qualifying
// VIP's route is not there (daemon unreachable, the daemon's refusal,
// pending).
std::vector<VipAnnouncement> Announcements(const AnnouncePlan& plan,
                                           const DaemonView& daemon);

}  // namespace xlb::bgp

#endif  // XLB_LB_BGP_ANNOUNCE_POLICY_H_
