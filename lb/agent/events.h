// The agent's event log: configuration changes and health transitions,
// numbered in order, kept in a bounded ring so a watcher can resume after a
// reconnect. A watcher asking for events already dropped is told so
// (EventsLost) instead of silently missing them.
#ifndef XLB_LB_AGENT_EVENTS_H_
#define XLB_LB_AGENT_EVENTS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::agent {

class EventLog {
 public:
  // Holds the `capacity` most recent events; `agent_start` stamps them all.
  EventLog(size_t capacity, absl::Time agent_start);

  // Numbers `event` (sequence, time, agent_start_time), stores it and wakes
  // watchers. Returns its sequence number.
  uint64_t Append(v1::Event event);

  struct Batch {
    std::optional<v1::EventsLost> lost;  // set when events were dropped
    std::vector<v1::Event> events;       // in sequence order
  };
  // Held events with a sequence number greater than `after`.
  Batch ReadAfter(uint64_t after) const;

  // Waits until an event after `after` is held, Shutdown() is called, or
  // `deadline` passes. True when an event is there.
  bool WaitAfter(uint64_t after, absl::Time deadline) const;

  // Wakes every waiter for good (server shutdown).
  void Shutdown();
  bool shut_down() const;

  uint64_t last_sequence() const;
  absl::Time agent_start() const { return agent_start_; }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  const absl::Time agent_start_;
  mutable absl::Mutex mu_;
  std::deque<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

void TimeToProto(absl::Time time, google::protobuf::Timestamp* out);
absl::Time TimeFromProto(const google::protobuf::Timestamp& ts);

}  // namespace xlb::agent

#endif  // XLB_LB_AGENT_EVENTS_H_
