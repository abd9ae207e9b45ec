// A probe that sends one datagram and expects a reply: any reply, or
// exactly the spec's udp_response bytes. An ICMP port-unreachable answer
// surfaces as kRefused; silence as the checker's timeout.
#ifndef XLB_LB_HEALTH_UDP_PROBE_H_
#define XLB_LB_HEALTH_UDP_PROBE_H_

#include <memory>

#include "lb/base/unique_fd.h"
#include "lb/health/probe.h"
#include "lb/health/probe_plan.h"

namespace xlb::health {

class UdpProbe : public Probe {
 public:
  explicit UdpProbe(std::shared_ptr<const ProbePlan> plan)
      : plan_(std::move(plan)) {}

  ProbeProgress Start() override;
  ProbeProgress OnReady(uint32_t events) override;
  int fd() const override { return fd_.get(); }

 private:
  std::shared_ptr<const ProbePlan> plan_;
  UniqueFd fd_;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_UDP_PROBE_H_
