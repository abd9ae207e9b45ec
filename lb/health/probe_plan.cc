#include "lb/health/probe_plan.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lb/health/grpc_health_session.h"
#include "lb/health/http_session.h"
#include "lb/health/stream_probe.h"
#include "lb/health/udp_probe.h"

namespace xlb::health {
namespace {

// "192.0.2.1" or "[2001:db8::1]", with ":port" unless it is the default.
std::string HostHeader(const HealthTarget& target, uint16_t port,
                       uint16_t default_port) {
  const bool v6 = target.address.find(':') != std::string::npos;
  std::string host =
      v6 ? absl::StrCat("[", target.address, "]") : target.address;
  if (port != default_port) absl::StrAppend(&host, ":", port);
  return host;
}

// The Host value without a port or IPv6 brackets.
std::string TlsNameOf(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    return host.substr(1, host.find(']') - 1);
  }
  if (std::count(host.begin(), host.end(), ':') == 1) {
    return host.substr(0, host.find(':'));
  }
  return host;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ProbePlan>> MakeProbePlan(
    const HealthTarget& target, const TlsContexts* tls,
    std::function<void(int fd)> socket_observer) {
  if (absl::Status s = ValidateTarget(target); !s.ok()) return s;
  const EffectiveSchedule schedule = ResolveSchedule(target);
  const HealthCheckSpec& spec = *target.spec;
  auto plan = std::make_shared<ProbePlan>();
  plan->spec = target.spec;
  plan->mark = target.mark;
  plan->tls = tls;
  plan->verify_tls = target.verify_tls;
  plan->socket_observer = std::move(socket_observer);

  sockaddr_in* v4 = &plan->address.v4;
  sockaddr_in6* v6 = &plan->address.v6;
  if (inet_pton(AF_INET, target.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(schedule.port);
    plan->address_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, target.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(schedule.port);
    plan->address_len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("health target ", target.id, ": bad address"));
  }

  switch (spec.type) {
    case HealthCheckType::kTcp:
      break;
    case HealthCheckType::kHttp:
    case HealthCheckType::kHttps: {
      const bool https = spec.type == HealthCheckType::kHttps;
      plan->host = spec.http_host.empty()
                       ? HostHeader(target, schedule.port, https ? 443 : 80)
                       : spec.http_host;
      plan->request = BuildHttpRequest(spec.http_path, plan->host);
      if (https) {
        if (tls == nullptr) {
          return absl::FailedPreconditionError("HTTPS probe without TLS");
        }
        plan->tls_name = TlsNameOf(plan->host);
      }
      break;
    }
    case HealthCheckType::kUdp:
      break;
    case HealthCheckType::kGrpc:
      plan->host = HostHeader(target, schedule.port, 0);
      plan->request = BuildGrpcHealthGreeting(plan->host, spec.grpc_service);
      break;
  }
  return std::shared_ptr<const ProbePlan>(std::move(plan));
}

std::unique_ptr<Probe> MakeProbe(std::shared_ptr<const ProbePlan> plan) {
  const ProbePlan* raw = plan.get();
  switch (plan->spec->type) {
    case HealthCheckType::kTcp:  // SynProber::NewProbe
      return nullptr;
    case HealthCheckType::kHttp:
      return std::make_unique<StreamProbe>(
          std::move(plan), std::make_unique<HttpSession>(raw), false);
    case HealthCheckType::kHttps:
      return std::make_unique<StreamProbe>(
          std::move(plan), std::make_unique<HttpSession>(raw), true);
    case HealthCheckType::kUdp:
      return std::make_unique<UdpProbe>(std::move(plan));
    case HealthCheckType::kGrpc:
      return std::make_unique<StreamProbe>(
          std::move(plan), std::make_unique<GrpcHealthSession>(), false);
  }
  return nullptr;
}

std::optional<ProbeResult> OpenProbeSocket(const ProbePlan& plan, int type,
                                           UniqueFd* fd, bool* in_progress) {
  auto failed = [](absl::string_view call) {
    return ErrnoFailure(call, errno);
  };
  fd->reset(socket(plan.address.any.sa_family,
                   type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd->valid()) {
    ProbeResult r = failed("socket");
    r.outcome = ProbeOutcome::kLocalError;
    return r;
  }
  if (plan.mark != 0 && setsockopt(fd->get(), SOL_SOCKET, SO_MARK, &plan.mark,
                                   sizeof(plan.mark)) != 0) {
    ProbeResult r = failed("setsockopt(SO_MARK)");
    r.outcome = ProbeOutcome::kLocalError;
    return r;
  }
  if (type == SOCK_STREAM) {
    // Close with RST: a checker opening thousands of connections a second
    // must not leave them in TIME_WAIT.
    const linger abort_on_close = {1, 0};
    setsockopt(fd->get(), SOL_SOCKET, SO_LINGER, &abort_on_close,
               sizeof(abort_on_close));
    const int one = 1;  // a request follows at once
    setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (plan.socket_observer) plan.socket_observer(fd->get());
  *in_progress = false;
  if (connect(fd->get(), &plan.address.any, plan.address_len) != 0) {
    if (errno != EINPROGRESS) return failed("connect");
    *in_progress = true;
  }
  return std::nullopt;
}

}  // namespace xlb::health
