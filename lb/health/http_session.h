// The HTTP/1.1 GET conversation of kHttp and kHttps probes.
#ifndef XLB_LB_HEALTH_HTTP_SESSION_H_
#define XLB_LB_HEALTH_HTTP_SESSION_H_

#include <string>

#include "lb/health/http_response_parser.h"
#include "lb/health/probe_plan.h"
#include "lb/health/stream_session.h"

namespace xlb::health {

// "GET <path> HTTP/1.1", Host, "Connection: close", a User-Agent.
std::string BuildHttpRequest(absl::string_view path, absl::string_view host);

// Succeeds once the status is one of the expected codes and, when the plan
// names a body substring, the body contains it. Decides as early as the
// bytes allow (the status line alone when no substring is asked for).
class HttpSession : public StreamSession {
 public:
  explicit HttpSession(const ProbePlan* plan) : plan_(plan) {}

  std::optional<ProbeResult> OnReceive(absl::string_view bytes,
                                       std::string* reply) override;
  ProbeResult OnPeerClosed() override;

 private:
  std::optional<ProbeResult> Verdict();

  const ProbePlan* plan_;
  HttpResponseParser parser_;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_HTTP_SESSION_H_
