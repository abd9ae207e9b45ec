// Prometheus rendering of counters, request counts and health figures.
#include "api/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"

namespace xlb::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace xlb::agent::testing;  // NOLINT: request builders

TEST(MetricsTest, RendersPrometheusNamesAndEscapesLabels) {
  v1::GetStatsResponse stats;
  (*stats.mutable_counters())["drop_no_backend"] = 7;
  v1::VipStats* vip = stats.add_vips();
  *vip->mutable_key() = Key("2001:db8::1", 443);
  vip->set_packets(11);
  stats.add_backends()->set_address("198.51.100.1");
  MetricsSnapshot snapshot{
      .stats = &stats, .requests = {{{"CreateVip", "OK"}, 2}}, .generation = 4};
  const std::string text = RenderMetrics(snapshot);
  EXPECT_THAT(text, HasSubstr("# TYPE xlb_packets_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("xlb_packets_total{reason=\"drop_no_backend\"} 7\n"));
  EXPECT_THAT(
      text,
      HasSubstr("xlb_vip_packets_total{vip=\"[2001:db8::1]:443/tcp\"} 11\n"));
  EXPECT_THAT(
      text,
      HasSubstr("xlb_backend_packets_total{backend=\"198.51.100.1\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "xlb_api_requests_total{method=\"CreateVip\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("xlb_config_generation 4\n"));
}

TEST(MetricsTest, RendersPerVipSynsAndSynLimitDrops) {
  v1::GetStatsResponse stats;
  (*stats.mutable_counters())["drop_syn_rate_limit"] = 40;
  v1::VipStats* vip = stats.add_vips();
  *vip->mutable_key() = Key("192.0.2.1", 80);
  vip->set_new_flows(9);
  vip->set_syns(50);
  vip->set_syn_limit_drops(40);
  const std::string text = RenderMetrics({.stats = &stats});
  EXPECT_THAT(text, HasSubstr("# TYPE xlb_vip_syns_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("xlb_vip_syns_total{vip=\"192.0.2.1:80/tcp\"} 50\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE xlb_vip_syn_limit_drops_total counter\n"));
  EXPECT_THAT(text, HasSubstr("xlb_vip_syn_limit_drops_total{vip=\"192.0.2.1:"
                              "80/tcp\"} 40\n"));
  EXPECT_THAT(
      text, HasSubstr("xlb_vip_new_flows_total{vip=\"192.0.2.1:80/tcp\"} 9\n"));
  EXPECT_THAT(
      text,
      HasSubstr("xlb_packets_total{reason=\"drop_syn_rate_limit\"} 40\n"));
}

TEST(MetricsTest, RendersHealthTransitionsAndProbeOutcomes) {
  const VipKey vip{.address = *IpAddress::Parse("192.0.2.1"), .port = 80};
  const IpAddress backend = *IpAddress::Parse("198.51.100.1");
  health::TargetCounters counters;
  counters.probes = 7;
  counters.by_outcome[static_cast<size_t>(health::ProbeOutcome::kSuccess)] = 5;
  counters.by_outcome[static_cast<size_t>(health::ProbeOutcome::kTimeout)] = 2;
  MetricsSnapshot snapshot{
      .health_transitions =
          {{.vip = vip, .backend = backend, .to_healthy = false, .count = 3}},
      .health_probes = {
          {.vip = vip, .backend = backend, .counters = counters}}};
  const std::string text = RenderMetrics(snapshot);
  EXPECT_THAT(text, HasSubstr("# TYPE xlb_health_transitions_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("xlb_health_transitions_total{vip=\"192.0.2.1:80/"
                        "tcp\",backend=\"198.51.100.1\",to=\"down\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("xlb_health_probes_total{vip=\"192.0.2.1:80/tcp\","
                        "backend=\"198.51.100.1\",outcome=\"success\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("outcome=\"timeout\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("outcome=\"refused\"")));
}

}  // namespace
}  // namespace xlb::api
