// Prometheus text exposition (format 0.0.4) of xlbd's counters, and the
// HTTP server (libmicrohttpd) that serves it on GET /metrics.
//
// Metrics (counters are monotonic since the maps were created):
//   xlb_packets_total{reason}                  per-reason data-plane counters
//   xlb_vip_packets_total{vip}, xlb_vip_bytes_total{vip},
//   xlb_vip_new_flows_total{vip}, xlb_vip_no_backend_drops_total{vip}
//   xlb_backend_packets_total{backend}, xlb_backend_bytes_total{backend}
//       per backend address: the data plane counts per backend, over every
//       VIP that uses it, so there is no vip label
//   xlb_backend_up{vip,backend}                1 healthy, 0 not (gauge)
//   xlb_health_transitions_total{vip,backend,to}  to="up"|"down", since
//       xlbd started
//   xlb_health_probes_total{vip,backend,outcome}  completed probes per
//       target since it was added; outcome="success" always, failure
//       outcomes ("timeout", "refused", ...) once they occurred
//   xlb_backend_in_ring{vip,backend}           1 takes new flows (gauge)
//   xlb_vip_has_ring{vip}                      0: packets dropped (gauge)
//   xlb_config_generation                      desired-config generation
//   xlb_api_requests_total{method,code}        API calls answered
//   xlb_uptime_seconds                         since xlbd started
//   With BGP announcement configured (xlbd --bgp-api):
//   xlb_bgp_daemon_up                          1: gobgpd reached and in sync
//   xlb_bgp_announced_vips                     VIPs whose route is announced
//   xlb_bgp_announcements_total, xlb_bgp_withdrawals_total
//       paths added to and withdrawn from gobgpd since xlbd started
#ifndef XLB_API_METRICS_H_
#define XLB_API_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lb/agent/controller.h"
#include "lb/agent/health_sync.h"
#include "lb/bgp/announcer.h"
#include "lb/model/model.h"
#include "xlb/v1/xlb.pb.h"

struct MHD_Daemon;

namespace xlb::api {

struct MetricsSnapshot {
  const v1::GetStatsResponse* stats = nullptr;  // null: no data plane
  std::vector<VipStatus> vips;
  std::vector<agent::HealthTransitionCount> health_transitions;
  std::vector<agent::HealthSync::ProbeCounts>
      health_probes;  // empty: no checker
  std::map<std::pair<std::string, std::string>, uint64_t> requests;
  bgp::BgpStatus bgp;  // nothing rendered unless configured
  uint64_t generation = 0;
  double uptime_seconds = 0;
};

std::string RenderMetrics(const MetricsSnapshot& snapshot);

// What one client, and all of them together, may hold. Connections past a
// limit are closed at once; the others are served as before.
struct MetricsLimits {
  unsigned connections = 64;           // open connections, all clients
  unsigned connections_per_ip = 8;     // open connections from one address
  unsigned idle_timeout_seconds = 10;  // closed after this long without I/O
  // Memory for one connection's request line, headers and response headers;
  // a request that does not fit is answered 431 and closed.
  size_t connection_memory_bytes = 16 * 1024;
};

// Serves GET (and HEAD) /metrics with `render()`'s text; other paths are
// 404, other methods 405. Clients are served concurrently by one epoll
// thread: a client that is slow or silent holds only its own connection.
class MetricsServer {
 public:
  // `address` is "host:port" with a numeric host ("127.0.0.1:9470",
  // "[::1]:9470"); port 0 picks a free port.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::function<std::string()> render,
      const MetricsLimits& limits = {});
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer() = default;

  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::function<std::string()> render_;
};

}  // namespace xlb::api

#endif  // XLB_API_METRICS_H_
