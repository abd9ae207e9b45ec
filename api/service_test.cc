// xlb.v1 through a real gRPC client on the server's real Unix socket, over
// in-memory maps: every call's effect on the configuration, the maps, the
// state file and the event stream.
#include "api/service.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/impl/codegen/sync_stream.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"
#include "lb/maglev/maglev.h"
#include "lb/state/state.h"

namespace xlb::api {
namespace {

using ::testing::HasSubstr;
using namespace xlb::agent::testing;  // NOLINT: request builders
using namespace xlb::api::testing;    // NOLINT: the API fixture

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = ApiHarness::Start();
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
  }

  v1::LoadBalancer::Stub& stub() { return harness_->stub(); }

  grpc::Status CreateVip(const v1::Vip& vip) {
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = vip;
    v1::CreateVipResponse response;
    return stub().CreateVip(&context, request, &response);
  }
  grpc::Status UpdateBackends(std::vector<v1::BackendChange> changes,
                              v1::UpdateBackendsResponse* out = nullptr) {
    grpc::ClientContext context;
    v1::UpdateBackendsRequest request;
    for (auto& c : changes) *request.add_changes() = c;
    v1::UpdateBackendsResponse response;
    grpc::Status status = stub().UpdateBackends(&context, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }
  v1::GetConfigResponse GetConfig() {
    grpc::ClientContext context;
    v1::GetConfigResponse response;
    EXPECT_TRUE(stub().GetConfig(&context, {}, &response).ok());
    return response;
  }

  const v1::VipKey web_ = Key("192.0.2.1", 80);
  const v1::VipKey dns_ = Key("192.0.2.2", 53, v1::PROTOCOL_UDP);
  std::unique_ptr<ApiHarness> harness_;
};

bool Equal(const google::protobuf::Message& a,
           const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

TEST_F(ServiceTest, CreatedVipIsListedAndWrittenToTheMaps) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1", "198.51.100.2"})).ok());
  grpc::ClientContext context;
  v1::GetVipRequest request;
  *request.mutable_key() = web_;
  v1::GetVipResponse response;
  ASSERT_TRUE(stub().GetVip(&context, request, &response).ok());
  EXPECT_EQ(response.vip().backends_size(), 2);
  EXPECT_EQ(response.vip().settings().ring_size(), 65537u);
  EXPECT_EQ(response.generation(), 1u);
  EXPECT_EQ(harness_->maps().contents().vips.size(), 1u);
  ASSERT_EQ(harness_->maps().contents().rings.size(), 1u);
  EXPECT_EQ(harness_->maps().contents().rings.begin()->second.size(), 65537u);
}

TEST_F(ServiceTest, CreatingAnExistingVipIsAlreadyExists) {
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  grpc::Status status = CreateVip(Vip(web_));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("vip.key: 192.0.2.1:80/tcp"));
}

TEST_F(ServiceTest, DeletedVipLeavesTheMaps) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  grpc::ClientContext context;
  v1::DeleteVipRequest request;
  *request.mutable_key() = web_;
  v1::DeleteVipResponse response;
  ASSERT_TRUE(stub().DeleteVip(&context, request, &response).ok());
  EXPECT_TRUE(harness_->maps().contents().vips.empty());
  EXPECT_TRUE(harness_->maps().contents().rings.empty());
  grpc::ClientContext again;
  EXPECT_EQ(stub().DeleteVip(&again, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, UpdateVipReplacesSettingsAndKeepsBackends) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  grpc::ClientContext context;
  v1::UpdateVipRequest request;
  *request.mutable_key() = web_;
  request.mutable_settings()->set_ring_size(1021);
  request.mutable_settings()->set_hash_mode(v1::HASH_MODE_NO_SOURCE_PORT);
  v1::UpdateVipResponse response;
  ASSERT_TRUE(stub().UpdateVip(&context, request, &response).ok());
  const v1::Vip vip = GetConfig().config().vips(0);
  EXPECT_EQ(vip.settings().ring_size(), 1021u);
  EXPECT_EQ(vip.backends_size(), 1);
  EXPECT_EQ(harness_->maps().contents().rings.begin()->second.size(), 1021u);
  EXPECT_EQ(harness_->maps().contents().vips.begin()->second.flags,
            XLB_VIP_F_HASH_NO_SRC_PORT);
}

