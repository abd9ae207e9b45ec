#include "lb/health/health_state.h"

#include "gtest/gtest.h"

namespace xlb::health {
namespace {

TEST(HealthStateTest, DownTargetRisesAfterRiseConsecutiveSuccesses) {
  HealthState state(HealthStatus::kDown, /*rise=*/2, /*fall=*/3);
  EXPECT_FALSE(state.Record(true));
  EXPECT_EQ(state.status(), HealthStatus::kDown);
  EXPECT_TRUE(state.Record(true));
  EXPECT_EQ(state.status(), HealthStatus::kUp);
}

TEST(HealthStateTest, UpTargetFallsAfterFallConsecutiveFailures) {
  HealthState state(HealthStatus::kUp, 2, 3);
  EXPECT_FALSE(state.Record(false));
  EXPECT_FALSE(state.Record(false));
  EXPECT_TRUE(state.Record(false));
  EXPECT_EQ(state.status(), HealthStatus::kDown);
}

TEST(HealthStateTest, AlternatingResultsNeverTransition) {
  HealthState up(HealthStatus::kUp, 2, 2);
  HealthState down(HealthStatus::kDown, 2, 2);
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(up.Record(i % 2 == 0));
    EXPECT_FALSE(down.Record(i % 2 == 0));
  }
  EXPECT_EQ(up.status(), HealthStatus::kUp);
  EXPECT_EQ(down.status(), HealthStatus::kDown);
}

TEST(HealthStateTest, AgreeingResultRestartsTheStreak) {
  HealthState state(HealthStatus::kUp, 1, 3);
  state.Record(false);
  state.Record(false);
  EXPECT_EQ(state.streak(), 2u);
  state.Record(true);
  EXPECT_EQ(state.streak(), 0u);
  EXPECT_FALSE(state.Record(false));
  EXPECT_FALSE(state.Record(false));
  EXPECT_TRUE(state.Record(false));
}

TEST(HealthStateTest, ThresholdOfOneTransitionsOnEveryDisagreement) {
  HealthState state(HealthStatus::kDown, 1, 1);
  EXPECT_TRUE(state.Record(true));
  EXPECT_TRUE(state.Record(false));
  EXPECT_FALSE(state.Record(false));
}

TEST(HealthStateTest, NewThresholdsKeepStatusAndRestartStreak) {
  HealthState state(HealthStatus::kDown, 3, 3);
  state.Record(true);
  state.Record(true);
  state.SetThresholds(2, 2);
  EXPECT_EQ(state.status(), HealthStatus::kDown);
  EXPECT_FALSE(state.Record(true));
  EXPECT_TRUE(state.Record(true));
}

}  // namespace
}  // namespace xlb::health
