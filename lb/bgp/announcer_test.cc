// The announcer against real gobgpd daemons on loopback: "local" (the LB
// host's daemon, whose API the announcer uses) peers with "router" (a second
// gobgpd standing in for the router), so every test can check what is
// actually advertised, not only what the announcer believes.
#include "lb/bgp/announcer.h"

#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/bgp/gobgp_client.h"
#include "lb/bgp/testing/gobgpd.h"

namespace xlb::bgp {
namespace {

using ::testing::ElementsAre;
using testing::Gobgpd;
using ::testing::Pair;
using testing::WaitFor;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

VipKey Key(const char* address) {
  return VipKey{.address = Ip(address), .port = 80};
}

VipStatus Healthy(const VipKey& key, int up) {
  VipStatus status{.key = key, .has_ring = up > 0};
  for (int i = 0; i < up; ++i) {
    status.backends.push_back({.index = static_cast<uint32_t>(i + 1),
                               .healthy = true,
                               .in_ring = true,
                               .state = BackendState::kUp});
  }
  return status;
}

// Every VIP of `config`, with the status of the same key in `vips`.
ServingChanges Changes(const BalancerConfig& config,
                       const std::vector<VipStatus>& vips) {
  ServingChanges changes;
  for (const VipConfig& vip : config.vips) {
    const VipStatus* status = nullptr;
    for (const VipStatus& s : vips) {
      if (s.key == vip.key) status = &s;
    }
    changes.emplace_back(vip.key, ServingOf(vip, status));
  }
  return changes;
}

struct Event {
  std::string vip;
  bool announced;
  std::string reason;
  bool operator==(const Event&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Event& e) {
    return os << e.vip << (e.announced ? " announced" : " withdrawn: ")
              << e.reason;
  }
};

class AnnouncerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int router_port = testing::FreePort();
    router_ =
        std::make_unique<Gobgpd>(Gobgpd::Options{.asn = 65000,
                                                 .router_id = "192.0.2.253",
                                                 .bgp_port = router_port,
                                                 .peer_asn = 65001});
    local_ = std::make_unique<Gobgpd>(Gobgpd::Options{
        .asn = 65001, .peer_asn = 65000, .peer_port = router_port});
    ASSERT_TRUE(router_->Start());
    ASSERT_TRUE(local_->Start());
  }

  void StartAnnouncer() {
    announcer_ = std::make_unique<Announcer>(AnnouncerOptions{
        .api_address = local_->api_address(),
        .dataplane_attached = true,
        .next_hop_v4 = Ip("198.51.100.10"),
        .next_hop_v6 = Ip("2001:db8::10"),
        .max_backoff = absl::Seconds(1),
        .on_change = [this](const VipAnnouncement& a) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back({a.vip.address.ToString(), a.announced, a.reason});
        }});
  }

  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  // Waits until `daemon`'s routes (local or all) are exactly `expected`.
  bool RibIs(const Gobgpd& daemon,
             const std::map<std::string, std::string>& expected,
             bool local_only = true) {
    const bool equal =
        WaitFor([&] { return daemon.Rib(local_only) == expected; });
    EXPECT_TRUE(equal) << "last RIB has " << daemon.Rib(local_only).size()
                       << " prefixes";
    return equal;
  }

  const std::map<std::string, std::string> kBoth = {
      {"192.0.2.1/32", "198.51.100.10"}, {"2001:db8::1/128", "2001:db8::10"}};
  const VipKey v4_ = Key("192.0.2.1");
  const VipKey v6_ = Key("2001:db8::1");
  const BalancerConfig config_{{VipConfig{.key = v4_}, VipConfig{.key = v6_}}};

  std::unique_ptr<Gobgpd> router_;
  std::unique_ptr<Gobgpd> local_;
  std::unique_ptr<Announcer> announcer_;
  std::mutex mu_;
  std::vector<Event> events_;
};