TEST_F(ServiceTest, BatchedBackendChangesRebuildEachRingOnce) {
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  ASSERT_TRUE(CreateVip(Vip(dns_)).ok());
  const uint64_t rings_before = harness_->maps().set_ring_count();
  std::vector<v1::BackendChange> changes;
  for (int i = 1; i <= 30; ++i) {
    changes.push_back(Add(web_, "198.51.100." + std::to_string(i)));
    changes.push_back(Add(dns_, "203.0.113." + std::to_string(i)));
  }
  v1::UpdateBackendsResponse response;
  ASSERT_TRUE(UpdateBackends(changes, &response).ok());
  EXPECT_EQ(harness_->maps().set_ring_count(), rings_before + 2);
  EXPECT_EQ(response.generation(), 3u);
  EXPECT_EQ(GetConfig().config().vips(0).backends_size(), 30);
}

TEST_F(ServiceTest, DrainWeightAndRemoveReachTheMaps) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1", "198.51.100.2"})).ok());
  ASSERT_TRUE(UpdateBackends({Drain(web_, "198.51.100.1")}).ok());
  bool draining = false;
  for (const auto& [index, entry] : harness_->maps().contents().backends) {
    draining |= entry.state == XLB_BACKEND_DRAINING;
  }
  EXPECT_TRUE(draining);
  ASSERT_TRUE(UpdateBackends({Drain(web_, "198.51.100.1", false),
                              Weight(web_, "198.51.100.2", 3)})
                  .ok());
  const v1::Vip vip = GetConfig().config().vips(0);
  EXPECT_FALSE(vip.backends(0).drained());
  EXPECT_EQ(vip.backends(1).weight(), 3u);
  ASSERT_TRUE(UpdateBackends({Remove(web_, "198.51.100.1")}).ok());
  EXPECT_EQ(GetConfig().config().vips(0).backends_size(), 1);
}

TEST_F(ServiceTest, SetConfigRoundTripsThroughGetConfig) {
  v1::SetConfigRequest request;
  v1::Vip* vip = request.mutable_config()->add_vips();
  *vip = Vip(web_, {"198.51.100.1", "2001:db8::5"});
  v1::HealthCheck* hc = vip->mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_HTTP);
  hc->set_http_path("/healthz");
  hc->mutable_interval()->set_seconds(2);
  hc->mutable_timeout()->set_nanos(500000000);
  *request.mutable_config()->add_vips() = Vip(dns_, {"203.0.113.1"});
  grpc::ClientContext context;
  v1::SetConfigResponse response;
  ASSERT_TRUE(stub().SetConfig(&context, request, &response).ok());

  const v1::GetConfigResponse got = GetConfig();
  EXPECT_EQ(got.generation(), response.generation());
  // Writing back what GetConfig returned changes nothing.
  v1::SetConfigRequest again;
  *again.mutable_config() = got.config();
  again.set_expected_generation(got.generation());
  grpc::ClientContext context2;
  ASSERT_TRUE(stub().SetConfig(&context2, again, &response).ok());
  EXPECT_EQ(response.generation(), got.generation());
  EXPECT_TRUE(Equal(GetConfig().config(), got.config()));
  EXPECT_EQ(got.config().vips(0).settings().health_check().http_path(),
            "/healthz");
}

TEST_F(ServiceTest,
       StaleExpectedGenerationIsFailedPreconditionAndChangesNothing) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  v1::SetVipRequest request;
  *request.mutable_vip() = Vip(web_, {"198.51.100.9"});
  request.set_expected_generation(0);
  grpc::ClientContext context;
  v1::SetVipResponse response;
  grpc::Status status = stub().SetVip(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("expected_generation: 0"));
  EXPECT_EQ(GetConfig().config().vips(0).backends(0).address(), "198.51.100.1");
  request.set_expected_generation(1);
  grpc::ClientContext context2;
  ASSERT_TRUE(stub().SetVip(&context2, request, &response).ok());
  EXPECT_EQ(response.generation(), 2u);
}

