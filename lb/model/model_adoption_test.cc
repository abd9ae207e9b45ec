// Adoption: a balancer created over maps an earlier agent filled keeps what
// is there (indexes, generations, rings, health) and writes only what
// differs; and Restore returns model and maps to a snapshot.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/model/model.h"
#include "lb/model/testing/model_testing.h"

namespace xlb {
namespace {

using ::xlb::testing::Ip;

const VipKey kWeb{.address = Ip("192.0.2.1"), .port = 80};
const VipKey kDns{
    .address = Ip("192.0.2.2"), .port = 53, .protocol = Protocol::kUdp};

BalancerConfig Config() {
  VipSettings checked{.health_check = HealthCheckSpec{}};
  return BalancerConfig{
      .vips = {
          VipConfig{
              .key = kWeb,
              .settings = checked,
              .backends = {{.address = Ip("198.51.100.1")},
                           {.address = Ip("198.51.100.2")},
                           {.address = Ip("198.51.100.3"), .drained = true},
                           {.address = Ip("2001:db8::9")}}},
          VipConfig{.key = kDns,
                    .backends = {{.address = Ip("198.51.100.2")},
                                 {.address = Ip("198.51.100.4"), .weight = 3}}},
      }};
}

ChangeSet ReplaceAll(BalancerConfig config) {
  return ChangeSet{.ops = {ReplaceAllOp{std::move(config)}}};
}

// The first agent: configures, marks health, and goes away leaving maps
// (and, when asked, what it reported about its VIPs).
void RunFirstAgent(InMemoryMaps& maps,
                   std::vector<VipStatus>* statuses = nullptr) {
  auto first = *Balancer::Create(&maps);
  ASSERT_TRUE(first->Apply(ReplaceAll(Config())).ok());
  for (const char* up : {"198.51.100.1", "198.51.100.2", "198.51.100.3"}) {
    ASSERT_TRUE(first
                    ->Apply(ChangeSet{
                        .ops = {SetHealthOp{.vip = kWeb, .address = Ip(up)}}})
                    .ok());
  }
  // 2001:db8::9 stays down.
  if (statuses != nullptr) *statuses = first->ListVipStatus();
}

TEST(BalancerAdoptionTest, RestartWithSameConfigWritesNothing) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  const InMemoryMaps::Contents before = maps.contents();
  const uint64_t writes = maps.write_count();

  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(Config())).ok());
  EXPECT_EQ(maps.write_count(), writes) << "adoption rewrote entries";
  EXPECT_TRUE(maps.contents() == before);
}

TEST(BalancerAdoptionTest, AdoptedRingsKeepTheirDigests) {
  InMemoryMaps maps;
  std::vector<VipStatus> first;
  RunFirstAgent(maps, &first);
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(Config())).ok());
  const std::vector<VipStatus> adopted = second->ListVipStatus();
  ASSERT_EQ(adopted.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    ASSERT_TRUE(first[i].ring_digest.has_value());
    EXPECT_EQ(adopted[i].ring_digest, first[i].ring_digest)
        << first[i].key.ToString();
  }
}

TEST(BalancerAdoptionTest, AdoptedBackendsKeepIndexAndGeneration) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  const InMemoryMaps::Contents before = maps.contents();
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(Config())).ok());
  for (const BackendStatus& status : second->ListBackendStatus()) {
    const xlb_backend& entry = before.backends.at(status.index);
    EXPECT_EQ(IpAddress::FromAbi(entry.family, entry.addr), status.address);
    EXPECT_EQ(entry.generation, status.generation);
  }
}

TEST(BalancerAdoptionTest, CheckedBackendsTakeTheirHealthFromTheMaps) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(Config())).ok());
  const VipStatus web = *second->GetVipStatus(kWeb);
  ASSERT_EQ(web.backends.size(), 4u);
  EXPECT_TRUE(web.backends[0].healthy);   // in the ring
  EXPECT_TRUE(web.backends[1].healthy);   // in the ring
  EXPECT_TRUE(web.backends[2].healthy);   // drained, entry DRAINING
  EXPECT_FALSE(web.backends[3].healthy);  // was down
  EXPECT_TRUE(web.has_ring);
}

TEST(BalancerAdoptionTest, ChangedConfigRewritesOnlyWhatDiffers) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  const InMemoryMaps::Contents before = maps.contents();
  const uint64_t rings_written = maps.set_ring_count();
  BalancerConfig changed = Config();
  changed.vips[1].backends.pop_back();  // kDns loses 198.51.100.4
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(changed)).ok());
  EXPECT_EQ(maps.set_ring_count(), rings_written + 1);  // kDns only
  EXPECT_EQ(maps.contents().rings.at(second->GetVipStatus(kWeb)->index),
            before.rings.at(second->GetVipStatus(kWeb)->index));
  // The removed address's entry is retired, keeping its generation.
  uint32_t retired = 0;
  for (const auto& [index, entry] : before.backends) {
    if (IpAddress::FromAbi(entry.family, entry.addr) == Ip("198.51.100.4")) {
      retired = index;
    }
  }
  ASSERT_NE(retired, 0u);
  EXPECT_EQ(maps.contents().backends.at(retired).state, XLB_BACKEND_UNUSED);
  EXPECT_EQ(maps.contents().backends.at(retired).generation,
            before.backends.at(retired).generation);
}

