// Rates from two samples of the agent's monotonic counters: what `stats`
// prints beside the totals.
#ifndef XLB_TOOLS_XLBCTL_STATS_RATES_H_
#define XLB_TOOLS_XLBCTL_STATS_RATES_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {

struct VipRates {
  double packets = 0;
  double bytes = 0;
  double new_flows = 0;
  double no_backend_drops = 0;
  double syns = 0;
  double syn_limit_drops = 0;
};

struct BackendRates {
  double packets = 0;
  double bytes = 0;
};

// Per second, keyed like the samples: counter name, VIP (FormatVipKey),
// backend address. An entry only in `later` (a VIP created in between) is
// counted from zero; a counter that went backwards (maps recreated) gives 0.
struct StatsRates {
  std::map<std::string, double> counters;
  std::map<std::string, VipRates> vips;
  std::map<std::string, BackendRates> backends;
};

StatsRates ComputeRates(const v1::GetStatsResponse& earlier,
                        const v1::GetStatsResponse& later,
                        absl::Duration elapsed);

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_STATS_RATES_H_