TEST_F(ServiceTest, AcknowledgedChangeIsInTheStateFile) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  auto loaded = StateFile(harness_->state_path()).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->generation(), 1u);
  EXPECT_TRUE(Equal((*loaded)->config(), GetConfig().config()));
}

TEST_F(ServiceTest, FailedPersistRollsBackMapsAndConfig) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  const InMemoryMaps::Contents maps_before = harness_->maps().contents();
  const v1::GetConfigResponse config_before = GetConfig();
  std::filesystem::remove_all(harness_->dir() + "/state");  // saving fails

  grpc::Status status =
      UpdateBackends({Add(web_, "198.51.100.2"), Remove(web_, "198.51.100.1")});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("rolled back"));
  EXPECT_TRUE(Equal(GetConfig(), config_before));
  // Same entries; the index briefly given to 198.51.100.2 reads UNUSED.
  InMemoryMaps::Contents after = harness_->maps().contents();
  std::erase_if(after.backends, [&](const auto& e) {
    return !maps_before.backends.contains(e.first) &&
           e.second.state == XLB_BACKEND_UNUSED;
  });
  EXPECT_TRUE(after == maps_before);
}

TEST_F(ServiceTest, RestartKeepsTheConfigurationAndWritesNothing) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1", "198.51.100.2"})).ok());
  ASSERT_TRUE(CreateVip(Vip(dns_, {"198.51.100.2"})).ok());
  const v1::GetConfigResponse before = GetConfig();
  const InMemoryMaps::Contents maps_before = harness_->maps().contents();
  const uint64_t writes = harness_->maps().write_count();
  ASSERT_TRUE(harness_->Restart().ok());
  EXPECT_TRUE(Equal(GetConfig(), before));
  EXPECT_EQ(harness_->maps().write_count(), writes);
  EXPECT_TRUE(harness_->maps().contents() == maps_before);
}

TEST_F(ServiceTest, RestartKeepsHealthOverridesAndHttpsVerify) {
  v1::Vip vip = Vip(web_, {"198.51.100.1", "198.51.100.2"});
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_HTTPS);
  hc->set_https_verify(true);
  v1::HealthOverride* o = vip.mutable_backends(1)->mutable_health_override();
  o->set_port(8443);
  o->set_rise(1);
  o->mutable_interval()->set_seconds(10);
  ASSERT_TRUE(CreateVip(vip).ok());
  const v1::GetConfigResponse before = GetConfig();
  const v1::Vip& stored = before.config().vips(0);
  EXPECT_TRUE(stored.settings().health_check().https_verify());
  EXPECT_FALSE(stored.backends(0).has_health_override());
  EXPECT_EQ(stored.backends(1).health_override().port(), 8443u);
  ASSERT_TRUE(harness_->Restart().ok());
  EXPECT_TRUE(Equal(GetConfig(), before));
}

// The journal's last record (docs/state.md: after the header, records of
// <length> <~length> <SHA-256> <payload>).
v1::StateChange LastJournalRecord(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const std::string journal = s.str();
  size_t offset = kJournalHeader.size();
  std::string payload;
  while (offset + 40 <= journal.size()) {
    uint32_t length = 0;
    std::memcpy(&length, journal.data() + offset, 4);
    payload = journal.substr(offset + 40, length);
    offset += 40 + length;
  }
  v1::StateChange change;
  EXPECT_TRUE(change.ParseFromString(payload));
  return change;
}

