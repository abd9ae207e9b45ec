#include "lb/model/model.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/maglev/maglev.h"
#include "lb/model/testing/model_testing.h"
#include "lib/flow_hash.h"

namespace xlb {
namespace {

using ::xlb::testing::Backend;
using ::xlb::testing::Ip;
using ::xlb::testing::Key;
using ::xlb::testing::ModelSnapshot;
using ::xlb::testing::Ops;
using ::xlb::testing::Snapshot;
using ::xlb::testing::Vip;

using ::testing::HasSubstr;

VipSettings Checked(double min_healthy_fraction = 0.0) {
  return VipSettings{.min_healthy_fraction = min_healthy_fraction,
                     .health_check = HealthCheckSpec{}};
}

xlb_vip_key AbiKey(const VipKey& key) {
  xlb_vip_key abi{};
  key.address.ToAbi(abi.addr);
  abi.port = htons(key.port);
  abi.proto = static_cast<uint8_t>(key.protocol);
  abi.family = key.address.family();
  return abi;
}

class BalancerTest : public ::testing::Test {
 protected:
  explicit BalancerTest(DataplaneLimits limits = {}) : maps_(limits) {
    balancer_ = *Balancer::Create(&maps_);
  }

  void MustApply(std::vector<Operation> ops) {
    absl::Status status = balancer_->Apply(Ops(std::move(ops)));
    ASSERT_TRUE(status.ok()) << status;
  }
  uint32_t VipIndex(const VipKey& key) {
    return balancer_->GetVipStatus(key)->index;
  }
  uint32_t BackendIndex(absl::string_view address) {
    return balancer_->GetBackendStatus(Ip(address))->index;
  }
  const xlb_backend& BackendEntry(absl::string_view address) {
    return maps_.contents().backends.at(BackendIndex(address));
  }
  std::set<uint32_t> RingMembers(const VipKey& key) {
    auto it = maps_.contents().rings.find(VipIndex(key));
    if (it == maps_.contents().rings.end()) return {};
    return std::set<uint32_t>(it->second.begin(), it->second.end());
  }

