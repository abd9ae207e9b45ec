// Hostile text, unusable addresses and fields of other check types through
// the real gRPC API. Every string field of a request refuses an embedded
// NUL, control characters, non-ASCII (where its rule says so) and a value
// one byte over its limit with INVALID_ARGUMENT naming the field and the
// cause, and changes nothing (configuration, maps, state file); the value
// exactly at the limit is accepted and stored. The rules themselves are
// lb/base/field_rules.h.
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"
#include "lb/base/field_rules.h"
#include "lb/state/state.h"

namespace xlb::api {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders
using namespace xlb::api::testing;    // NOLINT: the API fixture
using ::testing::HasSubstr;
using Stub = v1::LoadBalancer::Stub;

// The baseline every case starts from: one VIP with one backend.
const v1::VipKey kWeb = Key("192.0.2.1", 80);
// The VIP the cases create.
const v1::VipKey kNew = Key("192.0.2.9", 80);

grpc::Status UpdateBackends(Stub& stub, const v1::BackendChange& change) {
  grpc::ClientContext context;
  v1::UpdateBackendsRequest request;
  *request.add_changes() = change;
  v1::UpdateBackendsResponse response;
  return stub.UpdateBackends(&context, request, &response);
}

grpc::Status SetConfig(Stub& stub, const v1::Config& config) {
  grpc::ClientContext context;
  v1::SetConfigRequest request;
  *request.mutable_config() = config;
  v1::SetConfigResponse response;
  return stub.SetConfig(&context, request, &response);
}

const v1::Vip* FindVip(const v1::Config& config, const v1::VipKey& key) {
  for (const v1::Vip& vip : config.vips()) {
    if (vip.key().address() == key.address() &&
        vip.key().port() == key.port()) {
      return &vip;
    }
  }
  return nullptr;
}

// kNew with one backend and a health check of `type`, `edit`ed.
v1::Vip CheckedVip(v1::HealthCheckType type,
                   const std::function<void(v1::HealthCheck&)>& edit) {
  v1::Vip vip = Vip(kNew, {"198.51.100.1"});
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(type);
  if (type == v1::HEALTH_CHECK_TYPE_UDP && edit == nullptr) {
    hc->set_udp_request("ping");
  }
  if (edit) edit(*hc);
  return vip;
}

// One request against the baseline: what it must answer, and, when it is
// accepted, what GetConfig must then read back.
struct Case {
  std::string name;
  std::function<grpc::Status(Stub&)> call;
  bool accepted = false;
  std::string message;  // a substring of the error (refused cases)
  std::function<std::string(const v1::Config&)> stored;  // accepted cases
  std::string expected_stored;
};

// A string field: how a value reaches it, where it lands, its limit.
struct Field {
  std::string name;  // for test names
  std::string path;  // as error messages name it
  std::function<grpc::Status(Stub&, const std::string&)> send;
  std::function<std::string(const v1::Config&)> stored;
  std::string at_limit;
  std::string at_limit_stored;  // as GetConfig returns it
  std::string over_limit;
  std::string over_limit_cause;
  std::string base;  // a valid value, spoiled by the hostile cases
  bool any_byte = false;
  bool text = false;  // non-ASCII, CR and LF allowed
};

std::string StoredAddressOf(const v1::Config& config, const v1::VipKey& key,
                            int backend) {
  const v1::Vip* vip = FindVip(config, key);
  if (vip == nullptr || vip->backends_size() <= backend) return "<absent>";
  return vip->backends(backend).address();
}

std::string StoredCheckField(const v1::Config& config,
                             std::string (*read)(const v1::HealthCheck&)) {
  const v1::Vip* vip = FindVip(config, kNew);
  if (vip == nullptr) return "<absent>";
  return read(vip->settings().health_check());
}

// A health-check field of `type` set to the value sent. `any_byte`: a
// binary field, whose only limit is its length.
Field CheckField(std::string name, v1::HealthCheckType type,
                 void (*set)(v1::HealthCheck&, const std::string&),
                 std::string (*read)(const v1::HealthCheck&), size_t limit,
                 std::string base, char filler, bool any_byte = false) {
  std::string at_limit = base + std::string(limit - base.size(), filler);
  std::string over = at_limit + filler;
  const std::string size =
      absl::StrCat(limit + 1, " bytes, over the limit of ", limit);
  return Field{
      .name = name,
      .path = "vip.settings.health_check." + name,
      .send =
          [type, set](Stub& stub, const std::string& value) {
            return CreateVip(stub, CheckedVip(type, [&](v1::HealthCheck& hc) {
                               if (type == v1::HEALTH_CHECK_TYPE_UDP) {
                                 hc.set_udp_request("ping");
                               }
                               set(hc, value);
                             }));
          },
      .stored =
          [read](const v1::Config& c) { return StoredCheckField(c, read); },
      .at_limit = at_limit,
      .at_limit_stored = at_limit,
      .over_limit = over,
      .over_limit_cause =
          any_byte ? size : absl::StrCat(QuoteValue(over), " is ", size),
      .base = base,
      .any_byte = any_byte,
  };
}

std::vector<Field> Fields() {
  const std::string longest_address =
      "2001:0db8:ffff:ffff:ffff:ffff:255.255.255.255";
  const std::string longest_stored = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string too_long_address = longest_address + "5";
  const std::string address_too_long_cause =
      QuoteValue(too_long_address) +
      " is 46 bytes; the longest IPv4 or IPv6 address is 45";
  const v1::VipKey longest_key = Key(longest_stored, 80);

  std::vector<Field> fields = {
      {.name = "VipAddress",
       .path = "vip.key.address",
       .send =
           [](Stub& stub, const std::string& value) {
             return CreateVip(stub, Vip(Key(value, 80), {"2001:db8::7"}));
           },
       .stored =
           [longest_key](const v1::Config& c) {
             const v1::Vip* vip = FindVip(c, longest_key);
             return vip == nullptr ? "<absent>" : vip->key().address();
           },
       .at_limit = longest_address,
       .at_limit_stored = longest_stored,
       .over_limit = too_long_address,
       .over_limit_cause = address_too_long_cause,
       .base = "192.0.2.40"},
      {.name = "BackendAddress",
       .path = "vip.backends[0].address",
       .send =
           [](Stub& stub, const std::string& value) {
             v1::Vip vip = Vip(kNew);
             vip.add_backends()->set_address(value);
             return CreateVip(stub, vip);
           },
       .stored =
           [](const v1::Config& c) { return StoredAddressOf(c, kNew, 0); },
       .at_limit = longest_address,
       .at_limit_stored = longest_stored,
       .over_limit = too_long_address,
       .over_limit_cause = address_too_long_cause,
       .base = "198.51.100.99"},
      {.name = "AddedBackendAddress",
       .path = "changes[0].address",
       .send =
           [](Stub& stub, const std::string& value) {
             return UpdateBackends(stub, Add(kWeb, value));
           },
       .stored =
           [](const v1::Config& c) { return StoredAddressOf(c, kWeb, 1); },
       .at_limit = longest_address,
       .at_limit_stored = longest_stored,
       .over_limit = too_long_address,
       .over_limit_cause = address_too_long_cause,
       .base = "198.51.100.99"},
      {.name = "SetConfigBackendAddress",
       .path = "config.vips[0].backends[1].address",
       .send =
           [](Stub& stub, const std::string& value) {
             v1::Config config;
             v1::Vip* vip = config.add_vips();
             *vip = Vip(kWeb, {"198.51.100.1"});
             vip->add_backends()->set_address(value);
             return SetConfig(stub, config);
           },
       .stored =
           [](const v1::Config& c) { return StoredAddressOf(c, kWeb, 1); },
       .at_limit = longest_address,
       .at_limit_stored = longest_stored,
       .over_limit = too_long_address,
       .over_limit_cause = address_too_long_cause,
       .base = "198.51.100.99"},
      CheckField(
          "http_path", v1::HEALTH_CHECK_TYPE_HTTP,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_http_path(v);
          },
          [](const v1::HealthCheck& hc) { return hc.http_path(); },
          kMaxHttpPathBytes, "/healthz", 'p'),
      CheckField(
          "http_host", v1::HEALTH_CHECK_TYPE_HTTPS,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_http_host(v);
          },
          [](const v1::HealthCheck& hc) { return hc.http_host(); },
          kMaxHttpHostBytes, "www.example", 'h'),
      CheckField(
          "http_body_substring", v1::HEALTH_CHECK_TYPE_HTTP,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_http_body_substring(v);
          },
          [](const v1::HealthCheck& hc) { return hc.http_body_substring(); },
          kMaxHttpBodySubstringBytes, "status: ok", 'b'),
      CheckField(
          "grpc_service", v1::HEALTH_CHECK_TYPE_GRPC,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_grpc_service(v);
          },
          [](const v1::HealthCheck& hc) { return hc.grpc_service(); },
          kMaxGrpcServiceBytes, "my.Service", 's'),
      CheckField(
          "udp_request", v1::HEALTH_CHECK_TYPE_UDP,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_udp_request(v);
          },
          [](const v1::HealthCheck& hc) { return hc.udp_request(); },
          kMaxUdpProbeBytes, "ping", 'u', /*any_byte=*/true),
      CheckField(
          "udp_response", v1::HEALTH_CHECK_TYPE_UDP,
          [](v1::HealthCheck& hc, const std::string& v) {
            hc.set_udp_response(v);
          },
          [](const v1::HealthCheck& hc) { return hc.udp_response(); },
          kMaxUdpProbeBytes, "pong", 'u', /*any_byte=*/true),
  };
  // Body text may be any language and span lines.
  for (Field& f : fields) {
    if (f.name == "http_body_substring") f.text = true;
  }
  return fields;
}