TEST_F(ServiceTest, AChangeIsJournaledAsTheVipsItChanged) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  ASSERT_TRUE(CreateVip(Vip(dns_, {"198.51.100.2"})).ok());
  ASSERT_TRUE(UpdateBackends({Add(web_, "198.51.100.3")}).ok());
  const std::string journal = harness_->state_path() + ".journal";
  v1::StateChange change = LastJournalRecord(journal);
  EXPECT_EQ(change.generation(), 3u);
  ASSERT_EQ(change.vips_size(), 1);
  EXPECT_TRUE(Equal(change.vips(0), GetConfig().config().vips(0)));
  EXPECT_EQ(change.deleted_vips_size(), 0);

  grpc::ClientContext context;
  v1::DeleteVipRequest request;
  *request.mutable_key() = dns_;
  v1::DeleteVipResponse response;
  ASSERT_TRUE(stub().DeleteVip(&context, request, &response).ok());
  change = LastJournalRecord(journal);
  EXPECT_EQ(change.generation(), 4u);
  EXPECT_EQ(change.vips_size(), 0);
  ASSERT_EQ(change.deleted_vips_size(), 1);
  EXPECT_TRUE(Equal(change.deleted_vips(0), dns_));
}

TEST_F(ServiceTest, RestartRestoresTheLastAcknowledgedState) {
  // A journal bound this small compacts every few changes.
  ApiHarness::Options options;
  options.state_file.min_journal_bytes = 1;
  auto harness = ApiHarness::Start(options);
  ASSERT_TRUE(harness.ok()) << harness.status();
  harness_ = *std::move(harness);
  const std::string journal = harness_->state_path() + ".journal";
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  bool restarted_with_records = false;
  for (int round = 0; round < 6; ++round) {
    // Changes of every kind: VIPs created and deleted, backends added.
    for (int i = 0; i < 3; ++i) {
      const std::string a = absl::StrCat("198.51.100.", 10 + round * 3 + i);
      ASSERT_TRUE(
          CreateVip(Vip(Key("192.0.2.3", 1000 + round * 3 + i), {a.c_str()}))
              .ok());
      ASSERT_TRUE(UpdateBackends({Add(web_, a)}).ok());
    }
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext context;
      v1::DeleteVipRequest request;
      *request.mutable_key() = Key("192.0.2.3", 1000 + round * 3 + i);
      v1::DeleteVipResponse response;
      ASSERT_TRUE(stub().DeleteVip(&context, request, &response).ok());
    }
    const v1::GetConfigResponse before = GetConfig();
    restarted_with_records |=
        std::filesystem::file_size(journal) > kJournalHeader.size();
    ASSERT_TRUE(harness_->Restart().ok()) << "round " << round;
    EXPECT_TRUE(Equal(GetConfig(), before)) << "round " << round;
  }
  EXPECT_TRUE(restarted_with_records);
  EXPECT_TRUE(std::filesystem::exists(harness_->state_path() + ".prev"));
}

TEST_F(ServiceTest, StateFileOfThePreviousFormatLoads) {
  harness_->Stop();
  std::filesystem::copy_file(XLB_STATE_V1_PATH, harness_->state_path());
  ASSERT_TRUE(harness_->Restart().ok());
  v1::GetConfigResponse config = GetConfig();
  EXPECT_EQ(config.generation(), 12u);
  ASSERT_EQ(config.config().vips_size(), 2);
  const v1::Vip& web = config.config().vips(0);
  EXPECT_EQ(web.key().address(), "192.0.2.1");
  EXPECT_EQ(web.settings().health_check().http_path(), "/healthz");
  ASSERT_EQ(web.backends_size(), 2);
  EXPECT_TRUE(web.backends(1).drained());
  EXPECT_EQ(config.config().vips(1).key().address(), "2001:db8::1");

  ASSERT_TRUE(UpdateBackends({Add(web_, "198.51.100.3")}).ok());
  config = GetConfig();
  EXPECT_EQ(config.generation(), 13u);
  ASSERT_TRUE(harness_->Restart().ok());
  EXPECT_TRUE(Equal(GetConfig(), config));
}

TEST_F(ServiceTest, CorruptStateFileRefusesToStart) {
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  harness_->Stop();
  std::ofstream(harness_->state_path(), std::ios::trunc)
      << "xlb-state 1 5 00\nvips";
  absl::Status status = harness_->Restart();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(".prev"));
}

