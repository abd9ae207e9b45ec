// Apply looks only at what a change set touches. These tests drive a model
// through a long random sequence of change sets and check after each one
// that the maps hold exactly what the whole state implies (Resync changes
// nothing), that the model equals one built from scratch with the same
// configuration and health, and that each VIP's ring digest moves exactly
// when where its new flows go does.
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/model/model.h"
#include "lb/model/testing/model_testing.h"

namespace xlb {
namespace {

using ::xlb::testing::Ip;
using ::xlb::testing::Key;
using ::xlb::testing::Ops;

// Each VIP's ring as backend addresses (indexes differ between models).
std::map<VipKey, std::vector<IpAddress>> RingsByAddress(
    const Balancer& balancer, const InMemoryMaps& maps) {
  std::map<uint32_t, IpAddress> address_of;
  for (const BackendStatus& b : balancer.ListBackendStatus()) {
    address_of[b.index] = b.address;
  }
  std::map<VipKey, std::vector<IpAddress>> rings;
  for (const VipStatus& vip : balancer.ListVipStatus()) {
    auto ring = maps.contents().rings.find(vip.index);
    if (ring == maps.contents().rings.end()) continue;
    std::vector<IpAddress>& out = rings[vip.key];
    for (uint32_t index : ring->second) out.push_back(address_of[index]);
  }
  return rings;
}

// What the model reports, without the indexes and counters that depend on
// its history.
struct Observed {
  std::vector<VipStatus> vips;
  std::vector<BackendStatus> backends;
  std::map<VipKey, std::vector<IpAddress>> rings;
  bool operator==(const Observed&) const = default;
};

Observed Observe(const Balancer& balancer, const InMemoryMaps& maps) {
  Observed o{.vips = balancer.ListVipStatus(),
             .backends = balancer.ListBackendStatus(),
             .rings = RingsByAddress(balancer, maps)};
  for (VipStatus& vip : o.vips) {
    vip.index = 0;
    vip.no_backend_events = 0;
    for (VipBackendStatus& b : vip.backends) b.index = 0;
  }
  for (BackendStatus& b : o.backends) b.index = b.generation = 0;
  return o;
}

class RandomChanges {
 public:
  explicit RandomChanges(uint32_t seed) : random_(seed) {
    // Two VIPs share an address, so their echo entry is shared too.
    for (const char* address : {"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
      for (uint16_t port : {80, 443}) keys_.push_back(Key(address, port));
    }
    for (int i = 1; i <= 10; ++i) {
      addresses_.push_back(Ip(absl::StrCat("198.51.100.", i)));
    }
    addresses_.push_back(Ip("2001:db8:1::1"));
    addresses_.push_back(Ip("2001:db8:1::2"));
  }

  ChangeSet Next(const Balancer& balancer) {
    ChangeSet changes;
    // Mostly one operation: one that fails fails the whole change set.
    const int n = Pick(4) == 0 ? 3 : 1;
    for (int i = 0; i < n; ++i) changes.ops.push_back(Op(balancer));
    return changes;
  }

 private:
  int Pick(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(random_);
  }
  bool Coin() { return Pick(2) == 0; }

  VipSettings Settings() {
    VipSettings settings{.ring_size = Coin() ? 1021u : 2039u,
                         .echo_reply = Pick(3) == 0,
                         .min_healthy_fraction = Pick(4) == 0 ? 0.5 : 0.0};
    if (Coin()) settings.health_check = HealthCheckSpec{};
    return settings;
  }
  VipConfig Config(const VipKey& key) {
    VipConfig vip{.key = key, .settings = Settings()};
    for (const IpAddress& address : addresses_) {
      if (Pick(3) != 0) continue;
      vip.backends.push_back(
          BackendConfig{.address = address,
                        .weight = static_cast<uint32_t>(Pick(3)),
                        .drained = Pick(5) == 0});
    }
    return vip;
  }

  Operation Op(const Balancer& balancer) {
    const VipKey key = keys_[Pick(keys_.size())];
    const IpAddress address = addresses_[Pick(addresses_.size())];
    absl::StatusOr<VipConfig> vip = balancer.GetVipConfig(key);
    if (!vip.ok()) return CreateVipOp{Config(key)};
    // Mostly backends of the VIP, so that most operations succeed.
    const IpAddress member =
        !vip->backends.empty() && Pick(4) != 0
            ? vip->backends[Pick(vip->backends.size())].address
            : address;
    switch (Pick(9)) {
      case 0:
        return DeleteVipOp{.key = key};
      case 1:
        return UpdateVipOp{.key = key, .settings = Settings()};
      case 2:
        return ReplaceVipOp{Config(key)};
      case 3:
        for (const BackendConfig& b : vip->backends) {
          if (b.address == address)
            return RemoveBackendOp{.vip = key, .address = address};
        }
        return AddBackendOp{.vip = key, .backend = {.address = address}};
      case 4:
        return RemoveBackendOp{.vip = key, .address = member};
      case 5:
        return SetWeightOp{.vip = key,
                           .address = member,
                           .weight = static_cast<uint32_t>(Pick(3))};
      case 6:
        return SetDrainOp{.vip = key, .address = member, .drained = Coin()};
      default:
        if (!vip->settings.health_check.has_value() || vip->backends.empty()) {
          return AddBackendOp{.vip = key, .backend = {.address = address}};
        }
        return SetHealthOp{.vip = key, .address = member, .healthy = Coin()};
    }
  }

  std::mt19937 random_;
  std::vector<VipKey> keys_;
  std::vector<IpAddress> addresses_;
};

// The same configuration and health, applied at once to an empty model.
Observed FromScratch(const Balancer& balancer) {
  InMemoryMaps maps;
  auto fresh = *Balancer::Create(&maps);
  EXPECT_TRUE(
      fresh->Apply(Ops({ReplaceAllOp{balancer.desired_config()}})).ok());
  ChangeSet health;
  for (const VipStatus& vip : balancer.ListVipStatus()) {
    if (!balancer.GetVipConfig(vip.key)->settings.health_check) continue;
    for (const VipBackendStatus& b : vip.backends) {
      health.ops.push_back(SetHealthOp{
          .vip = vip.key, .address = b.address, .healthy = b.healthy});
    }
  }
  EXPECT_TRUE(fresh->Apply(health).ok());
  return Observe(*fresh, maps);
}

TEST(BalancerIncrementalTest, EveryChangeEqualsTheWholeStateRewritten) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  RandomChanges random(20);
  int applied = 0;
  for (int i = 0; i < 400; ++i) {
    const ChangeSet changes = random.Next(*balancer);
    const uint64_t generation = balancer->generation();
    const BalancerConfig before = balancer->desired_config();
    std::vector<VipKey> changed;
    if (!balancer->Apply(changes, &changed).ok()) continue;
    ++applied;
    // The VIPs reported changed are exactly those whose configuration did.
    const BalancerConfig after = balancer->desired_config();
    std::vector<VipKey> expected;
    std::map<VipKey, const VipConfig*> old_vips, new_vips;
    for (const VipConfig& vip : before.vips) old_vips[vip.key] = &vip;
    for (const VipConfig& vip : after.vips) new_vips[vip.key] = &vip;
    for (const auto& [key, vip] : old_vips) {
      auto it = new_vips.find(key);
      if (it == new_vips.end() || !(*it->second == *vip))
        expected.push_back(key);
    }
    for (const auto& [key, vip] : new_vips) {
      if (!old_vips.contains(key)) expected.push_back(key);
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(changed, expected) << "change set " << i;
    EXPECT_EQ(balancer->generation(), generation + (expected.empty() ? 0 : 1));

    const InMemoryMaps::Contents written = maps.contents();
    ASSERT_TRUE(balancer->Resync().ok());
    ASSERT_TRUE(maps.contents() == written) << "change set " << i;
    ASSERT_TRUE(Observe(*balancer, maps) == FromScratch(*balancer))
        << "change set " << i;
    // Each backend entry: the best of its states in the VIPs using it.
    std::map<IpAddress, std::pair<uint32_t, BackendState>> derived;
    for (const VipStatus& vip : balancer->ListVipStatus()) {
      for (const VipBackendStatus& b : vip.backends) {
        auto [it, added] =
            derived.try_emplace(b.address, std::pair(0u, BackendState::kDown));
        ++it->second.first;
        if (b.state == BackendState::kUp ||
            (b.state == BackendState::kDraining &&
             it->second.second == BackendState::kDown)) {
          it->second.second = b.state;
        }
      }
    }
    std::map<IpAddress, std::pair<uint32_t, BackendState>> reported;
    for (const BackendStatus& b : balancer->ListBackendStatus()) {
      reported[b.address] = {b.refcount, b.state};
    }
    ASSERT_EQ(reported, derived) << "change set " << i;
  }
  EXPECT_GT(applied, 250);  // the sequence exercised the model
}

// Where a VIP's new flows go: its ring by address and its hash fields
// (absent: no ring).
using Placement = std::pair<std::vector<IpAddress>, HashMode>;
std::map<VipKey, Placement> Placements(const Balancer& balancer,
                                       const InMemoryMaps& maps) {
  std::map<VipKey, Placement> placements;
  for (auto& [key, ring] : RingsByAddress(balancer, maps)) {
    placements[key] = {std::move(ring),
                       balancer.GetVipConfig(key)->settings.hash_mode};
  }
  return placements;
}

TEST(BalancerIncrementalTest, RingDigestMovesExactlyWhenPlacementDoes) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  RandomChanges random(31);
  std::mt19937 flip(5);
  // Every placement seen and its digest: one digest per placement, and no
  // two placements with one digest, whatever history led there.
  std::map<Placement, uint64_t> digest_of;
  std::map<uint64_t, Placement> placement_of;
  int moved = 0, kept = 0;
  for (int i = 0; i < 400; ++i) {
    ChangeSet changes = random.Next(*balancer);
    // Now and then the hash fields alone change: the ring stays, the
    // digest must not.
    if (flip() % 8 == 0) {
      const std::vector<VipStatus> vips = balancer->ListVipStatus();
      if (!vips.empty()) {
        const VipKey key = vips[flip() % vips.size()].key;
        VipSettings settings = balancer->GetVipConfig(key)->settings;
        settings.hash_mode = settings.hash_mode == HashMode::kFiveTuple
                                 ? HashMode::kNoSourcePort
                                 : HashMode::kFiveTuple;
        changes = Ops({UpdateVipOp{.key = key, .settings = settings}});
      }
    }
    const std::map<VipKey, Placement> before = Placements(*balancer, maps);
    std::map<VipKey, std::optional<uint64_t>> digests_before;
    for (const VipStatus& vip : balancer->ListVipStatus()) {
      digests_before[vip.key] = vip.ring_digest;
    }
    if (!balancer->Apply(changes).ok()) continue;
    const std::map<VipKey, Placement> after = Placements(*balancer, maps);
    for (const VipStatus& vip : balancer->ListVipStatus()) {
      auto placement = after.find(vip.key);
      ASSERT_EQ(vip.ring_digest.has_value(), placement != after.end())
          << "change set " << i << ", " << vip.key.ToString();
      if (!vip.ring_digest.has_value()) continue;
      auto [d, new_placement] =
          digest_of.try_emplace(placement->second, *vip.ring_digest);
      ASSERT_EQ(d->second, *vip.ring_digest)
          << "change set " << i << ", " << vip.key.ToString()
          << ": a placement seen before has another digest";
      auto [p, new_digest] =
          placement_of.try_emplace(*vip.ring_digest, placement->second);
      ASSERT_TRUE(p->second == placement->second)
          << "change set " << i << ", " << vip.key.ToString()
          << ": two placements share a digest";
      auto old = before.find(vip.key);
      if (old == before.end() || !digests_before.contains(vip.key)) continue;
      const bool placement_moved = !(old->second == placement->second);
      ASSERT_EQ(digests_before.at(vip.key) != vip.ring_digest, placement_moved)
          << "change set " << i << ", " << vip.key.ToString();
      ++(placement_moved ? moved : kept);
    }
  }
  // The sequence moved rings and kept them.
  EXPECT_GT(moved, 50);
  EXPECT_GT(kept, 500);
}

TEST(BalancerIncrementalTest, RestoreUndoesARandomChange) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  RandomChanges random(7);
  for (int i = 0; i < 200; ++i) {
    const auto snapshot = balancer->TakeSnapshot();
    const Observed before = Observe(*balancer, maps);
    const BalancerConfig config = balancer->desired_config();
    if (!balancer->Apply(random.Next(*balancer)).ok()) continue;
    if (i % 3 != 0) continue;  // keep most changes, undo some
    ASSERT_TRUE(balancer->Restore(*snapshot).ok());
    ASSERT_EQ(balancer->desired_config(), config) << "change set " << i;
    ASSERT_TRUE(Observe(*balancer, maps) == before) << "change set " << i;
    const InMemoryMaps::Contents written = maps.contents();
    ASSERT_TRUE(balancer->Resync().ok());
    ASSERT_TRUE(maps.contents() == written) << "change set " << i;
  }
}

}  // namespace
}  // namespace xlb
