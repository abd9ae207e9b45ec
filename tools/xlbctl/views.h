// Human-readable views of the API's messages, shared by the verbs that show
// the same things (vip list/show, backend list, health show, status).
#ifndef XLB_TOOLS_XLBCTL_VIEWS_H_
#define XLB_TOOLS_XLBCTL_VIEWS_H_

#include <ostream>
#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "xlb/v1/config.pb.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {

// The VIP's entry in a status response, or null.
const v1::VipStatus* FindVipStatus(const v1::GetStatusResponse& status,
                                   const v1::VipKey& key);

// "tcp :80 every 5s, timeout 2s, rise 2, fall 3" or "none".
std::string HealthCheckSummary(const v1::VipSettings& settings);

// Why a backend's health changed: "unhealthy: wrong_status (HTTP status
// 503), probe took 1.5s" or "healthy: success, probe took 3ms"; just
// "healthy" / "unhealthy" when the agent sent no reason. When the change
// moved the VIP's ring: "; ring now DIGEST" (or "empty (no backend)").
std::string HealthChangeSummary(const v1::HealthChanged& change);

// "port 8080, interval 1s, timeout 500ms, rise 1, fall 5, jitter 100ms"
// with only the fields set; "" when none is.
std::string HealthOverrideSummary(const v1::HealthOverride& o);

// One line per backend with a health override: "<indent>ADDRESS: summary".
void PrintHealthOverrides(std::ostream& out, const v1::Vip& vip,
                          const std::string& indent = "");

// VIP  HASH  RING  SEED  ECHO  MIN-HEALTHY  BACKENDS  HEALTH-CHECK
void PrintVipTable(std::ostream& out,
                   const google::protobuf::RepeatedPtrField<v1::Vip>& vips);

// Settings, health check and a backend table; `status` (may be null) adds
// each backend's state, health and ring membership.
void PrintVipDetails(std::ostream& out, const v1::Vip& vip,
                     const v1::VipStatus* status);

// ADDRESS  WEIGHT  DRAINED  STATE  HEALTHY  IN-RING  INDEX, from status.
void PrintBackendHealthTable(std::ostream& out, const v1::VipStatus& status,
                             const std::string& indent = "");

// The BGP section: daemon, drain, next hops, then VIP  ANNOUNCED  HEALTHY
// MIN  REASON per VIP ("bgp: not configured" alone without --bgp-api).
void PrintBgpStatus(std::ostream& out, const v1::BgpStatus& bgp,
                    const std::string& indent = "");

// "192.0.2.1:80/tcp announced" or "... withdrawn: host drained".
std::string VipAnnouncedSummary(const v1::VipAnnounced& event);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_VIEWS_H_
