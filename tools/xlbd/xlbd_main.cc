// xlbd: the xlb agent. Parses its flags and runs tools/xlbd/agent.h.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lb/base/field_rules.h"
#include "lb/base/log.h"
#include "lb/bgp/gobgp_client.h"
#include "lb/dataplane/dataplane.h"
#include "tools/xlbd/agent.h"

ABSL_FLAG(std::string, interface, "",
          "Interface to attach the balancer (XDP) and the health-probe "
          "encapsulation (TC egress) to. Empty: load and pin the data plane "
          "without attaching it.");
ABSL_FLAG(std::string, attach_mode, "native",
          "XDP attach mode: native (driver) or generic (skb).");
ABSL_FLAG(std::string, bpffs_dir, "/sys/fs/bpf/xlb",
          "bpffs directory where programs, links and maps are pinned. Pins "
          "found there are adopted, so restarts and upgrades are hitless. "
          "Created with mode 0700; refused when others can write it.");
ABSL_FLAG(std::string, state_file, "/var/lib/xlb/state",
          "Desired-state file: a snapshot, plus <file>.journal where every "
          "acknowledged change is appended and fsync'd; the snapshot is "
          "rewritten atomically when the journal outgrows it (the previous "
          "one is kept as <file>.prev). Missing: first start, empty "
          "configuration. Corrupt: xlbd refuses to start. Its directory is "
          "created with mode 0700; refused when others can write it.");
ABSL_FLAG(std::string, listen_unix, xlb::api::kDefaultUnixSocket,
          "Unix socket of the gRPC API (mode 0600, owned by root; its "
          "directory 0750, refused when others can write it). Empty: none.");
ABSL_FLAG(std::string, listen_tcp, "",
          "host:port of a TCP gRPC listener (127.0.0.1:7443, 0.0.0.0:7443, "
          "[::]:7443). Needs --tls-cert and --tls-key (or "
          "--insecure-tcp-without-tls). Empty: none.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM server certificate (chain) for --listen-tcp.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: when set, TCP clients must present a certificate "
          "signed by it (mutual TLS).");
ABSL_FLAG(bool, insecure_tcp_without_tls, false,
          "Allow --listen-tcp without TLS. Anyone who reaches the port then "
          "controls the load balancer.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9470",
          "host:port (numeric) of the Prometheus /metrics endpoint. Empty: "
          "none.");
ABSL_FLAG(uint32_t, max_vips, XLB_DEFAULT_MAX_VIPS,
          "Size of the vips map: VIPs plus one entry per echo-answering "
          "address.");
ABSL_FLAG(uint32_t, max_backends, XLB_DEFAULT_MAX_BACKENDS,
          "Size of the backends map (distinct backend addresses + 1).");
ABSL_FLAG(uint32_t, max_conns, XLB_DEFAULT_MAX_CONNS,
          "Size of the connection table (LRU), in flows.");
ABSL_FLAG(uint32_t, max_ring_size, XLB_MAX_RING_SIZE,
          "Largest Maglev ring a VIP may use (a supported prime <= 655373).");
ABSL_FLAG(std::string, source_v4, "",
          "Outer IPv4 source: an address, or a prefix whose host bits are "
          "drawn from the flow hash (e.g. 198.51.100.10/32, "
          "198.51.100.0/28).");
ABSL_FLAG(std::string, source_v6, "",
          "Outer IPv6 source address or prefix (e.g. 2001:db8::10/128; at "
          "most the low 32 bits vary).");
ABSL_FLAG(std::string, gateway_mac, "",
          "MAC of the next hop for encapsulated packets. Empty: resolved from "
          "the neighbour entry of the interface's default gateway (IPv4, then "
          "IPv6).");
ABSL_FLAG(uint32_t, mtu, 0,
          "Largest IP packet the egress link carries, for ICMP "
          "too-big answers. 0: the interface's MTU.");
ABSL_FLAG(absl::Duration, tcp_idle_timeout, absl::Seconds(300),
          "A TCP connection-table entry idle this long is re-picked by "
          "Maglev (0: never).");
ABSL_FLAG(absl::Duration, udp_idle_timeout, absl::Seconds(30),
          "The same for UDP flows (0: never).");
