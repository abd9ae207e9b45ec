#include "lb/health/slot_timers.h"

#include <map>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace xlb::health {
namespace {

TEST(SlotTimersTest, PopsInTimeOrder) {
  SlotTimers timers;
  timers.Set(3, 30);
  timers.Set(1, 10);
  timers.Set(2, 20);
  ASSERT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers.next_ns(), 10);
  EXPECT_EQ(timers.PopNext(), 1u);
  EXPECT_EQ(timers.PopNext(), 2u);
  EXPECT_EQ(timers.PopNext(), 3u);
  EXPECT_TRUE(timers.empty());
}

TEST(SlotTimersTest, SettingAgainReplacesTheSlotsTimer) {
  SlotTimers timers;
  timers.Set(1, 10);
  timers.Set(2, 20);
  timers.Set(1, 30);  // later: 2 is now first
  EXPECT_EQ(timers.size(), 2u);
  EXPECT_EQ(timers.PopNext(), 2u);
  timers.Set(2, 5);  // re-armed after popping, earlier than 1
  EXPECT_EQ(timers.PopNext(), 2u);
  EXPECT_EQ(timers.PopNext(), 1u);
  EXPECT_TRUE(timers.empty());
}

TEST(SlotTimersTest, CancelRemovesOnlyThatSlot) {
  SlotTimers timers;
  timers.Set(1, 10);
  timers.Set(2, 20);
  timers.Cancel(1);
  timers.Cancel(1);   // twice: no-op
  timers.Cancel(99);  // never armed: no-op
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers.PopNext(), 2u);
}

// Random sets, cancels and pops against an ordered reference.
TEST(SlotTimersTest, MatchesAReferenceUnderRandomOperations) {
  std::mt19937 random(7);
  SlotTimers timers;
  std::map<uint32_t, int64_t> when_of;           // slot -> time
  std::set<std::pair<int64_t, uint32_t>> order;  // (time, slot)
  for (int step = 0; step < 200000; ++step) {
    const uint32_t slot = random() % 500;
    const int op = random() % 10;
    if (op < 6) {
      const int64_t when = random() % 100000;
      if (when_of.count(slot)) order.erase({when_of[slot], slot});
      when_of[slot] = when;
      order.insert({when, slot});
      timers.Set(slot, when);
    } else if (op < 8) {
      if (when_of.count(slot)) order.erase({when_of[slot], slot});
      when_of.erase(slot);
      timers.Cancel(slot);
    } else if (!order.empty()) {
      ASSERT_EQ(timers.next_ns(), order.begin()->first) << step;
      const uint32_t popped = timers.PopNext();
      // Ties may pop in either order; the time must be the earliest.
      ASSERT_EQ(when_of.at(popped), order.begin()->first) << step;
      order.erase({when_of[popped], popped});
      when_of.erase(popped);
    }
    ASSERT_EQ(timers.size(), order.size()) << step;
  }
}

}  // namespace
}  // namespace xlb::health
