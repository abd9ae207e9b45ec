#include "lb/agent/events.h"

#include <utility>

namespace xlb::agent {

void TimeToProto(absl::Time time, google::protobuf::Timestamp* out) {
  // Whole seconds rounded down, so nanos stay in [0, 1e9) before 1970 too.
  const int64_t seconds = absl::ToUnixSeconds(time);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) /
                                      absl::Nanoseconds(1)));
}

EventLog::EventLog(size_t capacity, absl::Time agent_start)
    : capacity_(capacity == 0 ? 1 : capacity), agent_start_(agent_start) {}

uint64_t EventLog::Append(v1::Event event) {
  uint64_t sequence;
  {
    absl::MutexLock lock(&mu_);
    sequence = next_sequence_++;
    event.set_sequence(sequence);
    TimeToProto(absl::Now(), event.mutable_time());
    TimeToProto(agent_start_, event.mutable_agent_start_time());
    events_.push_back(std::make_shared<const v1::Event>(std::move(event)));
    while (events_.size() > capacity_) events_.pop_front();
  }
  Notify();
  return sequence;
}

EventLog::Next EventLog::ReadNext(uint64_t after) const {
  absl::MutexLock lock(&mu_);
  Next next;
  if (after >= next_sequence_ - 1) return next;  // nothing newer yet
  const uint64_t oldest =
      events_.empty() ? next_sequence_ : events_.front()->sequence();
  if (after < oldest - 1) {
    next.lost.emplace();
    next.lost->set_first_missing(after + 1);
    next.lost->set_first_available(oldest);
    return next;
  }
  // Sequence numbers in the buffer are consecutive.
  next.event = events_[after + 1 - oldest];
  return next;
}

void EventLog::SetListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void EventLog::Notify() {
  absl::MutexLock lock(&listener_mu_);
  if (listener_) listener_();
}

void EventLog::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
  }
  Notify();
}

bool EventLog::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

uint64_t EventLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_ - 1;
}

uint64_t EventLog::first_held_sequence() const {
  absl::MutexLock lock(&mu_);
  return events_.empty() ? next_sequence_ : events_.front()->sequence();
}

}  // namespace xlb::agent
