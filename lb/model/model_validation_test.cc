#include <cmath>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "lb/model/model_config.h"
#include "lb/model/testing/model_testing.h"

namespace xlb {
namespace {

using ::xlb::testing::Ip;

VipConfig WebVip() {
  return VipConfig{.key = {.address = Ip("192.0.2.1"), .port = 80},
                   .backends = {{.address = Ip("198.51.100.1")},
                                {.address = Ip("198.51.100.2")}}};
}

// The message of validating `vip` as vips[0] of a configuration.
std::string Problem(const VipConfig& vip) {
  absl::Status status =
      ValidateBalancerConfig(BalancerConfig{.vips = {vip}}, {}, "");
  return std::string(status.message());
}

TEST(ValidationTest, AcceptsAPlainVip) {
  EXPECT_TRUE(ValidateBalancerConfig({.vips = {WebVip()}}, {}, "").ok());
}

TEST(ValidationTest, OverweightBackendNamesFieldAndValue) {
  VipConfig vip = WebVip();
  vip.backends[1].weight = 70000;
  EXPECT_EQ(Problem(vip), "vips[0].backends[1].weight: 70000 exceeds 65535");
}

TEST(ValidationTest, RefusesMalformedKeysAndBackends) {
  VipConfig vip = WebVip();
  vip.key.address = IpAddress();
  EXPECT_EQ(Problem(vip), "vips[0].key.address: required");

  vip = WebVip();
  vip.key.protocol = static_cast<Protocol>(1);
  EXPECT_EQ(Problem(vip),
            "vips[0].key.protocol: 1 is neither TCP (6) nor UDP (17)");

  vip = WebVip();
  vip.backends[1].address = vip.backends[0].address;
  EXPECT_EQ(Problem(vip),
            "vips[0].backends[1].address: 198.51.100.1 repeats backends[0]");

  vip = WebVip();
  vip.key.address = Ip("2001:db8::1");
  EXPECT_EQ(Problem(vip),
            "vips[0].backends[0].address: IPv4 backend 198.51.100.1 cannot "
            "carry traffic of IPv6 VIP [2001:db8::1]:80/tcp");
}

TEST(ValidationTest, RefusesDuplicateVips) {
  absl::Status status =
      ValidateBalancerConfig({.vips = {WebVip(), WebVip()}}, {}, "ops[0]");
  EXPECT_EQ(status.message(),
            "ops[0].vips[1].key: 192.0.2.1:80/tcp repeats vips[0]");
}

TEST(ValidationTest, RefusesUnsupportedRingSizeAndBadFraction) {
  VipConfig vip = WebVip();
  vip.settings.ring_size = 1000;
  EXPECT_EQ(Problem(vip).substr(0, 58),
            "vips[0].settings.ring_size: 1000 is not a supported ring s");

  vip = WebVip();
  vip.settings.min_healthy_fraction = 1.5;
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.min_healthy_fraction: 1.5 is outside [0, 1]");
  vip.settings.min_healthy_fraction = std::nan("");
  EXPECT_FALSE(Problem(vip).empty());
}

TEST(ValidationTest, SynRateLimitIsBoundedAndForTcpOnly) {
  VipConfig vip = WebVip();
  vip.settings.syn_rate_limit = kMaxSynRateLimit;
  EXPECT_EQ(Problem(vip), "");
  vip.settings.syn_rate_limit = kMaxSynRateLimit + 1;
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.syn_rate_limit: 100000001 exceeds 100000000 "
            "SYNs per second");

  vip = WebVip();
  vip.key.protocol = Protocol::kUdp;
  vip.settings.syn_rate_limit = 500;
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.syn_rate_limit: 500: only a TCP VIP receives "
            "SYNs, this one is UDP");
  vip.settings.syn_rate_limit = 0;
  EXPECT_EQ(Problem(vip), "");
}

TEST(ValidationTest, RefusesInconsistentHealthCheckTimes) {
  VipConfig vip = WebVip();
  vip.settings.health_check = HealthCheckSpec{.interval = absl::Seconds(1),
                                              .timeout = absl::Seconds(2)};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.timeout: 2s is outside (0, "
            "interval 1s]");

  vip.settings.health_check =
      HealthCheckSpec{.interval = absl::Milliseconds(10)};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.interval: 10ms is outside "
            "[100ms, 1h]");

  vip.settings.health_check = HealthCheckSpec{.fall = 0};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.fall: 0 is outside [1, 100]");

  vip.settings.health_check = HealthCheckSpec{.jitter = absl::Seconds(5)};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.jitter: 5s is outside [0, "
            "interval 5s)");
}