TEST_F(ServiceTest, SocketIsPrivate) {
  struct stat st;
  ASSERT_EQ(stat(harness_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ServiceTest, StatusReportsBackendHealthAndMapUsage) {
  v1::Vip vip = Vip(web_, {"198.51.100.1", "198.51.100.2"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  ASSERT_TRUE(CreateVip(vip).ok());
  VipKey key{.address = *IpAddress::Parse("192.0.2.1"), .port = 80};
  ASSERT_TRUE(
      harness_->controller()
          .SetHealth(key, *IpAddress::Parse("198.51.100.2"), {.healthy = true})
          .ok());
  grpc::ClientContext context;
  v1::GetStatusResponse status;
  ASSERT_TRUE(stub().GetStatus(&context, {}, &status).ok());
  ASSERT_EQ(status.vips_size(), 1);
  const v1::VipStatus& web = status.vips(0);
  EXPECT_TRUE(web.has_ring());
  EXPECT_FALSE(web.backends(0).healthy());
  EXPECT_EQ(web.backends(0).state(), v1::BACKEND_STATE_DOWN);
  EXPECT_TRUE(web.backends(1).healthy());
  EXPECT_TRUE(web.backends(1).in_ring());
  EXPECT_EQ(status.attach_mode(), v1::ATTACH_MODE_DETACHED);
  // Without a data plane: the model's four maps, memory unknown (0); the
  // kernel's figures are checked in lb/dataplane/dataplane_test.cc.
  ASSERT_EQ(status.maps_size(), 4);
  EXPECT_EQ(status.maps(0).name(), "vips");
  EXPECT_EQ(status.maps(0).used(), 1u);
  EXPECT_EQ(status.maps(0).capacity(), 16u);
  EXPECT_EQ(status.maps(1).used(), 2u);
  EXPECT_EQ(status.maps(2).name(), "rings");
  EXPECT_EQ(status.maps(2).used(), 1u);
  EXPECT_EQ(status.maps(2).memory_bytes(), 0u);
}

// The API's ring digest recomputed from the model's: XXH64 of its 8 bytes
// little-endian, seeded with the flow hash seed, in 16 hex digits.
std::string ExpectedRingDigest(agent::Controller& controller, const VipKey& key,
                               uint32_t flow_hash_seed) {
  absl::StatusOr<VipStatus> status = controller.GetVipStatus(key);
  EXPECT_TRUE(status.ok() && status->ring_digest.has_value());
  if (!status.ok() || !status->ring_digest.has_value()) return "?";
  std::string bytes;
  for (int i = 0; i < 8; ++i) {
    bytes.push_back(static_cast<char>(*status->ring_digest >> (8 * i)));
  }
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx",
           static_cast<unsigned long long>(XxHash64(bytes, flow_hash_seed)));
  return hex;
}

v1::GetStatusResponse Status(v1::LoadBalancer::Stub& stub) {
  grpc::ClientContext context;
  v1::GetStatusResponse status;
  EXPECT_TRUE(stub.GetStatus(&context, {}, &status).ok());
  return status;
}

std::string VipRingDigest(v1::LoadBalancer::Stub& stub, const v1::VipKey& key) {
  grpc::ClientContext context;
  v1::GetVipRequest request;
  *request.mutable_key() = key;
  v1::GetVipResponse response;
  EXPECT_TRUE(stub.GetVip(&context, request, &response).ok());
  return response.ring_digest();
}

TEST_F(ServiceTest, RingDigestIsTheModelsWithTheSeedAndEmptyWithoutARing) {
  v1::Vip vip = Vip(web_, {"198.51.100.1", "198.51.100.2"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  ASSERT_TRUE(CreateVip(vip).ok());
  // Checked backends start down: no ring, no digest.
  ASSERT_FALSE(Status(stub()).vips(0).has_ring());
  EXPECT_EQ(Status(stub()).vips(0).ring_digest(), "");
  EXPECT_EQ(VipRingDigest(stub(), web_), "");

  const VipKey key{.address = *IpAddress::Parse("192.0.2.1"), .port = 80};
  agent::Controller& controller = harness_->controller();
  for (const char* up : {"198.51.100.1", "198.51.100.2"}) {
    ASSERT_TRUE(
        controller.SetHealth(key, *IpAddress::Parse(up), {.healthy = true})
            .ok());
  }
  const std::string both = Status(stub()).vips(0).ring_digest();
  EXPECT_EQ(both, ExpectedRingDigest(controller, key, 0));
  EXPECT_EQ(VipRingDigest(stub(), web_), both);

  ASSERT_TRUE(
      controller
          .SetHealth(key, *IpAddress::Parse("198.51.100.2"), {.healthy = false})
          .ok());
  const std::string one = Status(stub()).vips(0).ring_digest();
  EXPECT_NE(one, both);
  EXPECT_EQ(one, ExpectedRingDigest(controller, key, 0));
  EXPECT_EQ(VipRingDigest(stub(), web_), one);

  // A configuration change of the ring changes it too.
  ASSERT_TRUE(UpdateBackends(
                  {Weight(web_, "198.51.100.1", 2), Add(web_, "198.51.100.3")})
                  .ok());
  ASSERT_TRUE(
      controller
          .SetHealth(key, *IpAddress::Parse("198.51.100.3"), {.healthy = true})
          .ok());
  const std::string changed = Status(stub()).vips(0).ring_digest();
  EXPECT_NE(changed, one);
  EXPECT_NE(changed, both);
  EXPECT_EQ(changed, ExpectedRingDigest(controller, key, 0));
}

TEST(ServiceRingDigestTest, AgentsAgreeOnlyWithTheSameHashSeed) {
  auto Digest = [](uint32_t seed) {
    ApiHarness::Options options;
    options.flow_hash_seed = seed;
    auto harness = ApiHarness::Start(options);
    EXPECT_TRUE(harness.ok()) << harness.status();
    if (!harness.ok()) return std::string("?");
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() =
        Vip(Key("192.0.2.1", 80), {"198.51.100.1", "198.51.100.2"});
    v1::CreateVipResponse response;
    EXPECT_TRUE(
        (*harness)->stub().CreateVip(&context, request, &response).ok());
    const std::string digest = Status((*harness)->stub()).vips(0).ring_digest();
    EXPECT_THAT(digest, ::testing::MatchesRegex("[0-9a-f]{16}"));
    return digest;
  };
  EXPECT_EQ(Digest(0), Digest(0));
  EXPECT_EQ(Digest(7), Digest(7));
  EXPECT_NE(Digest(0), Digest(7));
}

TEST_F(ServiceTest, StatsWithoutADataPlaneIsFailedPrecondition) {
  grpc::ClientContext context;
  v1::GetStatsResponse stats;
  EXPECT_EQ(stub().GetStats(&context, {}, &stats).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

std::vector<v1::Event> ReadEvents(v1::LoadBalancer::Stub& stub,
                                  const v1::WatchEventsRequest& request,
                                  size_t count) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  auto reader = stub.WatchEvents(&context, request);
  std::vector<v1::Event> events;
  v1::Event event;
  while (events.size() < count && reader->Read(&event)) events.push_back(event);
  context.TryCancel();
  return events;
}

TEST_F(ServiceTest, EventsComeInOrderAndResume) {
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  ASSERT_TRUE(CreateVip(Vip(dns_)).ok());
  ASSERT_TRUE(UpdateBackends({Add(web_, "198.51.100.1")}).ok());
  v1::WatchEventsRequest request;
  request.set_after_sequence(0);
  std::vector<v1::Event> events = ReadEvents(stub(), request, 3);
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(events[i].config_changed().generation(),
              static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(events[2].config_changed().method(), "UpdateBackends");
  EXPECT_EQ(events[2].config_changed().vips(0).address(), "192.0.2.1");
  // Resume after the second.
  request.set_after_sequence(2);
  events = ReadEvents(stub(), request, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence(), 3u);
}

TEST_F(ServiceTest, LiveEventsArriveWhileWatching) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  auto reader = stub().WatchEvents(&context, v1::WatchEventsRequest());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(CreateVip(Vip(web_, {"198.51.100.1"})).ok());
  v1::Event event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.config_changed().method(), "CreateVip");
  context.TryCancel();
}

TEST(ServiceEventsTest, ResumingFromADroppedSequenceSaysEventsWereLost) {
  ApiHarness::Options options;
  options.event_capacity = 2;
  auto harness = *ApiHarness::Start(options);
  for (int i = 1; i <= 5; ++i) {
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = Vip(Key("192.0.2." + std::to_string(i), 80));
    v1::CreateVipResponse response;
    ASSERT_TRUE(harness->stub().CreateVip(&context, request, &response).ok());
  }
  v1::WatchEventsRequest request;
  request.set_after_sequence(1);
  std::vector<v1::Event> events = ReadEvents(harness->stub(), request, 3);
  ASSERT_EQ(events.size(), 3u);
  ASSERT_TRUE(events[0].has_events_lost());
  EXPECT_EQ(events[0].events_lost().first_missing(), 2u);
  EXPECT_EQ(events[0].events_lost().first_available(), 4u);
  EXPECT_EQ(events[1].sequence(), 4u);
  EXPECT_EQ(events[2].sequence(), 5u);
}

TEST_F(ServiceTest, ResumingFromAnotherAgentRunSaysEventsWereLost) {
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  v1::WatchEventsRequest request;
  request.set_after_sequence(1);
  request.mutable_agent_start_time()->set_seconds(1);
  std::vector<v1::Event> events = ReadEvents(stub(), request, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].has_events_lost());
  EXPECT_EQ(events[1].sequence(), 1u);
}

TEST_F(ServiceTest, HealthTransitionIsAnEventAndReachesTheRing) {
  v1::Vip vip = Vip(web_, {"198.51.100.1"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  ASSERT_TRUE(CreateVip(vip).ok());
  EXPECT_TRUE(harness_->maps().contents().rings.empty());  // starts down
  VipKey key{.address = *IpAddress::Parse("192.0.2.1"), .port = 80};
  const IpAddress backend = *IpAddress::Parse("198.51.100.1");
  ASSERT_TRUE(
      harness_->controller()
          .SetHealth(key, backend,
                     {.healthy = true, .latency = absl::Milliseconds(3)})
          .ok());
  EXPECT_EQ(harness_->maps().contents().rings.size(), 1u);
  ASSERT_TRUE(harness_->controller()
                  .SetHealth(key, backend,
                             {.healthy = false,
                              .reason = health::ProbeOutcome::kWrongStatus,
                              .detail = "HTTP status 503",
                              .latency = absl::Milliseconds(1500)})
                  .ok());
  // The same verdict again is no transition.
  ASSERT_TRUE(
      harness_->controller().SetHealth(key, backend, {.healthy = false}).ok());
  EXPECT_TRUE(harness_->maps().contents().rings.empty());
  v1::WatchEventsRequest request;
  request.set_after_sequence(1);
  std::vector<v1::Event> events = ReadEvents(stub(), request, 2);
  ASSERT_EQ(events.size(), 2u);
  const v1::HealthChanged& up = events[0].health_changed();
  EXPECT_TRUE(up.healthy());
  EXPECT_EQ(up.backend(), "198.51.100.1");
  EXPECT_EQ(up.reason(), v1::PROBE_OUTCOME_SUCCESS);
  EXPECT_EQ(up.latency().nanos(), 3000000);
  EXPECT_TRUE(up.ring_changed());
  EXPECT_THAT(up.ring_digest(), ::testing::MatchesRegex("[0-9a-f]{16}"));
  const v1::HealthChanged& down = events[1].health_changed();
  EXPECT_FALSE(down.healthy());
  EXPECT_EQ(down.reason(), v1::PROBE_OUTCOME_WRONG_STATUS);
  EXPECT_EQ(down.detail(), "HTTP status 503");
  EXPECT_EQ(down.latency().seconds(), 1);
  EXPECT_EQ(down.latency().nanos(), 500000000);
  EXPECT_TRUE(down.ring_changed());
  EXPECT_EQ(down.ring_digest(), "") << "the VIP has no ring left";
  EXPECT_EQ(GetConfig().generation(), 1u);  // health is not configuration

  const std::vector<agent::HealthTransitionCount> counts =
      harness_->controller().HealthTransitionCounts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_FALSE(counts[0].to_healthy);
  EXPECT_EQ(counts[0].count, 1u);
  EXPECT_TRUE(counts[1].to_healthy);
  EXPECT_EQ(counts[1].count, 1u);
  EXPECT_EQ(counts[1].backend, backend);
}

TEST_F(ServiceTest, HealthEventCarriesTheNewRingDigestAndWhetherItMoved) {
  v1::Vip vip = Vip(web_, {"198.51.100.1", "198.51.100.2"});
  vip.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  vip.mutable_backends(1)->set_drained(true);
  ASSERT_TRUE(CreateVip(vip).ok());
  const VipKey key{.address = *IpAddress::Parse("192.0.2.1"), .port = 80};
  for (const char* up : {"198.51.100.1", "198.51.100.2"}) {
    ASSERT_TRUE(harness_->controller()
                    .SetHealth(key, *IpAddress::Parse(up), {.healthy = true})
                    .ok());
  }
  const std::string digest = Status(stub()).vips(0).ring_digest();
  ASSERT_NE(digest, "");
  v1::WatchEventsRequest request;
  request.set_after_sequence(1);
  std::vector<v1::Event> events = ReadEvents(stub(), request, 2);
  ASSERT_EQ(events.size(), 2u);
  // 198.51.100.1 joined the ring; the drained 198.51.100.2 did not.
  EXPECT_EQ(events[0].health_changed().backend(), "198.51.100.1");
  EXPECT_TRUE(events[0].health_changed().ring_changed());
  EXPECT_EQ(events[0].health_changed().ring_digest(), digest);
  EXPECT_EQ(events[1].health_changed().backend(), "198.51.100.2");
  EXPECT_FALSE(events[1].health_changed().ring_changed());
  EXPECT_EQ(events[1].health_changed().ring_digest(), digest);
}

TEST_F(ServiceTest, ConcurrentClientsAreSerialized) {
  ASSERT_TRUE(CreateVip(Vip(web_)).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(UpdateBackends({Add(web_, "10.0." + std::to_string(t) +
                                                  "." + std::to_string(i + 1))})
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const v1::GetConfigResponse config = GetConfig();
  EXPECT_EQ(config.generation(), 41u);
  EXPECT_EQ(config.config().vips(0).backends_size(), 40);
  v1::WatchEventsRequest request;
  request.set_after_sequence(0);
  std::vector<v1::Event> events = ReadEvents(stub(), request, 41);
  ASSERT_EQ(events.size(), 41u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].config_changed().generation(), i + 1);
  }
}

// A unary call by name with raw bytes (no generated stub needed).
grpc::Status RawCall(grpc::Channel* channel, const std::string& method,
                     const std::string& request, std::string* response) {
  grpc::GenericStub stub(channel->shared_from_this());
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  out.Dump(&slices);
  for (const auto& s : slices) {
    response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST_F(ServiceTest, StandardHealthServiceAnswersServing) {
  // grpc.health.v1.HealthCheckRequest{service: "xlb.v1.LoadBalancer"}.
  const std::string service = "xlb.v1.LoadBalancer";
  std::string request =
      std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
  std::string response;
  grpc::Status status =
      RawCall(harness_->channel().get(), "/grpc.health.v1.Health/Check",
              request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(ServiceTest, ReflectionListsTheService) {
  grpc::ClientContext context;
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>
      stream(grpc::internal::ClientReaderWriterFactory<
             grpc::ByteBuffer, grpc::ByteBuffer>::Create(harness_->channel()
                                                             .get(),
                                                         method, &context));
  // ServerReflectionRequest{list_services: ""}.
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1), response;
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  ASSERT_TRUE(stream->Read(&response));
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_THAT(bytes, HasSubstr("xlb.v1.LoadBalancer"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  stream->Finish();
}

}  // namespace
}  // namespace xlb::api