  InMemoryMaps maps_;
  std::unique_ptr<Balancer> balancer_;
  const VipKey web_ = Key("192.0.2.1", 80);
  const VipKey dns_ = Key("192.0.2.1", 53, Protocol::kUdp);
};

// Past 65,537 backends of weight 65535 a VIP's weights no longer sum in 32
// bits, which Maglev's apportionment needs: refused before anything is
// written, naming the VIP, at one past the limit and accepted at it.
TEST(BalancerWeightSumTest, AVipsWeightsMustSumWithin32Bits) {
  InMemoryMaps maps(DataplaneLimits{.max_backends = 70000});
  std::unique_ptr<Balancer> balancer = *Balancer::Create(&maps);
  const VipKey key = Key("192.0.2.1", 80);
  std::vector<BackendConfig> backends;
  for (uint32_t i = 0; i < 65537; ++i) {
    backends.push_back(Backend(absl::StrCat("2001:db8::", absl::Hex(i / 65536),
                                            ":", absl::Hex(i % 65536)),
                               kMaxBackendWeight));
  }
  // 65537 * 65535 = 2^32 - 1: the largest sum there is.
  backends.push_back(Backend("2001:db8::ffff:0", 1));
  const InMemoryMaps::Contents empty = maps.contents();
  absl::Status status = balancer->Apply(
      Ops({CreateVipOp{Vip(key, backends, VipSettings{.ring_size = 655373})}}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "vips[192.0.2.1:80/tcp].backends: the weights sum to 4294967296, "
            "above 4294967295");
  EXPECT_TRUE(maps.contents() == empty);
  EXPECT_EQ(balancer->generation(), 0u);
  backends.back().weight = 0;
  status = balancer->Apply(
      Ops({CreateVipOp{Vip(key, backends, VipSettings{.ring_size = 655373})}}));
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(BalancerTest, CreateVipWritesVipEntryBackendsAndRing) {
  MustApply({CreateVipOp{
      Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2", 3)})}});
  const xlb_vip_value& value = maps_.contents().vips.at(AbiKey(web_));
  EXPECT_EQ(value.index, VipIndex(web_));
  EXPECT_EQ(value.ring_size, kDefaultRingSize);
  EXPECT_EQ(value.flags, 0u);
  const xlb_backend& b1 = BackendEntry("198.51.100.1");
  EXPECT_EQ(b1.state, XLB_BACKEND_UP);
  EXPECT_EQ(b1.family, XLB_FAMILY_V4);
  EXPECT_EQ(b1.generation, 1u);
  EXPECT_EQ(IpAddress::FromAbi(b1.family, b1.addr), Ip("198.51.100.1"));

  const uint32_t i1 = BackendIndex("198.51.100.1");
  const uint32_t i2 = BackendIndex("198.51.100.2");
  EXPECT_NE(i1, XLB_NO_BACKEND);
  EXPECT_NE(i2, XLB_NO_BACKEND);
  std::vector<MaglevBackend> members = {
      {Ip("198.51.100.1").IdentityBytes(), 1, i1},
      {Ip("198.51.100.2").IdentityBytes(), 3, i2}};
  EXPECT_EQ(maps_.contents().rings.at(value.index),
            *BuildMaglevTable(members, kDefaultRingSize, 0));
}

TEST_F(BalancerTest, BackendSharedByTwoVipsHasOneRefcountedIndex) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.1")})}});
  BackendStatus shared = *balancer_->GetBackendStatus(Ip("198.51.100.1"));
  EXPECT_EQ(shared.refcount, 2u);
  EXPECT_EQ(shared.index, 1u);  // index 0 is never given out
  EXPECT_NE(VipIndex(web_), VipIndex(dns_));

  MustApply({DeleteVipOp{dns_}});
  EXPECT_EQ(balancer_->GetBackendStatus(Ip("198.51.100.1"))->refcount, 1u);
  EXPECT_EQ(BackendEntry("198.51.100.1").state, XLB_BACKEND_UP);

  MustApply({RemoveBackendOp{web_, Ip("198.51.100.1")}});
  EXPECT_TRUE(absl::IsNotFound(
      balancer_->GetBackendStatus(Ip("198.51.100.1")).status()));
  const xlb_backend& freed = maps_.contents().backends.at(shared.index);
  EXPECT_EQ(freed.state, XLB_BACKEND_UNUSED);
  EXPECT_EQ(freed.generation, shared.generation);
}

TEST_F(BalancerTest, ReusedBackendIndexGetsNewGeneration) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  const BackendStatus first = *balancer_->GetBackendStatus(Ip("198.51.100.1"));
  MustApply({RemoveBackendOp{web_, Ip("198.51.100.1")}});
  MustApply({AddBackendOp{web_, Backend("198.51.100.9")}});
  const BackendStatus second = *balancer_->GetBackendStatus(Ip("198.51.100.9"));
  EXPECT_EQ(second.index, first.index);
  EXPECT_GT(second.generation, first.generation);
  EXPECT_EQ(maps_.contents().backends.at(second.index).generation,
            second.generation);
}

TEST_F(BalancerTest, IndexFreedInAChangeSetIsNotReusedByIt) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  const uint32_t old_index = BackendIndex("198.51.100.1");
  MustApply({RemoveBackendOp{web_, Ip("198.51.100.1")},
             AddBackendOp{web_, Backend("198.51.100.2")}});
  EXPECT_NE(BackendIndex("198.51.100.2"), old_index);
}

TEST_F(BalancerTest, RingSizeChangeMovesVipToNewIndex) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  const uint32_t old_index = VipIndex(web_);
  MustApply({UpdateVipOp{web_, VipSettings{.ring_size = 1021}}});
  const uint32_t new_index = VipIndex(web_);
  EXPECT_NE(new_index, old_index);
  EXPECT_FALSE(maps_.contents().rings.contains(old_index));
  EXPECT_EQ(maps_.contents().rings.at(new_index).size(), 1021u);
  const xlb_vip_value& value = maps_.contents().vips.at(AbiKey(web_));
  EXPECT_EQ(value.index, new_index);
  EXPECT_EQ(value.ring_size, 1021u);
}

TEST_F(BalancerTest, FreedVipIndexLosesItsConnectionEntries) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.1")})}});
  const uint32_t dns_index = VipIndex(dns_);
  const uint32_t web_index = VipIndex(web_);
  MustApply({DeleteVipOp{dns_}});
  EXPECT_EQ(maps_.purged_conn_vips(), std::vector<uint32_t>{dns_index});

  MustApply({UpdateVipOp{web_, VipSettings{.ring_size = 1021}}});
  EXPECT_EQ(maps_.purged_conn_vips(),
            (std::vector<uint32_t>{dns_index, web_index}))
      << "a ring-size change moves the VIP off its old index";
  MustApply({SetWeightOp{web_, Ip("198.51.100.1"), 2}});
  EXPECT_EQ(maps_.purged_conn_vips().size(), 2u) << "nothing freed";
}

TEST_F(BalancerTest, DrainedBackendLeavesRingAndKeepsEstablishedFlows) {
  MustApply({CreateVipOp{
      Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")})}});
  MustApply({SetDrainOp{web_, Ip("198.51.100.2"), true}});
  EXPECT_EQ(RingMembers(web_),
            std::set<uint32_t>{BackendIndex("198.51.100.1")});
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_DRAINING);
  MustApply({SetDrainOp{web_, Ip("198.51.100.2"), false}});
  EXPECT_EQ(RingMembers(web_).size(), 2u);
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_UP);
}

TEST_F(BalancerTest, DrainInOneVipKeepsBackendUpWhileAnotherVipUsesIt) {
  MustApply({CreateVipOp{
                 Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")})},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.2")})}});
  MustApply({SetDrainOp{web_, Ip("198.51.100.2"), true}});
  EXPECT_FALSE(RingMembers(web_).contains(BackendIndex("198.51.100.2")));
  EXPECT_TRUE(RingMembers(dns_).contains(BackendIndex("198.51.100.2")));
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_UP);
  MustApply({SetDrainOp{dns_, Ip("198.51.100.2"), true}});
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_DRAINING);
}

