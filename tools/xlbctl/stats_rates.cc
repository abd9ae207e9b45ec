#include "tools/xlbctl/stats_rates.h"

#include "tools/xlbctl/arguments.h"

namespace xlb::xlbctl {
namespace {

double Rate(uint64_t before, uint64_t after, double seconds) {
  if (after < before || seconds <= 0) return 0;
  return static_cast<double>(after - before) / seconds;
}

}  // namespace

StatsRates ComputeRates(const v1::GetStatsResponse& earlier,
                        const v1::GetStatsResponse& later,
                        absl::Duration elapsed) {
  double seconds = absl::ToDoubleSeconds(elapsed);
  StatsRates rates;
  for (const auto& [name, value] : later.counters()) {
    auto old = earlier.counters().find(name);
    uint64_t before = old == earlier.counters().end() ? 0 : old->second;
    rates.counters[name] = Rate(before, value, seconds);
  }
  std::map<std::string, const v1::VipStats*> old_vips;
  for (const auto& vip : earlier.vips())
    old_vips[FormatVipKey(vip.key())] = &vip;
  for (const auto& vip : later.vips()) {
    std::string key = FormatVipKey(vip.key());
    v1::VipStats zero;
    auto old = old_vips.find(key);
    const v1::VipStats& before = old == old_vips.end() ? zero : *old->second;
    rates.vips[key] = VipRates{
        .packets = Rate(before.packets(), vip.packets(), seconds),
        .bytes = Rate(before.bytes(), vip.bytes(), seconds),
        .new_flows = Rate(before.new_flows(), vip.new_flows(), seconds),
        .no_backend_drops =
            Rate(before.no_backend_drops(), vip.no_backend_drops(), seconds),
        .syns = Rate(before.syns(), vip.syns(), seconds),
        .syn_limit_drops =
            Rate(before.syn_limit_drops(), vip.syn_limit_drops(), seconds),
    };
  }
  std::map<std::string, const v1::BackendStats*> old_backends;
  for (const auto& b : earlier.backends()) old_backends[b.address()] = &b;
  for (const auto& b : later.backends()) {
    v1::BackendStats zero;
    auto old = old_backends.find(b.address());
    const v1::BackendStats& before =
        old == old_backends.end() ? zero : *old->second;
    rates.backends[b.address()] = BackendRates{
        .packets = Rate(before.packets(), b.packets(), seconds),
        .bytes = Rate(before.bytes(), b.bytes(), seconds),
    };
  }
  return rates;
}

}  // namespace xlb::xlbctl