TEST(BalancerAdoptionTest, EmptyConfigClearsWhatAnEarlierAgentLeft) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second->Apply(ReplaceAll(BalancerConfig{})).ok());
  EXPECT_TRUE(maps.contents().vips.empty());
  EXPECT_TRUE(maps.contents().rings.empty());
  for (const auto& [index, entry] : maps.contents().backends) {
    EXPECT_EQ(entry.state, XLB_BACKEND_UNUSED) << index;
  }
}

TEST(BalancerAdoptionTest, ChangedRingSizeMovesTheVipToANewIndex) {
  InMemoryMaps maps;
  RunFirstAgent(maps);
  auto second = *Balancer::Create(&maps);
  BalancerConfig changed = Config();
  changed.vips[0].settings.ring_size = 1021;
  ASSERT_TRUE(second->Apply(ReplaceAll(changed)).ok());
  const VipStatus web = *second->GetVipStatus(kWeb);
  EXPECT_EQ(maps.contents().rings.at(web.index).size(), 1021u);
  EXPECT_EQ(maps.contents().rings.size(), 2u);  // the old index's ring is gone
}

// The model keeps no adopted ring: undoing a failed first write puts back
// what the earlier agent left, read from the maps before it is replaced.
TEST(BalancerAdoptionTest, FailedFirstWriteLeavesTheEarlierAgentsMaps) {
  BalancerConfig changed = Config();
  changed.vips[0].backends.pop_back();
  changed.vips[0].settings.maglev_seed = 7;   // every web ring entry moves
  changed.vips[1].settings.ring_size = 1021;  // kDns moves to a new index
  InMemoryMaps reference_maps;
  RunFirstAgent(reference_maps);
  const uint64_t setup_writes = reference_maps.write_count();
  ASSERT_TRUE(
      (*Balancer::Create(&reference_maps))->Apply(ReplaceAll(changed)).ok());
  const uint64_t change_writes = reference_maps.write_count() - setup_writes;
  ASSERT_GE(change_writes, 4u);

  for (uint64_t k = 1; k <= change_writes; ++k) {
    SCOPED_TRACE(absl::StrCat("failing write ", k, " of ", change_writes));
    InMemoryMaps maps;
    RunFirstAgent(maps);
    const InMemoryMaps::Contents before = maps.contents();
    auto second = *Balancer::Create(&maps);
    maps.FailWrite(maps.write_count() + k);
    EXPECT_TRUE(absl::IsUnavailable(second->Apply(ReplaceAll(changed))));
    EXPECT_TRUE(maps.contents() == before);
    // Still adopting: the same change then lands where it would have.
    ASSERT_TRUE(second->Apply(ReplaceAll(changed)).ok());
    EXPECT_TRUE(maps.contents() == reference_maps.contents());
  }
}

TEST(BalancerRestoreTest, RestoreReturnsModelAndMapsToTheSnapshot) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  ASSERT_TRUE(balancer->Apply(ReplaceAll(Config())).ok());
  const InMemoryMaps::Contents before = maps.contents();
  const BalancerConfig config = balancer->desired_config();
  auto snapshot = balancer->TakeSnapshot();

  ASSERT_TRUE(
      balancer
          ->Apply(ChangeSet{
              .ops = {AddBackendOp{.vip = kDns,
                                   .backend = {.address = Ip("198.51.100.7")}},
                      RemoveBackendOp{.vip = kDns,
                                      .address = Ip("198.51.100.4")},
                      DeleteVipOp{.key = kWeb}}})
          .ok());
  ASSERT_TRUE(balancer->Restore(*snapshot).ok());
  EXPECT_EQ(balancer->desired_config(), config);
  // Same entries, except the index given to 198.51.100.7 is now UNUSED with
  // the generation it was given.
  InMemoryMaps::Contents after = maps.contents();
  for (auto it = after.backends.begin(); it != after.backends.end();) {
    if (!before.backends.contains(it->first)) {
      EXPECT_EQ(it->second.state, XLB_BACKEND_UNUSED);
      it = after.backends.erase(it);
    } else {
      ++it;
    }
  }
  EXPECT_TRUE(after == before);
}

}  // namespace
}  // namespace xlb
