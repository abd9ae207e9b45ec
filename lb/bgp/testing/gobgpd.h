// Real gobgpd daemons for tests, on loopback with ports picked free: each
// one owned by the test (started with posix_spawn, killed by its PID only,
// its configuration in a private temporary directory), plus helpers to read
// a daemon's global RIB. On the host's loopback they go through its gRPC
// API; inside a network namespace (where the test's own gRPC channels do
// not reach) through the gobgp CLI run in that namespace.
#ifndef XLB_LB_BGP_TESTING_GOBGPD_H_
#define XLB_LB_BGP_TESTING_GOBGPD_H_

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace xlb::bgp::testing {

// A TCP port on 127.0.0.1 nobody listens on right now.
int FreePort();

class Gobgpd {
 public:
  struct Options {
    uint32_t asn = 65001;
    std::string router_id = "192.0.2.254";
    int api_port = 0;   // 0: FreePort()
    int bgp_port = -1;  // -1: no BGP listener (sessions are then active)
    // Peer 127.0.0.1 (IPv4 and IPv6 unicast): at this port (active), or
    // passive when 0. No peer when peer_asn is 0.
    uint32_t peer_asn = 0;
    int peer_port = 0;
    // Run inside this network namespace (ip netns name); empty: the host's.
    // No peers there: Rib() cannot tell local paths from learned ones.
    std::string netns;
  };
  explicit Gobgpd(Options options);
  ~Gobgpd();  // SIGKILL by PID, wait, remove the directory

  // Starts the daemon and waits until its API answers. False (with the
  // test failed) when it does not within 10 s.
  bool Start();
  // SIGKILL and reap.
  void Kill();
  bool running() const { return pid_ > 0; }

  std::string api_address() const;
  int api_port() const { return options_.api_port; }
  int bgp_port() const { return options_.bgp_port; }

  // Prefix ("192.0.2.1/32") -> next hop of every path in the global RIB;
  // `local_only` keeps the paths not learned from a peer.
  std::map<std::string, std::string> Rib(bool local_only = false) const;
  // Adds a local path with ORIGIN IGP and, when `marked`, xlbd's marker.
  bool AddPath(const std::string& prefix, const std::string& next_hop,
               bool marked) const;

 private:
  // Runs the gobgp CLI against this daemon in its namespace; nullopt when
  // it fails.
  std::optional<std::string> Cli(const std::string& arguments) const;

  Options options_;
  std::string dir_;
  pid_t pid_ = 0;
};

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done,
             absl::Duration timeout = absl::Seconds(15));

}  // namespace xlb::bgp::testing

#endif  // XLB_LB_BGP_TESTING_GOBGPD_H_
