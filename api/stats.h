// Reads the data plane's counters and map usage into xlb.v1 messages, for
// GetStats, GetStatus and the Prometheus exposition.
#ifndef XLB_API_STATS_H_
#define XLB_API_STATS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lb/dataplane/dataplane.h"
#include "lb/model/model.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::api {

// Names of enum xlb_counter, in order, without XLB_CNT_ and in snake_case:
// "rx", "tx", "pass_non_ip", ..., "drop_no_backend", ...
absl::Span<const char* const> CounterNames();

// Counters per reason, per VIP (of `vips`) and per backend (of `backends`).
absl::StatusOr<v1::GetStatsResponse> ReadStats(
    Dataplane& dataplane, const std::vector<VipStatus>& vips,
    const std::vector<BackendStatus>& backends);

// Entries in use and limits of vips, backends, rings and conns, then every
// other map; each with the memory the kernel charges for it. `dataplane`
// may be null (no data plane: conns count as 0, memory as unknown, 0).
std::vector<v1::MapUsage> MapUsages(Dataplane* dataplane,
                                    const DataplaneLimits& limits,
                                    const BalancerConfig& config,
                                    const std::vector<VipStatus>& vips,
                                    const std::vector<BackendStatus>& backends);

}  // namespace xlb::api

#endif  // XLB_API_STATS_H_
