// The health checker wired to the controller: targets follow the
// configuration, and probe verdicts reach the model and the maps.
#include "lb/agent/health_sync.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "api/testing/api_fixture.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"
#include "lb/health/testing/test_servers.h"
#include "lb/testing/netns.h"
#include "lb/testing/privilege.h"

namespace xlb::api {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders
using namespace xlb::api::testing;    // NOLINT: the API fixture

// The backend: an address of the test's own network namespace. (A loopback
// address is not a backend the API accepts.)
constexpr char kBackend[] = "198.51.100.1";

// A TCP listener on kBackend (accepts by the kernel's backlog).
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, kBackend, &addr.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 64);
    socklen_t length = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// TCP checks send SYNs from a raw socket: root only. Each test runs in its
// own network namespace, where kBackend is an address of lo; the checker's
// threads and sockets, made by the test's thread, are in it too.
class HealthSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    netns_.emplace();
    ASSERT_TRUE(netns_->ok());
    ASSERT_TRUE(netns_->Exec("ip link set lo up"));
    ASSERT_TRUE(
        netns_->Exec(absl::StrCat("ip addr add ", kBackend, "/32 dev lo")));
    inside_.emplace(*netns_);
  }

  std::optional<xlb::testing::ScopedNetns> netns_;
  std::optional<xlb::testing::ScopedNetns::Enter> inside_;
};

bool Eventually(const std::function<bool()>& condition) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST_F(HealthSyncTest, ProbeVerdictsReachTheRingAndTargetsFollowTheConfig) {
  if (IsSkipped() || HasFatalFailure()) return;
  auto harness = *ApiHarness::Start();
  auto sync = agent::HealthSync::Start(&harness->controller(),
                                       health::ProbeMode::kDirect);
  ASSERT_TRUE(sync.ok()) << sync.status();
  harness->controller().SetConfigChangeHook(
      [&](const std::vector<VipKey>& vips) { (*sync)->Sync(vips); });

  Listener listener;
  v1::Vip vip = Vip(Key("192.0.2.1", listener.port()), {kBackend});
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_TCP);
  hc->mutable_interval()->set_nanos(100000000);
  hc->mutable_timeout()->set_nanos(50000000);
  hc->set_rise(1);
  hc->set_fall(1);
  grpc::ClientContext context;
  v1::CreateVipRequest request;
  *request.mutable_vip() = vip;
  v1::CreateVipResponse response;
  ASSERT_TRUE(harness->stub().CreateVip(&context, request, &response).ok());
  EXPECT_EQ((*sync)->target_count(), 1u);

  auto healthy = [&] {
    return harness->controller().ListVipStatus()[0].backends[0].healthy;
  };
  ASSERT_TRUE(Eventually(healthy)) << "the probe never marked it up";
  EXPECT_EQ(harness->maps().contents().rings.size(), 1u);

  listener.Close();
  ASSERT_TRUE(Eventually([&] { return !healthy(); }))
      << "the probe never marked it down";
  EXPECT_TRUE(harness->maps().contents().rings.empty());

  // The down transition says why: nothing listens any more.
  const agent::EventLog& events = harness->controller().events();
  const std::shared_ptr<const v1::Event> newest =
      events.ReadNext(events.last_sequence() - 1).event;
  ASSERT_NE(newest, nullptr);
  const v1::Event& last = *newest;
  ASSERT_TRUE(last.has_health_changed());
  EXPECT_FALSE(last.health_changed().healthy());
  EXPECT_EQ(last.health_changed().reason(), v1::PROBE_OUTCOME_REFUSED);
  EXPECT_FALSE(last.health_changed().detail().empty());
  const std::vector<agent::HealthSync::ProbeCounts> probes =
      (*sync)->probe_counts();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].backend, *IpAddress::Parse(kBackend));
  EXPECT_GE(probes[0].counters.successes(), 1u);
  EXPECT_GE(probes[0].counters.count(health::ProbeOutcome::kRefused), 1u);
  const std::vector<agent::HealthTransitionCount> transitions =
      harness->controller().HealthTransitionCounts();
  ASSERT_EQ(transitions.size(), 2u);  // one down, one up

  grpc::ClientContext del_context;
  v1::DeleteVipRequest del;
  *del.mutable_key() = vip.key();
  v1::DeleteVipResponse del_response;
  ASSERT_TRUE(harness->stub().DeleteVip(&del_context, del, &del_response).ok());
  EXPECT_EQ((*sync)->target_count(), 0u);
  harness->controller().SetConfigChangeHook(nullptr);
}

