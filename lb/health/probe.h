// One probe attempt against one target, driven by socket readiness. The
// checker's event loop owns it: Start(), then OnReady() whenever fd() shows
// the awaited events, until a result; destroying a probe aborts it.
#ifndef XLB_LB_HEALTH_PROBE_H_
#define XLB_LB_HEALTH_PROBE_H_

#include <cstdint>
#include <optional>

#include "lb/health/probe_outcome.h"

namespace xlb::health {

// Either the epoll events a probe waits for, or its result.
struct ProbeProgress {
  uint32_t wait_events = 0;  // EPOLLIN and/or EPOLLOUT
  std::optional<ProbeResult> result;

  bool done() const { return result.has_value(); }
  static ProbeProgress Wait(uint32_t events) { return {events, std::nullopt}; }
  static ProbeProgress Done(ProbeResult result) {
    return {0, std::move(result)};
  }
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Opens the socket and begins; fd() is valid afterwards unless done.
  virtual ProbeProgress Start() = 0;
  // `events`: what epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
  virtual ProbeProgress OnReady(uint32_t events) = 0;
  virtual int fd() const = 0;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_PROBE_H_
