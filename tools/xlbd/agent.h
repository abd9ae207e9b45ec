// xlbd's life cycle: load (or adopt) the pinned data plane, reconcile it with
// the persisted desired state, attach, serve the API and metrics until
// SIGTERM/SIGINT, and exit leaving the data plane in place (traffic keeps
// flowing while the agent restarts or upgrades).
#ifndef XLB_TOOLS_XLBD_AGENT_H_
#define XLB_TOOLS_XLBD_AGENT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/server.h"
#include "api/service.h"
#include "lb/base/ip_address.h"
#include "lb/dataplane/dataplane.h"
#include "lb/health/target.h"
#include "tools/xlbd/host_network.h"
#include "xlb_abi.h"

namespace xlb::xlbd {

struct AgentOptions {
  // Empty: load and pin the data plane but attach nothing (tests, staging).
  std::string interface;
  XdpMode attach_mode = XdpMode::kNative;
  std::string bpffs_dir = "/sys/fs/bpf/xlb";
  std::string state_file = "/var/lib/xlb/state";
  api::ListenerOptions listeners;
  std::string metrics_address = "127.0.0.1:9470";  // empty: none
  DataplaneLimits limits;
  std::string source_v4;                  // "198.51.100.10/32"; empty: none
  std::string source_v6;                  // "2001:db8::10/128"; empty: none
  std::optional<MacAddress> gateway_mac;  // unset: resolved
  uint32_t mtu = 0;                       // 0: the interface's MTU
  absl::Duration tcp_idle_timeout = absl::Seconds(300);
  absl::Duration udp_idle_timeout = absl::Seconds(30);
  uint32_t hash_seed = 0;
  size_t event_buffer = 4096;
  size_t max_event_watchers = api::kDefaultMaxEventWatchers;
  // How health probes reach backends; nullopt: no health checking (every
  // checked backend keeps the health it has).
  std::optional<health::ProbeMode> health_probe_mode =
      health::ProbeMode::kTunnelled;
  // CA bundle for HTTPS checks with https_verify; empty: the system store.
  std::string health_ca_file;
  // gobgpd's gRPC API ("127.0.0.1:50051", loopback only); empty: no BGP
  // announcement.
  std::string bgp_api;
  // Next hops of the announced /32 and /128 routes. Empty: the address of
  // --source-v4 / --source-v6 when that is a single address (no next hop
  // otherwise: that family's VIPs are not announced).
  std::string bgp_next_hop_v4;
  std::string bgp_next_hop_v6;
};

// Checks what can be checked without touching the system. InvalidArgument
// naming the flag.
absl::Status ValidateAgentOptions(const AgentOptions& options);

// The config map's entry: outer addresses, MACs, MTU, timeouts, seed.
// Reads the interface's MAC and MTU and resolves the gateway when needed.
absl::StatusOr<xlb_config> BuildDataplaneConfig(const AgentOptions& options);

// The next hop of one family's routes: the flag's address, else the
// source's when it is a single address; nullopt when neither.
absl::StatusOr<std::optional<IpAddress>> BgpNextHop(const AgentOptions& options,
                                                    bool v6);

// Runs until SIGTERM or SIGINT (blocked by the caller). Errors at start
// (corrupt state file, unusable interface, ...) return before serving.
absl::Status RunAgent(const AgentOptions& options);

}  // namespace xlb::xlbd

#endif  // XLB_TOOLS_XLBD_AGENT_H_
