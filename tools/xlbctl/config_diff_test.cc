#include "tools/xlbctl/config_diff.h"

#include <string>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xlb::xlbctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Vip MakeVip(const std::string& address, uint32_t port) {
  v1::Vip vip;
  vip.mutable_key()->set_address(address);
  vip.mutable_key()->set_port(port);
  vip.mutable_key()->set_protocol(v1::PROTOCOL_TCP);
  return vip;
}

TEST(DiffConfigsTest, EqualConfigurationsHaveNoChanges) {
  v1::Config config;
  *config.add_vips() = MakeVip("192.0.2.10", 80);
  EXPECT_TRUE(DiffConfigs(config, config).empty());
}

TEST(DiffConfigsTest, DocumentedDefaultsAreNoChange) {
  v1::Config current, desired;
  v1::Vip* a = current.add_vips();
  *a = MakeVip("192.0.2.10", 80);
  a->mutable_settings()->set_ring_size(65537);
  a->add_backends()->set_weight(1);
  a->mutable_backends(0)->set_address("198.51.100.1");
  // The HTTP defaults, spelled out or left out, are the same check.
  v1::HealthCheck* stored = a->mutable_settings()->mutable_health_check();
  stored->set_type(v1::HEALTH_CHECK_TYPE_HTTP);
  stored->set_http_path("/");
  stored->add_http_expected_codes(200);
  stored->mutable_interval()->set_seconds(5);
  v1::Vip* b = desired.add_vips();
  *b = MakeVip("192.0.2.10", 80);
  b->add_backends()->set_address("198.51.100.1");
  b->mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_HTTP);
  EXPECT_TRUE(DiffConfigs(current, desired).empty())
      << DiffConfigs(current, desired).lines[0];
}

TEST(DiffConfigsTest, ReportsCreatedDeletedAndChangedVips) {
  v1::Config current, desired;
  *current.add_vips() = MakeVip("192.0.2.1", 80);
  v1::Vip* changed = current.add_vips();
  *changed = MakeVip("192.0.2.2", 80);
  changed->add_backends()->set_address("198.51.100.1");
  changed->add_backends()->set_address("198.51.100.2");
  v1::Vip* now = desired.add_vips();
  *now = MakeVip("192.0.2.2", 80);
  now->mutable_settings()->set_ring_size(1021);
  now->add_backends()->set_address("198.51.100.2");
  now->mutable_backends(0)->set_drained(true);
  now->add_backends()->set_address("198.51.100.3");
  *desired.add_vips() = MakeVip("192.0.2.3", 80);

  ConfigDiff diff = DiffConfigs(current, desired);
  EXPECT_EQ(diff.vips_created, 1);
  EXPECT_EQ(diff.vips_deleted, 1);
  EXPECT_EQ(diff.vips_changed, 1);
  EXPECT_THAT(diff.lines,
              ElementsAre("- vip 192.0.2.1:80/tcp (0 backends)",
                          "~ vip 192.0.2.2:80/tcp",
                          "    settings.ring_size: 65537 -> 1021",
                          "    - backend 198.51.100.1 (weight 1)",
                          "    ~ backend 198.51.100.2: drained: false -> true",
                          "    + backend 198.51.100.3 (weight 1)",
                          "+ vip 192.0.2.3:80/tcp (0 backends)"));
}

TEST(DiffConfigsTest, HealthCheckChangesNameTheField) {
  v1::Config current, desired;
  v1::Vip* a = current.add_vips();
  *a = MakeVip("192.0.2.10", 80);
  a->mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  v1::Vip* b = desired.add_vips();
  *b = *a;
  b->mutable_settings()
      ->mutable_health_check()
      ->mutable_interval()
      ->set_seconds(10);
  ConfigDiff diff = DiffConfigs(current, desired);
  EXPECT_THAT(absl::StrJoin(diff.lines, "\n"),
              HasSubstr("settings.health_check.interval: 5s -> 10s"));
}

TEST(DiffVipTest, LeavesOtherVipsAlone) {
  v1::Config current;
  *current.add_vips() = MakeVip("192.0.2.1", 80);
  ConfigDiff diff = DiffVip(current, MakeVip("192.0.2.2", 80));
  EXPECT_THAT(diff.lines, ElementsAre("+ vip 192.0.2.2:80/tcp (0 backends)"));
}

}  // namespace
}  // namespace xlb::xlbctl