TEST(ValidationTest, HealthCheckOfWildcardVipNeedsAPort) {
  VipConfig vip = WebVip();
  vip.key.port = 0;
  vip.settings.health_check = HealthCheckSpec{};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.port: 0: required for a "
            "port-wildcard VIP");
  vip.settings.health_check->port = 8080;
  EXPECT_EQ(Problem(vip), "");
}

TEST(ValidationTest, RefusesMalformedProbeContents) {
  VipConfig vip = WebVip();
  vip.settings.health_check =
      HealthCheckSpec{.type = HealthCheckType::kHttp, .http_path = "health"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.http_path: \"health\" does not "
            "start with '/'");

  vip.settings.health_check = HealthCheckSpec{
      .type = HealthCheckType::kHttps, .http_expected_codes = {200, 700}};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.http_expected_codes[1]: 700 is not "
            "an HTTP status code");

  vip.settings.health_check = HealthCheckSpec{.type = HealthCheckType::kUdp};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.udp_request: empty: a udp check "
            "sends a request");

  vip.settings.health_check = HealthCheckSpec{.type = HealthCheckType::kGrpc,
                                              .grpc_service = "my service"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.grpc_service: \"my service\" holds "
            "a space at offset 2");

  vip.settings.health_check = HealthCheckSpec{.type = HealthCheckType::kHttp,
                                              .http_path = "/caf\xc3\xa9"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.http_path: \"/caf\\xc3\\xa9\" holds "
            "a non-ASCII byte (0xc3) at offset 4; percent-encode it (%C3)");
}

TEST(ValidationTest, RefusesFieldsOfOtherCheckTypes) {
  VipConfig vip = WebVip();
  vip.settings.health_check = HealthCheckSpec{.http_path = "/"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.http_path: \"/\": only http and "
            "https checks send a request path, this one is tcp");
  vip.settings.health_check =
      HealthCheckSpec{.type = HealthCheckType::kHttp, .udp_request = "ping"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.udp_request: 4 bytes: only a udp "
            "check sends a datagram, this one is http");
  vip.settings.health_check = HealthCheckSpec{.type = HealthCheckType::kUdp,
                                              .udp_request = "ping",
                                              .grpc_service = "s"};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.grpc_service: \"s\": only a grpc "
            "check asks about a service, this one is udp");
}

