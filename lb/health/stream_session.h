// The application conversation a stream probe holds once connected (and
// TLS-established): HTTP/1.1 or gRPC over HTTP/2. The probe sends the
// plan's request first, then feeds every received byte here.
#ifndef XLB_LB_HEALTH_STREAM_SESSION_H_
#define XLB_LB_HEALTH_STREAM_SESSION_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "lb/health/probe_outcome.h"

namespace xlb::health {

class StreamSession {
 public:
  virtual ~StreamSession() = default;
  // Consumes received bytes; may append bytes to send to `*reply`. Returns
  // the verdict once the bytes so far decide it.
  virtual std::optional<ProbeResult> OnReceive(absl::string_view bytes,
                                               std::string* reply) = 0;
  // The peer closed its side before a verdict.
  virtual ProbeResult OnPeerClosed() = 0;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_STREAM_SESSION_H_
