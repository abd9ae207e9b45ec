#include "api/stats.h"

#include <algorithm>
#include <set>

#include "lb/agent/convert.h"

namespace xlb::api {
namespace {

constexpr const char* kCounterNames[] = {
    "rx",
    "tx",
    "pass_non_ip",
    "pass_not_vip",
    "pass_ipv4_fragment",
    "pass_ipv4_options",
    "pass_ipv6_ext_hdr",
    "drop_malformed",
    "drop_no_backend",
    "drop_too_big",
    "drop_no_config",
    "drop_adjust_failed",
    "drop_bad_backend",
    "conn_hit",
    "conn_miss",
    "conn_stale",
    "conn_syn",
    "icmp_echo_reply",
    "icmp_frag_needed",
    "icmp6_too_big",
    "icmp_error_forwarded",
    "drop_syn_rate_limit",
};
static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == XLB_CNT_MAX,
              "a name for every enum xlb_counter value");
static_assert(XLB_CNT_DROP_NO_BACKEND == 8 && XLB_CNT_CONN_HIT == 13 &&
                  XLB_CNT_ICMP_ERROR_FORWARDED == 20 &&
                  XLB_CNT_DROP_SYN_RATE_LIMIT == 21,
              "kCounterNames follows enum xlb_counter's order");

}  // namespace

absl::Span<const char* const> CounterNames() { return kCounterNames; }

absl::StatusOr<v1::GetStatsResponse> ReadStats(
    Dataplane& dataplane, const std::vector<VipStatus>& vips,
    const std::vector<BackendStatus>& backends) {
  v1::GetStatsResponse response;
  absl::StatusOr<StatCounters> counters = dataplane.ReadCounters();
  if (!counters.ok()) return counters.status();
  for (size_t i = 0; i < counters->size(); ++i) {
    (*response.mutable_counters())[kCounterNames[i]] = (*counters)[i];
  }
  for (const VipStatus& vip : vips) {
    absl::StatusOr<xlb_vip_stats> stats = dataplane.ReadVipStats(vip.index);
    if (!stats.ok()) return stats.status();
    v1::VipStats* out = response.add_vips();
    *out->mutable_key() = agent::VipKeyToProto(vip.key);
    out->set_packets(stats->packets);
    out->set_bytes(stats->bytes);
    out->set_new_flows(stats->new_flows);
    out->set_no_backend_drops(stats->no_backend_drops);
    out->set_syns(stats->syns);
    out->set_syn_limit_drops(stats->syn_limit_drops);
  }
  for (const BackendStatus& backend : backends) {
    absl::StatusOr<xlb_backend_stats> stats =
        dataplane.ReadBackendStats(backend.index);
    if (!stats.ok()) return stats.status();
    v1::BackendStats* out = response.add_backends();
    out->set_address(backend.address.ToString());
    out->set_packets(stats->packets);
    out->set_bytes(stats->bytes);
  }
  return response;
}

std::vector<v1::MapUsage> MapUsages(
    Dataplane* dataplane, const DataplaneLimits& limits,
    const BalancerConfig& config, const std::vector<VipStatus>& vips,
    const std::vector<BackendStatus>& backends) {
  std::set<IpAddress> echo;
  for (const VipConfig& vip : config.vips) {
    if (vip.settings.echo_reply) echo.insert(vip.key.address);
  }
  uint64_t rings = 0;
  for (const VipStatus& vip : vips) rings += vip.has_ring ? 1 : 0;
  const uint64_t vip_entries = config.vips.size() + echo.size();
  uint64_t conns = 0;
  std::vector<MapMemory> memory;
  if (dataplane != nullptr) {
    if (absl::StatusOr<uint32_t> n = dataplane->CountConns(); n.ok())
      conns = *n;
    if (absl::StatusOr<std::vector<MapMemory>> m = dataplane->ReadMapMemory();
        m.ok())
      memory = *std::move(m);
  }
  // The maps the model fills, with what it uses of each; then every other
  // map, which is allocated whole at load time.
  std::vector<v1::MapUsage> out;
  auto add = [&](absl::string_view name, uint64_t used, uint64_t capacity) {
    v1::MapUsage& u = out.emplace_back();
    u.set_name(std::string(name));
    u.set_used(used);
    u.set_capacity(capacity);
  };
  add("vips", vip_entries, limits.max_vips);
  add("backends", backends.size(), limits.max_backends - 1);
  add("rings", rings, limits.max_vips);
  add("conns", conns, limits.max_conns);
  for (const MapMemory& m : memory) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& u) { return u.name() == m.name; });
    if (it == out.end()) {
      add(m.name, m.max_entries, m.max_entries);
      it = out.end() - 1;
    }
    it->set_memory_bytes(m.bytes);
  }
  return out;
}

}  // namespace xlb::api
