// The announcement rule, case by case: which VIPs qualify, which routes
// result, and the reason given for each VIP that is not announced; and the
// announcer without BGP configured, which only reports.
#include "lb/bgp/announce_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/bgp/announcer.h"

namespace xlb::bgp {
namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

VipKey Key(const char* address, uint16_t port = 80) {
  return VipKey{.address = Ip(address), .port = port};
}

VipConfig Vip(const VipKey& key, uint32_t min_healthy = 1) {
  VipConfig vip{.key = key};
  vip.settings.announce_min_healthy = min_healthy;
  return vip;
}

// A VIP status with `up` healthy in-ring backends, then `down` unhealthy
// ones and `drained` draining ones.
VipStatus Status(const VipKey& key, int up, int down = 0, int drained = 0) {
  VipStatus status{.key = key, .has_ring = up > 0};
  uint32_t index = 1;
  for (int i = 0; i < up; ++i) {
    status.backends.push_back({.index = index++,
                               .healthy = true,
                               .in_ring = true,
                               .state = BackendState::kUp});
  }
  for (int i = 0; i < down; ++i) {
    status.backends.push_back({.index = index++,
                               .healthy = false,
                               .in_ring = false,
                               .state = BackendState::kDown});
  }
  for (int i = 0; i < drained; ++i) {
    status.backends.push_back({.index = index++,
                               .healthy = true,
                               .in_ring = false,
                               .state = BackendState::kDraining});
  }
  return status;
}

// Every VIP of `config`, each with its status in `vips` if any.
std::map<VipKey, VipServing> Serving(const BalancerConfig& config,
                                     const std::vector<VipStatus>& vips) {
  std::map<VipKey, VipServing> serving;
  for (const VipConfig& vip : config.vips) {
    const VipStatus* status = nullptr;
    for (const VipStatus& s : vips) {
      if (s.key == vip.key) status = &s;
    }
    serving[vip.key] = ServingOf(vip, status);
  }
  return serving;
}

ServingChanges Changes(const BalancerConfig& config,
                       const std::vector<VipStatus>& vips) {
  ServingChanges changes;
  for (const auto& [key, serving] : Serving(config, vips)) {
    changes.emplace_back(key, serving);
  }
  return changes;
}

HostFacts Host() {
  return HostFacts{.bgp_configured = true,
                   .dataplane_attached = true,
                   .next_hop_v4 = Ip("198.51.100.10"),
                   .next_hop_v6 = Ip("2001:db8::10")};
}

Route R(const char* prefix, const char* next_hop) {
  return Route{.prefix = Ip(prefix), .next_hop = Ip(next_hop)};
}

TEST(AnnouncePolicy,
     VipWithEnoughHealthyBackendsIsAnnouncedWithItsFamilysNextHop) {
  const VipKey v4 = Key("192.0.2.1"), v6 = Key("2001:db8::1");
  const AnnouncePlan plan =
      PlanAnnouncements(Host(), false,
                        Serving(BalancerConfig{{Vip(v4), Vip(v6)}},
                                {Status(v4, 1), Status(v6, 2)}));
  EXPECT_THAT(plan.routes,
              ::testing::ElementsAre(R("192.0.2.1", "198.51.100.10"),
                                     R("2001:db8::1", "2001:db8::10")));
  ASSERT_EQ(plan.vips.size(), 2u);
  EXPECT_TRUE(plan.vips[0].qualifies);
  EXPECT_EQ(plan.vips[0].reason, "");
  EXPECT_EQ(plan.vips[0].healthy_backends, 1u);
  EXPECT_EQ(plan.vips[1].healthy_backends, 2u);
}

TEST(AnnouncePolicy, TooFewHealthyBackendsWithdrawsAndSaysHowMany) {
  const VipKey key = Key("192.0.2.1");
  // Down and draining backends do not count.
  const AnnouncePlan plan = PlanAnnouncements(
      Host(), false,
      Serving(BalancerConfig{{Vip(key, 2)}}, {Status(key, 1, 3, 2)}));
  EXPECT_TRUE(plan.routes.empty());
  ASSERT_EQ(plan.vips.size(), 1u);
  EXPECT_FALSE(plan.vips[0].qualifies);
  EXPECT_EQ(plan.vips[0].reason, "too few healthy backends (1 < 2)");
}

TEST(AnnouncePolicy, FailOpenBackendsInTheRingDoNotCountAsHealthy) {
  const VipKey key = Key("192.0.2.1");
  VipStatus status = Status(key, 0, 2);
  for (VipBackendStatus& b : status.backends) b.in_ring = true;  // fail open
  const AnnouncePlan plan = PlanAnnouncements(
      Host(), false, Serving(BalancerConfig{{Vip(key)}}, {status}));
  EXPECT_TRUE(plan.routes.empty());
  EXPECT_EQ(plan.vips[0].reason, "too few healthy backends (0 < 1)");
}

TEST(AnnouncePolicy, MinHealthyZeroAnnouncesWithoutBackends) {
  const VipKey key = Key("192.0.2.1");
  const AnnouncePlan plan = PlanAnnouncements(
      Host(), false,
      Serving(BalancerConfig{{Vip(key, 0)}}, {Status(key, 0, 1)}));
  EXPECT_THAT(plan.routes,
              ::testing::ElementsAre(R("192.0.2.1", "198.51.100.10")));
  EXPECT_TRUE(plan.vips[0].qualifies);
}

TEST(AnnouncePolicy, EachHostConditionWithdrawsEverythingWithItsReason) {
  const VipKey key = Key("192.0.2.1");
  const BalancerConfig config{{Vip(key, 0)}};
  const std::vector<VipStatus> vips = {Status(key, 3)};
  struct Case {
    HostFacts host;
    bool drained;
    const char* reason;
  };
  HostFacts unconfigured = Host();
  unconfigured.bgp_configured = false;
  HostFacts detached = Host();
  detached.dataplane_attached = false;
  HostFacts no_v4 = Host();
  no_v4.next_hop_v4.reset();
  // In this order of precedence.
  for (const Case& c : {Case{unconfigured, true, "BGP not configured"},
                        Case{detached, true, "data plane not attached"},
                        Case{no_v4, true, "host drained"},
                        Case{no_v4, false, "no next hop for IPv4"}}) {
    const AnnouncePlan plan =
        PlanAnnouncements(c.host, c.drained, Serving(config, vips));
    EXPECT_TRUE(plan.routes.empty()) << c.reason;
    ASSERT_EQ(plan.vips.size(), 1u);
    EXPECT_FALSE(plan.vips[0].qualifies);
    EXPECT_EQ(plan.vips[0].reason, c.reason);
  }
}

TEST(AnnouncePolicy, MissingV6NextHopOnlyWithdrawsV6Vips) {
  HostFacts host = Host();
  host.next_hop_v6.reset();
  const VipKey v4 = Key("192.0.2.1"), v6 = Key("2001:db8::1");
  const AnnouncePlan plan =
      PlanAnnouncements(host, false,
                        Serving(BalancerConfig{{Vip(v4), Vip(v6)}},
                                {Status(v4, 1), Status(v6, 1)}));
  EXPECT_THAT(plan.routes,
              ::testing::ElementsAre(R("192.0.2.1", "198.51.100.10")));
  EXPECT_EQ(plan.vips[1].reason, "no next hop for IPv6");
}

TEST(AnnouncePolicy, AddressIsAnnouncedWhileAnyVipOnItQualifies) {
  const VipKey web = Key("192.0.2.1", 80), tls = Key("192.0.2.1", 443);
  const AnnouncePlan plan =
      PlanAnnouncements(Host(), false,
                        Serving(BalancerConfig{{Vip(web), Vip(tls)}},
                                {Status(web, 0, 2), Status(tls, 2)}));
  EXPECT_THAT(plan.routes,
              ::testing::ElementsAre(R("192.0.2.1", "198.51.100.10")));
  EXPECT_FALSE(plan.vips[0].qualifies);
  EXPECT_TRUE(plan.vips[1].qualifies);

  // Both announced (one route); the VIP that does not qualify says why.
  DaemonView daemon{.reachable = true, .installed = plan.routes};
  const std::vector<VipAnnouncement> status = Announcements(plan, daemon);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[0].announced);
  EXPECT_EQ(status[0].reason, "too few healthy backends (0 < 1)");
  EXPECT_TRUE(status[1].announced);
  EXPECT_EQ(status[1].reason, "");
}

