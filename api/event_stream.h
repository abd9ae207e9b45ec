// WatchEvents streams on gRPC's callback API: a stream holds no thread
// while it waits or while its client is slow to read, and at most one event
// in flight, shared with the log (lb/agent/events.h). One pump thread, whatever
// the number of streams, starts the next write of every idle stream when
// events arrive; a stream whose write is in flight continues when the write
// completes. A reader that falls behind the log's buffer gets `events_lost`
// and continues from the oldest held event: it never costs more memory.
//
// At most `max_streams` streams are open at once; beyond that a new one is
// refused with RESOURCE_EXHAUSTED. When the log shuts down (agent shutdown)
// every stream ends with UNAVAILABLE, so clients reconnect and resume.
#ifndef XLB_API_EVENT_STREAM_H_
#define XLB_API_EVENT_STREAM_H_

#include <set>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "lb/agent/events.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::api {

class EventStreams {
 public:
  // `log` must outlive this.
  EventStreams(agent::EventLog* log, size_t max_streams);
  // Every stream must be done first (the gRPC server shut down).
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // A stream for `request`, or why not: INVALID_ARGUMENT for a malformed
  // agent_start_time, OUT_OF_RANGE for an after_sequence beyond this agent
  // run's last event, RESOURCE_EXHAUSTED when max_streams are open.
  absl::StatusOr<grpc::ServerWriteReactor<v1::Event>*> Open(
      const v1::WatchEventsRequest& request);

  size_t open_streams() const;
  size_t max_streams() const { return max_streams_; }

 private:
  class Stream;
  void RunPump();
  void Closed(Stream* stream);

  agent::EventLog* const log_;
  const size_t max_streams_;
  mutable absl::Mutex streams_mu_;
  std::set<Stream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  // Set by the log's listener; kept apart from streams_mu_ so that appending
  // an event never waits for the pump.
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread pump_;
};

}  // namespace xlb::api

#endif  // XLB_API_EVENT_STREAM_H_