TEST(ValidationTest, RefusesAddressesNoPacketCanReach) {
  VipConfig vip = WebVip();
  vip.key.address = Ip("127.0.0.1");
  EXPECT_EQ(Problem(vip),
            "vips[0].key.address: 127.0.0.1 is a loopback address: only the "
            "host itself reaches it");
  vip = WebVip();
  vip.backends[1].address = Ip("::");
  EXPECT_EQ(Problem(vip),
            "vips[0].backends[1].address: :: is the unspecified address");
  vip = WebVip();
  vip.backends[0].address = vip.key.address;
  EXPECT_EQ(Problem(vip),
            "vips[0].backends[0].address: 192.0.2.1 is the VIP's own address: "
            "packets encapsulated to it would come back to the balancer");
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

VipConfig CheckedVip(HealthOverride o) {
  VipConfig vip = WebVip();
  vip.settings.health_check = HealthCheckSpec{};  // 5s, timeout 2s
  vip.backends[1].health_override = o;
  return vip;
}

TEST(ValidationTest, HealthOverrideNamesTheFieldAndValue) {
  EXPECT_EQ(Problem(CheckedVip({.port = 0})),
            "vips[0].backends[1].health_override.port: 0 is not a port (leave "
            "it unset to inherit)");
  EXPECT_EQ(Problem(CheckedVip({.interval = absl::Hours(2)})),
            "vips[0].backends[1].health_override.interval: 2h is outside "
            "[100ms, 1h]");
  EXPECT_EQ(Problem(CheckedVip({.rise = 0})),
            "vips[0].backends[1].health_override.rise: 0 is outside [1, 100]");
  EXPECT_EQ(
      Problem(CheckedVip({.fall = 101})),
      "vips[0].backends[1].health_override.fall: 101 is outside [1, 100]");
  EXPECT_EQ(Problem(CheckedVip({.timeout = absl::ZeroDuration()})),
            "vips[0].backends[1].health_override.timeout: 0 is not positive "
            "(leave it unset to inherit)");
  EXPECT_EQ(Problem(CheckedVip({.jitter = absl::Seconds(-1)})),
            "vips[0].backends[1].health_override.jitter: -1s is negative");
}

TEST(ValidationTest, HealthOverrideIsCheckedAgainstTheValuesInForce) {
  // The override's timeout against the check's interval.
  EXPECT_EQ(Problem(CheckedVip({.timeout = absl::Seconds(6)})),
            "vips[0].backends[1].health_override.timeout: 6s exceeds interval "
            "5s (the health check's)");
  // The override's interval against the check's timeout and jitter.
  EXPECT_EQ(Problem(CheckedVip({.interval = absl::Seconds(1)})),
            "vips[0].backends[1].health_override.interval: 1s is below the "
            "health check's timeout 2s; override the timeout too");
  EXPECT_EQ(Problem(CheckedVip(
                {.interval = absl::Seconds(3), .jitter = absl::Seconds(3)})),
            "vips[0].backends[1].health_override.jitter: 3s is not below "
            "interval 3s");
  EXPECT_EQ(Problem(CheckedVip({.port = 8080,
                                .interval = absl::Seconds(1),
                                .timeout = absl::Milliseconds(500),
                                .rise = 1,
                                .fall = 5,
                                .jitter = absl::Milliseconds(100)})),
            "");
  // Without a check only the override's own pairs count.
  VipConfig unchecked = CheckedVip({.interval = absl::Seconds(1)});
  unchecked.settings.health_check.reset();
  EXPECT_EQ(Problem(unchecked), "");
}

TEST(ValidationTest, HealthOverrideWithoutACheckIsBoundByTheLongestInterval) {
  VipConfig unchecked = CheckedVip({.timeout = absl::Hours(1)});
  unchecked.settings.health_check.reset();
  EXPECT_EQ(Problem(unchecked), "");
  unchecked.backends[1].health_override->timeout =
      absl::Hours(1) + absl::Nanoseconds(1);
  EXPECT_EQ(Problem(unchecked),
            "vips[0].backends[1].health_override.timeout: 1h0.000000001s "
            "exceeds the longest interval, 1h");
  unchecked.backends[1].health_override =
      HealthOverride{.jitter = absl::Hours(1) - absl::Nanoseconds(1)};
  EXPECT_EQ(Problem(unchecked), "");
  unchecked.backends[1].health_override->jitter = absl::Hours(1);
  EXPECT_EQ(Problem(unchecked),
            "vips[0].backends[1].health_override.jitter: 1h is not below the "
            "longest interval, 1h");
  // What google.protobuf.Duration can carry at most.
  unchecked.backends[1].health_override =
      HealthOverride{.timeout = absl::Seconds(315576000000)};
  EXPECT_EQ(Problem(unchecked),
            "vips[0].backends[1].health_override.timeout: 87660000h exceeds "
            "the longest interval, 1h");
}

TEST(ValidationTest, HttpExpectedCodesAreDistinct) {
  VipConfig vip = WebVip();
  vip.settings.health_check = HealthCheckSpec{.type = HealthCheckType::kHttp};
  vip.settings.health_check->http_expected_codes.clear();
  for (uint32_t code = 100; code <= 599; ++code) {
    vip.settings.health_check->http_expected_codes.push_back(code);
  }
  vip.settings.health_check->http_expected_codes[0] = 200;
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.http_expected_codes[100]: 200 "
            "repeats http_expected_codes[0]");
  vip.settings.health_check->http_expected_codes[0] = 100;
  EXPECT_EQ(Problem(vip), "");
}

TEST(ValidationTest, HttpsVerifyNeedsAnHttpsCheck) {
  VipConfig vip = WebVip();
  vip.settings.health_check = HealthCheckSpec{.https_verify = true};
  EXPECT_EQ(Problem(vip),
            "vips[0].settings.health_check.https_verify: true: only an https "
            "check verifies certificates, this one is tcp");
  vip.settings.health_check->type = HealthCheckType::kHttps;
  EXPECT_EQ(Problem(vip), "");
}

}  // namespace
}  // namespace xlb