TEST_F(BalancerTest, WeightZeroTakesNoNewFlowsButKeepsEstablishedOnes) {
  MustApply({CreateVipOp{
                 Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")})},
             SetWeightOp{web_, Ip("198.51.100.2"), 0}});
  EXPECT_EQ(RingMembers(web_),
            std::set<uint32_t>{BackendIndex("198.51.100.1")});
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_DRAINING);
}

TEST_F(BalancerTest, BackendOfCheckedVipJoinsRingAfterFirstHealthyReport) {
  MustApply(
      {CreateVipOp{Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")},
                       Checked())},
       SetHealthOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_EQ(RingMembers(web_),
            std::set<uint32_t>{BackendIndex("198.51.100.1")});
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_DOWN);
  MustApply({SetHealthOp{web_, Ip("198.51.100.2"), true}});
  EXPECT_EQ(RingMembers(web_).size(), 2u);
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_UP);
}

TEST_F(BalancerTest, VipGainingAHealthCheckKeepsItsBackendsUp) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  MustApply({UpdateVipOp{web_, Checked()}});
  EXPECT_TRUE(balancer_->GetVipStatus(web_)->backends[0].healthy);
  EXPECT_EQ(RingMembers(web_).size(), 1u);
  MustApply({AddBackendOp{web_, Backend("198.51.100.2")}});
  EXPECT_FALSE(balancer_->GetVipStatus(web_)->backends[1].healthy);
}

