// A probe over a TCP connection: connect, optionally TLS, then a
// StreamSession conversation (HTTP, gRPC health). Plain TCP checks need no
// connection: see SynProber.
#ifndef XLB_LB_HEALTH_STREAM_PROBE_H_
#define XLB_LB_HEALTH_STREAM_PROBE_H_

#include <memory>
#include <string>

#include "lb/base/unique_fd.h"
#include "lb/health/probe.h"
#include "lb/health/probe_plan.h"
#include "lb/health/stream_session.h"
#include "lb/health/tls.h"

namespace xlb::health {

class StreamProbe : public Probe {
 public:
  // `use_tls`: handshake before the session.
  StreamProbe(std::shared_ptr<const ProbePlan> plan,
              std::unique_ptr<StreamSession> session, bool use_tls);

  ProbeProgress Start() override;
  ProbeProgress OnReady(uint32_t events) override;
  int fd() const override { return fd_.get(); }

 private:
  enum class Phase { kConnecting, kHandshaking, kExchanging };
  // Result of one read or write attempt.
  struct Io {
    long bytes = 0;     // > 0 transferred, 0 end of stream
    uint32_t wait = 0;  // would block: the events to wait for
    std::optional<ProbeResult> error;
  };

  ProbeProgress Connected();
  ProbeProgress Handshake();
  ProbeProgress Exchange();
  Io Send(const char* data, size_t size);
  Io Receive(char* data, size_t size);
  Io SslIo(int ret);

  std::shared_ptr<const ProbePlan> plan_;
  std::unique_ptr<StreamSession> session_;
  const bool use_tls_;
  UniqueFd fd_;
  SslPtr ssl_;  // declared after fd_: freed before the socket closes
  Phase phase_ = Phase::kConnecting;
  std::string out_;
  size_t out_sent_ = 0;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_STREAM_PROBE_H_
