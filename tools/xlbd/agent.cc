#include "tools/xlbd/agent.h"

#include <arpa/inet.h>
#include <signal.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/metrics.h"
#include "api/service.h"
#include "lb/agent/controller.h"
#include "lb/agent/health_sync.h"
#include "lb/base/field_rules.h"
#include "lb/base/log.h"
#include "lb/base/private_dir.h"
#include "lb/bgp/announcer.h"
#include "lb/bgp/gobgp_client.h"
#include "lb/model/model.h"
#include "lb/state/state.h"

#ifndef XLB_VERSION
#define XLB_VERSION "0.0.0-dev"
#endif

namespace xlb::xlbd {
namespace {

struct Prefix {
  IpAddress address;
  uint32_t length = 0;
};

absl::StatusOr<Prefix> ParsePrefix(const std::string& text, bool v6,
                                   absl::string_view flag) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  const uint32_t max = v6 ? 128 : 32;
  Prefix prefix{.length = max};
  const std::string example = absl::StrCat(
      " (e.g. ", v6 ? "2001:db8::10/128" : "198.51.100.10/32", ")");
  absl::StatusOr<IpAddress> address = IpAddress::Parse(parts[0]);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", address.status().message(), example));
  }
  if (parts.size() > 2 || address->is_v4() == v6 ||
      (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &prefix.length) ||
                             prefix.length > max || prefix.length == 0))) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", QuoteValue(text), " is not an ",
                     v6 ? "IPv6" : "IPv4", " address or prefix", example));
  }
  if (absl::Status s = CheckUsableAddress(address->bytes()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
  }
  prefix.address = *address;
  return prefix;
}

}  // namespace