std::vector<Case> StringCases() {
  std::vector<Case> cases;
  for (const Field& f : Fields()) {
    // `cause` follows the field's path in the message.
    auto add = [&](std::string kind, std::string value, bool accepted,
                   std::string cause) {
      cases.push_back(Case{
          .name = f.name + "_" + kind,
          .call = [send = f.send,
                   value](Stub& stub) { return send(stub, value); },
          .accepted = accepted,
          .message = f.path + ": " + cause,
          .stored = f.stored,
          .expected_stored = value == f.at_limit ? f.at_limit_stored : value,
      });
    };
    // A value made of `base` and a hostile tail, refused for `what`.
    auto spoil = [&](std::string kind, std::string tail, bool accepted,
                     std::string what) {
      const std::string value = f.base + tail;
      add(kind, value, accepted,
          absl::StrCat(QuoteValue(value), " holds ", what, " at offset ",
                       f.base.size()));
    };
    add("AtTheLimit", f.at_limit, true, "");
    add("OneByteOverTheLimit", f.over_limit, false, f.over_limit_cause);
    spoil("EmbeddedNul", std::string("\0evil", 5), f.any_byte, "a NUL byte");
    spoil("NonAscii", "\xd9\xa0", f.any_byte || f.text,
          "a non-ASCII byte (0xd9)");
    spoil("EscapeSequence", "\x1b[2J", f.any_byte,
          "a control character (0x1b)");
    spoil("HeaderInjection", "\r\nX-Injected: 1", f.any_byte || f.text,
          "a control character (0x0d)");
  }
  return cases;
}

