// Proto <-> model conversion: defaults and round trips.
#include "lb/agent/convert.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"

namespace xlb::agent {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders

TEST(ConvertTest, UnsetFieldsTakeTheModelDefaults) {
  v1::Vip vip = Vip(Key("192.0.2.1", 80), {"198.51.100.1"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_HTTP);
  absl::StatusOr<VipConfig> config =
      VipFromProto(vip, DataplaneLimits(), "vip");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->settings.ring_size, 65537u);
  EXPECT_EQ(config->settings.hash_mode, HashMode::kFiveTuple);
  EXPECT_EQ(config->backends[0].weight, 1u);
  const HealthCheckSpec& hc = *config->settings.health_check;
  EXPECT_EQ(hc.interval, absl::Seconds(5));
  EXPECT_EQ(hc.timeout, absl::Seconds(2));
  EXPECT_EQ(hc.rise, 2u);
  EXPECT_EQ(hc.fall, 3u);
  // The HTTP defaults ("/", [200]) apply when probing: unset stays unset,
  // so GetConfig returns what was set.
  EXPECT_EQ(hc.http_path, "");
  EXPECT_TRUE(hc.http_expected_codes.empty());
}

TEST(ConvertTest, ACheckCarriesOnlyItsTypesFields) {
  for (v1::HealthCheckType type :
       {v1::HEALTH_CHECK_TYPE_TCP, v1::HEALTH_CHECK_TYPE_HTTP,
        v1::HEALTH_CHECK_TYPE_HTTPS, v1::HEALTH_CHECK_TYPE_GRPC}) {
    v1::Vip vip = Vip(Key("192.0.2.1", 80), {"198.51.100.1"});
    vip.mutable_settings()->mutable_health_check()->set_type(type);
    absl::StatusOr<VipConfig> config =
        VipFromProto(vip, DataplaneLimits(), "vip");
    ASSERT_TRUE(config.ok()) << config.status();
    const v1::HealthCheck hc = VipToProto(*config).settings().health_check();
    EXPECT_EQ(hc.http_path(), "") << type;
    EXPECT_EQ(hc.http_expected_codes_size(), 0) << type;
    EXPECT_EQ(hc.udp_request(), "") << type;
    EXPECT_EQ(hc.grpc_service(), "") << type;
  }
}

TEST(ConvertTest, DurationToProtoIsExactOverTheWholeProtoRange) {
  struct Case {
    absl::Duration duration;
    int64_t seconds;
    int32_t nanos;
  };
  for (const Case& c : {
           Case{absl::ZeroDuration(), 0, 0},
           Case{absl::Nanoseconds(1), 0, 1},
           Case{absl::Nanoseconds(-1), 0, -1},
           Case{absl::Seconds(-2) - absl::Milliseconds(500), -2, -500000000},
           // Beyond int64 nanoseconds (292 years), to the proto's limits.
           Case{absl::Seconds(315576000000) + absl::Nanoseconds(999999999),
                315576000000, 999999999},
           Case{-absl::Seconds(315576000000) - absl::Nanoseconds(999999999),
                -315576000000, -999999999},
       }) {
    google::protobuf::Duration proto;
    DurationToProto(c.duration, &proto);
    EXPECT_EQ(proto.seconds(), c.seconds) << c.duration;
    EXPECT_EQ(proto.nanos(), c.nanos) << c.duration;
  }
}

TEST(ConvertTest, SynRateLimitRoundTripsAndDefaultsToOff) {
  v1::Vip vip = Vip(Key("192.0.2.1", 80), {"198.51.100.1"});
  EXPECT_EQ(
      VipFromProto(vip, DataplaneLimits(), "vip")->settings.syn_rate_limit, 0u);
  vip.mutable_settings()->set_syn_rate_limit(20000);
  const VipConfig model = *VipFromProto(vip, DataplaneLimits(), "vip");
  EXPECT_EQ(model.settings.syn_rate_limit, 20000u);
  EXPECT_EQ(VipToProto(model).settings().syn_rate_limit(), 20000u);
}

TEST(ConvertTest, SynRateLimitOfAUdpVipIsRefusedNamingTheField) {
  v1::Vip vip = Vip(Key("192.0.2.1", 53, v1::PROTOCOL_UDP), {"198.51.100.1"});
  vip.mutable_settings()->set_syn_rate_limit(10);
  absl::StatusOr<VipConfig> config =
      VipFromProto(vip, DataplaneLimits(), "vip");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "vip.settings.syn_rate_limit: 10: only a TCP VIP receives SYNs, "
            "this one is UDP");
}

TEST(ConvertTest, ExplicitZeroWeightIsKept) {
  v1::Vip vip = Vip(Key("192.0.2.1", 80), {"198.51.100.1"});
  vip.mutable_backends(0)->set_weight(0);
  EXPECT_EQ(VipFromProto(vip, DataplaneLimits(), "vip")->backends[0].weight,
            0u);
}