TEST_F(AnnouncerTest, AnnouncesQualifyingVipsAndThePeerLearnsThem) {
  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 2)}),
                     false);
  ASSERT_TRUE(RibIs(*local_, kBoth));
  // Advertised with the configured next hops, not the session's address.
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
  const BgpStatus status = announcer_->Status();
  EXPECT_TRUE(status.configured);
  EXPECT_TRUE(status.daemon_reachable);
  EXPECT_EQ(status.last_error, "");
  EXPECT_EQ(status.announcements, 2u);
  EXPECT_EQ(status.withdrawals, 0u);
  EXPECT_EQ(status.announced_vips(), 2u);
  EXPECT_TRUE(WaitFor([&] { return events().size() == 2; }));
  EXPECT_THAT(events(), ElementsAre(Event{"192.0.2.1", true, ""},
                                    Event{"2001:db8::1", true, ""}));
}

TEST_F(AnnouncerTest, WithdrawsWhenTheLastHealthyBackendFailsAndReannounces) {
  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(RibIs(*router_, kBoth, false));

  announcer_->Update(Changes(config_, {Healthy(v4_, 0), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(RibIs(*router_, {{"2001:db8::1/128", "2001:db8::10"}}, false));
  ASSERT_TRUE(RibIs(*local_, {{"2001:db8::1/128", "2001:db8::10"}}));
  const BgpStatus status = announcer_->Status();
  ASSERT_EQ(status.vips.size(), 2u);
  EXPECT_FALSE(status.vips[0].announced);
  EXPECT_EQ(status.vips[0].reason, "too few healthy backends (0 < 1)");
  EXPECT_EQ(status.withdrawals, 1u);
  ASSERT_TRUE(WaitFor([&] { return events().size() == 3; }));
  EXPECT_EQ(events()[2],
            (Event{"192.0.2.1", false, "too few healthy backends (0 < 1)"}));

  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
}

TEST_F(AnnouncerTest, DrainWithdrawsEverythingAndUndrainAnnouncesAgain) {
  StartAnnouncer();
  const std::vector<VipStatus> healthy = {Healthy(v4_, 1), Healthy(v6_, 1)};
  announcer_->Update(Changes(config_, healthy), false);
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
  announcer_->Update({}, true);  // only the drain changed
  ASSERT_TRUE(RibIs(*router_, {}, false));
  ASSERT_TRUE(RibIs(*local_, {}));
  BgpStatus status = announcer_->Status();
  EXPECT_TRUE(status.host_drained);
  EXPECT_EQ(status.vips[0].reason, "host drained");
  EXPECT_EQ(status.vips[1].reason, "host drained");
  announcer_->Update({}, false);
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
  ASSERT_TRUE(WaitFor([&] { return events().size() == 6; }));
  EXPECT_EQ(events()[2], (Event{"192.0.2.1", false, "host drained"}));
  EXPECT_EQ(events()[3], (Event{"2001:db8::1", false, "host drained"}));
}

TEST_F(AnnouncerTest, DaemonAbsentAtStartIsReportedThenAnnouncedWhenItAppears) {
  local_->Kill();
  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(
      WaitFor([&] { return !announcer_->Status().last_error.empty(); }));
  BgpStatus status = announcer_->Status();
  EXPECT_FALSE(status.daemon_reachable);
  EXPECT_EQ(status.vips[0].reason, "BGP daemon unreachable");
  EXPECT_FALSE(status.vips[0].announced);

  ASSERT_TRUE(local_->Start());
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
  EXPECT_TRUE(announcer_->Status().daemon_reachable);
}

TEST_F(AnnouncerTest, RestartedDaemonGetsItsRoutesBack) {
  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(RibIs(*local_, kBoth));
  ASSERT_TRUE(WaitFor([&] { return events().size() == 2; }));

  local_->Kill();
  ASSERT_TRUE(WaitFor([&] { return !announcer_->Status().daemon_reachable; }));
  ASSERT_TRUE(WaitFor([&] { return events().size() == 4; }));
  EXPECT_EQ(events()[2], (Event{"192.0.2.1", false, "BGP daemon unreachable"}));

  ASSERT_TRUE(local_->Start());  // a new daemon: no paths
  ASSERT_TRUE(RibIs(*local_, kBoth));
  ASSERT_TRUE(RibIs(*router_, kBoth, false));
  EXPECT_EQ(announcer_->Status().announcements, 4u);
}

TEST_F(AnnouncerTest, ReconcileRemovesStaleOwnPathsAndLeavesOthersAlone) {
  // Left by an earlier run: a VIP no longer configured, and a configured
  // one with another next hop.
  ASSERT_TRUE(local_->AddPath("192.0.2.99", "198.51.100.10", true));
  ASSERT_TRUE(local_->AddPath("192.0.2.1", "198.51.100.77", true));
  // Not ours: an operator's local path, and a path the router sends that
  // even carries the marker.
  ASSERT_TRUE(local_->AddPath("203.0.113.9", "198.51.100.99", false));
  ASSERT_TRUE(router_->AddPath("203.0.113.77", "198.51.100.98", true));
  ASSERT_TRUE(
      WaitFor([&] { return local_->Rib().contains("203.0.113.77/32"); }));

  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 0)}),
                     false);
  ASSERT_TRUE(RibIs(*local_, {{"192.0.2.1/32", "198.51.100.10"},
                              {"203.0.113.9/32", "198.51.100.99"}}));
  EXPECT_TRUE(local_->Rib().contains("203.0.113.77/32"));
  EXPECT_THAT(router_->Rib(),
              ::testing::Contains(Pair("192.0.2.1/32", "198.51.100.10")));
  const BgpStatus status = announcer_->Status();
  EXPECT_EQ(status.withdrawals, 1u);    // 192.0.2.99
  EXPECT_EQ(status.announcements, 1u);  // 192.0.2.1 with its next hop
}

