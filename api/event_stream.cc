#include "api/event_stream.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace xlb::api {
namespace {

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::StatusOr<absl::Time> TimeFromProto(const google::protobuf::Timestamp& ts,
                                         absl::string_view field) {
  if (ts.seconds() < kMinTimestampSeconds ||
      ts.seconds() > kMaxTimestampSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": {seconds: ", ts.seconds(),
                     ", nanos: ", ts.nanos(), "} is not a valid timestamp"));
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace

class EventStreams::Stream final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  // `cursor`: the last sequence number the client has seen. `lost`: an
  // events_lost to send first.
  Stream(EventStreams* owner, uint64_t cursor,
         std::optional<v1::EventsLost> lost)
      : owner_(owner), cursor_(cursor), lost_(std::move(lost)) {}

  // Finishes the stream if the log shut down; otherwise starts the next
  // write unless one is in flight or there is nothing new.
  void Pump() {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    const agent::EventLog& log = *owner_->log_;
    if (log.shut_down()) {
      FinishLocked(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "the agent is shutting down; reconnect and resume after the last "
          "sequence number received"));
      return;
    }
    if (writing_) return;
    if (!lost_.has_value()) {
      agent::EventLog::Next next = log.ReadNext(cursor_);
      if (next.event != nullptr) {
        cursor_ = next.event->sequence();
        in_flight_ = std::move(next.event);
        writing_ = true;
        StartWrite(in_flight_.get());
        return;
      }
      lost_ = std::move(next.lost);
      if (!lost_.has_value()) return;  // nothing new yet
    }
    cursor_ = lost_->first_available() - 1;
    lost_event_.Clear();
    *lost_event_.mutable_events_lost() = *std::move(lost_);
    lost_.reset();
    agent::TimeToProto(absl::Now(), lost_event_.mutable_time());
    agent::TimeToProto(log.agent_start(),
                       lost_event_.mutable_agent_start_time());
    writing_ = true;
    StartWrite(&lost_event_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      in_flight_.reset();
      if (!ok) {  // the call is broken: nothing more can be sent
        FinishLocked(grpc::Status::CANCELLED);
        return;
      }
    }
    Pump();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    owner_->Closed(this);
    delete this;
  }

 private:
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));  // may overtake a write in flight
  }

  EventStreams* const owner_;
  absl::Mutex mu_;
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::EventsLost> lost_ ABSL_GUARDED_BY(mu_);
  // What a write in flight points to: a held event, or an events_lost.
  std::shared_ptr<const v1::Event> in_flight_ ABSL_GUARDED_BY(mu_);
  v1::Event lost_event_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

EventStreams::EventStreams(agent::EventLog* log, size_t max_streams)
    : log_(log), max_streams_(max_streams) {
  pump_ = std::thread([this] { RunPump(); });
  log_->SetListener([this] {
    absl::MutexLock lock(&wake_mu_);
    wake_ = true;
  });
}

EventStreams::~EventStreams() {
  log_->SetListener(nullptr);
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  pump_.join();
}

void EventStreams::RunPump() {
  while (true) {
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.Await(absl::Condition(
          +[](EventStreams* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->wake_mu_) {
            return s->wake_ || s->stopping_;
          },
          this));
      if (stopping_) return;
      wake_ = false;
    }
    absl::MutexLock lock(&streams_mu_);
    for (Stream* stream : streams_) stream->Pump();
  }
}

void EventStreams::Closed(Stream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

size_t EventStreams::open_streams() const {
  absl::MutexLock lock(&streams_mu_);
  return streams_.size();
}

absl::StatusOr<grpc::ServerWriteReactor<v1::Event>*> EventStreams::Open(
    const v1::WatchEventsRequest& request) {
  bool other_run = false;
  if (request.has_agent_start_time()) {
    absl::StatusOr<absl::Time> start =
        TimeFromProto(request.agent_start_time(), "agent_start_time");
    if (!start.ok()) return start.status();
    other_run = *start != log_->agent_start();
  }
  uint64_t cursor = log_->last_sequence();
  std::optional<v1::EventsLost> lost;
  if (other_run) {
    // Sequence numbers of another run mean nothing here: this run's events
    // from 1 are what the client missed, and whatever of the other run
    // came after after_sequence.
    lost.emplace();
    lost->set_first_missing(1);
    lost->set_first_available(log_->first_held_sequence());
  } else if (request.has_after_sequence()) {
    if (request.after_sequence() > cursor) {
      return absl::OutOfRangeError(absl::StrCat(
          "after_sequence: ", request.after_sequence(),
          " is beyond this agent run's last event, ", cursor,
          " (send the agent_start_time it came with; resuming from another "
          "run replays this one)"));
    }
    cursor = request.after_sequence();
  }
  Stream* stream;
  {
    absl::MutexLock lock(&streams_mu_);
    if (streams_.size() >= max_streams_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "WatchEvents: ", streams_.size(),
          " streams are open, the agent's limit (--max-event-watchers)"));
    }
    stream = new Stream(this, cursor, std::move(lost));
    streams_.insert(stream);
  }
  stream->Pump();
  return stream;
}

}  // namespace xlb::api