TEST(AnnouncePolicy, VipWithoutStatusHasNoHealthyBackend) {
  const VipKey key = Key("192.0.2.1");
  const AnnouncePlan plan =
      PlanAnnouncements(Host(), false, Serving(BalancerConfig{{Vip(key)}}, {}));
  EXPECT_TRUE(plan.routes.empty());
  EXPECT_EQ(plan.vips[0].reason, "too few healthy backends (0 < 1)");
}

TEST(Announcements, QualifyingVipNotInstalledSaysWhy) {
  const VipKey key = Key("192.0.2.1");
  const AnnouncePlan plan = PlanAnnouncements(
      Host(), false, Serving(BalancerConfig{{Vip(key)}}, {Status(key, 1)}));

  std::vector<VipAnnouncement> s =
      Announcements(plan, DaemonView{.reachable = false});
  EXPECT_FALSE(s[0].announced);
  EXPECT_EQ(s[0].reason, "BGP daemon unreachable");

  s = Announcements(plan, DaemonView{.reachable = true});
  EXPECT_FALSE(s[0].announced);
  EXPECT_EQ(s[0].reason, "announcement pending");

  // What an unreachable daemon is believed to hold does not count.
  s = Announcements(plan,
                    DaemonView{.reachable = false, .installed = plan.routes});
  EXPECT_FALSE(s[0].announced);
}