TEST_F(BalancerTest, VipWithoutHealthCheckTreatsBackendsAsHealthy) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  EXPECT_TRUE(balancer_->GetVipStatus(web_)->backends[0].healthy);
  absl::Status status =
      balancer_->Apply(Ops({SetHealthOp{web_, Ip("198.51.100.1"), false}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
}

TEST_F(BalancerTest, VipWithNoHealthyBackendLosesItsRingAndCountsIt) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")}, Checked())},
             SetHealthOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_TRUE(balancer_->GetVipStatus(web_)->has_ring);
  const uint64_t events = balancer_->GetVipStatus(web_)->no_backend_events;

  MustApply({SetHealthOp{web_, Ip("198.51.100.1"), false}});
  VipStatus status = *balancer_->GetVipStatus(web_);
  EXPECT_FALSE(status.has_ring);
  EXPECT_EQ(status.no_backend_events, events + 1);
  EXPECT_FALSE(maps_.contents().rings.contains(status.index));
  EXPECT_TRUE(maps_.contents().vips.contains(AbiKey(web_)));
  EXPECT_EQ(BackendEntry("198.51.100.1").state, XLB_BACKEND_DOWN);

  MustApply({SetHealthOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_TRUE(maps_.contents().rings.contains(status.index));
}

TEST_F(BalancerTest, DefaultMinHealthyFractionNeverFailsOpen) {
  MustApply({CreateVipOp{Vip(web_,
                             {Backend("198.51.100.1"), Backend("198.51.100.2"),
                              Backend("198.51.100.3")},
                             Checked())},
             SetHealthOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_FALSE(balancer_->GetVipStatus(web_)->fail_open);
  EXPECT_EQ(RingMembers(web_).size(), 1u);
}

TEST_F(BalancerTest, BelowMinHealthyFractionFailsOpenToUndrainedBackends) {
  BackendConfig drained = Backend("198.51.100.4");
  drained.drained = true;
  MustApply({CreateVipOp{Vip(web_,
                             {Backend("198.51.100.1"), Backend("198.51.100.2"),
                              Backend("198.51.100.3"), drained},
                             Checked(0.5))},
             SetHealthOp{web_, Ip("198.51.100.1"), true}});
  // 1 of 3 undrained backends up: below half.
  EXPECT_TRUE(balancer_->GetVipStatus(web_)->fail_open);
  EXPECT_EQ(RingMembers(web_),
            (std::set<uint32_t>{BackendIndex("198.51.100.1"),
                                BackendIndex("198.51.100.2"),
                                BackendIndex("198.51.100.3")}));
  EXPECT_EQ(BackendEntry("198.51.100.2").state, XLB_BACKEND_UP);
  EXPECT_EQ(BackendEntry("198.51.100.4").state, XLB_BACKEND_DOWN);

  MustApply({SetHealthOp{web_, Ip("198.51.100.2"), true}});  // 2 of 3
  EXPECT_FALSE(balancer_->GetVipStatus(web_)->fail_open);
  EXPECT_EQ(RingMembers(web_).size(), 2u);
  EXPECT_EQ(BackendEntry("198.51.100.3").state, XLB_BACKEND_DOWN);
}

TEST_F(BalancerTest, BatchOf500BackendChangesRebuildsRingOnce) {
  std::vector<BackendConfig> backends;
  for (int i = 0; i < 250; ++i) {
    backends.push_back(Backend(absl::StrCat("198.51.100.", i)));
  }
  MustApply({CreateVipOp{Vip(web_, backends)}});
  std::vector<Operation> ops;
  for (int i = 0; i < 250; ++i) {
    ops.push_back(AddBackendOp{web_, Backend(absl::StrCat("203.0.113.", i))});
    ops.push_back(SetWeightOp{web_, Ip(absl::StrCat("198.51.100.", i)), 2});
  }
  const uint64_t rings_before = maps_.set_ring_count();
  MustApply(std::move(ops));
  EXPECT_EQ(maps_.set_ring_count(), rings_before + 1);
  EXPECT_EQ(RingMembers(web_).size(), 500u);
}

TEST_F(BalancerTest, UnchangedRingIsNotRewritten) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")}, Checked())},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.2")})},
             SetHealthOp{web_, Ip("198.51.100.1"), true}});
  const uint64_t rings_before = maps_.set_ring_count();
  MustApply({SetHealthOp{web_, Ip("198.51.100.1"), true},
             UpdateVipOp{dns_, VipSettings{.echo_reply = true}}});
  EXPECT_EQ(maps_.set_ring_count(), rings_before);
}

TEST_F(BalancerTest, GenerationCountsConfigChangesButNotHealth) {
  EXPECT_EQ(balancer_->generation(), 0u);
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")}, Checked())}});
  EXPECT_EQ(balancer_->generation(), 1u);
  MustApply({SetHealthOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_EQ(balancer_->generation(), 1u);
  MustApply({ReplaceAllOp{balancer_->desired_config()}});
  EXPECT_EQ(balancer_->generation(), 1u);
  MustApply({SetDrainOp{web_, Ip("198.51.100.1"), true}});
  EXPECT_EQ(balancer_->generation(), 2u);
}

TEST_F(BalancerTest, ExpectedGenerationMismatchIsRefused) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  ChangeSet stale = Ops({DeleteVipOp{web_}});
  stale.expected_generation = 0;
  absl::Status status = balancer_->Apply(stale);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("expected_generation: 0"));
  stale.expected_generation = 1;
  EXPECT_TRUE(balancer_->Apply(stale).ok());
}

