// xlbctl stats: counters per reason, VIP and backend, with rates from two
// samples.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lb/base/field_rules.h"
#include "tools/xlbctl/arguments.h"
#include "tools/xlbctl/context.h"
#include "tools/xlbctl/stats_rates.h"

namespace xlb::xlbctl {
namespace {

struct StatsArgs {
  std::string vip;
  std::string interval = "1s";
  bool watch = false;
  uint32_t count = 0;
};

std::string JsonNumber(double value) { return absl::StrFormat("%.3f", value); }

absl::StatusOr<std::string> ReportJson(const v1::GetStatsResponse& sample,
                                       const StatsRates* rates,
                                       absl::Duration interval) {
  absl::StatusOr<std::string> stats = ToJson(sample, /*pretty=*/false);
  if (!stats.ok()) return stats.status();
  std::string json = absl::StrCat("{\"stats\": ", *stats);
  if (rates != nullptr) {
    std::vector<std::string> counters, vips, backends;
    for (const auto& [name, rate] : rates->counters) {
      counters.push_back(absl::StrCat("\"", name, "\": ", JsonNumber(rate)));
    }
    for (const auto& vip : sample.vips()) {
      auto it = rates->vips.find(FormatVipKey(vip.key()));
      if (it == rates->vips.end()) continue;
      absl::StatusOr<std::string> key = ToJson(vip.key(), false);
      if (!key.ok()) return key.status();
      vips.push_back(absl::StrCat(
          "{\"key\": ", *key, ", \"packets\": ", JsonNumber(it->second.packets),
          ", \"bytes\": ", JsonNumber(it->second.bytes),
          ", \"new_flows\": ", JsonNumber(it->second.new_flows),
          ", \"no_backend_drops\": ", JsonNumber(it->second.no_backend_drops),
          ", \"syns\": ", JsonNumber(it->second.syns),
          ", \"syn_limit_drops\": ", JsonNumber(it->second.syn_limit_drops),
          "}"));
    }
    for (const auto& [address, rate] : rates->backends) {
      backends.push_back(
          absl::StrCat("{\"address\": \"", address,
                       "\", \"packets\": ", JsonNumber(rate.packets),
                       ", \"bytes\": ", JsonNumber(rate.bytes), "}"));
    }
    absl::StrAppend(&json, ", \"interval_seconds\": ",
                    JsonNumber(absl::ToDoubleSeconds(interval)),
                    ", \"rates_per_second\": {\"counters\": {",
                    absl::StrJoin(counters, ", "), "}, \"vips\": [",
                    absl::StrJoin(vips, ", "), "], \"backends\": [",
                    absl::StrJoin(backends, ", "), "]}");
  }
  json += "}";
  return json;
}

void PrintReport(std::ostream& out, const v1::GetStatsResponse& sample,
                 const StatsRates* rates) {
  auto rate = [&](double value, bool bytes) -> std::string {
    if (rates == nullptr) return "-";
    return bytes ? HumanBytes(value) + "/s" : HumanCount(value);
  };
  out << "counters\n";
  // protobuf maps are unordered: print sorted for a stable view.
  std::vector<std::pair<std::string, uint64_t>> sorted(
      sample.counters().begin(), sample.counters().end());
  std::sort(sorted.begin(), sorted.end());
  Table sorted_counters({"REASON", "TOTAL", "PER-SECOND"});
  for (const auto& [name, value] : sorted) {
    double r = rates ? rates->counters.at(name) : 0;
    sorted_counters.AddRow({name, absl::StrCat(value), rate(r, false)});
  }
  sorted_counters.Print(out, "  ");
  out << "vips\n";
  Table vips({"VIP", "PACKETS", "BYTES", "NEW-FLOWS", "SYNS", "SYN-DROPS",
              "NO-BACKEND", "PPS", "BPS", "FLOWS/S", "SYNS/S", "SYN-DROPS/S"});
  for (const auto& vip : sample.vips()) {
    VipRates r;
    if (rates) r = rates->vips.at(FormatVipKey(vip.key()));
    vips.AddRow({FormatVipKey(vip.key()), absl::StrCat(vip.packets()),
                 HumanBytes(vip.bytes()), absl::StrCat(vip.new_flows()),
                 absl::StrCat(vip.syns()), absl::StrCat(vip.syn_limit_drops()),
                 absl::StrCat(vip.no_backend_drops()), rate(r.packets, false),
                 rate(r.bytes, true), rate(r.new_flows, false),
                 rate(r.syns, false), rate(r.syn_limit_drops, false)});
  }
  if (vips.empty()) {
    out << "  no VIPs configured\n";
  } else {
    vips.Print(out, "  ");
  }
  out << "backends\n";
  Table backends({"ADDRESS", "PACKETS", "BYTES", "PPS", "BPS"});
  for (const auto& b : sample.backends()) {
    BackendRates r;
    if (rates) r = rates->backends.at(b.address());
    backends.AddRow({b.address(), absl::StrCat(b.packets()),
                     HumanBytes(b.bytes()), rate(r.packets, false),
                     rate(r.bytes, true)});
  }
  if (backends.empty()) {
    out << "  no backends in use\n";
  } else {
    backends.Print(out, "  ");
  }
}

// Keeps only `vip` (and the backends' totals, which are not per VIP).
void FilterVip(v1::GetStatsResponse* sample, const std::string& vip) {
  auto* vips = sample->mutable_vips();
  for (int i = vips->size() - 1; i >= 0; --i) {
    if (FormatVipKey(vips->Get(i).key()) != vip) vips->DeleteSubrange(i, 1);
  }
}

absl::Status RunStats(Context& ctx, const StatsArgs& args) {
  absl::Duration interval;
  if (!absl::ParseDuration(args.interval, &interval) ||
      interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--interval ", QuoteValue(args.interval),
                     ": expected a duration such as 1s"));
  }
  if (args.watch && interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--watch needs an --interval above 0");
  }
  std::optional<std::string> only;
  if (!args.vip.empty()) {
    absl::StatusOr<v1::VipKey> key = ParseVipKey(args.vip);
    if (!key.ok()) return key.status();
    only = FormatVipKey(*key);
  }
  auto sample = [&]() -> absl::StatusOr<v1::GetStatsResponse> {
    auto stats =
        ctx.Call(&v1::LoadBalancer::Stub::GetStats, v1::GetStatsRequest());
    if (!stats.ok()) return stats.status();
    if (only.has_value()) {
      bool found = false;
      for (const auto& vip : stats->vips()) {
        found |= FormatVipKey(vip.key()) == *only;
      }
      if (!found) {
        return absl::NotFoundError(absl::StrCat("vip ", *only, " not found"));
      }
      FilterVip(&*stats, *only);
    }
    return stats;
  };
  absl::StatusOr<v1::GetStatsResponse> previous = sample();
  if (!previous.ok()) return previous.status();
  absl::Time previous_time = absl::Now();
  if (interval == absl::ZeroDuration()) {
    if (ctx.json()) {
      auto json = ReportJson(*previous, nullptr, interval);
      if (!json.ok()) return json.status();
      ctx.out << *json << "\n";
    } else {
      PrintReport(ctx.out, *previous, nullptr);
    }
    return absl::OkStatus();
  }
  uint32_t reports = args.watch ? args.count : 1;
  for (uint32_t i = 0; reports == 0 || i < reports; ++i) {
    absl::SleepFor(interval);
    absl::StatusOr<v1::GetStatsResponse> current = sample();
    if (!current.ok()) return current.status();
    absl::Time now = absl::Now();
    StatsRates rates = ComputeRates(*previous, *current, now - previous_time);
    if (ctx.json()) {
      auto json = ReportJson(*current, &rates, now - previous_time);
      if (!json.ok()) return json.status();
      ctx.out << *json << std::endl;
    } else {
      if (args.watch) {
        ctx.out << (i > 0 ? "\n" : "") << "--- "
                << absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone())
                << " ---\n";
      }
      PrintReport(ctx.out, *current, &rates);
      ctx.out.flush();
    }
    previous = std::move(current);
    previous_time = now;
  }
  return absl::OkStatus();
}

}  // namespace

void AddStatsCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "stats", "Show data-plane counters and rates per reason, VIP, backend");
  cmd->add_option("--vip", args->vip, "Only this VIP (ADDRESS:PORT/PROTO)");
  cmd->add_option("-i,--interval", args->interval,
                  "Time between the two samples rates are computed from; 0 "
                  "prints totals at once, without rates (default 1s)");
  cmd->add_flag("-w,--watch", args->watch,
                "Print a new report every --interval");
  cmd->add_option("-c,--count", args->count,
                  "With --watch: stop after N reports (default 0: until "
                  "interrupted)");
  cmd->footer(
      R"(Counters are monotonic since the maps were created (they survive agent
restarts). Totals are from the last sample; rates are per second between
two samples --interval apart. Backends are counted over every VIP that uses
them. -o json prints {"stats": GetStatsResponse, "interval_seconds": S,
"rates_per_second": {"counters": {...}, "vips": [...], "backends": [...]}},
one line per report.

Examples:
  xlbctl stats
  xlbctl stats --interval 0 -o json
  xlbctl stats --vip 192.0.2.10:80/tcp --watch --interval 2s --count 30)");
  SetAction(cmd, ctx, [args](Context& ctx) { return RunStats(ctx, *args); });
}

}  // namespace xlb::xlbctl
