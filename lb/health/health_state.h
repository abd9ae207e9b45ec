// The rise/fall verdict of one target: pure logic, no clocks or sockets.
#ifndef XLB_LB_HEALTH_HEALTH_STATE_H_
#define XLB_LB_HEALTH_HEALTH_STATE_H_

#include <cstdint>

#include "lb/health/target.h"

namespace xlb::health {

// Holds a status until `rise` consecutive successes (while down) or `fall`
// consecutive failures (while up) change it. A result that agrees with the
// current status resets the opposite streak, so alternating results never
// cause a transition unless rise or fall is 1.
class HealthState {
 public:
  HealthState(HealthStatus initial, uint32_t rise, uint32_t fall)
      : status_(initial), rise_(rise), fall_(fall) {}

  // Records one probe result; true when it changed the status.
  bool Record(bool success);
  // New thresholds; the current status stays and the streak restarts.
  void SetThresholds(uint32_t rise, uint32_t fall);

  HealthStatus status() const { return status_; }
  // Consecutive results that disagree with the status so far.
  uint32_t streak() const { return streak_; }

 private:
  HealthStatus status_;
  uint32_t rise_;
  uint32_t fall_;
  uint32_t streak_ = 0;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_HEALTH_STATE_H_