TEST_F(BalancerTest, OperationsOnMissingOrExistingThingsGiveTheirCodes) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  EXPECT_TRUE(absl::IsAlreadyExists(
      balancer_->Apply(Ops({CreateVipOp{Vip(web_, {})}}))));
  EXPECT_TRUE(absl::IsAlreadyExists(
      balancer_->Apply(Ops({AddBackendOp{web_, Backend("198.51.100.1")}}))));
  EXPECT_TRUE(absl::IsNotFound(balancer_->Apply(Ops({DeleteVipOp{dns_}}))));
  absl::Status status = balancer_->Apply(
      Ops({DeleteVipOp{web_}, SetDrainOp{web_, Ip("198.51.100.1"), true}}));
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(status.message(),
              HasSubstr("ops[1].vip: no VIP 192.0.2.1:80/tcp"));
  status = balancer_->Apply(Ops({RemoveBackendOp{web_, Ip("198.51.100.7")}}));
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(status.message(), HasSubstr("ops[0].address: 198.51.100.7"));
  status =
      balancer_->Apply(Ops({SetWeightOp{web_, Ip("198.51.100.1"), 70000}}));
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_EQ(status.message(), "ops[0].weight: 70000 exceeds 65535");
}

TEST_F(BalancerTest, HealthOverrideIsConfigurationAndKeepsHealth) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")}, Checked())}});
  MustApply({SetHealthOp{web_, Ip("198.51.100.1"), true}});
  BackendConfig overridden = Backend("198.51.100.1");
  overridden.health_override =
      HealthOverride{.port = 8080, .interval = absl::Seconds(10)};
  MustApply({ReplaceVipOp{Vip(web_, {overridden}, Checked())}});
  EXPECT_EQ(balancer_->generation(), 2u);
  EXPECT_EQ(balancer_->desired_config().vips[0].backends[0], overridden);
  EXPECT_TRUE(balancer_->GetVipStatus(web_)->backends[0].healthy);
}

TEST_F(BalancerTest, HealthOverrideMustSuitTheVipsCheck) {
  MustApply({CreateVipOp{Vip(web_, {}, Checked())}});
  BackendConfig fast = Backend("198.51.100.1");
  fast.health_override = HealthOverride{.interval = absl::Seconds(1)};
  absl::Status status = balancer_->Apply(Ops({AddBackendOp{web_, fast}}));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "ops[0].backend.health_override.interval: 1s is below the health "
            "check's timeout 2s; override the timeout too");

  fast.health_override->timeout = absl::Milliseconds(500);
  MustApply({AddBackendOp{web_, fast}});
  // A check whose timeout the override's interval cannot hold is refused.
  VipSettings slow = Checked();
  slow.health_check->interval = absl::Seconds(30);
  slow.health_check->timeout = absl::Seconds(20);
  slow.health_check->jitter = absl::Seconds(10);
  status = balancer_->Apply(Ops({UpdateVipOp{web_, slow}}));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("ops[0].settings.health_check: backend 198.51.100.1's "
                        "health_override.interval: 1s is not above the health "
                        "check's jitter 10s"));
  // Without a check the override waits, unused.
  MustApply({UpdateVipOp{web_, VipSettings{}}});
}

TEST_F(BalancerTest, RefusedChangeSetWritesNothing) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})}});
  const uint64_t writes = maps_.write_count();
  const ModelSnapshot before = Snapshot(*balancer_);
  EXPECT_FALSE(balancer_
                   ->Apply(Ops({AddBackendOp{web_, Backend("198.51.100.2")},
                                DeleteVipOp{dns_}}))
                   .ok());
  EXPECT_EQ(maps_.write_count(), writes);
  EXPECT_EQ(Snapshot(*balancer_), before);
}

TEST_F(BalancerTest, EchoReplyWritesOneIcmpEntryPerAddress) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")},
                             VipSettings{.echo_reply = true})},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.1")},
                             VipSettings{.echo_reply = true})}});
  const xlb_vip_key echo = AbiKey(VipKey{.address = Ip("192.0.2.1"),
                                         .port = 0,
                                         .protocol = Protocol(IPPROTO_ICMP)});
  ASSERT_TRUE(maps_.contents().vips.contains(echo));
  EXPECT_EQ(maps_.contents().vips.at(echo).flags, XLB_VIP_F_ECHO);
  EXPECT_EQ(maps_.contents().vips.size(), 3u);
  MustApply({DeleteVipOp{dns_}});
  EXPECT_TRUE(maps_.contents().vips.contains(echo));
  MustApply({UpdateVipOp{web_, VipSettings{}}});
  EXPECT_FALSE(maps_.contents().vips.contains(echo));
}