ABSL_FLAG(uint32_t, hash_seed, 0,
          "Flow hash seed; equal on every LB behind one ECMP group.");
ABSL_FLAG(uint32_t, event_buffer, 4096,
          "Events kept for WatchEvents clients that resume.");
ABSL_FLAG(uint32_t, max_event_watchers, xlb::api::kDefaultMaxEventWatchers,
          "WatchEvents streams open at once; more are refused with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, health_probe_mode, "tunnelled",
          "How health probes reach backends: tunnelled (to the VIP address, "
          "encapsulated to the backend by the TC program, so they test the "
          "path client traffic takes), direct (to the backend's address), or "
          "off (no probing; checked backends keep their health).");
ABSL_FLAG(std::string, health_ca_file, "",
          "PEM CA bundle that HTTPS health checks with https_verify trust "
          "(default: the system's CA store).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(std::string, bgp_api, "",
          "gobgpd's gRPC API, 127.0.0.1:PORT or [::1]:PORT (loopback only). "
          "xlbd then announces each VIP's address (/32, /128) through it "
          "while the VIP has announce_min_healthy healthy backends and the "
          "host is not drained, and withdraws it otherwise. gobgpd may be "
          "absent: xlbd forwards anyway, retries and announces once it "
          "answers. Empty: no BGP announcement.");
ABSL_FLAG(std::string, bgp_next_hop_v4, "",
          "Next hop of announced IPv4 routes (the host's address toward the "
          "router). Empty: the --source-v4 address when it is a single "
          "address; otherwise IPv4 VIPs are not announced.");
ABSL_FLAG(std::string, bgp_next_hop_v6, "",
          "The same for IPv6 routes and --source-v6.");
