#include "lb/agent/events.h"

#include <utility>

namespace xlb::agent {

void TimeToProto(absl::Time time, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

EventLog::EventLog(size_t capacity, absl::Time agent_start)
    : capacity_(capacity == 0 ? 1 : capacity), agent_start_(agent_start) {}

uint64_t EventLog::Append(v1::Event event) {
  absl::MutexLock lock(&mu_);
  const uint64_t sequence = next_sequence_++;
  event.set_sequence(sequence);
  TimeToProto(absl::Now(), event.mutable_time());
  TimeToProto(agent_start_, event.mutable_agent_start_time());
  events_.push_back(std::move(event));
  while (events_.size() > capacity_) events_.pop_front();
  return sequence;
}

EventLog::Batch EventLog::ReadAfter(uint64_t after) const {
  absl::MutexLock lock(&mu_);
  Batch batch;
  const uint64_t oldest =
      events_.empty() ? next_sequence_ : events_.front().sequence();
  if (after + 1 < oldest) {
    v1::EventsLost lost;
    lost.set_first_missing(after + 1);
    lost.set_first_available(oldest);
    batch.lost = lost;
  }
  for (const v1::Event& event : events_) {
    if (event.sequence() > after) batch.events.push_back(event);
  }
  return batch;
}

bool EventLog::WaitAfter(uint64_t after, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto ready = [this, after]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shut_down_ || next_sequence_ > after + 1;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  return next_sequence_ > after + 1;
}

void EventLog::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

bool EventLog::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

uint64_t EventLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_ - 1;
}

}  // namespace xlb::agent
