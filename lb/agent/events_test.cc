// The event log: bounded, ordered, and woken by appends and shutdown.
#include "lb/agent/events.h"

#include "gtest/gtest.h"

namespace xlb::agent {
namespace {

TEST(EventLogTest, KeepsTheNewestAndSaysWhatWasDropped) {
  EventLog log(3, absl::Now());
  for (int i = 0; i < 5; ++i) log.Append(v1::Event());
  EXPECT_EQ(log.last_sequence(), 5u);
  EventLog::Batch all = log.ReadAfter(0);
  ASSERT_TRUE(all.lost.has_value());
  EXPECT_EQ(all.lost->first_missing(), 1u);
  EXPECT_EQ(all.lost->first_available(), 3u);
  ASSERT_EQ(all.events.size(), 3u);
  EXPECT_EQ(all.events[0].sequence(), 3u);
  EventLog::Batch recent = log.ReadAfter(3);
  EXPECT_FALSE(recent.lost.has_value());
  EXPECT_EQ(recent.events.size(), 2u);
  EXPECT_TRUE(log.ReadAfter(5).events.empty());
}

TEST(EventLogTest, WaitWakesOnAppendAndOnShutdown) {
  EventLog log(8, absl::Now());
  EXPECT_FALSE(log.WaitAfter(0, absl::Now() + absl::Milliseconds(10)));
  log.Append(v1::Event());
  EXPECT_TRUE(log.WaitAfter(0, absl::Now() + absl::Seconds(1)));
  log.Shutdown();
  const absl::Time start = absl::Now();
  EXPECT_FALSE(log.WaitAfter(1, absl::Now() + absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace xlb::agent