ABSL_FLAG(bool, remove, false,
          "Remove the data plane: withdraw every route xlbd announced through "
          "--bgp-api (when given), then detach from --interface and delete "
          "every pin under --bpffs-dir, and exit. Traffic to VIPs stops. "
          "(Stopping xlbd never does this.)");

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "xlbd: error: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tools/xlbd/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] { return std::string("xlbd " XLB_VERSION "\n"); };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "the xlb agent: owns the XDP load balancer's BPF programs and maps, "
      "serves the xlb.v1 gRPC API and Prometheus metrics.\n\n"
      "  xlbd --interface=eth0 --source-v4=198.51.100.10/32 [flags]\n"
      "  xlbd --remove --interface=eth0 [--bgp-api=127.0.0.1:50051]\n\n"
      "Flags may be spelled with dashes or underscores (--attach-mode, "
      "--attach_mode).");
  // Signals are taken with sigwait; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Flags are spelled with dashes (--attach-mode); absl names use '_'.
  std::vector<std::string> normalized(argv, argv + argc);
  for (size_t i = 1; i < normalized.size(); ++i) {
    std::string& arg = normalized[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + 2, arg.begin() + end, '-', '_');
  }
  std::vector<char*> args;
  for (std::string& arg : normalized) args.push_back(arg.data());
  std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (rest.size() > 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument \"", rest[1], "\" (flags are --name=value)")));
  }
  xlb::LogLevel level;
  if (!xlb::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--log-level: \"", absl::GetFlag(FLAGS_log_level),
                     "\" is not debug, info, warning or error")));
  }
  xlb::SetLogLevel(level);

  xlb::xlbd::AgentOptions o;
  o.interface = absl::GetFlag(FLAGS_interface);
  o.bpffs_dir = absl::GetFlag(FLAGS_bpffs_dir);
  if (absl::GetFlag(FLAGS_remove)) {
    if (!o.interface.empty()) {
      if (absl::Status s = xlb::CheckInterfaceName(o.interface); !s.ok()) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("--interface: ", s.message())));
      }
    }
    // Withdraw first, so the router stops sending traffic before the data
    // plane that serves it goes away.
    if (const std::string api = absl::GetFlag(FLAGS_bgp_api); !api.empty()) {
      if (absl::Status s = xlb::bgp::ValidateApiAddress(api, "--bgp-api");
          !s.ok()) {
        return Fail(s);
      }
      bool reached = false;
      size_t withdrawn = 0;
      if (absl::Status s = xlb::bgp::WithdrawOwnRoutes(api, absl::Seconds(5),
                                                       &reached, &withdrawn);
          !s.ok()) {
        return Fail(absl::Status(
            s.code(), absl::StrCat("--remove: withdrawing the VIP routes "
                                   "from gobgpd failed, the data plane was "
                                   "left in place: ",
                                   s.message())));
      }
      xlb::LogInfo("bgp",
                   reached ? "withdrew the VIP routes"
                           : "gobgpd not running: no route to withdraw",
                   {{"api", api}, {"withdrawn", withdrawn}});
    }
    if (absl::Status s = xlb::Dataplane::Remove(o.bpffs_dir, o.interface);
        !s.ok()) {
      return Fail(s);
    }
    xlb::LogInfo("xlbd", "data plane removed",
                 {{"pin_dir", o.bpffs_dir}, {"interface", o.interface}});
    return 0;
  }
  const std::string mode = absl::GetFlag(FLAGS_attach_mode);
  if (mode == "native") {
    o.attach_mode = xlb::XdpMode::kNative;
  } else if (mode == "generic") {
    o.attach_mode = xlb::XdpMode::kGeneric;
  } else {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--attach-mode: \"", mode, "\" is not native or generic")));
  }
  o.state_file = absl::GetFlag(FLAGS_state_file);
  o.listeners = xlb::api::ListenerOptions{
      .unix_socket = absl::GetFlag(FLAGS_listen_unix),
      .tcp_address = absl::GetFlag(FLAGS_listen_tcp),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
      .tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca),
      .insecure_tcp_without_tls =
          absl::GetFlag(FLAGS_insecure_tcp_without_tls)};
  o.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  o.limits =
      xlb::DataplaneLimits{.max_vips = absl::GetFlag(FLAGS_max_vips),
                           .max_backends = absl::GetFlag(FLAGS_max_backends),
                           .max_ring_size = absl::GetFlag(FLAGS_max_ring_size),
                           .max_conns = absl::GetFlag(FLAGS_max_conns)};
  o.source_v4 = absl::GetFlag(FLAGS_source_v4);
  o.source_v6 = absl::GetFlag(FLAGS_source_v6);
  if (const std::string mac = absl::GetFlag(FLAGS_gateway_mac); !mac.empty()) {
    absl::StatusOr<xlb::xlbd::MacAddress> parsed = xlb::xlbd::ParseMac(mac);
    if (!parsed.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--gateway-mac: ", parsed.status().message())));
    }
    o.gateway_mac = *parsed;
  }
  o.mtu = absl::GetFlag(FLAGS_mtu);
  o.tcp_idle_timeout = absl::GetFlag(FLAGS_tcp_idle_timeout);
  o.udp_idle_timeout = absl::GetFlag(FLAGS_udp_idle_timeout);
  o.hash_seed = absl::GetFlag(FLAGS_hash_seed);
  o.event_buffer = absl::GetFlag(FLAGS_event_buffer);
  o.max_event_watchers = absl::GetFlag(FLAGS_max_event_watchers);
  o.health_ca_file = absl::GetFlag(FLAGS_health_ca_file);
  o.bgp_api = absl::GetFlag(FLAGS_bgp_api);
  o.bgp_next_hop_v4 = absl::GetFlag(FLAGS_bgp_next_hop_v4);
  o.bgp_next_hop_v6 = absl::GetFlag(FLAGS_bgp_next_hop_v6);
  const std::string probe_mode = absl::GetFlag(FLAGS_health_probe_mode);
  if (probe_mode == "tunnelled") {
    o.health_probe_mode = xlb::health::ProbeMode::kTunnelled;
  } else if (probe_mode == "direct") {
    o.health_probe_mode = xlb::health::ProbeMode::kDirect;
  } else if (probe_mode == "off") {
    o.health_probe_mode = std::nullopt;
  } else {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--health-probe-mode: \"", probe_mode,
                     "\" is not tunnelled, direct or off")));
  }

  if (absl::Status s = xlb::xlbd::RunAgent(o); !s.ok()) return Fail(s);
  return 0;
}
