// The event log: what a reader at any position reads next, that readers
// share the held events instead of copying them, and the listener.
#include "lb/agent/events.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace xlb::agent {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(EventLogTest, KeepsTheNewestAndSaysWhatWasDropped) {
  EventLog log(3, absl::Now());
  for (int i = 0; i < 5; ++i) log.Append(v1::Event());
  EXPECT_EQ(log.last_sequence(), 5u);
  EXPECT_EQ(log.first_held_sequence(), 3u);
  for (uint64_t after : {0u, 1u}) {
    EventLog::Next next = log.ReadNext(after);
    ASSERT_TRUE(next.lost.has_value()) << after;
    EXPECT_EQ(next.lost->first_missing(), after + 1);
    EXPECT_EQ(next.lost->first_available(), 3u);
    EXPECT_EQ(next.event, nullptr);
  }
  for (uint64_t after : {2u, 3u, 4u}) {
    EventLog::Next next = log.ReadNext(after);
    EXPECT_FALSE(next.lost.has_value());
    ASSERT_NE(next.event, nullptr);
    EXPECT_EQ(next.event->sequence(), after + 1);
  }
}

TEST(EventLogTest, NothingToReadAtOrBeyondTheLastEvent) {
  EventLog empty(4, absl::Now());
  EXPECT_EQ(empty.last_sequence(), 0u);
  EXPECT_EQ(empty.first_held_sequence(), 1u);
  EventLog log(4, absl::Now());
  log.Append(v1::Event());
  log.Append(v1::Event());
  // Positions a caller could hold at the edges, and past them: none wraps
  // around to "lost" or to an event.
  for (EventLog* l : {&empty, &log}) {
    for (uint64_t after :
         {l->last_sequence(), l->last_sequence() + 1, kMax - 1, kMax}) {
      EventLog::Next next = l->ReadNext(after);
      EXPECT_FALSE(next.lost.has_value()) << after;
      EXPECT_EQ(next.event, nullptr) << after;
    }
  }
}

TEST(EventLogTest, ReadersShareTheHeldEventsAndKeepTheOneTheyRead) {
  EventLog log(2, absl::Now());
  v1::Event event;
  event.mutable_health_changed()->set_detail(std::string(1 << 16, 'x'));
  log.Append(event);
  const EventLog::Next first = log.ReadNext(0);
  const EventLog::Next second = log.ReadNext(0);
  ASSERT_NE(first.event, nullptr);
  EXPECT_EQ(first.event.get(), second.event.get());  // one copy, shared
  // Dropped from the log, still valid for the reader sending it.
  for (int i = 0; i < 3; ++i) log.Append(v1::Event());
  EXPECT_EQ(log.first_held_sequence(), 3u);
  EXPECT_EQ(first.event->sequence(), 1u);
  EXPECT_EQ(first.event->health_changed().detail().size(), 1u << 16);
}

TEST(EventLogTest, StampsEveryEvent) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  EventLog log(4, start);
  log.Append(v1::Event());
  const EventLog::Next next = log.ReadNext(0);
  ASSERT_NE(next.event, nullptr);
  EXPECT_EQ(next.event->agent_start_time().seconds(), 1700000000);
  EXPECT_EQ(next.event->agent_start_time().nanos(), 0);
  EXPECT_GT(next.event->time().seconds(), 0);
}

TEST(EventLogTest, ListenerHearsEveryAppendAndTheShutdown) {
  EventLog log(4, absl::Now());
  int calls = 0;
  log.SetListener([&calls] { ++calls; });
  log.Append(v1::Event());
  log.Append(v1::Event());
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(log.shut_down());
  log.Shutdown();
  EXPECT_TRUE(log.shut_down());
  EXPECT_EQ(calls, 3);
  log.SetListener(nullptr);
  log.Append(v1::Event());
  EXPECT_EQ(calls, 3);
}

TEST(TimeToProtoTest, NanosStayInRangeOnBothSidesOfTheEpoch) {
  google::protobuf::Timestamp ts;
  TimeToProto(absl::FromUnixNanos(1500000000), &ts);
  EXPECT_EQ(ts.seconds(), 1);
  EXPECT_EQ(ts.nanos(), 500000000);
  TimeToProto(absl::FromUnixNanos(-1500000000), &ts);
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 500000000);
  // Beyond what int64 nanoseconds hold (year 2262).
  TimeToProto(absl::FromUnixSeconds(253402300799), &ts);
  EXPECT_EQ(ts.seconds(), 253402300799);
  EXPECT_EQ(ts.nanos(), 0);
}

}  // namespace
}  // namespace xlb::agent
