// Every invalid request gets the right code and a message naming the field
// and value, and changes nothing: neither the desired configuration (as
// GetConfig reads it), nor the maps, nor the state file.
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

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

const v1::VipKey kWeb = Key("192.0.2.1", 80);
const v1::VipKey kChecked = Key("192.0.2.2", 443);
const v1::VipKey kWeb6 = Key("2001:db8::1", 80);

struct Case {
  std::string name;
  std::function<grpc::Status(Stub&)> call;
  Code code;
  std::string message;  // a substring of the error message
};

grpc::Status CreateVip(Stub& stub, const v1::Vip& vip,
                       std::optional<uint64_t> generation = std::nullopt) {
  grpc::ClientContext context;
  v1::CreateVipRequest request;
  *request.mutable_vip() = vip;
  if (generation) request.set_expected_generation(*generation);
  v1::CreateVipResponse response;
  return stub.CreateVip(&context, request, &response);
}

// CreateVip of a new VIP (192.0.2.9:80) after `edit`.
Case CreateCase(std::string name, std::function<void(v1::Vip&)> edit, Code code,
                std::string message) {
  return Case{name,
              [edit](Stub& stub) {
                v1::Vip vip = Vip(Key("192.0.2.9", 80), {"198.51.100.1"});
                edit(vip);
                return CreateVip(stub, vip);
              },
              code, message};
}

// CreateVip of a new VIP whose health check is TCP on 8080 after `edit`.
Case CheckCase(std::string name, std::function<void(v1::HealthCheck&)> edit,
               std::string message) {
  return CreateCase(
      name,
      [edit](v1::Vip& vip) {
        v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
        hc->set_type(v1::HEALTH_CHECK_TYPE_TCP);
        hc->set_port(8080);
        edit(*hc);
      },
      Code::INVALID_ARGUMENT, message);
}

// CreateVip of a new VIP with the default TCP check whose first backend has
// a health override, after `edit` of that override.
Case OverrideCase(std::string name,
                  std::function<void(v1::HealthOverride&)> edit,
                  std::string message) {
  return CreateCase(
      name,
      [edit](v1::Vip& vip) {
        vip.mutable_settings()->mutable_health_check()->set_type(
            v1::HEALTH_CHECK_TYPE_TCP);
        edit(*vip.mutable_backends(0)->mutable_health_override());
      },
      Code::INVALID_ARGUMENT, message);
}

grpc::Status Backends(Stub& stub, std::vector<v1::BackendChange> changes,
                      std::optional<uint64_t> generation = std::nullopt) {
  grpc::ClientContext context;
  v1::UpdateBackendsRequest request;
  for (auto& c : changes) *request.add_changes() = c;
  if (generation) request.set_expected_generation(*generation);
  v1::UpdateBackendsResponse response;
  return stub.UpdateBackends(&context, request, &response);
}

Case BackendsCase(std::string name, std::vector<v1::BackendChange> changes,
                  Code code, std::string message) {
  return Case{name, [changes](Stub& stub) { return Backends(stub, changes); },
              code, message};
}

grpc::Status UpdateVip(Stub& stub,
                       std::function<void(v1::UpdateVipRequest&)> edit) {
  grpc::ClientContext context;
  v1::UpdateVipRequest request;
  *request.mutable_key() = kWeb;
  edit(request);
  v1::UpdateVipResponse response;
  return stub.UpdateVip(&context, request, &response);
}

grpc::Status SetConfig(Stub& stub,
                       std::function<void(v1::SetConfigRequest&)> edit) {
  grpc::ClientContext context;
  v1::SetConfigRequest request;
  *request.mutable_config()->add_vips() = Vip(kWeb, {"198.51.100.1"});
  edit(request);
  v1::SetConfigResponse response;
  return stub.SetConfig(&context, request, &response);
}

v1::BackendChange NoChange(const v1::VipKey& vip, const std::string& address) {
  v1::BackendChange change;
  *change.mutable_vip() = vip;
  change.set_address(address);
  return change;
}