// Sync(vips) looks at the VIPs named only, in whatever order concurrent
// changes call it, even when one VIP takes over another's index.
TEST_F(HealthSyncTest, SyncOfTheChangedVipsKeepsEveryTargetRight) {
  if (IsSkipped() || HasFatalFailure()) return;
  auto harness = *ApiHarness::Start();
  auto sync = agent::HealthSync::Start(&harness->controller(),
                                       health::ProbeMode::kDirect);
  ASSERT_TRUE(sync.ok()) << sync.status();
  // Addresses of the namespace where nothing listens on these ports: every
  // probe is refused.
  ASSERT_TRUE(netns_->Exec("ip addr add 198.51.100.2/32 dev lo"));
  const v1::VipKey a = Key("192.0.2.1", 1001), b = Key("192.0.2.1", 1002);
  const VipKey key_a{.address = *IpAddress::Parse("192.0.2.1"), .port = 1001};
  const VipKey key_b{.address = *IpAddress::Parse("192.0.2.1"), .port = 1002};
  for (const auto& [key, backends] :
       {std::pair(a, std::vector<const char*>{kBackend, "198.51.100.2"}),
        std::pair(b, std::vector<const char*>{kBackend})}) {
    v1::Vip vip = Vip(key);
    for (const char* backend : backends)
      vip.add_backends()->set_address(backend);
    vip.mutable_settings()->mutable_health_check()->set_type(
        v1::HEALTH_CHECK_TYPE_TCP);
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = vip;
    v1::CreateVipResponse response;
    ASSERT_TRUE(harness->stub().CreateVip(&context, request, &response).ok());
  }
  (*sync)->Sync({key_a, key_b});
  EXPECT_EQ((*sync)->target_count(), 3u);
  (*sync)->Sync({});
  EXPECT_EQ((*sync)->target_count(), 3u);

  // B goes; A changes ring size and moves to B's VIP index, so its target
  // for the backend they share has the id B's had. Synced A first, then B.
  const uint32_t index_b = harness->controller().GetVipStatus(key_b)->index;
  grpc::ClientContext del_context;
  v1::DeleteVipRequest del;
  *del.mutable_key() = b;
  v1::DeleteVipResponse del_response;
  ASSERT_TRUE(harness->stub().DeleteVip(&del_context, del, &del_response).ok());
  grpc::ClientContext update_context;
  v1::UpdateVipRequest update;
  *update.mutable_key() = a;
  update.mutable_settings()->set_ring_size(1021);
  update.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  v1::UpdateVipResponse update_response;
  ASSERT_TRUE(harness->stub()
                  .UpdateVip(&update_context, update, &update_response)
                  .ok());
  ASSERT_EQ(harness->controller().GetVipStatus(key_a)->index, index_b);
  (*sync)->Sync({key_a});
  (*sync)->Sync({key_b});
  EXPECT_EQ((*sync)->target_count(), 2u);
  // Both are probed, as A's.
  ASSERT_TRUE(Eventually([&] { return (*sync)->probe_counts().size() == 2; }));
  for (const agent::HealthSync::ProbeCounts& p : (*sync)->probe_counts()) {
    EXPECT_EQ(p.vip, key_a);
  }
}

// A checked VIP's health check made fast: TCP, 100 ms, rise and fall 1.
v1::HealthCheck* FastCheck(v1::Vip& vip, v1::HealthCheckType type) {
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(type);
  hc->mutable_interval()->set_nanos(100000000);
  hc->mutable_timeout()->set_nanos(50000000);
  hc->set_rise(1);
  hc->set_fall(1);
  return hc;
}

grpc::Status Create(ApiHarness& harness, const v1::Vip& vip) {
  grpc::ClientContext context;
  v1::CreateVipRequest request;
  *request.mutable_vip() = vip;
  v1::CreateVipResponse response;
  return harness.stub().CreateVip(&context, request, &response);
}

TEST_F(HealthSyncTest, BackendOverridePortIsTheOneProbed) {
  if (IsSkipped() || HasFatalFailure()) return;
  auto harness = *ApiHarness::Start();
  auto sync = agent::HealthSync::Start(&harness->controller(),
                                       health::ProbeMode::kDirect);
  ASSERT_TRUE(sync.ok()) << sync.status();
  harness->controller().SetConfigChangeHook(
      [&](const std::vector<VipKey>& vips) { (*sync)->Sync(vips); });

  Listener open;
  Listener closed;
  closed.Close();  // the VIP's port: refused
  v1::Vip vip = Vip(Key("192.0.2.1", closed.port()), {kBackend});
  FastCheck(vip, v1::HEALTH_CHECK_TYPE_TCP);
  vip.mutable_backends(0)->mutable_health_override()->set_port(open.port());
  ASSERT_TRUE(Create(*harness, vip).ok());
  auto healthy = [&] {
    return harness->controller().ListVipStatus()[0].backends[0].healthy;
  };
  ASSERT_TRUE(Eventually(healthy)) << "the override's port was not probed";

  // Without the override the VIP's (closed) port is probed.
  grpc::ClientContext context;
  v1::SetVipRequest set;
  *set.mutable_vip() = vip;
  set.mutable_vip()->mutable_backends(0)->clear_health_override();
  v1::SetVipResponse response;
  ASSERT_TRUE(harness->stub().SetVip(&context, set, &response).ok());
  ASSERT_TRUE(Eventually([&] { return !healthy(); }));
  harness->controller().SetConfigChangeHook(nullptr);
}

