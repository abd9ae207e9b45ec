// BGP announcement through the API, wired as xlbd wires it (the
// controller's serving observer feeds the announcer, its changes become
// events), against a real gobgpd on loopback: health transitions from the
// checker's path (Controller::SetHealth), SetHostDrain and its persistence,
// the GetStatus bgp section, VipAnnounced events, and invalid settings.
#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/agent/testing/requests.h"
#include "lb/bgp/testing/gobgpd.h"
#include "lb/state/state.h"

namespace xlb::api {
namespace {

using namespace xlb::agent::testing;  // NOLINT: request builders
using bgp::testing::Gobgpd;
using bgp::testing::WaitFor;
using Rib = std::map<std::string, std::string>;

const v1::VipKey kWeb = Key("192.0.2.1", 80);

class BgpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gobgpd_ = std::make_unique<Gobgpd>(Gobgpd::Options{});
    ASSERT_TRUE(gobgpd_->Start());
    testing::ApiHarness::Options options;
    options.bgp =
        bgp::AnnouncerOptions{.api_address = gobgpd_->api_address(),
                              .dataplane_attached = true,
                              .next_hop_v4 = *IpAddress::Parse("198.51.100.10"),
                              .max_backoff = absl::Seconds(1)};
    auto harness = testing::ApiHarness::Start(options);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
  }

  // A VIP with one backend and a TCP check: its backend is down until the
  // checker (here: the test, through the controller) says it is up.
  void CreateCheckedVip() {
    v1::Vip vip = Vip(kWeb, {"198.51.100.1"});
    vip.mutable_settings()->mutable_health_check()->set_type(
        v1::HEALTH_CHECK_TYPE_TCP);
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = vip;
    v1::CreateVipResponse response;
    ASSERT_TRUE(harness_->stub().CreateVip(&context, request, &response).ok());
  }

  absl::Status SetHealth(bool healthy) {
    return harness_->controller().SetHealth(
        VipKey{.address = *IpAddress::Parse("192.0.2.1"), .port = 80},
        *IpAddress::Parse("198.51.100.1"),
        agent::HealthVerdict{.healthy = healthy});
  }

  v1::BgpStatus Status() {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    EXPECT_TRUE(harness_->stub().GetStatus(&context, {}, &response).ok());
    return response.bgp();
  }

  grpc::Status Drain(bool drained, bool* was_drained = nullptr) {
    grpc::ClientContext context;
    v1::SetHostDrainRequest request;
    request.set_drained(drained);
    v1::SetHostDrainResponse response;
    grpc::Status status =
        harness_->stub().SetHostDrain(&context, request, &response);
    if (was_drained != nullptr) *was_drained = response.was_drained();
    return status;
  }

  // VipAnnounced events held by the agent, as "VIP announced|reason".
  std::vector<std::string> Announcements() {
    std::vector<std::string> out;
    const agent::EventLog& log = harness_->controller().events();
    for (uint64_t seen = 0; seen < log.last_sequence(); ++seen) {
      const agent::EventLog::Next next = log.ReadNext(seen);
      if (next.event == nullptr || !next.event->has_vip_announced()) continue;
      const v1::VipAnnounced& a = next.event->vip_announced();
      out.push_back(absl::StrCat(a.vip().address(), ":", a.vip().port(), " ",
                                 a.announced() ? "announced" : a.reason()));
    }
    return out;
  }

  bool RibIs(const Rib& expected) {
    const bool equal = WaitFor([&] { return gobgpd_->Rib() == expected; });
    EXPECT_TRUE(equal) << "gobgpd holds " << gobgpd_->Rib().size()
                       << " prefixes";
    return equal;
  }

  const Rib kAnnounced = {{"192.0.2.1/32", "198.51.100.10"}};
  std::unique_ptr<Gobgpd> gobgpd_;
  std::unique_ptr<testing::ApiHarness> harness_;
};

TEST_F(BgpApiTest, HealthTransitionsWithdrawAndRestoreTheRoute) {
  CreateCheckedVip();
  v1::BgpStatus status = Status();
  EXPECT_TRUE(status.configured());
  EXPECT_EQ(status.api_address(), gobgpd_->api_address());
  EXPECT_EQ(status.next_hop_v4(), "198.51.100.10");
  EXPECT_EQ(status.next_hop_v6(), "");
  ASSERT_EQ(status.vips_size(), 1);
  EXPECT_FALSE(status.vips(0).announced());
  EXPECT_EQ(status.vips(0).reason(), "too few healthy backends (0 < 1)");
  EXPECT_EQ(status.vips(0).announce_min_healthy(), 1u);

  ASSERT_TRUE(SetHealth(true).ok());
  ASSERT_TRUE(RibIs(kAnnounced));
  ASSERT_TRUE(WaitFor([&] { return Status().vips(0).announced(); }));
  status = Status();
  EXPECT_TRUE(status.daemon_reachable());
  EXPECT_EQ(status.vips(0).reason(), "");
  EXPECT_EQ(status.vips(0).healthy_backends(), 1u);

  ASSERT_TRUE(SetHealth(false).ok());
  ASSERT_TRUE(RibIs({}));
  ASSERT_TRUE(WaitFor([&] { return Announcements().size() == 2; }));
  EXPECT_THAT(
      Announcements(),
      ::testing::ElementsAre("192.0.2.1:80 announced",
                             "192.0.2.1:80 too few healthy backends (0 < 1)"));
  EXPECT_EQ(Status().withdrawals(), 1u);
}