std::vector<Case> Cases() {
  using D = google::protobuf::Duration;
  auto duration = [](int64_t seconds, int32_t nanos) {
    D d;
    d.set_seconds(seconds);
    d.set_nanos(nanos);
    return d;
  };
  std::vector<Case> cases = {
      {"CreateWithoutVip",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::CreateVipResponse response;
         return stub.CreateVip(&context, v1::CreateVipRequest(), &response);
       },
       Code::INVALID_ARGUMENT, "vip: required"},
      CreateCase(
          "CreateWithoutKey", [](v1::Vip& v) { v.clear_key(); },
          Code::INVALID_ARGUMENT, "vip.key: required"),
      CreateCase(
          "EmptyAddress", [](v1::Vip& v) { v.mutable_key()->clear_address(); },
          Code::INVALID_ARGUMENT, "vip.key.address: required"),
      CreateCase(
          "AddressOutOfRange",
          [](v1::Vip& v) { v.mutable_key()->set_address("300.1.1.1"); },
          Code::INVALID_ARGUMENT, "vip.key.address: \"300.1.1.1\""),
      CreateCase(
          "AddressIsAName",
          [](v1::Vip& v) { v.mutable_key()->set_address("lb.example"); },
          Code::INVALID_ARGUMENT, "\"lb.example\" is not an IPv4 or IPv6"),
      CreateCase(
          "AddressWithPrefix",
          [](v1::Vip& v) { v.mutable_key()->set_address("192.0.2.0/24"); },
          Code::INVALID_ARGUMENT, "vip.key.address: \"192.0.2.0/24\""),
      CreateCase(
          "AddressWithSpace",
          [](v1::Vip& v) { v.mutable_key()->set_address(" 192.0.2.9"); },
          Code::INVALID_ARGUMENT, "vip.key.address"),
      CreateCase(
          "PortAbove65535",
          [](v1::Vip& v) { v.mutable_key()->set_port(70000); },
          Code::INVALID_ARGUMENT, "vip.key.port: 70000 exceeds 65535"),
      CreateCase(
          "ProtocolMissing",
          [](v1::Vip& v) {
            v.mutable_key()->set_protocol(v1::PROTOCOL_UNSPECIFIED);
          },
          Code::INVALID_ARGUMENT, "vip.key.protocol: required"),
      CreateCase(
          "ProtocolUnknown",
          [](v1::Vip& v) {
            v.mutable_key()->set_protocol(static_cast<v1::Protocol>(99));
          },
          Code::INVALID_ARGUMENT, "vip.key.protocol: 99"),
      CreateCase(
          "HashModeUnknown",
          [](v1::Vip& v) {
            v.mutable_settings()->set_hash_mode(static_cast<v1::HashMode>(7));
          },
          Code::INVALID_ARGUMENT, "vip.settings.hash_mode: 7"),
      CreateCase(
          "RingSizeNotPrime",
          [](v1::Vip& v) { v.mutable_settings()->set_ring_size(1000); },
          Code::INVALID_ARGUMENT, "vip.settings.ring_size: 1000"),
      CreateCase(
          "RingSizeUnsupportedPrime",
          [](v1::Vip& v) { v.mutable_settings()->set_ring_size(1031); },
          Code::INVALID_ARGUMENT, "vip.settings.ring_size: 1031"),
      CreateCase(
          "RingSizeAboveTheDataPlaneLimit",
          [](v1::Vip& v) { v.mutable_settings()->set_ring_size(131071); },
          Code::RESOURCE_EXHAUSTED, "vip.settings.ring_size: 131071"),
      CreateCase(
          "MinHealthyAboveOne",
          [](v1::Vip& v) {
            v.mutable_settings()->set_min_healthy_fraction(1.5);
          },
          Code::INVALID_ARGUMENT, "vip.settings.min_healthy_fraction: 1.5"),
      CreateCase(
          "MinHealthyNegative",
          [](v1::Vip& v) {
            v.mutable_settings()->set_min_healthy_fraction(-0.1);
          },
          Code::INVALID_ARGUMENT, "vip.settings.min_healthy_fraction"),
      CreateCase(
          "MinHealthyNan",
          [](v1::Vip& v) {
            v.mutable_settings()->set_min_healthy_fraction(std::nan(""));
          },
          Code::INVALID_ARGUMENT, "vip.settings.min_healthy_fraction"),
      CreateCase(
          "SynRateLimitAboveTheMaximum",
          [](v1::Vip& v) {
            v.mutable_settings()->set_syn_rate_limit(100000001);
          },
          Code::INVALID_ARGUMENT,
          "vip.settings.syn_rate_limit: 100000001 exceeds 100000000"),
      CreateCase(
          "SynRateLimitOnUdpVip",
          [](v1::Vip& v) {
            v.mutable_key()->set_protocol(v1::PROTOCOL_UDP);
            v.mutable_settings()->set_syn_rate_limit(1000);
          },
          Code::INVALID_ARGUMENT,
          "vip.settings.syn_rate_limit: 1000: only a TCP VIP"),
      // The harness's maps hold 64 backends: a VIP has at most 63.
      CreateCase(
          "AnnounceMinHealthyAboveMostBackends",
          [](v1::Vip& v) {
            v.mutable_settings()->set_announce_min_healthy(64);
          },
          Code::INVALID_ARGUMENT,
          "vip.settings.announce_min_healthy: 64 exceeds the most backends a "
          "VIP can have on this agent (63): it could never be met"),
      CheckCase(
          "CheckTypeMissing",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_UNSPECIFIED);
          },
          "vip.settings.health_check.type: required"),
      CheckCase(
          "CheckTypeUnknown",
          [](v1::HealthCheck& h) {
            h.set_type(static_cast<v1::HealthCheckType>(42));
          },
          "vip.settings.health_check.type: 42"),
      CheckCase(
          "CheckPortAbove65535", [](v1::HealthCheck& h) { h.set_port(65536); },
          "vip.settings.health_check.port: 65536 exceeds 65535"),
      CheckCase(
          "CheckIntervalTooShort",
          [&](v1::HealthCheck& h) {
            *h.mutable_interval() = duration(0, 50000000);
          },
          "vip.settings.health_check.interval: 50ms"),
      CheckCase(
          "CheckIntervalTooLong",
          [&](v1::HealthCheck& h) {
            *h.mutable_interval() = duration(7200, 0);
          },
          "vip.settings.health_check.interval: 2h"),
      CheckCase(
          "CheckIntervalNegative",
          [&](v1::HealthCheck& h) { *h.mutable_interval() = duration(-5, 0); },
          "vip.settings.health_check.interval: {seconds: -5, nanos: 0} is "
          "negative"),
      CheckCase(
          "CheckIntervalMalformed",
          [&](v1::HealthCheck& h) {
            *h.mutable_interval() = duration(1, 2000000000);
          },
          "is not a valid duration"),
      CheckCase(
          "CheckTimeoutAboveInterval",
          [&](v1::HealthCheck& h) { *h.mutable_timeout() = duration(6, 0); },
          "vip.settings.health_check.timeout: 6s"),
      CheckCase(
          "CheckTimeoutZero",
          [&](v1::HealthCheck& h) { *h.mutable_timeout() = duration(0, 0); },
          "vip.settings.health_check.timeout: 0"),
      CheckCase(
          "CheckRiseTooHigh", [](v1::HealthCheck& h) { h.set_rise(101); },
          "vip.settings.health_check.rise: 101"),
      CheckCase(
          "CheckFallTooHigh", [](v1::HealthCheck& h) { h.set_fall(1000); },
          "vip.settings.health_check.fall: 1000"),
      CheckCase(
          "CheckJitterNotBelowInterval",
          [&](v1::HealthCheck& h) { *h.mutable_jitter() = duration(5, 0); },
          "vip.settings.health_check.jitter: 5s"),
      CheckCase(
          "HttpsVerifyOnATcpCheck",
          [](v1::HealthCheck& h) { h.set_https_verify(true); },
          "vip.settings.health_check.https_verify: true: only an https "
          "check"),
      OverrideCase(
          "OverridePortZero", [](v1::HealthOverride& o) { o.set_port(0); },
          "vip.backends[0].health_override.port: 0 is not a port"),
      OverrideCase(
          "OverridePortAbove65535",
          [](v1::HealthOverride& o) { o.set_port(70000); },
          "vip.backends[0].health_override.port: 70000 exceeds 65535"),
      OverrideCase(
          "OverrideIntervalTooShort",
          [&](v1::HealthOverride& o) {
            *o.mutable_interval() = duration(0, 50000000);
          },
          "vip.backends[0].health_override.interval: 50ms is outside "
          "[100ms, 1h]"),
      OverrideCase(
          "OverrideIntervalNegative",
          [&](v1::HealthOverride& o) {
            *o.mutable_interval() = duration(-1, 0);
          },
          "vip.backends[0].health_override.interval: {seconds: -1, "
          "nanos: 0} is negative"),
      OverrideCase(
          "OverrideIntervalBelowTheChecksTimeout",
          [&](v1::HealthOverride& o) {
            *o.mutable_interval() = duration(1, 0);
          },
          "vip.backends[0].health_override.interval: 1s is below the "
          "health check's timeout 2s"),
      OverrideCase(
          "OverrideTimeoutAboveTheChecksInterval",
          [&](v1::HealthOverride& o) { *o.mutable_timeout() = duration(6, 0); },
          "vip.backends[0].health_override.timeout: 6s exceeds "
          "interval 5s"),
      OverrideCase(
          "OverrideTimeoutZero",
          [&](v1::HealthOverride& o) { *o.mutable_timeout() = duration(0, 0); },
          "vip.backends[0].health_override.timeout: 0 is not "
          "positive"),
      OverrideCase(
          "OverrideRiseZero", [](v1::HealthOverride& o) { o.set_rise(0); },
          "vip.backends[0].health_override.rise: 0 is outside [1, 100]"),
      OverrideCase(
          "OverrideFallTooHigh", [](v1::HealthOverride& o) { o.set_fall(101); },
          "vip.backends[0].health_override.fall: 101 is outside"),
      OverrideCase(
          "OverrideJitterNotBelowInterval",
          [&](v1::HealthOverride& o) {
            *o.mutable_interval() = duration(3, 0);
            *o.mutable_jitter() = duration(3, 0);
          },
          "vip.backends[0].health_override.jitter: 3s is not below "
          "interval 3s"),
      CreateCase(
          "OverrideOfAnUncheckedVipIsStillChecked",
          [&](v1::Vip& v) {
            v.mutable_backends(0)->mutable_health_override()->set_rise(500);
          },
          Code::INVALID_ARGUMENT, "vip.backends[0].health_override.rise: 500"),
      CheckCase(
          "HttpPathWithoutSlash",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_HTTP);
            h.set_http_path("healthz");
          },
          "vip.settings.health_check.http_path: \"healthz\""),
      CheckCase(
          "HttpPathWithSpace",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_HTTP);
            h.set_http_path("/a b");
          },
          "vip.settings.health_check.http_path: \"/a b\""),
      CheckCase(
          "HttpHostWithNewline",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_HTTPS);
            h.set_http_host("a\nb");
          },
          "vip.settings.health_check.http_host"),
      CheckCase(
          "HttpCodeOutOfRange",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_HTTP);
            h.add_http_expected_codes(200);
            h.add_http_expected_codes(700);
          },
          "vip.settings.health_check.http_expected_codes[1]: 700"),
      CheckCase(
          "UdpWithoutRequest",
          [](v1::HealthCheck& h) { h.set_type(v1::HEALTH_CHECK_TYPE_UDP); },
          "vip.settings.health_check.udp_request: empty"),
      CheckCase(
          "UdpRequestTooLong",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_UDP);
            h.set_udp_request(std::string(2000, 'x'));
          },
          "vip.settings.health_check.udp_request: 2000 bytes"),
      CheckCase(
          "UdpResponseTooLong",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_UDP);
            h.set_udp_request("ping");
            h.set_udp_response(std::string(1025, 'x'));
          },
          "vip.settings.health_check.udp_response: 1025 bytes"),
      CheckCase(
          "GrpcServiceWithSpace",
          [](v1::HealthCheck& h) {
            h.set_type(v1::HEALTH_CHECK_TYPE_GRPC);
            h.set_grpc_service("my service");
          },
          "vip.settings.health_check.grpc_service"),
      CreateCase(
          "CheckOfWildcardVipWithoutPort",
          [](v1::Vip& v) {
            v.mutable_key()->set_port(0);
            v.mutable_settings()->mutable_health_check()->set_type(
                v1::HEALTH_CHECK_TYPE_TCP);
          },
          Code::INVALID_ARGUMENT,
          "vip.settings.health_check.port: 0: required"),
      CreateCase(
          "BackendAddressInvalid",
          [](v1::Vip& v) { v.add_backends()->set_address("198.51.100"); },
          Code::INVALID_ARGUMENT, "vip.backends[1].address: \"198.51.100\""),
      CreateCase(
          "BackendAddressMissing",
          [](v1::Vip& v) { v.add_backends()->set_weight(2); },
          Code::INVALID_ARGUMENT, "vip.backends[1].address: required"),
      CreateCase(
          "BackendWeightTooHigh",
          [](v1::Vip& v) { v.mutable_backends(0)->set_weight(70000); },
          Code::INVALID_ARGUMENT,
          "vip.backends[0].weight: 70000 exceeds 65535"),
      CreateCase(
          "BackendRepeated",
          [](v1::Vip& v) { v.add_backends()->set_address("198.51.100.1"); },
          Code::INVALID_ARGUMENT,
          "vip.backends[1].address: 198.51.100.1 repeats backends[0]"),
      CreateCase(
          "Ipv4BackendOfIpv6Vip",
          [](v1::Vip& v) { v.mutable_key()->set_address("2001:db8::9"); },
          Code::INVALID_ARGUMENT, "vip.backends[0].address: IPv4 backend"),
      CreateCase(
          "VipExists", [](v1::Vip& v) { *v.mutable_key() = kWeb; },
          Code::ALREADY_EXISTS, "vip.key: 192.0.2.1:80/tcp already exists"),
      CreateCase(
          "TooManyBackendAddresses",
          [](v1::Vip& v) {
            for (int i = 2; i <= 70; ++i) {
              v.add_backends()->set_address("10.1.0." + std::to_string(i));
            }
          },
          Code::RESOURCE_EXHAUSTED, "distinct backend addresses exceed"),
      {"CreateWithStaleGeneration",
       [](Stub& stub) { return CreateVip(stub, Vip(Key("192.0.2.9", 80)), 1); },
       Code::FAILED_PRECONDITION, "expected_generation: 1 differs"},
      {"UpdateWithoutKey",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) { r.clear_key(); });
       },
       Code::INVALID_ARGUMENT, "key: required"},
      {"UpdateUnknownVip",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) {
           *r.mutable_key() = Key("192.0.2.77", 80);
         });
       },
       Code::NOT_FOUND, "key: no VIP 192.0.2.77:80/tcp"},
      {"UpdateBadRingSize",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) {
           r.mutable_settings()->set_ring_size(4);
         });
       },
       Code::INVALID_ARGUMENT, "settings.ring_size: 4"},
      {"UpdateSynRateLimitAboveTheMaximum",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) {
           r.mutable_settings()->set_syn_rate_limit(4000000000u);
         });
       },
       Code::INVALID_ARGUMENT, "settings.syn_rate_limit: 4000000000 exceeds"},
      {"UpdateAnnounceMinHealthyTooLarge",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) {
           r.mutable_settings()->set_announce_min_healthy(4000000000u);
         });
       },
       Code::INVALID_ARGUMENT, "settings.announce_min_healthy: 4000000000"},
      {"UpdateWithStaleGeneration",
       [](Stub& stub) {
         return UpdateVip(stub, [](v1::UpdateVipRequest& r) {
           r.set_expected_generation(99);
         });
       },
       Code::FAILED_PRECONDITION, "expected_generation: 99"},
      {"DeleteUnknownVip",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::DeleteVipRequest request;
         *request.mutable_key() = Key("192.0.2.1", 81);
         v1::DeleteVipResponse response;
         return stub.DeleteVip(&context, request, &response);
       },
       Code::NOT_FOUND, "key: no VIP 192.0.2.1:81/tcp"},
      {"DeleteBadProtocol",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::DeleteVipRequest request;
         *request.mutable_key() =
             Key("192.0.2.1", 80, v1::PROTOCOL_UNSPECIFIED);
         v1::DeleteVipResponse response;
         return stub.DeleteVip(&context, request, &response);
       },
       Code::INVALID_ARGUMENT, "key.protocol: required"},
      BackendsCase("NoBackendChanges", {}, Code::INVALID_ARGUMENT,
                   "changes: empty"),
      BackendsCase("BackendChangeWithoutKind", {NoChange(kWeb, "198.51.100.1")},
                   Code::INVALID_ARGUMENT, "changes[0].change: required"),
      BackendsCase("BackendChangeWithoutVip", {[] {
                     v1::BackendChange c = Remove(kWeb, "198.51.100.1");
                     c.clear_vip();
                     return c;
                   }()},
                   Code::INVALID_ARGUMENT, "changes[0].vip: required"),
      BackendsCase("BackendChangeBadAddress", {Remove(kWeb, "198.51.100.256")},
                   Code::INVALID_ARGUMENT,
                   "changes[0].address: \"198.51.100.256\""),
      BackendsCase("BackendChangeBadVipPort",
                   {Remove(Key("192.0.2.1", 99999), "198.51.100.1")},
                   Code::INVALID_ARGUMENT, "changes[0].vip.port: 99999"),
      BackendsCase("AddToUnknownVip",
                   {Add(Key("192.0.2.1", 81), "198.51.100.5")}, Code::NOT_FOUND,
                   "changes[0].vip: no VIP 192.0.2.1:81/tcp"),
      BackendsCase("AddExistingBackend", {Add(kWeb, "198.51.100.1")},
                   Code::ALREADY_EXISTS,
                   "changes[0].address: 198.51.100.1 is already a backend"),
      BackendsCase("AddWeightTooHigh", {Add(kWeb, "198.51.100.5", 65536)},
                   Code::INVALID_ARGUMENT, "changes[0].add.weight: 65536"),
      BackendsCase("AddWithOverridePortAbove65535", {[] {
                     v1::BackendChange c = Add(kChecked, "198.51.100.5");
                     c.mutable_add()->mutable_health_override()->set_port(
                         65536);
                     return c;
                   }()},
                   Code::INVALID_ARGUMENT,
                   "changes[0].add.health_override.port: 65536 exceeds 65535"),
      BackendsCase("AddWithOverrideTooShortForTheCheck", {[] {
                     v1::BackendChange c = Add(kChecked, "198.51.100.5");
                     c.mutable_add()
                         ->mutable_health_override()
                         ->mutable_timeout()
                         ->set_seconds(9);
                     return c;
                   }()},
                   Code::INVALID_ARGUMENT,
                   "changes[0].add.health_override.timeout: 9s exceeds "
                   "interval 5s (the health check's)"),
      BackendsCase("AddIpv4ToIpv6Vip", {Add(kWeb6, "198.51.100.5")},
                   Code::INVALID_ARGUMENT, "changes[0].address: IPv4 backend"),
      BackendsCase("RemoveUnknownBackend", {Remove(kWeb, "198.51.100.99")},
                   Code::NOT_FOUND,
                   "changes[0].address: 198.51.100.99 is not a backend"),
      BackendsCase("DrainUnknownBackend", {Drain(kWeb, "198.51.100.99")},
                   Code::NOT_FOUND, "changes[0].address: 198.51.100.99"),
      BackendsCase("WeightTooHigh", {Weight(kWeb, "198.51.100.1", 100000)},
                   Code::INVALID_ARGUMENT, "changes[0].set_weight: 100000"),
      BackendsCase("WeightOfUnknownBackend", {Weight(kWeb, "198.51.100.98", 2)},
                   Code::NOT_FOUND, "changes[0].address: 198.51.100.98"),
      BackendsCase("LaterChangeFailsSoEarlierOnesDoNotApply",
                   {Add(kWeb, "198.51.100.5"), Remove(kWeb, "198.51.100.1"),
                    Remove(kWeb, "198.51.100.77")},
                   Code::NOT_FOUND, "changes[2].address: 198.51.100.77"),
      BackendsCase("AddSameBackendTwiceInOneBatch",
                   {Add(kWeb, "198.51.100.5"), Add(kWeb, "198.51.100.5")},
                   Code::ALREADY_EXISTS, "changes[1].address: 198.51.100.5"),
      {"BackendsWithStaleGeneration",
       [](Stub& stub) {
         return Backends(stub, {Add(kWeb, "198.51.100.5")}, 0);
       },
       Code::FAILED_PRECONDITION, "expected_generation: 0"},
      {"SetConfigWithoutConfig",
       [](Stub& stub) {
         return SetConfig(stub,
                          [](v1::SetConfigRequest& r) { r.clear_config(); });
       },
       Code::INVALID_ARGUMENT, "config: required"},
      {"SetConfigRepeatedVip",
       [](Stub& stub) {
         return SetConfig(stub, [](v1::SetConfigRequest& r) {
           *r.mutable_config()->add_vips() = Vip(kWeb);
         });
       },
       Code::INVALID_ARGUMENT, "config.vips[1].key: 192.0.2.1:80/tcp repeats"},
      {"SetConfigBadBackend",
       [](Stub& stub) {
         return SetConfig(stub, [](v1::SetConfigRequest& r) {
           r.mutable_config()->mutable_vips(0)->add_backends()->set_address(
               "x");
         });
       },
       Code::INVALID_ARGUMENT, "config.vips[0].backends[1].address: \"x\""},
      {"SetConfigAnnounceMinHealthyTooLarge",
       [](Stub& stub) {
         return SetConfig(stub, [](v1::SetConfigRequest& r) {
           r.mutable_config()
               ->mutable_vips(0)
               ->mutable_settings()
               ->set_announce_min_healthy(100);
         });
       },
       Code::INVALID_ARGUMENT,
       "config.vips[0].settings.announce_min_healthy: 100"},
      {"SetConfigTooManyVips",
       [](Stub& stub) {
         return SetConfig(stub, [](v1::SetConfigRequest& r) {
           for (int i = 10; i < 30; ++i) {
             *r.mutable_config()->add_vips() =
                 Vip(Key("192.0.2." + std::to_string(i), 80));
           }
         });
       },
       Code::RESOURCE_EXHAUSTED, "max_vips is 16"},
      {"SetConfigWithStaleGeneration",
       [](Stub& stub) {
         return SetConfig(stub, [](v1::SetConfigRequest& r) {
           r.set_expected_generation(2);
         });
       },
       Code::FAILED_PRECONDITION, "expected_generation: 2"},
      {"SetVipWithoutVip",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::SetVipResponse response;
         return stub.SetVip(&context, v1::SetVipRequest(), &response);
       },
       Code::INVALID_ARGUMENT, "vip: required"},
      {"SetVipBadPort",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::SetVipRequest request;
         *request.mutable_vip() = Vip(Key("192.0.2.1", 1 << 20));
         v1::SetVipResponse response;
         return stub.SetVip(&context, request, &response);
       },
       Code::INVALID_ARGUMENT, "vip.key.port: 1048576"},
      {"GetUnknownVip",
       [](Stub& stub) {
         grpc::ClientContext context;
         v1::GetVipRequest request;
         *request.mutable_key() = Key("192.0.2.1", 80, v1::PROTOCOL_UDP);
         v1::GetVipResponse response;
         return stub.GetVip(&context, request, &response);
       },
       Code::NOT_FOUND, "key: no VIP 192.0.2.1:80/udp"},
  };
  return cases;
}