// Adding a check to a serving VIP keeps its backends up until `fall`
// probes in a row fail, even when the very first one fails.
TEST_F(HealthSyncTest, AddingACheckKeepsBackendsUpUntilFallFailures) {
  if (IsSkipped() || HasFatalFailure()) return;
  auto harness = *ApiHarness::Start();
  auto sync = agent::HealthSync::Start(&harness->controller(),
                                       health::ProbeMode::kDirect);
  ASSERT_TRUE(sync.ok()) << sync.status();
  harness->controller().SetConfigChangeHook(
      [&](const std::vector<VipKey>& vips) { (*sync)->Sync(vips); });

  Listener closed;
  closed.Close();  // every probe is refused
  v1::Vip vip = Vip(Key("192.0.2.1", closed.port()), {kBackend});
  ASSERT_TRUE(Create(*harness, vip).ok());
  ASSERT_EQ(harness->maps().contents().rings.size(), 1u);

  // Three failures take at least two intervals (2 s) after the first probe.
  constexpr uint32_t kFall = 3;
  v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
  hc->set_type(v1::HEALTH_CHECK_TYPE_TCP);
  hc->mutable_interval()->set_seconds(1);
  hc->mutable_timeout()->set_nanos(500000000);
  hc->set_fall(kFall);
  grpc::ClientContext context;
  v1::UpdateVipRequest update;
  *update.mutable_key() = vip.key();
  *update.mutable_settings() = vip.settings();
  v1::UpdateVipResponse response;
  ASSERT_TRUE(harness->stub().UpdateVip(&context, update, &response).ok());
  auto backend = [&] {
    return harness->controller().ListVipStatus()[0].backends[0];
  };
  EXPECT_TRUE(backend().healthy);
  EXPECT_TRUE(backend().in_ring);
  EXPECT_EQ(harness->maps().contents().rings.size(), 1u);

  ASSERT_TRUE(Eventually([&] { return !backend().healthy; }))
      << "the refused probes never marked it down";
  const std::vector<agent::HealthSync::ProbeCounts> probes =
      (*sync)->probe_counts();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_GE(probes[0].counters.count(health::ProbeOutcome::kRefused), kFall);
  EXPECT_EQ(probes[0].counters.successes(), 0u);
  EXPECT_TRUE(harness->maps().contents().rings.empty());
  harness->controller().SetConfigChangeHook(nullptr);
}

TEST_F(HealthSyncTest, HttpsVerifyRefusesASelfSignedBackend) {
  if (IsSkipped() || HasFatalFailure()) return;
  const health::testing::SelfSignedCertificate cert =
      health::testing::MakeSelfSignedCertificate();
  health::testing::HttpServer server({.body = "ok"}, &cert, kBackend);
  auto harness = *ApiHarness::Start();
  auto sync = agent::HealthSync::Start(&harness->controller(),
                                       health::ProbeMode::kDirect);
  ASSERT_TRUE(sync.ok()) << sync.status();
  harness->controller().SetConfigChangeHook(
      [&](const std::vector<VipKey>& vips) { (*sync)->Sync(vips); });

  v1::Vip vip = Vip(Key("192.0.2.1", server.port()), {kBackend});
  v1::HealthCheck* hc = FastCheck(vip, v1::HEALTH_CHECK_TYPE_HTTPS);
  hc->mutable_timeout()->set_nanos(90000000);
  hc->set_https_verify(true);
  ASSERT_TRUE(Create(*harness, vip).ok());
  ASSERT_TRUE(Eventually([&] {
    const auto counts = (*sync)->probe_counts();
    return !counts.empty() &&
           counts[0].counters.count(health::ProbeOutcome::kTlsError) >= 2;
  })) << "no TLS verification failures";
  EXPECT_FALSE(harness->controller().ListVipStatus()[0].backends[0].healthy);

  // Not verifying (the default), the same backend is healthy.
  grpc::ClientContext context;
  v1::UpdateVipRequest update;
  *update.mutable_key() = vip.key();
  *update.mutable_settings() = vip.settings();
  update.mutable_settings()->mutable_health_check()->set_https_verify(false);
  v1::UpdateVipResponse response;
  ASSERT_TRUE(harness->stub().UpdateVip(&context, update, &response).ok());
  EXPECT_TRUE(Eventually([&] {
    return harness->controller().ListVipStatus()[0].backends[0].healthy;
  }));
  harness->controller().SetConfigChangeHook(nullptr);
}

}  // namespace
}  // namespace xlb::api