TEST_F(BgpApiTest, MinHealthyZeroAnnouncesAVipWithoutHealthyBackends) {
  CreateCheckedVip();
  grpc::ClientContext context;
  v1::UpdateVipRequest request;
  *request.mutable_key() = kWeb;
  request.mutable_settings()->mutable_health_check()->set_type(
      v1::HEALTH_CHECK_TYPE_TCP);
  request.mutable_settings()->set_announce_min_healthy(0);
  v1::UpdateVipResponse response;
  ASSERT_TRUE(harness_->stub().UpdateVip(&context, request, &response).ok());
  ASSERT_TRUE(RibIs(kAnnounced));
  EXPECT_EQ(Status().vips(0).announce_min_healthy(), 0u);
}

TEST_F(BgpApiTest, HostDrainWithdrawsIsPersistedAndUndrainAnnounces) {
  CreateCheckedVip();
  ASSERT_TRUE(SetHealth(true).ok());
  ASSERT_TRUE(RibIs(kAnnounced));
  const uint64_t generation = harness_->controller().generation();

  bool was_drained = true;
  ASSERT_TRUE(Drain(true, &was_drained).ok());
  EXPECT_FALSE(was_drained);
  ASSERT_TRUE(RibIs({}));
  v1::BgpStatus status = Status();
  EXPECT_TRUE(status.host_drained());
  EXPECT_EQ(status.vips(0).reason(), "host drained");
  // Host state, not configuration: the generation stays.
  EXPECT_EQ(harness_->controller().generation(), generation);
  ASSERT_TRUE(Drain(true, &was_drained).ok());
  EXPECT_TRUE(was_drained);

  // Persisted: a restarted agent is still drained and announces nothing.
  absl::StatusOr<std::optional<v1::PersistedState>> saved =
      StateFile(harness_->state_path()).Load();
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_TRUE((*saved)->host_drained());
  ASSERT_TRUE(harness_->Restart().ok());
  EXPECT_TRUE(harness_->controller().host_drained());
  EXPECT_TRUE(Status().host_drained());
  ASSERT_TRUE(SetHealth(true).ok());
  ASSERT_TRUE(WaitFor([&] { return Status().daemon_reachable(); }));
  EXPECT_EQ(gobgpd_->Rib(), Rib());

  ASSERT_TRUE(Drain(false, &was_drained).ok());
  EXPECT_TRUE(was_drained);
  ASSERT_TRUE(RibIs(kAnnounced));
  EXPECT_FALSE(Status().host_drained());
}

TEST_F(BgpApiTest, InvalidAnnounceSettingChangesNothingInTheDaemon) {
  CreateCheckedVip();
  ASSERT_TRUE(SetHealth(true).ok());
  ASSERT_TRUE(RibIs(kAnnounced));
  // gobgpd may show the path before its AddPath call has returned.
  ASSERT_TRUE(WaitFor([&] { return Status().announcements() == 1; }));
  const uint64_t generation = harness_->controller().generation();
  grpc::ClientContext context;
  v1::UpdateVipRequest request;
  *request.mutable_key() = kWeb;
  request.mutable_settings()->set_announce_min_healthy(64);
  v1::UpdateVipResponse response;
  const grpc::Status refused =
      harness_->stub().UpdateVip(&context, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(),
            "settings.announce_min_healthy: 64 exceeds the most backends a "
            "VIP can have on this agent (63): it could never be met");
  EXPECT_EQ(harness_->controller().generation(), generation);
  EXPECT_EQ(harness_->controller()
                .GetConfig()
                .config.vips[0]
                .settings.announce_min_healthy,
            1u);
  EXPECT_EQ(gobgpd_->Rib(), kAnnounced);
  EXPECT_EQ(Status().announcements(), 1u);
}

TEST(BgpApiWithoutBgp, StatusSaysNotConfiguredAndDrainIsStillRecorded) {
  auto harness = testing::ApiHarness::Start();
  ASSERT_TRUE(harness.ok());
  grpc::ClientContext drain_context;
  v1::SetHostDrainRequest request;
  request.set_drained(true);
  v1::SetHostDrainResponse response;
  ASSERT_TRUE(
      (*harness)->stub().SetHostDrain(&drain_context, request, &response).ok());
  grpc::ClientContext context;
  v1::GetStatusResponse status;
  ASSERT_TRUE((*harness)->stub().GetStatus(&context, {}, &status).ok());
  EXPECT_FALSE(status.bgp().configured());
  EXPECT_TRUE(status.bgp().host_drained());
}

}  // namespace
}  // namespace xlb::api