class InvalidRequestTest : public ::testing::TestWithParam<Case> {};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_P(InvalidRequestTest, IsRefusedAndChangesNothing) {
  auto harness = ApiHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  Stub& stub = (*harness)->stub();
  // The baseline: three VIPs, one checked, sharing a backend; generation 3.
  ASSERT_TRUE(
      CreateVip(stub, Vip(kWeb, {"198.51.100.1", "198.51.100.2"})).ok());
  v1::Vip checked = Vip(kChecked, {"198.51.100.2", "2001:db8::7"});
  checked.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_HTTP);
  ASSERT_TRUE(CreateVip(stub, checked).ok());
  ASSERT_TRUE(CreateVip(stub, Vip(kWeb6, {"2001:db8::7"})).ok());

  const v1::GetConfigResponse config_before = GetConfig(stub);
  ASSERT_EQ(config_before.generation(), 3u);
  const InMemoryMaps::Contents maps_before = (*harness)->maps().contents();
  const std::string state_before = ReadFile((*harness)->state_path());

  const Case& c = GetParam();
  grpc::Status status = c.call(stub);
  EXPECT_EQ(status.error_code(), c.code) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr(c.message));

  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      GetConfig(stub), config_before));
  EXPECT_TRUE((*harness)->maps().contents() == maps_before);
  EXPECT_EQ(ReadFile((*harness)->state_path()), state_before);
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidRequestTest,
                         ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(InvalidRequestTableTest, HasAtLeastFiftyDistinctCases) {
  std::set<std::string> names;
  for (const Case& c : Cases()) names.insert(c.name);
  EXPECT_EQ(names.size(), Cases().size());
  EXPECT_GE(names.size(), 50u);
}

}  // namespace
}  // namespace xlb::api