absl::Status ValidateAgentOptions(const AgentOptions& o) {
  if (absl::Status s = api::ValidateListenerOptions(o.listeners); !s.ok()) {
    return s;
  }
  if (!o.interface.empty()) {
    if (absl::Status s = CheckInterfaceName(o.interface); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--interface: ", s.message()));
    }
  }
  if (!o.source_v4.empty()) {
    if (auto p = ParsePrefix(o.source_v4, false, "--source-v4"); !p.ok()) {
      return p.status();
    }
  }
  if (!o.source_v6.empty()) {
    if (auto p = ParsePrefix(o.source_v6, true, "--source-v6"); !p.ok()) {
      return p.status();
    }
  }
  if (!o.interface.empty() && o.source_v4.empty() && o.source_v6.empty()) {
    return absl::InvalidArgumentError(
        "--source-v4 / --source-v6: give the outer source address (or prefix) "
        "of at least one family; encapsulated packets need one");
  }
  if (o.bpffs_dir.empty() || o.bpffs_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "--bpffs-dir: \"", o.bpffs_dir, "\" must be an absolute path"));
  }
  if (o.state_file.empty()) {
    return absl::InvalidArgumentError("--state-file: required");
  }
  if (o.limits.max_vips == 0 || o.limits.max_backends < 2 ||
      o.limits.max_conns == 0) {
    return absl::InvalidArgumentError(
        "--max-vips, --max-backends (>= 2), --max-conns: must be positive");
  }
  if (o.limits.max_ring_size < 1021 ||
      o.limits.max_ring_size > XLB_MAX_RING_SIZE) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-ring-size: ", o.limits.max_ring_size,
                     " is outside [1021, ", XLB_MAX_RING_SIZE, "]"));
  }
  if (o.mtu != 0 && (o.mtu < 576 || o.mtu > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mtu: ", o.mtu, " is outside [576, 65535]"));
  }
  if (o.event_buffer == 0 || o.max_event_watchers == 0) {
    return absl::InvalidArgumentError(
        "--event-buffer, --max-event-watchers: must be positive");
  }
  if (o.tcp_idle_timeout < absl::ZeroDuration() ||
      o.udp_idle_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--tcp-idle-timeout / --udp-idle-timeout: must not be negative");
  }
  if (!o.bgp_api.empty()) {
    if (absl::Status s = bgp::ValidateApiAddress(o.bgp_api, "--bgp-api");
        !s.ok()) {
      return s;
    }
  } else if (!o.bgp_next_hop_v4.empty() || !o.bgp_next_hop_v6.empty()) {
    return absl::InvalidArgumentError(
        "--bgp-next-hop-v4 / --bgp-next-hop-v6: need --bgp-api (without it "
        "nothing is announced)");
  }
  for (bool v6 : {false, true}) {
    if (auto next_hop = BgpNextHop(o, v6); !next_hop.ok()) {
      return next_hop.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<IpAddress>> BgpNextHop(const AgentOptions& o,
                                                    bool v6) {
  const std::string& flag = v6 ? o.bgp_next_hop_v6 : o.bgp_next_hop_v4;
  if (!flag.empty()) {
    absl::StatusOr<IpAddress> address = IpAddress::Parse(flag);
    if (!address.ok() || address->is_v4() == v6) {
      return absl::InvalidArgumentError(absl::StrCat(
          v6 ? "--bgp-next-hop-v6" : "--bgp-next-hop-v4", ": \"", flag,
          "\" is not an ", v6 ? "IPv6" : "IPv4", " address"));
    }
    return *address;
  }
  const std::string& source = v6 ? o.source_v6 : o.source_v4;
  if (source.empty()) return std::nullopt;
  absl::StatusOr<Prefix> prefix =
      ParsePrefix(source, v6, v6 ? "--source-v6" : "--source-v4");
  if (!prefix.ok()) return prefix.status();
  // A source prefix spreads over its host bits: no one address to use.
  if (prefix->length != (v6 ? 128u : 32u)) return std::nullopt;
  return prefix->address;
}

absl::StatusOr<xlb_config> BuildDataplaneConfig(const AgentOptions& o) {
  xlb_config config{};
  if (!o.source_v4.empty()) {
    absl::StatusOr<Prefix> p = ParsePrefix(o.source_v4, false, "--source-v4");
    if (!p.ok()) return p.status();
    __be32 addr[4];
    p->address.ToAbi(addr);
    config.src_v4 = addr[0];
    config.src_v4_prefix_len = static_cast<uint8_t>(p->length);
  }
  if (!o.source_v6.empty()) {
    absl::StatusOr<Prefix> p = ParsePrefix(o.source_v6, true, "--source-v6");
    if (!p.ok()) return p.status();
    p->address.ToAbi(config.src_v6);
    config.src_v6_prefix_len = static_cast<uint8_t>(p->length);
  }
  config.hash_seed = o.hash_seed;
  config.tcp_idle_timeout_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(o.tcp_idle_timeout));
  config.udp_idle_timeout_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(o.udp_idle_timeout));
  config.mtu = o.mtu;
  if (o.interface.empty()) {
    if (config.mtu == 0) config.mtu = 1500;
    if (o.gateway_mac)
      std::copy(o.gateway_mac->begin(), o.gateway_mac->end(),
                config.gateway_mac);
    return config;
  }
  absl::StatusOr<MacAddress> mac = InterfaceMac(o.interface);
  if (!mac.ok()) return mac.status();
  std::copy(mac->begin(), mac->end(), config.iface_mac);
  if (config.mtu == 0) {
    absl::StatusOr<uint32_t> mtu = InterfaceMtu(o.interface);
    if (!mtu.ok()) return mtu.status();
    config.mtu = *mtu;
  }
  MacAddress gateway;
  if (o.gateway_mac.has_value()) {
    gateway = *o.gateway_mac;
  } else {
    absl::StatusOr<MacAddress> resolved = GatewayMac(o.interface);
    if (!resolved.ok()) return resolved.status();
    gateway = *resolved;
  }
  std::copy(gateway.begin(), gateway.end(), config.gateway_mac);
  LogInfo("xlbd", "data-plane config",
          {{"interface", o.interface},
           {"interface_mac", FormatMac(*mac)},
           {"gateway_mac", FormatMac(gateway)},
           {"mtu", config.mtu},
           {"source_v4", o.source_v4},
           {"source_v6", o.source_v6}});
  return config;
}

absl::Status RunAgent(const AgentOptions& o) {
  const absl::Time start = absl::Now();
  if (absl::Status s = ValidateAgentOptions(o); !s.ok()) return s;
  absl::StatusOr<xlb_config> dp_config = BuildDataplaneConfig(o);
  if (!dp_config.ok()) return dp_config.status();

  // Whoever can write the pin directory can delete the pins: owner only.
  if (absl::Status s =
          PreparePrivateDirectory(o.bpffs_dir, 0700, "--bpffs-dir");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBpffs(o.bpffs_dir); !s.ok()) return s;
  std::error_code error;
  const bool adopting = !std::filesystem::is_empty(o.bpffs_dir, error);
  absl::StatusOr<std::unique_ptr<Dataplane>> dataplane = Dataplane::Load(
      DataplaneOptions{.limits = o.limits, .pin_dir = o.bpffs_dir});
  if (!dataplane.ok()) return dataplane.status();
  LogInfo("xlbd", adopting ? "adopted pinned data plane" : "loaded data plane",
          {{"pin_dir", o.bpffs_dir},
           {"balancer_prog_id", (*dataplane)->balancer_prog_id()}});

  // The desired state before anything is attached or changed: a corrupt
  // file stops the agent here, leaving the running data plane alone.
  const std::filesystem::path state_dir =
      std::filesystem::path(o.state_file).parent_path();
  if (absl::Status s = PreparePrivateDirectory(
          state_dir.empty() ? "." : state_dir.string(), 0700, "--state-file");
      !s.ok()) {
    return s;
  }
  StateFile state_file(o.state_file);
  absl::StatusOr<std::unique_ptr<Balancer>> balancer =
      Balancer::Create(dataplane->get());
  if (!balancer.ok()) return balancer.status();
  absl::StatusOr<std::unique_ptr<agent::Controller>> controller =
      agent::Controller::Create(
          balancer->get(),
          agent::ControllerOptions{.state_file = &state_file,
                                   .event_capacity = o.event_buffer,
                                   .start_time = start,
                                   .version = XLB_VERSION,
                                   .flow_hash_seed = o.hash_seed});
  if (!controller.ok()) return controller.status();

  if (absl::Status s = (*dataplane)->SetConfig(*dp_config); !s.ok()) return s;
  if (!o.interface.empty()) {
    if (absl::Status s = (*dataplane)->AttachXdp(o.interface, o.attach_mode);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = (*dataplane)->AttachHealthcheck(o.interface);
        !s.ok()) {
      return s;
    }
    LogInfo(
        "xlbd", "attached",
        {{"interface", o.interface},
         {"mode", o.attach_mode == XdpMode::kNative ? "native" : "generic"}});
  }

  std::unique_ptr<agent::HealthSync> health;
  if (o.health_probe_mode.has_value()) {
    // Tunnelled probes need the TC program, so detached agents probe
    // backends directly.
    const health::ProbeMode mode =
        o.interface.empty() ? health::ProbeMode::kDirect : *o.health_probe_mode;
    absl::StatusOr<std::unique_ptr<agent::HealthSync>> started =
        agent::HealthSync::Start(controller->get(), mode, o.health_ca_file);
    if (!started.ok()) return started.status();
    health = *std::move(started);
    agent::HealthSync* sync = health.get();
    (*controller)->SetConfigChangeHook([sync](const std::vector<VipKey>& vips) {
      sync->Sync(vips);
    });
    LogInfo("health", "health checks running",
            {{"mode",
              mode == health::ProbeMode::kTunnelled ? "tunnelled" : "direct"},
             {"targets", sync->target_count()}});
  }

  // Every change reaches the announcer through the controller; it talks to
  // gobgpd on its own thread, so nothing here waits for the daemon.
  agent::Controller* c = controller->get();
  const absl::StatusOr<std::optional<IpAddress>> next_hop_v4 =
      BgpNextHop(o, false);
  const absl::StatusOr<std::optional<IpAddress>> next_hop_v6 =
      BgpNextHop(o, true);
  if (!next_hop_v4.ok()) return next_hop_v4.status();
  if (!next_hop_v6.ok()) return next_hop_v6.status();
  std::unique_ptr<bgp::Announcer> announcer = agent::StartAnnouncer(
      c, bgp::AnnouncerOptions{.api_address = o.bgp_api,
                               .dataplane_attached = !o.interface.empty(),
                               .next_hop_v4 = *next_hop_v4,
                               .next_hop_v6 = *next_hop_v6});
  if (!o.bgp_api.empty()) {
    LogInfo(
        "bgp", "announcing VIPs through gobgpd",
        {{"api", o.bgp_api},
         {"next_hop_v4", *next_hop_v4 ? (*next_hop_v4)->ToString() : "none"},
         {"next_hop_v6", *next_hop_v6 ? (*next_hop_v6)->ToString() : "none"},
         {"host_drained", c->host_drained()}});
  }

  api::RequestCounters counters;
  api::LoadBalancerService service(
      controller->get(), dataplane->get(),
      api::AgentInfo{.version = XLB_VERSION,
                     .interface = o.interface,
                     .attach_mode = o.interface.empty()
                                        ? v1::ATTACH_MODE_DETACHED
                                    : o.attach_mode == XdpMode::kNative
                                        ? v1::ATTACH_MODE_NATIVE
                                        : v1::ATTACH_MODE_GENERIC,
                     .pin_dir = o.bpffs_dir,
                     .adopted_pinned_maps = adopting,
                     .start_time = start},
      &counters, o.max_event_watchers, announcer.get());
  absl::StatusOr<std::unique_ptr<api::ApiServer>> server =
      api::ApiServer::Start(o.listeners, {&service});
  if (!server.ok()) return server.status();

  std::unique_ptr<api::MetricsServer> metrics;
  if (!o.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<api::MetricsServer>> started =
        api::MetricsServer::Start(
            o.metrics_address, [&service, &counters, c, sync = health.get(),
                                a = announcer.get(), start] {
              absl::StatusOr<v1::GetStatsResponse> stats = service.Stats();
              api::MetricsSnapshot snapshot{
                  .stats = stats.ok() ? &*stats : nullptr,
                  .vips = c->ListVipStatus(),
                  .health_transitions = c->HealthTransitionCounts(),
                  .health_probes =
                      sync != nullptr
                          ? sync->probe_counts()
                          : std::vector<agent::HealthSync::ProbeCounts>(),
                  .requests = counters.Snapshot(),
                  .bgp = a->Status(),
                  .generation = c->generation(),
                  .uptime_seconds = absl::ToDoubleSeconds(absl::Now() - start)};
              return api::RenderMetrics(snapshot);
            });
    if (!started.ok()) return started.status();
    metrics = *std::move(started);
  }
  LogInfo(
      "xlbd", "ready",
      {{"version", XLB_VERSION}, {"generation", (*controller)->generation()}});

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("xlbd", "stopping; the data plane stays attached",
          {{"signal", strsignal(signal_number)}});
  (*controller)->events().Shutdown();
  (*server)->Shutdown();
  (*controller)->SetConfigChangeHook(nullptr);
  metrics.reset();  // its renderer reads the health checker's counters
  // Stopping withdraws nothing: the data plane keeps forwarding, so the
  // routes stay (a restart reconciles them).
  (*controller)->SetServingObserver(nullptr);
  announcer.reset();
  health.reset();
  return absl::OkStatus();
}

}  // namespace xlb::xlbd
