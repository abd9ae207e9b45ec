#include "lb/bgp/announce_policy.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace xlb::bgp {

std::string Route::ToString() const {
  return absl::StrCat(prefix.ToString(), prefix.is_v4() ? "/32" : "/128",
                      " via ", next_hop.ToString());
}

uint32_t HealthyInRing(const VipStatus& vip) {
  uint32_t count = 0;
  for (const VipBackendStatus& b : vip.backends) {
    if (b.healthy && b.in_ring && b.state == BackendState::kUp) ++count;
  }
  return count;
}

AnnouncePlan PlanAnnouncements(const HostFacts& host, bool host_drained,
                               const BalancerConfig& config,
                               const std::vector<VipStatus>& vips) {
  std::map<VipKey, const VipStatus*> status_of;
  for (const VipStatus& s : vips) status_of[s.key] = &s;
  AnnouncePlan plan;
  for (const VipConfig& vip : config.vips) {
    VipDecision d{.vip = vip.key,
                  .min_healthy = vip.settings.announce_min_healthy};
    if (auto it = status_of.find(vip.key); it != status_of.end()) {
      d.healthy_backends = HealthyInRing(*it->second);
    }
    const bool v4 = vip.key.address.is_v4();
    const std::optional<IpAddress>& next_hop =
        v4 ? host.next_hop_v4 : host.next_hop_v6;
    if (!host.bgp_configured) {
      d.reason = "BGP not configured";
    } else if (!host.dataplane_attached) {
      d.reason = "data plane not attached";
    } else if (host_drained) {
      d.reason = "host drained";
    } else if (!next_hop.has_value()) {
      d.reason = v4 ? "no next hop for IPv4" : "no next hop for IPv6";
    } else if (d.healthy_backends < d.min_healthy) {
      d.reason = absl::StrCat("too few healthy backends (", d.healthy_backends,
                              " < ", d.min_healthy, ")");
    } else {
      d.qualifies = true;
      plan.routes.insert(
          Route{.prefix = vip.key.address, .next_hop = *next_hop});
    }
    plan.vips.push_back(std::move(d));
  }
  std::sort(
      plan.vips.begin(), plan.vips.end(),
      [](const VipDecision& a, const VipDecision& b) { return a.vip < b.vip; });
  return plan;
}

std::vector<VipAnnouncement> Announcements(const AnnouncePlan& plan,
                                           const DaemonView& daemon) {
  std::set<IpAddress> installed;
  if (daemon.reachable) {
    for (const Route& r : daemon.installed) installed.insert(r.prefix);
  }
  std::vector<VipAnnouncement> out;
  out.reserve(plan.vips.size());
  for (const VipDecision& d : plan.vips) {
    VipAnnouncement a{.vip = d.vip,
                      .announced = installed.contains(d.vip.address),
                      .reason = d.reason,
                      .healthy_backends = d.healthy_backends,
                      .min_healthy = d.min_healthy};
    if (d.qualifies && !a.announced) {
      a.reason =
          daemon.reachable ? "announcement pending" : "BGP daemon unreachable";
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace xlb::bgp
