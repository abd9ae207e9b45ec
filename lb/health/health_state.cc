#include "lb/health/health_state.h"

namespace xlb::health {

bool HealthState::Record(bool success) {
  const bool agrees = success == (status_ == HealthStatus::kUp);
  if (agrees) {
    streak_ = 0;
    return false;
  }
  ++streak_;
  const uint32_t needed = status_ == HealthStatus::kUp ? fall_ : rise_;
  if (streak_ < needed) return false;
  status_ = success ? HealthStatus::kUp : HealthStatus::kDown;
  streak_ = 0;
  return true;
}

void HealthState::SetThresholds(uint32_t rise, uint32_t fall) {
  rise_ = rise;
  fall_ = fall;
  streak_ = 0;
}

}  // namespace xlb::health
