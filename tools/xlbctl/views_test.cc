#include "tools/xlbctl/views.h"

#include <sstream>

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

TEST(HealthChangeSummaryTest, SaysWhereTheRingWentWhenItMoved) {
  v1::HealthChanged down;
  down.set_healthy(false);
  down.set_reason(v1::PROBE_OUTCOME_REFUSED);
  down.set_ring_changed(true);
  down.set_ring_digest("0123456789abcdef");
  EXPECT_EQ(HealthChangeSummary(down),
            "unhealthy: refused; ring now 0123456789abcdef");
  down.set_ring_digest("");
  EXPECT_EQ(HealthChangeSummary(down),
            "unhealthy: refused; ring now empty (no backend)");
  // Out of the ring either way (drained): nothing to say about it.
  down.set_ring_changed(false);
  down.set_ring_digest("0123456789abcdef");
  EXPECT_EQ(HealthChangeSummary(down), "unhealthy: refused");
}

TEST(HealthChangeSummaryTest, OlderAgentsWithoutAReasonGiveTheHealthOnly) {
  v1::HealthChanged up;
  up.set_healthy(true);
  EXPECT_EQ(HealthChangeSummary(up), "healthy");
}

TEST(HealthOverrideSummaryTest, ListsOnlyTheFieldsSet) {
  v1::HealthOverride o;
  EXPECT_EQ(HealthOverrideSummary(o), "");
  o.set_port(8080);
  o.set_fall(5);
  o.mutable_timeout()->set_nanos(500000000);
  EXPECT_EQ(HealthOverrideSummary(o), "port 8080, timeout 500ms, fall 5");
}

TEST(HealthOverrideSummaryTest, PrintsOneLinePerOverriddenBackend) {
  v1::Vip vip;
  vip.add_backends()->set_address("198.51.100.1");
  v1::Backend* b = vip.add_backends();
  b->set_address("198.51.100.2");
  b->mutable_health_override()->set_rise(1);
  std::ostringstream out;
  PrintHealthOverrides(out, vip, "  ");
  EXPECT_EQ(out.str(), "  198.51.100.2: rise 1\n");
}

}  // namespace
}  // namespace xlb::xlbctl