TEST_F(BalancerTest, SynRateLimitIsWrittenToTheVipEntryAndChangesInPlace) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")},
                             VipSettings{.syn_rate_limit = 5000})}});
  const uint32_t index = VipIndex(web_);
  EXPECT_EQ(maps_.contents().vips.at(AbiKey(web_)).syn_rate_limit, 5000u);
  MustApply({UpdateVipOp{web_, VipSettings{.syn_rate_limit = 0}}});
  const xlb_vip_value& value = maps_.contents().vips.at(AbiKey(web_));
  EXPECT_EQ(value.syn_rate_limit, 0u);
  EXPECT_EQ(value.index, index) << "a limit change keeps the VIP's index";
}

TEST_F(BalancerTest, HashWithoutSourcePortSetsVipFlag) {
  MustApply(
      {CreateVipOp{Vip(web_, {Backend("198.51.100.1")},
                       VipSettings{.hash_mode = HashMode::kNoSourcePort})}});
  EXPECT_EQ(maps_.contents().vips.at(AbiKey(web_)).flags,
            XLB_VIP_F_HASH_NO_SRC_PORT);
}

TEST_F(BalancerTest, ReplaceVipKeepsIndexesAndHealthOfKeptBackends) {
  MustApply(
      {CreateVipOp{Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")},
                       Checked())},
       SetHealthOp{web_, Ip("198.51.100.1"), true}});
  const uint32_t kept = BackendIndex("198.51.100.1");
  MustApply({ReplaceVipOp{
      Vip(web_, {Backend("198.51.100.1", 5), Backend("198.51.100.3")},
          Checked())}});
  VipStatus status = *balancer_->GetVipStatus(web_);
  ASSERT_EQ(status.backends.size(), 2u);
  EXPECT_EQ(status.backends[0].index, kept);
  EXPECT_TRUE(status.backends[0].healthy);
  EXPECT_FALSE(status.backends[1].healthy);
  EXPECT_TRUE(absl::IsNotFound(
      balancer_->GetBackendStatus(Ip("198.51.100.2")).status()));
  EXPECT_EQ(balancer_->desired_config().vips[0].backends[0].weight, 5u);
}

TEST_F(BalancerTest, ReplaceAllRemovesUnlistedVips) {
  MustApply({CreateVipOp{Vip(web_, {Backend("198.51.100.1")})},
             CreateVipOp{Vip(dns_, {Backend("198.51.100.2")})}});
  const uint32_t dns_index = VipIndex(dns_);
  BalancerConfig desired{.vips = {Vip(web_, {Backend("198.51.100.1")})}};
  MustApply({ReplaceAllOp{desired}});
  EXPECT_EQ(balancer_->desired_config(), desired);
  EXPECT_FALSE(maps_.contents().vips.contains(AbiKey(dns_)));
  EXPECT_FALSE(maps_.contents().rings.contains(dns_index));
}

