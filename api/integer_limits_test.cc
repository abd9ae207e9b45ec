// Every integer (and duration) a client sends, at its extremes: 0, the
// largest value the model takes and one past it, the type's maximum, and
// negative where the type has a sign. A value in range is kept exactly as
// sent (read back with GetVip); one out of range is refused with the code
// and a message naming the field, and changes nothing. WatchEvents'
// after_sequence and agent_start_time are in watch_events_test.cc.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"

namespace xlb::api {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders
using namespace xlb::api::testing;    // NOLINT: the API fixture
using Stub = v1::LoadBalancer::Stub;
using Code = grpc::StatusCode;

constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

// The VIP every case starts from (generation 1), and the one CreateVip
// cases create.
const v1::VipKey kBase = Key("192.0.2.1", 80);
const v1::VipKey kNew = Key("192.0.2.9", 80);

struct Case {
  std::string name;
  std::function<grpc::Status(Stub&)> call;
  // Accepted: what GetVip of `vip` must show.
  std::function<void(const v1::Vip&)> check;
  v1::VipKey vip;
  // Refused: the code and a substring of the message.
  Code code = Code::OK;
  std::string message;
};

google::protobuf::Duration D(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Duration d;
  d.set_seconds(seconds);
  d.set_nanos(nanos);
  return d;
}

bool Same(const google::protobuf::Message& a,
          const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// CreateVip of kNew (one backend, 198.51.100.9) after `edit`.
std::function<grpc::Status(Stub&)> Create(std::function<void(v1::Vip&)> edit) {
  return [edit](Stub& stub) {
    v1::Vip vip = Vip(kNew, {"198.51.100.9"});
    edit(vip);
    return CreateVip(stub, vip);
  };
}

// The same with a TCP health check on port 8080 edited by `edit`.
std::function<grpc::Status(Stub&)> Check(
    std::function<void(v1::HealthCheck&)> edit) {
  return Create([edit](v1::Vip& vip) {
    v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
    hc->set_type(v1::HEALTH_CHECK_TYPE_TCP);
    hc->set_port(8080);
    edit(*hc);
  });
}

// The same with an HTTP check whose expected codes are `codes`.
std::function<grpc::Status(Stub&)> Codes(std::vector<uint32_t> codes) {
  return Check([codes](v1::HealthCheck& hc) {
    hc.set_type(v1::HEALTH_CHECK_TYPE_HTTP);
    for (uint32_t code : codes) hc.add_http_expected_codes(code);
  });
}

// The backend's health override edited by `edit`, on a VIP with the default
// TCP check (`checked`) or none.
std::function<grpc::Status(Stub&)> Override(
    bool checked, std::function<void(v1::HealthOverride&)> edit) {
  return Create([checked, edit](v1::Vip& vip) {
    if (checked) {
      vip.mutable_settings()->mutable_health_check()->set_type(
          v1::HEALTH_CHECK_TYPE_TCP);
    }
    edit(*vip.mutable_backends(0)->mutable_health_override());
  });
}

std::function<grpc::Status(Stub&)> Backends(
    std::vector<v1::BackendChange> changes,
    std::optional<uint64_t> expected_generation = std::nullopt) {
  return [changes, expected_generation](Stub& stub) {
    grpc::ClientContext context;
    v1::UpdateBackendsRequest request;
    for (const v1::BackendChange& c : changes) *request.add_changes() = c;
    if (expected_generation) {
      request.set_expected_generation(*expected_generation);
    }
    v1::UpdateBackendsResponse response;
    return stub.UpdateBackends(&context, request, &response);
  };
}

Case Ok(std::string name, std::function<grpc::Status(Stub&)> call,
        std::function<void(const v1::Vip&)> check, v1::VipKey vip = kNew) {
  return Case{.name = std::move(name),
              .call = std::move(call),
              .check = std::move(check),
              .vip = std::move(vip)};
}

Case Refused(std::string name, std::function<grpc::Status(Stub&)> call,
             std::string message, Code code = Code::INVALID_ARGUMENT) {
  return Case{.name = std::move(name),
              .call = std::move(call),
              .code = code,
              .message = std::move(message)};
}

std::vector<Case> Cases() {
  const auto hc = [](const v1::Vip& v) { return v.settings().health_check(); };
  const auto override_of = [](const v1::Vip& v) {
    return v.backends(0).health_override();
  };
  std::vector<uint32_t> every_code;
  for (uint32_t code = 100; code <= 599; ++code) every_code.push_back(code);
  std::vector<v1::BackendChange> max_changes(10000,
                                             Drain(kBase, "198.51.100.1"));
  std::vector<v1::BackendChange> too_many_changes(10001,
                                                  Drain(kBase, "198.51.100.1"));

  return {
      // VipKey.port: 0 is the port wildcard.
      Ok(
          "VipPortZero",
          Create([](v1::Vip& v) { v.mutable_key()->set_port(0); }),
          [](const v1::Vip& v) { EXPECT_EQ(v.key().port(), 0u); },
          Key("192.0.2.9", 0)),
      Ok(
          "VipPortMax",
          Create([](v1::Vip& v) { v.mutable_key()->set_port(65535); }),
          [](const v1::Vip& v) { EXPECT_EQ(v.key().port(), 65535u); },
          Key("192.0.2.9", 65535)),
      Refused("VipPortMaxPlusOne",
              Create([](v1::Vip& v) { v.mutable_key()->set_port(65536); }),
              "vip.key.port: 65536 exceeds 65535"),
      Refused("VipPortU32Max",
              Create([](v1::Vip& v) { v.mutable_key()->set_port(kU32Max); }),
              "vip.key.port: 4294967295 exceeds 65535"),

      // VipSettings.ring_size: 0 is the default; else a supported prime
      // within the data plane's limit (65537 here).
      Ok("RingSizeZeroIsTheDefault", Create([](v1::Vip&) {}),
         [](const v1::Vip& v) { EXPECT_EQ(v.settings().ring_size(), 65537u); }),
      Ok("RingSizeSmallest",
         Create([](v1::Vip& v) { v.mutable_settings()->set_ring_size(1021); }),
         [](const v1::Vip& v) { EXPECT_EQ(v.settings().ring_size(), 1021u); }),
      Refused("RingSizeLargestSupportedAboveTheLimit", Create([](v1::Vip& v) {
                v.mutable_settings()->set_ring_size(655373);
              }),
              "vip.settings.ring_size: 655373 exceeds the data plane's "
              "max_ring_size 65537",
              Code::RESOURCE_EXHAUSTED),
      Refused("RingSizeU32Max", Create([](v1::Vip& v) {
                v.mutable_settings()->set_ring_size(kU32Max);
              }),
              "vip.settings.ring_size: 4294967295 is not a supported ring "
              "size"),

      // VipSettings.maglev_seed: any value.
      Ok("MaglevSeedU32Max", Create([](v1::Vip& v) {
           v.mutable_settings()->set_maglev_seed(kU32Max);
         }),
         [](const v1::Vip& v) {
           EXPECT_EQ(v.settings().maglev_seed(), kU32Max);
         }),

      // VipSettings.syn_rate_limit: 0 (off, the default) .. 100,000,000.
      Ok("SynRateLimitZeroIsOff", Create([](v1::Vip&) {}),
         [](const v1::Vip& v) {
           EXPECT_EQ(v.settings().syn_rate_limit(), 0u);
         }),
      Ok("SynRateLimitMax", Create([](v1::Vip& v) {
           v.mutable_settings()->set_syn_rate_limit(100000000);
         }),
         [](const v1::Vip& v) {
           EXPECT_EQ(v.settings().syn_rate_limit(), 100000000u);
         }),
      Refused("SynRateLimitMaxPlusOne", Create([](v1::Vip& v) {
                v.mutable_settings()->set_syn_rate_limit(100000001);
              }),
              "vip.settings.syn_rate_limit: 100000001 exceeds 100000000 "
              "SYNs per second"),
      Refused("SynRateLimitU32Max", Create([](v1::Vip& v) {
                v.mutable_settings()->set_syn_rate_limit(kU32Max);
              }),
              "vip.settings.syn_rate_limit: 4294967295 exceeds 100000000 "
              "SYNs per second"),

      // VipSettings.min_healthy_fraction: [0, 1].
      Refused("MinHealthyInfinite", Create([](v1::Vip& v) {
                v.mutable_settings()->set_min_healthy_fraction(
                    std::numeric_limits<double>::infinity());
              }),
              "vip.settings.min_healthy_fraction: inf is outside [0, 1]"),
      Ok("MinHealthyOne", Create([](v1::Vip& v) {
           v.mutable_settings()->set_min_healthy_fraction(1.0);
         }),
         [](const v1::Vip& v) {
           EXPECT_EQ(v.settings().min_healthy_fraction(), 1.0);
         }),

      // HealthCheck.port: 0 probes the VIP's port.
      Ok("CheckPortZero", Check([](v1::HealthCheck& h) { h.set_port(0); }),
         [&](const v1::Vip& v) { EXPECT_EQ(hc(v).port(), 0u); }),
      Ok("CheckPortMax", Check([](v1::HealthCheck& h) { h.set_port(65535); }),
         [&](const v1::Vip& v) { EXPECT_EQ(hc(v).port(), 65535u); }),
      Refused("CheckPortMaxPlusOne",
              Check([](v1::HealthCheck& h) { h.set_port(65536); }),
              "vip.settings.health_check.port: 65536 exceeds 65535"),
      Refused("CheckPortU32Max",
              Check([](v1::HealthCheck& h) { h.set_port(kU32Max); }),
              "vip.settings.health_check.port: 4294967295 exceeds 65535"),

      // HealthCheck.interval: [100ms, 1h].
      Ok("IntervalMax",
         Check([](v1::HealthCheck& h) { *h.mutable_interval() = D(3600); }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(hc(v).interval(), D(3600)));
         }),
      Refused("IntervalMaxPlusOneNanosecond", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(3600, 1);
              }),
              "vip.settings.health_check.interval: 1h0.000000001s is "
              "outside [100ms, 1h]"),
      Refused("IntervalZero",
              Check([](v1::HealthCheck& h) { *h.mutable_interval() = D(0); }),
              "vip.settings.health_check.interval: 0 is outside"),
      Refused("IntervalLargestProtoDuration", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(315576000000, 999999999);
              }),
              "vip.settings.health_check.interval: 87660000h0.999999999s is "
              "outside [100ms, 1h]"),
      Refused("IntervalBeyondProtoDuration", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(315576000001);
              }),
              "vip.settings.health_check.interval: 315576000001 seconds is "
              "out of range"),
      Refused("IntervalI64Max", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(kI64Max);
              }),
              "vip.settings.health_check.interval: 9223372036854775807 "
              "seconds is out of range"),
      Refused("IntervalI64Min", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(kI64Min);
              }),
              "vip.settings.health_check.interval: {seconds: "
              "-9223372036854775808, nanos: 0} is negative"),
      Refused("IntervalMinusOneNanosecond", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() = D(0, -1);
              }),
              "vip.settings.health_check.interval: {seconds: 0, nanos: -1} is "
              "negative"),
      Refused("IntervalNanosI32Max", Check([](v1::HealthCheck& h) {
                *h.mutable_interval() =
                    D(1, std::numeric_limits<int32_t>::max());
              }),
              "is not a valid duration"),

      // HealthCheck.timeout: (0, interval].
      Ok("TimeoutOneNanosecond",
         Check([](v1::HealthCheck& h) { *h.mutable_timeout() = D(0, 1); }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(hc(v).timeout(), D(0, 1)));
         }),
      Ok("TimeoutEqualToTheLongestInterval", Check([](v1::HealthCheck& h) {
           *h.mutable_interval() = D(3600);
           *h.mutable_timeout() = D(3600);
         }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(hc(v).timeout(), D(3600)));
         }),
      Refused("TimeoutI64Max", Check([](v1::HealthCheck& h) {
                *h.mutable_timeout() = D(kI64Max);
              }),
              "vip.settings.health_check.timeout: 9223372036854775807 "
              "seconds is out of range"),

      // HealthCheck.jitter: [0, interval).
      Ok("JitterJustBelowTheInterval", Check([](v1::HealthCheck& h) {
           *h.mutable_jitter() = D(4, 999999999);
         }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(hc(v).jitter(), D(4, 999999999)));
         }),
      Refused("JitterEqualToTheInterval",
              Check([](v1::HealthCheck& h) { *h.mutable_jitter() = D(5); }),
              "vip.settings.health_check.jitter: 5s is outside [0, interval "
              "5s)"),
      Refused("JitterMinusOneNanosecond",
              Check([](v1::HealthCheck& h) { *h.mutable_jitter() = D(0, -1); }),
              "vip.settings.health_check.jitter: {seconds: 0, nanos: -1} is "
              "negative"),

      // HealthCheck.rise and fall: 0 is the default; else [1, 100].
      Ok("RiseAndFallZeroAreTheDefaults", Check([](v1::HealthCheck&) {}),
         [&](const v1::Vip& v) {
           EXPECT_EQ(hc(v).rise(), 2u);
           EXPECT_EQ(hc(v).fall(), 3u);
         }),
      Ok("RiseAndFallMax", Check([](v1::HealthCheck& h) {
           h.set_rise(100);
           h.set_fall(100);
         }),
         [&](const v1::Vip& v) {
           EXPECT_EQ(hc(v).rise(), 100u);
           EXPECT_EQ(hc(v).fall(), 100u);
         }),
      Refused("RiseMaxPlusOne",
              Check([](v1::HealthCheck& h) { h.set_rise(101); }),
              "vip.settings.health_check.rise: 101 is outside [1, 100]"),
      Refused("FallU32Max",
              Check([](v1::HealthCheck& h) { h.set_fall(kU32Max); }),
              "vip.settings.health_check.fall: 4294967295 is outside [1, 100]"),

      // HealthCheck.http_expected_codes: 100..599, each once.
      Ok("EveryHttpCodeOnce", Codes(every_code),
         [&](const v1::Vip& v) {
           EXPECT_EQ(hc(v).http_expected_codes_size(), 500);
         }),
      Refused("HttpCodeZero", Codes({0}),
              "vip.settings.health_check.http_expected_codes[0]: 0 is not an "
              "HTTP status code"),
      Refused("HttpCodeBelowRange", Codes({200, 99}),
              "vip.settings.health_check.http_expected_codes[1]: 99 is not"),
      Refused("HttpCodeAboveRange", Codes({600}),
              "vip.settings.health_check.http_expected_codes[0]: 600 is not"),
      Refused("HttpCodeU32Max", Codes({kU32Max}),
              "vip.settings.health_check.http_expected_codes[0]: 4294967295 "
              "is not"),
      Refused("HttpCodeRepeated", Codes({200, 204, 200}),
              "vip.settings.health_check.http_expected_codes[2]: 200 repeats "
              "http_expected_codes[0]"),

      // Backend.weight: 0..65535.
      Ok("BackendWeightZero",
         Create([](v1::Vip& v) { v.mutable_backends(0)->set_weight(0); }),
         [](const v1::Vip& v) { EXPECT_EQ(v.backends(0).weight(), 0u); }),
      Ok("BackendWeightMax",
         Create([](v1::Vip& v) { v.mutable_backends(0)->set_weight(65535); }),
         [](const v1::Vip& v) { EXPECT_EQ(v.backends(0).weight(), 65535u); }),
      Refused("BackendWeightMaxPlusOne", Create([](v1::Vip& v) {
                v.mutable_backends(0)->set_weight(65536);
              }),
              "vip.backends[0].weight: 65536 exceeds 65535"),
      Refused("BackendWeightU32Max", Create([](v1::Vip& v) {
                v.mutable_backends(0)->set_weight(kU32Max);
              }),
              "vip.backends[0].weight: 4294967295 exceeds 65535"),

      // HealthOverride.port: 1..65535 (unset inherits).
      Refused("OverridePortZero",
              Override(true, [](v1::HealthOverride& o) { o.set_port(0); }),
              "vip.backends[0].health_override.port: 0 is not a port"),
      Ok("OverridePortMax",
         Override(true, [](v1::HealthOverride& o) { o.set_port(65535); }),
         [&](const v1::Vip& v) { EXPECT_EQ(override_of(v).port(), 65535u); }),
      Refused(
          "OverridePortU32Max",
          Override(true, [](v1::HealthOverride& o) { o.set_port(kU32Max); }),
          "vip.backends[0].health_override.port: 4294967295 exceeds "
          "65535"),

      // HealthOverride.rise and fall: [1, 100], also on unchecked VIPs.
      Refused("OverrideRiseZero",
              Override(false, [](v1::HealthOverride& o) { o.set_rise(0); }),
              "vip.backends[0].health_override.rise: 0 is outside [1, 100]"),
      Ok("OverrideFallMax",
         Override(true, [](v1::HealthOverride& o) { o.set_fall(100); }),
         [&](const v1::Vip& v) { EXPECT_EQ(override_of(v).fall(), 100u); }),
      Refused(
          "OverrideFallU32Max",
          Override(false, [](v1::HealthOverride& o) { o.set_fall(kU32Max); }),
          "vip.backends[0].health_override.fall: 4294967295 is outside"),

      // HealthOverride durations: on a VIP without a check, bounded by the
      // longest interval (1h) all the same.
      Ok("OverrideTimeoutOfTheLongestIntervalWithoutACheck",
         Override(
             false,
             [](v1::HealthOverride& o) { *o.mutable_timeout() = D(3600); }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(override_of(v).timeout(), D(3600)));
         }),
      Refused("OverrideTimeoutAboveTheLongestIntervalWithoutACheck",
              Override(false,
                       [](v1::HealthOverride& o) {
                         *o.mutable_timeout() = D(3600, 1);
                       }),
              "vip.backends[0].health_override.timeout: 1h0.000000001s "
              "exceeds the longest interval, 1h"),
      Refused("OverrideTimeoutLargestProtoDurationWithoutACheck",
              Override(false,
                       [](v1::HealthOverride& o) {
                         *o.mutable_timeout() = D(315576000000);
                       }),
              "vip.backends[0].health_override.timeout: 87660000h exceeds "
              "the longest interval, 1h"),
      Ok("OverrideJitterJustBelowTheLongestIntervalWithoutACheck",
         Override(false,
                  [](v1::HealthOverride& o) {
                    *o.mutable_jitter() = D(3599, 999999999);
                  }),
         [&](const v1::Vip& v) {
           EXPECT_TRUE(Same(override_of(v).jitter(), D(3599, 999999999)));
         }),
      Refused("OverrideJitterOfTheLongestIntervalWithoutACheck",
              Override(
                  false,
                  [](v1::HealthOverride& o) { *o.mutable_jitter() = D(3600); }),
              "vip.backends[0].health_override.jitter: 1h is not below the "
              "longest interval, 1h"),
      Refused("OverrideIntervalI64Max",
              Override(true,
                       [](v1::HealthOverride& o) {
                         *o.mutable_interval() = D(kI64Max);
                       }),
              "vip.backends[0].health_override.interval: 9223372036854775807 "
              "seconds is out of range"),
      Refused("OverrideJitterI64Min",
              Override(true,
                       [](v1::HealthOverride& o) {
                         *o.mutable_jitter() = D(kI64Min);
                       }),
              "vip.backends[0].health_override.jitter: {seconds: "
              "-9223372036854775808, nanos: 0} is negative"),

      // UpdateBackends: add.weight and set_weight 0..65535.
      Ok(
          "AddWeightZero", Backends({Add(kBase, "198.51.100.2", 0)}),
          [](const v1::Vip& v) { EXPECT_EQ(v.backends(1).weight(), 0u); },
          kBase),
      Ok(
          "AddWeightMax", Backends({Add(kBase, "198.51.100.2", 65535)}),
          [](const v1::Vip& v) { EXPECT_EQ(v.backends(1).weight(), 65535u); },
          kBase),
      Refused("AddWeightU32Max",
              Backends({Add(kBase, "198.51.100.2", kU32Max)}),
              "changes[0].add.weight: 4294967295 exceeds 65535"),
      Ok(
          "SetWeightZero", Backends({Weight(kBase, "198.51.100.1", 0)}),
          [](const v1::Vip& v) { EXPECT_EQ(v.backends(0).weight(), 0u); },
          kBase),
      Ok(
          "SetWeightMax", Backends({Weight(kBase, "198.51.100.1", 65535)}),
          [](const v1::Vip& v) { EXPECT_EQ(v.backends(0).weight(), 65535u); },
          kBase),
      Refused("SetWeightMaxPlusOne",
              Backends({Weight(kBase, "198.51.100.1", 65536)}),
              "changes[0].set_weight: 65536 exceeds 65535"),
      Refused("SetWeightU32Max",
              Backends({Weight(kBase, "198.51.100.1", kU32Max)}),
              "changes[0].set_weight: 4294967295 exceeds 65535"),

      // UpdateBackends.changes: at most 10,000 per call.
      Ok(
          "TenThousandChanges", Backends(max_changes),
          [](const v1::Vip& v) { EXPECT_TRUE(v.backends(0).drained()); },
          kBase),
      Refused("TenThousandAndOneChanges", Backends(too_many_changes),
              "changes: 10001 exceed the 10000 one call may carry"),

      // expected_generation: compared, never computed with.
      Ok(
          "ExpectedGenerationCurrent",
          Backends({Drain(kBase, "198.51.100.1")}, 1),
          [](const v1::Vip& v) { EXPECT_TRUE(v.backends(0).drained()); },
          kBase),
      Refused("ExpectedGenerationZero",
              Backends({Drain(kBase, "198.51.100.1")}, 0),
              "expected_generation: 0 differs from the current generation 1",
              Code::FAILED_PRECONDITION),
      Refused("ExpectedGenerationU64Max",
              Backends({Drain(kBase, "198.51.100.1")}, kU64Max),
              "expected_generation: 18446744073709551615 differs from the "
              "current generation 1",
              Code::FAILED_PRECONDITION),
  };
}

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class IntegerLimitsTest : public ::testing::TestWithParam<Case> {};

TEST_P(IntegerLimitsTest, InRangeIsKeptExactlyOutOfRangeIsRefused) {
  auto started = ApiHarness::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  ApiHarness& harness = **started;
  Stub& stub = harness.stub();
  ASSERT_TRUE(CreateVip(stub, Vip(kBase, {"198.51.100.1"})).ok());
  const v1::GetConfigResponse before = GetConfig(stub);
  ASSERT_EQ(before.generation(), 1u);
  const InMemoryMaps::Contents maps_before = harness.maps().contents();

  const Case& c = GetParam();
  const grpc::Status status = c.call(stub);
  EXPECT_EQ(status.error_code(), c.code) << status.error_message();
  if (c.code == Code::OK) {
    grpc::ClientContext context;
    v1::GetVipRequest request;
    *request.mutable_key() = c.vip;
    v1::GetVipResponse response;
    ASSERT_TRUE(stub.GetVip(&context, request, &response).ok());
    c.check(response.vip());
    return;
  }
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr(c.message));
  EXPECT_TRUE(Same(GetConfig(stub), before));
  EXPECT_TRUE(harness.maps().contents() == maps_before);
}

INSTANTIATE_TEST_SUITE_P(Table, IntegerLimitsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace xlb::api
