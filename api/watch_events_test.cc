// WatchEvents through the real server: where a stream starts for every
// after_sequence and agent_start_time a client can send (the extremes
// included), the limit on open streams, that open streams hold no thread,
// that a slow reader is told what it lost instead of being buffered for, and
// that agent shutdown ends streams with UNAVAILABLE.
#include <dirent.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"

namespace xlb::api {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders
using namespace xlb::api::testing;    // NOLINT: the API fixture
using ::testing::HasSubstr;
using Code = grpc::StatusCode;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

struct Stream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;

  // Reads one event; false when the stream ended.
  bool Read(v1::Event* event) { return reader->Read(event); }
  // The status once the stream ended (reads what is left).
  grpc::Status Finish() {
    v1::Event ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }
};

Stream Watch(v1::LoadBalancer::Stub& stub,
             const v1::WatchEventsRequest& request) {
  Stream stream{std::make_unique<grpc::ClientContext>(), nullptr};
  stream.context->set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(30));
  stream.reader = stub.WatchEvents(stream.context.get(), request);
  return stream;
}

v1::WatchEventsRequest After(uint64_t sequence) {
  v1::WatchEventsRequest request;
  request.set_after_sequence(sequence);
  return request;
}

class WatchEventsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ApiHarness::Options()); }

  void Start(ApiHarness::Options options) {
    auto harness = ApiHarness::Start(options);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
  }

  v1::LoadBalancer::Stub& stub() { return harness_->stub(); }

  // `count` configuration changes: events 1..count of this run.
  void MakeEvents(int count) {
    for (int i = 0; i < count; ++i) {
      grpc::ClientContext context;
      v1::CreateVipRequest request;
      *request.mutable_vip() = Vip(Key("192.0.2.1", 1000 + next_port_++));
      v1::CreateVipResponse response;
      ASSERT_TRUE(stub().CreateVip(&context, request, &response).ok());
    }
  }

  // This run's agent_start_time, as its events carry it.
  google::protobuf::Timestamp AgentStart() {
    Stream stream = Watch(stub(), After(0));
    v1::Event event;
    EXPECT_TRUE(stream.Read(&event));
    stream.context->TryCancel();
    return event.agent_start_time();
  }

  // A stream the server has taken: it has delivered event `last`.
  Stream OpenedStream(uint64_t last) {
    Stream stream = Watch(stub(), After(last - 1));
    v1::Event event;
    EXPECT_TRUE(stream.Read(&event));
    EXPECT_EQ(event.sequence(), last);
    return stream;
  }

  std::unique_ptr<ApiHarness> harness_;
  int next_port_ = 0;
};

TEST_F(WatchEventsTest, AfterSequenceBeyondTheLastEventIsOutOfRange) {
  MakeEvents(3);
  const google::protobuf::Timestamp start = AgentStart();
  for (const bool with_start : {false, true}) {
    for (const uint64_t after : {uint64_t{4}, uint64_t{5}, kMax - 1, kMax}) {
      SCOPED_TRACE(::testing::Message() << "after_sequence " << after
                                        << " with_start " << with_start);
      v1::WatchEventsRequest request = After(after);
      if (with_start) *request.mutable_agent_start_time() = start;
      Stream stream = Watch(stub(), request);
      v1::Event event;
      EXPECT_FALSE(stream.Read(&event)) << event.DebugString();
      const grpc::Status status = stream.reader->Finish();
      EXPECT_EQ(status.error_code(), Code::OUT_OF_RANGE);
      EXPECT_THAT(status.error_message(),
                  HasSubstr(absl::StrCat("after_sequence: ", after,
                                         " is beyond this agent run's last "
                                         "event, 3")));
    }
  }
}

TEST_F(WatchEventsTest, AfterSequenceWithinThisRunResumesRightAfterIt) {
  MakeEvents(3);
  for (const uint64_t after : {0, 1, 2}) {
    Stream stream = Watch(stub(), After(after));
    v1::Event event;
    ASSERT_TRUE(stream.Read(&event));
    EXPECT_EQ(event.sequence(), after + 1);
    stream.context->TryCancel();
  }
  // At the last event: nothing until the next one.
  Stream stream = Watch(stub(), After(3));
  MakeEvents(1);
  v1::Event event;
  ASSERT_TRUE(stream.Read(&event));
  EXPECT_EQ(event.sequence(), 4u);
  EXPECT_FALSE(event.has_events_lost());
}

TEST_F(WatchEventsTest, AnyAfterSequenceOfAnotherRunReplaysThisRun) {
  MakeEvents(2);
  google::protobuf::Timestamp other = AgentStart();
  other.set_seconds(other.seconds() - 3600);
  for (const uint64_t after : {uint64_t{0}, uint64_t{2}, kMax - 1, kMax}) {
    SCOPED_TRACE(after);
    v1::WatchEventsRequest request = After(after);
    *request.mutable_agent_start_time() = other;
    Stream stream = Watch(stub(), request);
    v1::Event event;
    ASSERT_TRUE(stream.Read(&event));
    ASSERT_TRUE(event.has_events_lost());
    // In this run's numbering: nothing of it was dropped.
    EXPECT_EQ(event.events_lost().first_missing(), 1u);
    EXPECT_EQ(event.events_lost().first_available(), 1u);
    ASSERT_TRUE(stream.Read(&event));
    EXPECT_EQ(event.sequence(), 1u);
    ASSERT_TRUE(stream.Read(&event));
    EXPECT_EQ(event.sequence(), 2u);
    stream.context->TryCancel();
  }
}

