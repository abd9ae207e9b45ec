#include "tools/xlbctl/views.h"

#include "gtest/gtest.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {
namespace {

TEST(HealthChangeSummaryTest, NamesTheReasonDetailAndLatency) {
  v1::HealthChanged down;
  down.set_healthy(false);
  down.set_reason(v1::PROBE_OUTCOME_WRONG_STATUS);
  down.set_detail("HTTP status 503");
  down.mutable_latency()->set_seconds(1);
  down.mutable_latency()->set_nanos(500000000);
  EXPECT_EQ(HealthChangeSummary(down),
            "unhealthy: wrong_status (HTTP status 503), probe took 1.5s");

  v1::HealthChanged up;
  up.set_healthy(true);
  up.set_reason(v1::PROBE_OUTCOME_SUCCESS);
  up.mutable_latency()->set_nanos(3000000);
  EXPECT_EQ(HealthChangeSummary(up), "healthy: success, probe took 3ms");
}

TEST(HealthChangeSummaryTest, OlderAgentsWithoutAReasonGiveTheHealthOnly) {
  v1::HealthChanged up;
  up.set_healthy(true);
  EXPECT_EQ(HealthChangeSummary(up), "healthy");
}

}  // namespace
}  // namespace xlb::xlbctl
