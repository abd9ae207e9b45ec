#include "api/metrics.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "lb/base/log.h"
#include "lb/base/unique_fd.h"

namespace xlb::api {
namespace {

// Label values escape backslash, double quote and newline.
std::string Label(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string VipLabel(const v1::VipKey& key) {
  const bool v6 = key.address().find(':') != std::string::npos;
  return Label(
      absl::StrCat(v6 ? "[" : "", key.address(), v6 ? "]" : "", ":", key.port(),
                   key.protocol() == v1::PROTOCOL_UDP ? "/udp" : "/tcp"));
}

void Header(std::string& out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                  type, "\n");
}

void LogFromMhd(void*, const char* format, va_list args) {
  char text[512];
  std::vsnprintf(text, sizeof(text), format, args);
  // Refused and timed-out clients land here: routine, so debug only.
  LogDebug("metrics", absl::StripTrailingAsciiWhitespace(text), {});
}

// libmicrohttpd calls this once the headers are in, then once per piece of
// body, then once more. A request refused at once gets its answer (and its
// connection closed) on the first call; a served one on the last, which
// lets the connection be kept alive for the next request.
MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url,
                  const char* method, const char* /*version*/,
                  const char* /*upload_data*/, size_t* upload_data_size,
                  void** request_state) {
  static char headers_seen;
  const absl::string_view verb = method;
  const bool allowed =
      verb == MHD_HTTP_METHOD_GET || verb == MHD_HTTP_METHOD_HEAD;
  if (allowed && *request_state == nullptr) {
    *request_state = &headers_seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;  // a body on GET: read and dropped
    return MHD_YES;
  }
  auto* render = static_cast<const std::function<std::string()>*>(cls);
  unsigned int status = MHD_HTTP_OK;
  std::string body;
  if (!allowed) {
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "only GET\n";
  } else if (absl::string_view(url) != "/metrics") {
    status = MHD_HTTP_NOT_FOUND;
    body = "try /metrics\n";
  } else {
    body = (*render)();
  }
  auto* owned = new std::string(std::move(body));
  MHD_Response* response =
      MHD_create_response_from_buffer_with_free_callback_cls(
          owned->size(), owned->data(),
          [](void* p) { delete static_cast<std::string*>(p); }, owned);
  if (response == nullptr) {
    delete owned;
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          status == MHD_HTTP_OK
                              ? "text/plain; version=0.0.4; charset=utf-8"
                              : "text/plain; charset=utf-8");
  if (!allowed)
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

std::string RenderMetrics(const MetricsSnapshot& s) {
  std::string out;
  if (s.stats != nullptr) {
    Header(out, "xlb_packets_total", "counter",
           "Data-plane packets by decision (enum xlb_counter).");
    for (const auto& [reason, value] : std::map<std::string, uint64_t>(
             s.stats->counters().begin(), s.stats->counters().end())) {
      absl::StrAppend(&out, "xlb_packets_total{reason=\"", Label(reason),
                      "\"} ", value, "\n");
    }
    struct VipMetric {
      const char* name;
      const char* help;
      uint64_t (v1::VipStats::*get)() const;
    };
    for (const VipMetric& m :
         {VipMetric{"xlb_vip_packets_total", "Packets forwarded for the VIP.",
                    &v1::VipStats::packets},
          VipMetric{"xlb_vip_bytes_total",
                    "Bytes (original IP packets) forwarded for the VIP.",
                    &v1::VipStats::bytes},
          VipMetric{"xlb_vip_new_flows_total",
                    "Flows given a backend by the VIP's Maglev table and "
                    "written to the connection table.",
                    &v1::VipStats::new_flows},
          VipMetric{"xlb_vip_no_backend_drops_total",
                    "Packets dropped because the VIP had no backend.",
                    &v1::VipStats::no_backend_drops},
          VipMetric{"xlb_vip_syns_total",
                    "TCP SYNs to the VIP, forwarded or dropped.",
                    &v1::VipStats::syns},
          VipMetric{"xlb_vip_syn_limit_drops_total",
                    "TCP SYNs dropped by the VIP's syn_rate_limit.",
                    &v1::VipStats::syn_limit_drops}}) {
      Header(out, m.name, "counter", m.help);
      for (const v1::VipStats& vip : s.stats->vips()) {
        absl::StrAppend(&out, m.name, "{vip=\"", VipLabel(vip.key()), "\"} ",
                        (vip.*m.get)(), "\n");
      }
    }
    Header(out, "xlb_backend_packets_total", "counter",
           "Packets sent to the backend, over every VIP using it.");
    for (const v1::BackendStats& b : s.stats->backends()) {
      absl::StrAppend(&out, "xlb_backend_packets_total{backend=\"",
                      Label(b.address()), "\"} ", b.packets(), "\n");
    }
    Header(out, "xlb_backend_bytes_total", "counter",
           "Bytes sent to the backend, over every VIP using it.");
    for (const v1::BackendStats& b : s.stats->backends()) {
      absl::StrAppend(&out, "xlb_backend_bytes_total{backend=\"",
                      Label(b.address()), "\"} ", b.bytes(), "\n");
    }
  }
  Header(out, "xlb_vip_has_ring", "gauge",
         "1 when the VIP has a backend for new flows, 0 when it drops.");
  for (const VipStatus& vip : s.vips) {
    absl::StrAppend(&out, "xlb_vip_has_ring{vip=\"", Label(vip.key.ToString()),
                    "\"} ", vip.has_ring ? 1 : 0, "\n");
  }
  Header(out, "xlb_backend_up", "gauge",
         "1 when the VIP's health check finds the backend healthy.");
  for (const VipStatus& vip : s.vips) {
    for (const VipBackendStatus& b : vip.backends) {
      absl::StrAppend(&out, "xlb_backend_up{vip=\"", Label(vip.key.ToString()),
                      "\",backend=\"", Label(b.address.ToString()), "\"} ",
                      b.healthy ? 1 : 0, "\n");
    }
  }
  Header(out, "xlb_health_transitions_total", "counter",
         "Health transitions of a backend in a VIP, by new health.");
  for (const agent::HealthTransitionCount& t : s.health_transitions) {
    absl::StrAppend(&out, "xlb_health_transitions_total{vip=\"",
                    Label(t.vip.ToString()), "\",backend=\"",
                    Label(t.backend.ToString()), "\",to=\"",
                    t.to_healthy ? "up" : "down", "\"} ", t.count, "\n");
  }
  Header(out, "xlb_health_probes_total", "counter",
         "Completed health probes of a backend in a VIP, by outcome.");
  for (const agent::HealthSync::ProbeCounts& p : s.health_probes) {
    const std::string labels =
        absl::StrCat("vip=\"", Label(p.vip.ToString()), "\",backend=\"",
                     Label(p.backend.ToString()), "\",outcome=\"");
    for (size_t i = 0; i < health::kProbeOutcomeCount; ++i) {
      const auto outcome = static_cast<health::ProbeOutcome>(i);
      const uint64_t count = p.counters.count(outcome);
      // Failure outcomes appear once they occur: 9 series per target
      // would make 10k targets a 90k-line scrape.
      if (count == 0 && outcome != health::ProbeOutcome::kSuccess) continue;
      absl::StrAppend(&out, "xlb_health_probes_total{", labels,
                      health::ProbeOutcomeLabel(outcome), "\"} ", count, "\n");
    }
  }
  Header(out, "xlb_backend_in_ring", "gauge",
         "1 when the backend takes new flows of the VIP.");
  for (const VipStatus& vip : s.vips) {
    for (const VipBackendStatus& b : vip.backends) {
      absl::StrAppend(&out, "xlb_backend_in_ring{vip=\"",
                      Label(vip.key.ToString()), "\",backend=\"",
                      Label(b.address.ToString()), "\"} ", b.in_ring ? 1 : 0,
                      "\n");
    }
  }
  Header(out, "xlb_config_generation", "gauge",
         "Generation of the desired configuration.");
  absl::StrAppend(&out, "xlb_config_generation ", s.generation, "\n");
  Header(out, "xlb_api_requests_total", "counter",
         "API calls answered, by method and gRPC status code.");
  for (const auto& [key, value] : s.requests) {
    absl::StrAppend(&out, "xlb_api_requests_total{method=\"", Label(key.first),
                    "\",code=\"", Label(key.second), "\"} ", value, "\n");
  }
  if (s.bgp.configured) {
    Header(out, "xlb_bgp_daemon_up", "gauge",
           "1 when gobgpd answers and holds xlbd's paths in sync, else 0.");
    absl::StrAppend(&out, "xlb_bgp_daemon_up ", s.bgp.daemon_reachable ? 1 : 0,
                    "\n");
    Header(out, "xlb_bgp_announced_vips", "gauge",
           "VIPs whose address this host announces over BGP.");
    absl::StrAppend(&out, "xlb_bgp_announced_vips ", s.bgp.announced_vips(),
                    "\n");
    Header(out, "xlb_bgp_announcements_total", "counter",
           "Paths added to gobgpd since xlbd started.");
    absl::StrAppend(&out, "xlb_bgp_announcements_total ", s.bgp.announcements,
                    "\n");
    Header(out, "xlb_bgp_withdrawals_total", "counter",
           "Paths withdrawn from gobgpd since xlbd started.");
    absl::StrAppend(&out, "xlb_bgp_withdrawals_total ", s.bgp.withdrawals,
                    "\n");
  }
  Header(out, "xlb_uptime_seconds", "gauge", "Seconds since xlbd started.");
  absl::StrAppend(&out, "xlb_uptime_seconds ", s.uptime_seconds, "\n");
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::function<std::string()> render,
    const MetricsLimits& limits) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-address: \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  host = std::string(absl::StripSuffix(absl::StripPrefix(host, "["), "]"));
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* info = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &info); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-address: \"", host,
                     "\" is not a numeric address: ", gai_strerror(rc)));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, info->ai_addr, info->ai_addrlen);
  const socklen_t length = info->ai_addrlen;
  const int family = info->ai_family;
  freeaddrinfo(info);
  reinterpret_cast<sockaddr_in*>(&addr)->sin_port =
      htons(static_cast<uint16_t>(port));  // same offset in v6
  // Bound here rather than by libmicrohttpd, so that a failure names errno.
  UniqueFd listen_fd(
      socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int one = 1;
  if (!listen_fd.valid() ||
      setsockopt(listen_fd.get(), SOL_SOCKET, SO_REUSEADDR, &one,
                 sizeof(one)) != 0 ||
      bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&addr), length) != 0 ||
      listen(listen_fd.get(), static_cast<int>(limits.connections)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-address: cannot listen on ", address, ": ",
                     std::strerror(errno)));
  }
  socklen_t bound_length = sizeof(addr);
  getsockname(listen_fd.get(), reinterpret_cast<sockaddr*>(&addr),
              &bound_length);

  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->port_ = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  server->render_ = std::move(render);
  server->daemon_ = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
      /*apc=*/nullptr, nullptr, &Answer, &server->render_,
      MHD_OPTION_EXTERNAL_LOGGER, &LogFromMhd, nullptr,
      MHD_OPTION_LISTEN_SOCKET, listen_fd.get(),  //
      MHD_OPTION_CONNECTION_LIMIT, limits.connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.connections_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_seconds,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits.connection_memory_bytes,
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::InternalError(absl::StrCat(
        "--metrics-address: libmicrohttpd did not start on ", address));
  }
  (void)listen_fd.release();  // MHD_stop_daemon closes it
  LogInfo("metrics", "serving /metrics",
          {{"address", address}, {"port", server->port_}});
  return server;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace xlb::api