// Addresses no packet can reach, in every place an address goes.
std::vector<Case> AddressCases() {
  struct Unusable {
    const char* name;
    const char* address;
    const char* cause;
  } unusable[] = {
      {"Unspecified4", "0.0.0.0", "0.0.0.0 is the unspecified address"},
      {"ThisNetwork", "0.0.0.7", "0.0.0.7 is in 0.0.0.0/8"},
      {"Unspecified6", "::", ":: is the unspecified address"},
      {"Broadcast", "255.255.255.255",
       "255.255.255.255 is the broadcast address"},
      {"Multicast4", "224.0.0.5", "224.0.0.5 is a multicast address"},
      {"Multicast6", "ff05::2", "ff05::2 is a multicast address"},
      {"Loopback4", "127.0.0.1", "127.0.0.1 is a loopback address"},
      {"Loopback4Other", "127.1.2.3", "127.1.2.3 is a loopback address"},
      {"Loopback6", "::1", "::1 is the loopback address"},
      {"LinkLocal4", "169.254.10.1", "169.254.10.1 is a link-local address"},
      {"LinkLocal6", "fe80::1", "fe80::1 is a link-local address"},
      {"Ipv4Mapped", "::ffff:198.51.100.1",
       "::ffff:198.51.100.1 is an IPv4-mapped address, which never appears "
       "on the wire: write it as 198.51.100.1"},
  };
  std::vector<Case> cases;
  for (const Unusable& u : unusable) {
    const std::string address = u.address;
    const bool v6 = address.find(':') != std::string::npos;
    cases.push_back(Case{
        .name = absl::StrCat("Vip", u.name),
        .call =
            [address, v6](Stub& stub) {
              return CreateVip(
                  stub,
                  Vip(Key(address, 80), {v6 ? "2001:db8::7" : "198.51.100.1"}));
            },
        .message = absl::StrCat("vip.key.address: ", u.cause)});
    cases.push_back(
        Case{.name = absl::StrCat("Backend", u.name),
             .call =
                 [address](Stub& stub) {
                   v1::Vip vip = Vip(kNew, {"198.51.100.1"});
                   vip.add_backends()->set_address(address);
                   return CreateVip(stub, vip);
                 },
             .message = absl::StrCat("vip.backends[1].address: ", u.cause)});
    cases.push_back(
        Case{.name = absl::StrCat("AddedBackend", u.name),
             .call =
                 [address](Stub& stub) {
                   return UpdateBackends(stub, Add(kWeb, address));
                 },
             .message = absl::StrCat("changes[0].address: ", u.cause)});
  }
  cases.push_back(Case{
      .name = "BackendIsItsOwnVip",
      .call =
          [](Stub& stub) {
            return CreateVip(stub, Vip(kNew, {"198.51.100.1", "192.0.2.9"}));
          },
      .message = "vip.backends[1].address: 192.0.2.9 is the VIP's own "
                 "address"});
  cases.push_back(Case{
      .name = "AddedBackendIsItsOwnVip",
      .call =
          [](Stub& stub) {
            return UpdateBackends(stub, Add(kWeb, "192.0.2.1"));
          },
      .message = "changes[0].address: 192.0.2.1 is the VIP's own address"});
  return cases;
}