TEST(Announcements, RouteStillInstalledForAWithdrawnVipIsReportedAnnounced) {
  const VipKey key = Key("192.0.2.1");
  const AnnouncePlan plan = PlanAnnouncements(
      Host(), true, Serving(BalancerConfig{{Vip(key)}}, {Status(key, 1)}));
  const std::vector<VipAnnouncement> s = Announcements(
      plan, DaemonView{.reachable = true,
                       .installed = {R("192.0.2.1", "198.51.100.10")}});
  EXPECT_TRUE(s[0].announced);
  EXPECT_EQ(s[0].reason, "host drained");
}

TEST(AnnouncerWithoutBgp, ReportsWhyNothingIsAnnounced) {
  Announcer announcer(AnnouncerOptions{.dataplane_attached = true});
  const VipKey key = Key("192.0.2.1");
  announcer.Update(Changes(BalancerConfig{{Vip(key)}}, {Status(key, 1)}),
                   false);
  const BgpStatus status = announcer.Status();
  EXPECT_FALSE(status.configured);
  EXPECT_FALSE(status.daemon_reachable);
  ASSERT_EQ(status.vips.size(), 1u);
  EXPECT_FALSE(status.vips[0].announced);
  EXPECT_EQ(status.vips[0].reason, "BGP not configured");
}

TEST(AnnouncerWithoutBgp, UpdatesChangeOnlyTheVipsTheyNameAndTheDrain) {
  Announcer announcer(AnnouncerOptions{.dataplane_attached = true});
  const VipKey a = Key("192.0.2.1"), b = Key("192.0.2.2");
  announcer.Update(
      Changes(BalancerConfig{{Vip(a), Vip(b)}}, {Status(a, 1), Status(b, 2)}),
      false);
  // b changes (3 healthy, needs 2); a is deleted.
  announcer.Update({{b, VipServing{.healthy_backends = 3, .min_healthy = 2}},
                    {a, std::nullopt}},
                   false);
  BgpStatus status = announcer.Status();
  ASSERT_EQ(status.vips.size(), 1u);
  EXPECT_EQ(status.vips[0].vip, b);
  EXPECT_EQ(status.vips[0].healthy_backends, 3u);
  EXPECT_EQ(status.vips[0].min_healthy, 2u);
  EXPECT_FALSE(status.host_drained);
  announcer.Update({}, true);  // only the drain: b keeps its numbers
  status = announcer.Status();
  EXPECT_TRUE(status.host_drained);
  ASSERT_EQ(status.vips.size(), 1u);
  EXPECT_EQ(status.vips[0].healthy_backends, 3u);
  EXPECT_EQ(status.vips[0].reason, "BGP not configured");
}

}  // namespace
}  // namespace xlb::bgp
