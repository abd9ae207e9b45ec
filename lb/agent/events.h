// The agent's event log: configuration changes and health transitions,
// numbered in order, kept in a bounded ring so a watcher can resume after a
// reconnect. A watcher asking for events already dropped is told so
// (EventsLost) instead of silently missing them.
//
// Events are immutable once appended and shared: a reader holds a reference
// to the event it sends, never a copy of the buffer, so what a watcher costs
// does not grow with the buffer or with how far behind it is.
#ifndef XLB_LB_AGENT_EVENTS_H_
#define XLB_LB_AGENT_EVENTS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::agent {

class EventLog {
 public:
  // Holds the `capacity` most recent events; `agent_start` stamps them all.
  EventLog(size_t capacity, absl::Time agent_start);

  // Numbers `event` (sequence, time, agent_start_time), stores it and calls
  // the listener. Returns its sequence number.
  uint64_t Append(v1::Event event);

  // What a reader that has seen every event up to `after` reads next.
  struct Next {
    // Set when events after `after` were dropped: resume after
    // lost->first_available() - 1.
    std::optional<v1::EventsLost> lost;
    // Otherwise the next event; null when there is none yet.
    std::shared_ptr<const v1::Event> event;
  };
  // `after` is at most last_sequence().
  Next ReadNext(uint64_t after) const;

  // Called after every Append and on Shutdown, without the log's lock held,
  // on the appending thread: it must be quick. One listener; null clears it.
  void SetListener(std::function<void()> listener);

  // Marks the log shut down for good (agent shutdown) and calls the listener.
  void Shutdown();
  bool shut_down() const;

  uint64_t last_sequence() const;  // 0 before the first event
  // The oldest sequence number held; last_sequence() + 1 when none is.
  uint64_t first_held_sequence() const;
  absl::Time agent_start() const { return agent_start_; }
  size_t capacity() const { return capacity_; }

 private:
  void Notify();

  const size_t capacity_;
  const absl::Time agent_start_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const v1::Event>> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
};

void TimeToProto(absl::Time time, google::protobuf::Timestamp* out);

}  // namespace xlb::agent

#endif  // XLB_LB_AGENT_EVENTS_H_
