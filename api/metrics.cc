#include "api/metrics.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lb/base/log.h"

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
                    "Flows given a backend by the VIP's Maglev table.",
                    &v1::VipStats::new_flows},
          VipMetric{"xlb_vip_no_backend_drops_total",
                    "Packets dropped because the VIP had no backend.",
                    &v1::VipStats::no_backend_drops}}) {
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
  Header(out, "xlb_uptime_seconds", "gauge", "Seconds since xlbd started.");
  absl::StrAppend(&out, "xlb_uptime_seconds ", s.uptime_seconds, "\n");
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::function<std::string()> render) {
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
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->render_ = std::move(render);
  server->listen_fd_ = UniqueFd(
      socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int one = 1;
  setsockopt(server->listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one,
             sizeof(one));
  sockaddr_storage addr{};
  std::memcpy(&addr, info->ai_addr, info->ai_addrlen);
  const socklen_t length = info->ai_addrlen;
  freeaddrinfo(info);
  reinterpret_cast<sockaddr_in*>(&addr)->sin_port =
      htons(static_cast<uint16_t>(port));  // same offset in v6
  if (!server->listen_fd_.valid() ||
      bind(server->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr),
           length) != 0 ||
      listen(server->listen_fd_.get(), 16) != 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-address: cannot listen on ", address, ": ",
                     std::strerror(errno)));
  }
  socklen_t bound_length = sizeof(addr);
  getsockname(server->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr),
              &bound_length);
  server->port_ = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  server->wake_read_ = UniqueFd(pipe_fds[0]);
  server->wake_write_ = UniqueFd(pipe_fds[1]);
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  LogInfo("metrics", "serving /metrics",
          {{"address", address}, {"port", server->port_}});
  return server;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    (void)!write(wake_write_.get(), "x", 1);
    thread_.join();
  }
}

void MetricsServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0},
                     {wake_read_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd client(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.valid()) Answer(client.get());
  }
}

void MetricsServer::Answer(int fd) {
  // One request per connection; a client gets 2 s to send its header.
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[2048];
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos && request.size() < 16384) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  const std::string first_line =
      request.substr(0, request.find_first_of("\r\n"));
  const std::vector<absl::string_view> line = absl::StrSplit(first_line, ' ');
  std::string status = "200 OK";
  std::string body;
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  if (line.size() < 2 || (line[0] != "GET" && line[0] != "HEAD")) {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  } else if (line[1] != "/metrics") {
    status = "404 Not Found";
    body = "try /metrics\n";
  } else {
    body = render_();
  }
  std::string response = absl::StrCat(
      "HTTP/1.1 ", status, "\r\nContent-Type: ", type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  if (line.empty() || line[0] != "HEAD") response += body;
  absl::string_view rest = response;
  while (!rest.empty()) {
    ssize_t n = write(fd, rest.data(), rest.size());
    if (n <= 0) return;
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace xlb::api
