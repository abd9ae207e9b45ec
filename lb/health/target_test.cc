#include "lb/health/target.h"

#include "gtest/gtest.h"

namespace xlb::health {
namespace {

HealthTarget Valid() {
  HealthTarget t;
  t.id = 7;
  t.address = "192.0.2.1";
  t.port = 80;
  return t;
}

TEST(TargetTest, OverrideBeatsSpecWhichBeatsServicePort) {
  HealthTarget t = Valid();
  EXPECT_EQ(ResolveSchedule(t).port, 80);
  t.mutable_spec().port = 8080;
  EXPECT_EQ(ResolveSchedule(t).port, 8080);
  t.override_spec.port = 9090;
  t.override_spec.rise = 5;
  const EffectiveSchedule s = ResolveSchedule(t);
  EXPECT_EQ(s.port, 9090);
  EXPECT_EQ(s.rise, 5u);
  EXPECT_EQ(s.fall, 3u);  // the spec's default
  EXPECT_EQ(s.interval, absl::Seconds(5));
}

TEST(TargetTest, ValidatesWhatTheCheckerCannotRun) {
  EXPECT_TRUE(ValidateTarget(Valid()).ok());
  HealthTarget t = Valid();
  t.address = "backend-1";
  EXPECT_FALSE(ValidateTarget(t).ok());
  t = Valid();
  t.port = 0;
  EXPECT_FALSE(ValidateTarget(t).ok());
  t = Valid();
  t.override_spec.timeout = absl::Seconds(10);  // above the 5 s interval
  EXPECT_FALSE(ValidateTarget(t).ok());
  t = Valid();
  t.override_spec.jitter = absl::Seconds(5);
  EXPECT_FALSE(ValidateTarget(t).ok());
  t = Valid();
  t.override_spec.fall = 0;
  EXPECT_FALSE(ValidateTarget(t).ok());
}

TEST(TargetTest, TunnelledTargetNeedsTheTunnelMark) {
  HealthTarget t = Valid();
  t.mode = ProbeMode::kTunnelled;
  t.mark = 0x1234;
  absl::Status status = ValidateTarget(t);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("mark"), absl::string_view::npos);
  t.mark = TunnelledProbeMark(42);
  EXPECT_TRUE(ValidateTarget(t).ok());
  EXPECT_EQ(t.mark & XLB_HC_MARK_INDEX_MASK, 42u);
}

}  // namespace
}  // namespace xlb::health