TEST_F(BalancerTest, RingDoesNotDependOnTheOrderBackendsWereAdded) {
  const VipKey other = Key("192.0.2.2", 80);
  MustApply({CreateVipOp{
                 Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2")})},
             CreateVipOp{Vip(
                 other, {Backend("198.51.100.2"), Backend("198.51.100.1")})}});
  EXPECT_EQ(maps_.contents().rings.at(VipIndex(web_)),
            maps_.contents().rings.at(VipIndex(other)));
}

TEST_F(BalancerTest, PredictBackendUsesTheVipRingAndTheDataPlaneHash) {
  const VipKey any_port = Key("192.0.2.9", 0);
  MustApply(
      {CreateVipOp{Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2"),
                              Backend("198.51.100.3")})},
       CreateVipOp{Vip(any_port, {Backend("198.51.100.4")})}});
  const uint32_t seed = 0x5eed;
  std::set<uint32_t> seen;
  for (uint16_t port = 1000; port < 1100; ++port) {
    xlb_flow flow{};
    flow.family = XLB_FAMILY_V4;
    flow.proto = IPPROTO_TCP;
    Ip("203.0.113.7").ToAbi(flow.src);
    web_.address.ToAbi(flow.dst);
    flow.sport = htons(port);
    flow.dport = htons(80);
    auto predicted = balancer_->PredictBackend(flow, seed);
    ASSERT_TRUE(predicted.ok() && predicted->has_value());
    const std::vector<uint32_t>& ring =
        maps_.contents().rings.at(VipIndex(web_));
    EXPECT_EQ((*predicted)->index,
              ring[xlb_ring_slot(xlb_flow_hash(&flow, seed, 1), ring.size())]);
    seen.insert((*predicted)->index);
  }
  EXPECT_EQ(seen.size(), 3u);

  xlb_flow wildcard{};
  wildcard.family = XLB_FAMILY_V4;
  wildcard.proto = IPPROTO_TCP;
  any_port.address.ToAbi(wildcard.dst);
  wildcard.dport = htons(8443);
  EXPECT_EQ((*balancer_->PredictBackend(wildcard, seed))->address,
            Ip("198.51.100.4"));
  wildcard.proto = IPPROTO_UDP;
  EXPECT_TRUE(
      absl::IsNotFound(balancer_->PredictBackend(wildcard, seed).status()));
}

// 8 bytes little-endian.
std::string Le64(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>(value >> (8 * i)));
  return bytes;
}

// VipStatus::ring_digest recomputed from the maps alone: XXH64 of the
// VIP's ring (its members' keys, family byte and 16 address bytes, in key
// order, then every slot as its member's rank in that order from 1, 4 bytes
// little-endian) and the VIP's hash fields (flag XLB_VIP_F_HASH_NO_SRC_PORT).
uint64_t RingDigestOfMaps(const InMemoryMaps& maps, const xlb_vip_key& key) {
  const xlb_vip_value& vip = maps.contents().vips.at(key);
  const std::vector<uint32_t>& ring = maps.contents().rings.at(vip.index);
  std::map<std::string, uint32_t> index_by_key;
  for (uint32_t index : std::set<uint32_t>(ring.begin(), ring.end())) {
    const xlb_backend& entry = maps.contents().backends.at(index);
    index_by_key[IpAddress::FromAbi(entry.family, entry.addr).IdentityBytes()] =
        index;
  }
  std::string bytes;
  std::map<uint32_t, uint32_t> rank_of_index;
  for (const auto& [key, index] : index_by_key) {
    bytes += key;
    rank_of_index[index] = static_cast<uint32_t>(rank_of_index.size() + 1);
  }
  for (uint32_t index : ring) {
    const uint32_t rank = rank_of_index.at(index);
    const char le[4] = {static_cast<char>(rank), static_cast<char>(rank >> 8),
                        static_cast<char>(rank >> 16),
                        static_cast<char>(rank >> 24)};
    bytes.append(le, 4);
  }
  const char no_source_port =
      (vip.flags & XLB_VIP_F_HASH_NO_SRC_PORT) != 0 ? 1 : 0;
  return XxHash64(Le64(XxHash64(bytes, 0)) + no_source_port, 0);
}