TEST_F(AnnouncerTest, NothingIsTouchedBeforeThePlanNorWithdrawnOnStop) {
  ASSERT_TRUE(local_->AddPath("192.0.2.1", "198.51.100.10", true));
  StartAnnouncer();  // no Update: a restarted xlbd before its first plan
  announcer_.reset();
  EXPECT_THAT(local_->Rib(true),
              ElementsAre(Pair("192.0.2.1/32", "198.51.100.10")));

  StartAnnouncer();
  announcer_->Update(Changes(config_, {Healthy(v4_, 1), Healthy(v6_, 1)}),
                     false);
  ASSERT_TRUE(RibIs(*local_, kBoth));
  announcer_.reset();  // as xlbd stopping (or killed)
  EXPECT_EQ(local_->Rib(true), kBoth);
}

TEST_F(AnnouncerTest, WithdrawOwnRoutesRemovesOnlyOwnPaths) {
  ASSERT_TRUE(local_->AddPath("192.0.2.1", "198.51.100.10", true));
  ASSERT_TRUE(local_->AddPath("2001:db8::1", "2001:db8::10", true));
  ASSERT_TRUE(local_->AddPath("203.0.113.9", "198.51.100.99", false));
  bool reached = false;
  size_t withdrawn = 0;
  ASSERT_TRUE(WithdrawOwnRoutes(local_->api_address(), absl::Seconds(5),
                                &reached, &withdrawn)
                  .ok());
  EXPECT_TRUE(reached);
  EXPECT_EQ(withdrawn, 2u);
  EXPECT_EQ(local_->Rib(true), (std::map<std::string, std::string>{
                                   {"203.0.113.9/32", "198.51.100.99"}}));

  local_->Kill();  // nothing to withdraw from a daemon that is not there
  ASSERT_TRUE(WithdrawOwnRoutes(local_->api_address(), absl::Seconds(5),
                                &reached, &withdrawn)
                  .ok());
  EXPECT_FALSE(reached);
  EXPECT_EQ(withdrawn, 0u);
}

}  // namespace
}  // namespace xlb::bgp