TEST(ConvertTest, ModelToProtoToModelIsIdentity) {
  v1::Vip vip = Vip(Key("2001:db8::1", 0, v1::PROTOCOL_UDP), {"2001:db8::5"});
  v1::VipSettings* s = vip.mutable_settings();
  s->set_hash_mode(v1::HASH_MODE_NO_SOURCE_PORT);
  s->set_ring_size(4093);
  s->set_maglev_seed(7);
  s->set_echo_reply(true);
  s->set_min_healthy_fraction(0.5);
  v1::HealthCheck* hc = s->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_UDP);
  hc->set_port(53);
  hc->set_udp_request("ping");
  hc->mutable_jitter()->set_nanos(250000000);
  const VipConfig model = *VipFromProto(vip, DataplaneLimits(), "vip");
  const VipConfig again =
      *VipFromProto(VipToProto(model), DataplaneLimits(), "vip");
  EXPECT_EQ(model, again);
  EXPECT_EQ(again.settings.health_check->jitter, absl::Milliseconds(250));
}

TEST(ConvertTest, HealthOverrideAndHttpsVerifyRoundTrip) {
  v1::Vip vip = Vip(Key("192.0.2.1", 443), {"198.51.100.1", "198.51.100.2"});
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_HTTPS);
  hc->set_https_verify(true);
  v1::HealthOverride* o = vip.mutable_backends(0)->mutable_health_override();
  o->set_port(8443);
  o->mutable_interval()->set_seconds(1);
  o->mutable_timeout()->set_nanos(500000000);
  o->set_rise(1);
  o->set_fall(5);
  o->mutable_jitter()->set_nanos(100000000);
  // An empty override is no override.
  vip.mutable_backends(1)->mutable_health_override();
  const VipConfig model = *VipFromProto(vip, DataplaneLimits(), "vip");
  EXPECT_TRUE(model.settings.health_check->https_verify);
  ASSERT_TRUE(model.backends[0].health_override.has_value());
  const HealthOverride& got = *model.backends[0].health_override;
  EXPECT_EQ(got, (HealthOverride{.port = 8443,
                                 .interval = absl::Seconds(1),
                                 .timeout = absl::Milliseconds(500),
                                 .rise = 1,
                                 .fall = 5,
                                 .jitter = absl::Milliseconds(100)}));
  EXPECT_FALSE(model.backends[1].health_override.has_value());

  const v1::Vip proto = VipToProto(model);
  EXPECT_TRUE(proto.backends(0).has_health_override());
  EXPECT_FALSE(proto.backends(1).has_health_override());
  EXPECT_TRUE(proto.settings().health_check().https_verify());
  EXPECT_EQ(*VipFromProto(proto, DataplaneLimits(), "vip"), model);
}

TEST(ConvertTest, PartialHealthOverrideLeavesTheRestUnset) {
  v1::Vip vip = Vip(Key("192.0.2.1", 80), {"198.51.100.1"});
  vip.mutable_backends(0)->mutable_health_override()->set_fall(1);
  const VipConfig model = *VipFromProto(vip, DataplaneLimits(), "vip");
  EXPECT_EQ(*model.backends[0].health_override, HealthOverride{.fall = 1});
  const v1::HealthOverride& back =
      VipToProto(model).backends(0).health_override();
  EXPECT_FALSE(back.has_port());
  EXPECT_FALSE(back.has_interval());
  EXPECT_FALSE(back.has_rise());
  EXPECT_EQ(back.fall(), 1u);
}

TEST(ConvertTest, AddBackendCarriesItsHealthOverride) {
  v1::BackendChange add = Add(Key("192.0.2.1", 80), "198.51.100.1");
  add.mutable_add()->mutable_health_override()->set_port(9000);
  auto op = BackendChangeFromProto(add, "c");
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(std::get<AddBackendOp>(*op).backend.health_override,
            HealthOverride{.port = 9000});
}

TEST(ConvertTest, BackendChangeBecomesTheMatchingOperation) {
  const v1::VipKey key = Key("192.0.2.1", 80);
  EXPECT_TRUE(std::holds_alternative<AddBackendOp>(
      *BackendChangeFromProto(Add(key, "198.51.100.1", 3), "c")));
  EXPECT_TRUE(std::holds_alternative<RemoveBackendOp>(
      *BackendChangeFromProto(Remove(key, "198.51.100.1"), "c")));
  EXPECT_TRUE(std::holds_alternative<SetDrainOp>(
      *BackendChangeFromProto(Drain(key, "198.51.100.1"), "c")));
  auto weight = BackendChangeFromProto(Weight(key, "198.51.100.1", 0), "c");
  ASSERT_TRUE(std::holds_alternative<SetWeightOp>(*weight));
  EXPECT_EQ(std::get<SetWeightOp>(*weight).weight, 0u);
}

}  // namespace
}  // namespace xlb::agent
