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

VipServing ServingOf(const VipConfig& vip, const VipStatus* status) {
  return VipServing{
      .healthy_backends = status == nullptr ? 0 : HealthyInRing(*status),
      .min_healthy = vip.settings.announce_min_healthy};
}

AnnouncePlan PlanAnnouncements(const HostFacts& host, bool host_drained,
                               const std::map<VipKey, VipServing>& vips) {
  AnnouncePlan plan;
  plan.vips.reserve(vips.size());
  for (const auto& [key, serving] : vips) {
    VipDecision d{.vip = key,
                  .healthy_backends = serving.healthy_backends,
                  .min_healthy = serving.min_healthy};
    const bool v4 = key.address.is_v4();
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
      plan.routes.insert(Route{.prefix = key.address, .next_hop = *next_hop});
    }
    plan.vips.push_back(std::move(d));  // sorted: the map is
  }
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