TEST_F(WatchEventsTest, MalformedAgentStartTimeIsInvalidArgument) {
  MakeEvents(1);
  struct Case {
    int64_t seconds;
    int32_t nanos;
  };
  for (const Case c :
       {Case{std::numeric_limits<int64_t>::max(), 0},
        Case{std::numeric_limits<int64_t>::min(), 0}, Case{253402300800, 0},
        Case{-62135596801, 0}, Case{0, -1}, Case{0, 1000000000},
        Case{0, std::numeric_limits<int32_t>::min()},
        Case{0, std::numeric_limits<int32_t>::max()}}) {
    SCOPED_TRACE(::testing::Message() << c.seconds << "s " << c.nanos << "ns");
    v1::WatchEventsRequest request = After(0);
    request.mutable_agent_start_time()->set_seconds(c.seconds);
    request.mutable_agent_start_time()->set_nanos(c.nanos);
    const grpc::Status status = Watch(stub(), request).Finish();
    EXPECT_EQ(status.error_code(), Code::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr(absl::StrCat(
                    "agent_start_time: {seconds: ", c.seconds,
                    ", nanos: ", c.nanos, "} is not a valid timestamp")));
  }
  // The first and last valid timestamps are some other run's.
  for (const Case c : {Case{-62135596800, 0}, Case{253402300799, 999999999}}) {
    v1::WatchEventsRequest request = After(0);
    request.mutable_agent_start_time()->set_seconds(c.seconds);
    request.mutable_agent_start_time()->set_nanos(c.nanos);
    Stream stream = Watch(stub(), request);
    v1::Event event;
    ASSERT_TRUE(stream.Read(&event));
    EXPECT_TRUE(event.has_events_lost());
    stream.context->TryCancel();
  }
}

TEST_F(WatchEventsTest, AgentShutdownEndsStreamsWithUnavailable) {
  MakeEvents(2);
  Stream stream = OpenedStream(2);
  std::thread stop([this] { harness_->Stop(); });
  const grpc::Status status = stream.Finish();
  stop.join();
  EXPECT_EQ(status.error_code(), Code::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("the agent is shutting down"));
}

TEST_F(WatchEventsTest, StreamsBeyondTheLimitAreRefused) {
  ApiHarness::Options options;
  options.max_event_watchers = 2;
  Start(options);
  MakeEvents(1);
  Stream first = OpenedStream(1);
  Stream second = OpenedStream(1);
  grpc::Status status = Watch(stub(), After(0)).Finish();
  EXPECT_EQ(status.error_code(), Code::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("WatchEvents: 2 streams are open, the agent's limit "
                        "(--max-event-watchers)"));
  // A closed stream frees its place (once the server has seen it go).
  first.context->TryCancel();
  EXPECT_EQ(first.Finish().error_code(), Code::CANCELLED);
  bool reopened = false;
  for (int attempt = 0; attempt < 500 && !reopened; ++attempt) {
    Stream again = Watch(stub(), After(0));
    v1::Event event;
    reopened = again.Read(&event);
    again.context->TryCancel();
    if (!reopened) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(reopened);
}

size_t ThreadCount() {
  size_t count = 0;
  DIR* dir = opendir("/proc/self/task");
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

TEST_F(WatchEventsTest, OpenStreamsHoldNoThread) {
  MakeEvents(1);
  std::vector<Stream> streams;
  for (int i = 0; i < 10; ++i) streams.push_back(OpenedStream(1));
  const size_t threads_with_10 = ThreadCount();
  for (int i = 0; i < 100; ++i) streams.push_back(OpenedStream(1));
  const size_t threads_with_110 = ThreadCount();
  // A thread per stream would add 100; the client and server of this
  // process may still start a few pool threads of their own.
  EXPECT_LT(threads_with_110, threads_with_10 + 10)
      << threads_with_10 << " threads with 10 streams, " << threads_with_110
      << " with 110";
  for (Stream& s : streams) s.context->TryCancel();
}

TEST_F(WatchEventsTest, SlowReaderIsToldWhatItLostInsteadOfBufferedFor) {
  ApiHarness::Options options;
  options.event_capacity = 4;
  Start(options);
  agent::EventLog& log = harness_->controller().events();
  log.Append(v1::Event());
  Stream stream = OpenedStream(1);
  // While the client reads nothing: 24 MB of events (2..9), more than
  // gRPC's flow control lets through unread, then 8 more (10..17), so the
  // log holds only 14..17.
  for (int i = 0; i < 8; ++i) {
    v1::Event big;
    big.mutable_health_changed()->set_detail(std::string(3 << 20, 'x'));
    log.Append(big);
  }
  for (int i = 0; i < 8; ++i) log.Append(v1::Event());
  ASSERT_EQ(log.first_held_sequence(), 14u);
  ASSERT_EQ(log.last_sequence(), 17u);

  // The reader gets what was under way to it (2, 3, ... in order), then
  // events_lost for the rest up to the oldest held, then 14..17.
  std::vector<v1::Event> events;
  v1::Event event;
  while (events.size() < 17 && stream.Read(&event)) {
    events.push_back(event);
    if (event.sequence() == 17) break;
  }
  size_t delivered = 0;
  while (delivered < events.size() && !events[delivered].has_events_lost()) {
    EXPECT_EQ(events[delivered].sequence(), delivered + 2);
    ++delivered;
  }
  ASSERT_LT(delivered, events.size()) << "no events_lost";
  EXPECT_EQ(events[delivered].events_lost().first_missing(), delivered + 2);
  EXPECT_EQ(events[delivered].events_lost().first_available(), 14u);
  ASSERT_EQ(events.size(), delivered + 1 + 4);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(events[delivered + 1 + i].sequence(), 14 + i);
  }
}

}  // namespace
}  // namespace xlb::api