// Each check-type-specific field on a check of another type.
std::vector<Case> CheckTypeCases() {
  struct Misplaced {
    const char* name;
    v1::HealthCheckType type;
    void (*set)(v1::HealthCheck&);
    const char* message;
  } misplaced[] = {
      {"HttpPathOnTcp", v1::HEALTH_CHECK_TYPE_TCP,
       [](v1::HealthCheck& hc) { hc.set_http_path("/healthz"); },
       "http_path: \"/healthz\": only http and https checks send a request "
       "path, this one is tcp"},
      {"HttpPathOnGrpc", v1::HEALTH_CHECK_TYPE_GRPC,
       [](v1::HealthCheck& hc) { hc.set_http_path("/"); },
       "http_path: \"/\": only http and https checks send a request path, "
       "this one is grpc"},
      {"HttpHostOnUdp", v1::HEALTH_CHECK_TYPE_UDP,
       [](v1::HealthCheck& hc) {
         hc.set_udp_request("ping");
         hc.set_http_host("www.example");
       },
       "http_host: \"www.example\": only http and https checks send a Host "
       "header, this one is udp"},
      {"HttpCodesOnTcp", v1::HEALTH_CHECK_TYPE_TCP,
       [](v1::HealthCheck& hc) { hc.add_http_expected_codes(200); },
       "http_expected_codes: [200]: only http and https checks read a status "
       "code, this one is tcp"},
      {"HttpBodyOnGrpc", v1::HEALTH_CHECK_TYPE_GRPC,
       [](v1::HealthCheck& hc) { hc.set_http_body_substring("ok"); },
       "http_body_substring: \"ok\": only http and https checks read a body, "
       "this one is grpc"},
      {"UdpRequestOnHttp", v1::HEALTH_CHECK_TYPE_HTTP,
       [](v1::HealthCheck& hc) { hc.set_udp_request("ping"); },
       "udp_request: 4 bytes: only a udp check sends a datagram, this one is "
       "http"},
      {"UdpResponseOnTcp", v1::HEALTH_CHECK_TYPE_TCP,
       [](v1::HealthCheck& hc) { hc.set_udp_response("pong!"); },
       "udp_response: 5 bytes: only a udp check reads a reply, this one is "
       "tcp"},
      {"GrpcServiceOnHttps", v1::HEALTH_CHECK_TYPE_HTTPS,
       [](v1::HealthCheck& hc) { hc.set_grpc_service("my.Service"); },
       "grpc_service: \"my.Service\": only a grpc check asks about a service, "
       "this one is https"},
      {"HttpsVerifyOnHttp", v1::HEALTH_CHECK_TYPE_HTTP,
       [](v1::HealthCheck& hc) { hc.set_https_verify(true); },
       "https_verify: true: only an https check verifies certificates, this "
       "one is http"},
  };
  std::vector<Case> cases;
  for (const Misplaced& m : misplaced) {
    cases.push_back(
        Case{.name = m.name,
             .call =
                 [m](Stub& stub) {
                   return CreateVip(stub, CheckedVip(m.type, m.set));
                 },
             .message = absl::StrCat("vip.settings.health_check.", m.message)});
  }
  // An explicit zero is taken as given, never as "the default".
  cases.push_back(Case{
      .name = "ExplicitZeroTimeout",
      .call =
          [](Stub& stub) {
            return CreateVip(
                stub,
                CheckedVip(v1::HEALTH_CHECK_TYPE_TCP, [](v1::HealthCheck& hc) {
                  hc.mutable_timeout()->set_seconds(0);
                }));
          },
      .message = "vip.settings.health_check.timeout: 0 is outside (0, "
                 "interval 5s]; leave it unset for the default 2s"});
  cases.push_back(Case{
      .name = "ExplicitZeroInterval",
      .call =
          [](Stub& stub) {
            return CreateVip(
                stub,
                CheckedVip(v1::HEALTH_CHECK_TYPE_TCP, [](v1::HealthCheck& hc) {
                  hc.mutable_interval()->set_seconds(0);
                }));
          },
      .message = "vip.settings.health_check.interval: 0 is outside [100ms, "
                 "1h]; leave it unset for the default 5s"});
  return cases;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ApiFieldTest : public ::testing::TestWithParam<Case> {};

TEST_P(ApiFieldTest, IsRefusedNamingFieldAndCauseOrStoredAsGiven) {
  auto harness = ApiHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  Stub& stub = (*harness)->stub();
  ASSERT_TRUE(CreateVip(stub, Vip(kWeb, {"198.51.100.1"})).ok());
  const v1::GetConfigResponse config_before = GetConfig(stub);
  const InMemoryMaps::Contents maps_before = (*harness)->maps().contents();
  const std::string state_before = ReadFile((*harness)->state_path());

  const Case& c = GetParam();
  const grpc::Status status = c.call(stub);
  if (c.accepted) {
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(c.stored(GetConfig(stub).config()), c.expected_stored);
    return;
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      GetConfig(stub), config_before));
  EXPECT_TRUE((*harness)->maps().contents() == maps_before);
  EXPECT_EQ(ReadFile((*harness)->state_path()), state_before);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(HostileStrings, ApiFieldTest,
                         ::testing::ValuesIn(StringCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(UnusableAddresses, ApiFieldTest,
                         ::testing::ValuesIn(AddressCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(OtherCheckTypesFields, ApiFieldTest,
                         ::testing::ValuesIn(CheckTypeCases()), CaseName);

// What GetConfig returns for a check of any type, SetConfig takes back
// unchanged: no type carries another's defaults.
TEST(ApiFieldRoundTripTest, EveryCheckTypeWritesBackUnchanged) {
  auto harness = ApiHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  Stub& stub = (*harness)->stub();
  v1::Config config;
  uint32_t port = 80;
  for (v1::HealthCheckType type :
       {v1::HEALTH_CHECK_TYPE_TCP, v1::HEALTH_CHECK_TYPE_HTTP,
        v1::HEALTH_CHECK_TYPE_HTTPS, v1::HEALTH_CHECK_TYPE_UDP,
        v1::HEALTH_CHECK_TYPE_GRPC}) {
    v1::Vip* vip = config.add_vips();
    *vip = CheckedVip(type, nullptr);
    vip->mutable_key()->set_port(port++);
  }
  ASSERT_TRUE(SetConfig(stub, config).ok());
  const v1::GetConfigResponse got = GetConfig(stub);
  for (const v1::Vip& vip : got.config().vips()) {
    const v1::HealthCheck& hc = vip.settings().health_check();
    if (hc.type() != v1::HEALTH_CHECK_TYPE_HTTP &&
        hc.type() != v1::HEALTH_CHECK_TYPE_HTTPS) {
      EXPECT_EQ(hc.http_path(), "") << hc.type();
      EXPECT_EQ(hc.http_expected_codes_size(), 0) << hc.type();
    }
  }
  grpc::ClientContext context;
  v1::SetConfigRequest again;
  *again.mutable_config() = got.config();
  again.set_expected_generation(got.generation());
  v1::SetConfigResponse response;
  ASSERT_TRUE(stub.SetConfig(&context, again, &response).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      GetConfig(stub).config(), got.config()));
}

// A state file is read by the same rules: one holding an embedded NUL stops
// the agent naming the field; one from an earlier agent, which stored the
// HTTP defaults on every check, loads without them.
TEST(StateFileFieldTest, IsReadByTheSameRules) {
  auto harness = ApiHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  (*harness)->Stop();
  StateFile file((*harness)->state_path());

  v1::PersistedState hostile;
  hostile.set_generation(4);
  *hostile.mutable_config()->add_vips() =
      Vip(Key(std::string("192.0.2.40\0junk", 15), 80), {"198.51.100.1"});
  ASSERT_TRUE(file.Save(hostile).ok());
  absl::Status refused = (*harness)->Restart();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(),
              HasSubstr("config.vips[0].key.address: \"192.0.2.40\\x00junk\" "
                        "holds a NUL byte at offset 10"));

  v1::PersistedState earlier;
  earlier.set_generation(7);
  v1::Vip* vip = earlier.mutable_config()->add_vips();
  *vip = Vip(kWeb, {"198.51.100.1"});
  v1::HealthCheck* hc = vip->mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_TCP);
  hc->set_http_path("/");
  hc->add_http_expected_codes(200);
  ASSERT_TRUE(file.Save(earlier).ok());
  ASSERT_TRUE((*harness)->Restart().ok());
  const v1::GetConfigResponse got = GetConfig((*harness)->stub());
  EXPECT_EQ(got.generation(), 7u);
  ASSERT_EQ(got.config().vips_size(), 1);
  const v1::HealthCheck& loaded =
      got.config().vips(0).settings().health_check();
  EXPECT_EQ(loaded.type(), v1::HEALTH_CHECK_TYPE_TCP);
  EXPECT_EQ(loaded.http_path(), "");
  EXPECT_EQ(loaded.http_expected_codes_size(), 0);
}

}  // namespace
}  // namespace xlb::api