TEST_F(BalancerTest, RingDigestHashesTheRingByAddressAndIsUnsetWithoutOne) {
  MustApply({CreateVipOp{
      Vip(web_, {Backend("198.51.100.1"), Backend("198.51.100.2", 3)})}});
  const std::optional<uint64_t> two =
      balancer_->GetVipStatus(web_)->ring_digest;
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(*two, RingDigestOfMaps(maps_, AbiKey(web_)));

  MustApply({AddBackendOp{web_, Backend("2001:db8::7")}});
  const std::optional<uint64_t> three =
      balancer_->GetVipStatus(web_)->ring_digest;
  ASSERT_TRUE(three.has_value());
  EXPECT_NE(*three, *two);
  EXPECT_EQ(*three, RingDigestOfMaps(maps_, AbiKey(web_)));

  // A weight change moves slots: a new ring, a new digest.
  MustApply({SetWeightOp{web_, Ip("198.51.100.2"), 1}});
  EXPECT_NE(balancer_->GetVipStatus(web_)->ring_digest, three);

  // Back to the first ring: the first digest, though the table was
  // rewritten in between.
  MustApply({RemoveBackendOp{web_, Ip("2001:db8::7")},
             SetWeightOp{web_, Ip("198.51.100.2"), 3}});
  EXPECT_EQ(balancer_->GetVipStatus(web_)->ring_digest, two);

  // Hashing without the source port sends flows to other slots: another
  // digest, though the ring stays.
  const uint64_t ring_writes = maps_.set_ring_count();
  MustApply(
      {UpdateVipOp{web_, VipSettings{.hash_mode = HashMode::kNoSourcePort}}});
  EXPECT_EQ(maps_.set_ring_count(), ring_writes);
  EXPECT_NE(balancer_->GetVipStatus(web_)->ring_digest, two);
  EXPECT_EQ(balancer_->GetVipStatus(web_)->ring_digest,
            RingDigestOfMaps(maps_, AbiKey(web_)));

  // No eligible backend, no ring, no digest.
  MustApply({SetDrainOp{web_, Ip("198.51.100.1")},
             SetDrainOp{web_, Ip("198.51.100.2")}});
  EXPECT_FALSE(balancer_->GetVipStatus(web_)->has_ring);
  EXPECT_EQ(balancer_->GetVipStatus(web_)->ring_digest, std::nullopt);
}

TEST_F(BalancerTest, RingDigestFollowsHealth) {
  MustApply({CreateVipOp{Vip(
      web_, {Backend("198.51.100.1"), Backend("198.51.100.2")}, Checked())}});
  EXPECT_EQ(balancer_->GetVipStatus(web_)->ring_digest, std::nullopt);
  MustApply({SetHealthOp{web_, Ip("198.51.100.1")},
             SetHealthOp{web_, Ip("198.51.100.2")}});
  const std::optional<uint64_t> both =
      balancer_->GetVipStatus(web_)->ring_digest;
  ASSERT_TRUE(both.has_value());
  MustApply({SetHealthOp{web_, Ip("198.51.100.2"), false}});
  const std::optional<uint64_t> one =
      balancer_->GetVipStatus(web_)->ring_digest;
  ASSERT_TRUE(one.has_value());
  EXPECT_NE(*one, *both);
  EXPECT_EQ(*one, RingDigestOfMaps(maps_, AbiKey(web_)));
  MustApply({SetHealthOp{web_, Ip("198.51.100.2")}});
  EXPECT_EQ(balancer_->GetVipStatus(web_)->ring_digest, both);
}

TEST(BalancerRingDigestTest, HostsThatNumberBackendsDifferentlyAgree) {
  const VipKey web = Key("192.0.2.1", 80);
  const VipConfig vip =
      Vip(web, {Backend("198.51.100.1"), Backend("198.51.100.2", 2),
                Backend("2001:db8::1")});
  // Host A first had another backend, which took index 1; host B did not.
  InMemoryMaps maps_a;
  auto a = *Balancer::Create(&maps_a);
  ASSERT_TRUE(
      a->Apply(Ops({CreateVipOp{Vip(web, {Backend("198.51.100.9")})}})).ok());
  ASSERT_TRUE(a->Apply(Ops({ReplaceVipOp{vip}})).ok());
  InMemoryMaps maps_b;
  auto b = *Balancer::Create(&maps_b);
  ASSERT_TRUE(b->Apply(Ops({ReplaceVipOp{vip}})).ok());

  ASSERT_NE(a->GetBackendStatus(Ip("198.51.100.1"))->index,
            b->GetBackendStatus(Ip("198.51.100.1"))->index);
  EXPECT_NE(maps_a.contents().rings.begin()->second,
            maps_b.contents().rings.begin()->second)
      << "the tables as written hold each host's own indexes";
  ASSERT_TRUE(a->GetVipStatus(web)->ring_digest.has_value());
  EXPECT_EQ(a->GetVipStatus(web)->ring_digest,
            b->GetVipStatus(web)->ring_digest);

  // The same backends with another Maglev seed: other slots.
  VipConfig reseeded = vip;
  reseeded.settings.maglev_seed = 7;
  ASSERT_TRUE(b->Apply(Ops({ReplaceVipOp{reseeded}})).ok());
  EXPECT_NE(a->GetVipStatus(web)->ring_digest,
            b->GetVipStatus(web)->ring_digest);
}

}  // namespace
}  // namespace xlb
