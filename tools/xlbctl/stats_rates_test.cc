#include "tools/xlbctl/stats_rates.h"

#include "gtest/gtest.h"

namespace xlb::xlbctl {
namespace {

v1::GetStatsResponse Sample(uint64_t rx, uint64_t vip_packets,
                            uint64_t backend_bytes) {
  v1::GetStatsResponse s;
  (*s.mutable_counters())["rx"] = rx;
  v1::VipStats* vip = s.add_vips();
  vip->mutable_key()->set_address("192.0.2.10");
  vip->mutable_key()->set_port(80);
  vip->mutable_key()->set_protocol(v1::PROTOCOL_TCP);
  vip->set_packets(vip_packets);
  v1::BackendStats* b = s.add_backends();
  b->set_address("198.51.100.1");
  b->set_bytes(backend_bytes);
  return s;
}

TEST(ComputeRatesTest, DividesDifferencesByElapsedTime) {
  StatsRates r = ComputeRates(Sample(100, 10, 1000), Sample(300, 50, 5000),
                              absl::Seconds(2));
  EXPECT_DOUBLE_EQ(r.counters["rx"], 100);
  EXPECT_DOUBLE_EQ(r.vips["192.0.2.10:80/tcp"].packets, 20);
  EXPECT_DOUBLE_EQ(r.backends["198.51.100.1"].bytes, 2000);
}

TEST(ComputeRatesTest, GivesEveryVipCounterItsRate) {
  v1::GetStatsResponse earlier = Sample(0, 0, 0), later = Sample(0, 0, 0);
  v1::VipStats* a = earlier.mutable_vips(0);
  v1::VipStats* b = later.mutable_vips(0);
  a->set_new_flows(10);
  b->set_new_flows(30);
  a->set_syns(100);
  b->set_syns(4100);
  a->set_syn_limit_drops(0);
  b->set_syn_limit_drops(3000);
  a->set_no_backend_drops(1);
  b->set_no_backend_drops(5);
  const VipRates r =
      ComputeRates(earlier, later, absl::Seconds(4)).vips["192.0.2.10:80/tcp"];
  EXPECT_DOUBLE_EQ(r.new_flows, 5);
  EXPECT_DOUBLE_EQ(r.syns, 1000);
  EXPECT_DOUBLE_EQ(r.syn_limit_drops, 750);
  EXPECT_DOUBLE_EQ(r.no_backend_drops, 1);
}

TEST(ComputeRatesTest, CounterThatWentBackwardsGivesZero) {
  StatsRates r =
      ComputeRates(Sample(500, 50, 10), Sample(100, 10, 5), absl::Seconds(1));
  EXPECT_DOUBLE_EQ(r.counters["rx"], 0);
  EXPECT_DOUBLE_EQ(r.vips["192.0.2.10:80/tcp"].packets, 0);
}

TEST(ComputeRatesTest, NewEntriesCountFromZero) {
  v1::GetStatsResponse empty;
  StatsRates r = ComputeRates(empty, Sample(10, 4, 8), absl::Seconds(2));
  EXPECT_DOUBLE_EQ(r.counters["rx"], 5);
  EXPECT_DOUBLE_EQ(r.vips["192.0.2.10:80/tcp"].packets, 2);
  EXPECT_DOUBLE_EQ(r.backends["198.51.100.1"].bytes, 4);
}

}  // namespace
}  // namespace xlb::xlbctl
