#include "lb/model/model.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lb/maglev/maglev.h"
#include "lb/model/model_config.h"

namespace xlb {
namespace {

// VipStatus::ring_digest: the digest of the ring by address (PlacementDigest
// in maps_view.cc) and the VIP's hash fields, 8 bytes little-endian and one
// byte (0: five-tuple, 1: without the source port).
uint64_t WithHashFields(uint64_t ring_digest, HashMode mode) {
  char bytes[9];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((ring_digest >> (8 * i)) & 0xff);
  }
  bytes[8] = mode == HashMode::kNoSourcePort ? 1 : 0;
  return XxHash64(absl::string_view(bytes, sizeof(bytes)), 0);
}

// Which of a VIP's backends take new flows, and each one's state in it.
struct Membership {
  bool fail_open = false;
  std::vector<bool> in_ring;
  std::vector<BackendState> states;
};

Membership ComputeMembership(const VipConfig& vip,
                             const std::map<IpAddress, bool>& healthy) {
  Membership m;
  const size_t n = vip.backends.size();
  std::vector<bool> eligible(n), up(n);
  size_t eligible_count = 0, up_count = 0;
  for (size_t i = 0; i < n; ++i) {
    const BackendConfig& b = vip.backends[i];
    auto it = healthy.find(b.address);
    up[i] = it != healthy.end() && it->second;
    eligible[i] = !b.drained && b.weight > 0;
    eligible_count += eligible[i];
    up_count += eligible[i] && up[i];
  }
  m.fail_open =
      eligible_count > 0 &&
      static_cast<double>(up_count) < vip.settings.min_healthy_fraction *
                                          static_cast<double>(eligible_count);
  m.in_ring.resize(n);
  m.states.resize(n);
  for (size_t i = 0; i < n; ++i) {
    m.in_ring[i] = eligible[i] && (up[i] || m.fail_open);
    m.states[i] = m.in_ring[i] ? BackendState::kUp
                  : up[i]      ? BackendState::kDraining
                               : BackendState::kDown;
  }
  return m;
}

}  // namespace

absl::Status Balancer::NoVip(const std::string& field, const VipKey& key) {
  return absl::NotFoundError(absl::StrCat(field, ": no VIP ", key.ToString()));
}

Balancer::Balancer(DataplaneMaps* maps, std::vector<uint32_t> generations)
    : maps_(maps),
      limits_(maps->limits()),
      generation_high_water_(std::move(generations)) {
  state_.live = IndexBitmap(limits_.max_backends);
}

absl::StatusOr<std::unique_ptr<Balancer>> Balancer::Create(
    DataplaneMaps* maps) {
  const DataplaneLimits limits = maps->limits();
  std::vector<uint32_t> generations(limits.max_backends, 0);
  std::map<uint32_t, uint32_t> retired;
  for (uint32_t i = 1; i < limits.max_backends; ++i) {
    absl::StatusOr<xlb_backend> entry = maps->GetBackend(i);
    if (!entry.ok()) return entry.status();
    generations[i] = entry->generation;
    if (entry->state == XLB_BACKEND_UNUSED && entry->generation != 0) {
      retired[i] = entry->generation;
    }
  }
  absl::StatusOr<std::shared_ptr<const Adoption>> adopted =
      ReadMaps(maps, limits);
  if (!adopted.ok()) return adopted.status();
  std::unique_ptr<Balancer> balancer(
      new Balancer(maps, std::move(generations)));
  for (const auto& [index, generation] : retired) {
    balancer->state_.retired[index] = generation;
  }
  balancer->adopted_ = *std::move(adopted);
  return balancer;
}

struct Balancer::Snapshot {
  State state;
};

std::shared_ptr<const Balancer::Snapshot> Balancer::TakeSnapshot() const {
  return std::make_shared<const Snapshot>(Snapshot{.state = state_});
}

absl::Status Balancer::Restore(const Snapshot& snapshot) {
  State restored = snapshot.state;
  // Indexes handed out since the snapshot go back to unused, keeping the
  // generation they were given.
  ForEachDifference(
      state_.backends, restored.backends,
      [&](const IpAddress&, const BackendSlot* now, const BackendSlot* then) {
        if (now == nullptr || (then != nullptr && then->index == now->index)) {
          return;
        }
        if (!restored.live.contains(now->index) &&
            !restored.retired.contains(now->index)) {
          restored.retired[now->index] = now->generation;
        }
      });
  if (absl::Status s = WriteChanges(state_, restored); !s.ok()) return s;
  state_ = std::move(restored);
  return absl::OkStatus();
}

Balancer::VipState& Balancer::MutableVip(State& state, const VipKey& key) {
  std::shared_ptr<VipState>& vip = state.vips[key];
  if (vip == nullptr) {
    vip = std::make_shared<VipState>();
  } else if (vip.use_count() > 1) {
    vip = std::make_shared<VipState>(*vip);
  }
  return *vip;
}

std::vector<VipKey> Balancer::TouchedVips(const State& a, const State& b) {
  std::vector<VipKey> touched;
  auto x = a.vips.begin(), y = b.vips.begin();
  while (x != a.vips.end() || y != b.vips.end()) {
    if (y == b.vips.end() || (x != a.vips.end() && x->first < y->first)) {
      touched.push_back((x++)->first);
    } else if (x == a.vips.end() || y->first < x->first) {
      touched.push_back((y++)->first);
    } else {
      if (x->second != y->second) touched.push_back(x->first);
      ++x;
      ++y;
    }
  }
  return touched;
}

absl::Status Balancer::Apply(const ChangeSet& changes,
                             std::vector<VipKey>* changed_vips) {
  if (needs_resync_) {
    if (absl::Status s = Resync(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "maps differ from the model after a failed rollback and rewriting "
          "them failed: ",
          s.message()));
    }
  }
  if (changes.expected_generation.has_value() &&
      *changes.expected_generation != state_.generation) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expected_generation: ", *changes.expected_generation,
        " differs from the current generation ", state_.generation));
  }
  State next = state_;
  for (size_t i = 0; i < changes.ops.size(); ++i) {
    if (absl::Status s =
            ApplyOperation(changes.ops[i], absl::StrCat("ops[", i, "]"), next);
        !s.ok()) {
      return s;
    }
  }
  const std::vector<VipKey> touched = TouchedVips(state_, next);
  const std::map<IpAddress, int> refcounts = RefcountChanges(next, touched);
  if (absl::Status s = CheckLimits(next, touched, refcounts); !s.ok()) {
    return s;
  }
  if (absl::Status s = AssignIndexes(next, touched, refcounts); !s.ok()) {
    return s;
  }
  ComputeRings(next, touched);

  std::vector<VipKey> changed;
  for (const VipKey& key : touched) {
    auto a = state_.vips.find(key);
    auto b = next.vips.find(key);
    if (a == state_.vips.end() || b == next.vips.end() ||
        a->second->config != b->second->config) {
      changed.push_back(key);
    }
  }
  if (!changed.empty()) ++next.generation;

  if (absl::Status s = WriteChanges(state_, next); !s.ok()) return s;
  state_ = std::move(next);
  adopted_.reset();  // the maps now hold exactly what the model implies
  if (changed_vips != nullptr) *changed_vips = std::move(changed);
  return absl::OkStatus();
}

std::map<IpAddress, int> Balancer::RefcountChanges(
    const State& next, const std::vector<VipKey>& touched) const {
  std::map<IpAddress, int> changes;
  for (const VipKey& key : touched) {
    if (auto it = state_.vips.find(key); it != state_.vips.end()) {
      for (const BackendConfig& b : it->second->config.backends) {
        --changes[b.address];
      }
    }
    if (auto it = next.vips.find(key); it != next.vips.end()) {
      for (const BackendConfig& b : it->second->config.backends) {
        ++changes[b.address];
      }
    }
  }
  std::erase_if(changes, [](const auto& entry) { return entry.second == 0; });
  return changes;
}

absl::Status Balancer::CheckLimits(
    const State& next, const std::vector<VipKey>& touched,
    const std::map<IpAddress, int>& refcounts) const {
  std::set<IpAddress> echo_addresses;
  for (const auto& [key, vip] : next.vips) {
    if (vip->config.settings.echo_reply) echo_addresses.insert(key.address);
  }
  const size_t vip_entries = next.vips.size() + echo_addresses.size();
  if (vip_entries > limits_.max_vips) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "vips: ", next.vips.size(), " VIPs and ", echo_addresses.size(),
        " echo-reply addresses need ", vip_entries,
        " vips map entries; the data plane's max_vips is ", limits_.max_vips));
  }
  for (const VipKey& key : touched) {
    auto it = next.vips.find(key);
    if (it == next.vips.end()) continue;
    const VipConfig& config = it->second->config;
    const uint32_t ring_size = config.settings.ring_size;
    const size_t weighted =
        std::count_if(config.backends.begin(), config.backends.end(),
                      [](const BackendConfig& b) { return b.weight > 0; });
    if (weighted > ring_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vips[", key.ToString(), "].backends: ", weighted,
          " backends with weight > 0 exceed ring_size ", ring_size));
    }
    uint64_t weight_sum = 0;
    for (const BackendConfig& b : config.backends) weight_sum += b.weight;
    if (weight_sum > kMaxVipWeightSum) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vips[", key.ToString(), "].backends: the weights sum to ",
          weight_sum, ", above ", kMaxVipWeightSum));
    }
  }
  size_t backends = state_.backends.size();
  for (const auto& [address, change] : refcounts) {
    const BackendSlot* slot = state_.backends.Find(address);
    if (slot == nullptr) {
      ++backends;
    } else if (static_cast<int64_t>(slot->refcount) + change == 0) {
      --backends;
    }
  }
  if (backends + 1 > limits_.max_backends) {
    return absl::ResourceExhaustedError(
        absl::StrCat("backends: ", backends,
                     " distinct backend addresses exceed the data plane's ",
                     limits_.max_backends - 1, " (max_backends ",
                     limits_.max_backends, ", index 0 reserved)"));
  }
  return absl::OkStatus();
}

absl::Status Balancer::AssignIndexes(
    State& next, const std::vector<VipKey>& touched,
    const std::map<IpAddress, int>& refcounts) {
  if (absl::Status s = AssignBackendIndexes(next, refcounts); !s.ok()) {
    return s;
  }
  return AssignVipIndexes(next, touched);
}

absl::Status Balancer::AssignBackendIndexes(
    State& next, const std::map<IpAddress, int>& refcounts) {
  // Indexes in use before the change stay taken until it is written, so a
  // packet never finds a freed index holding a different backend.
  IndexBitmap taken = state_.live;
  taken.insert(XLB_NO_BACKEND);
  // Adoption: entries an earlier agent left stay taken too; their addresses
  // get their old index and generation back below.
  std::map<IpAddress, uint32_t> adoptable;
  if (adopted_ != nullptr) {
    adoptable = adopted_->index_of;
    for (const auto& [address, index] : adoptable) taken.insert(index);
  }

  std::vector<IpAddress> fresh;  // addresses no VIP used before, sorted
  for (const auto& [address, change] : refcounts) {
    const BackendSlot* old = state_.backends.Find(address);
    if (old == nullptr) {
      next.backends[address].refcount = change;
      fresh.push_back(address);
    } else if (static_cast<int64_t>(old->refcount) + change == 0) {
      next.retired[old->index] = old->generation;
      next.live.erase(old->index);
      next.backends.Erase(address);
    } else {
      next.backends[address].refcount = old->refcount + change;
    }
  }
  auto give = [&](const IpAddress& address, uint32_t index,
                  uint32_t generation) {
    BackendSlot& slot = next.backends[address];
    slot.index = index;
    slot.generation = generation;
    next.live.insert(index);
    next.retired.Erase(index);
  };
  std::vector<IpAddress> unassigned;
  for (const IpAddress& address : fresh) {
    auto it = adoptable.find(address);
    if (it == adoptable.end()) {
      unassigned.push_back(address);
      continue;
    }
    give(address, it->second,
         adopted_->view.backends.at(it->second).generation);
    adoptable.erase(it);
  }
  for (const auto& [address, index] : adoptable) {
    next.retired[index] = adopted_->view.backends.at(index).generation;
  }
  uint32_t candidate = 1;
  for (const IpAddress& address : unassigned) {
    candidate = taken.FirstAbsent(candidate);
    if (candidate >= taken.size()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "backends: no free index for ", address.ToString(), "; all ",
          limits_.max_backends - 1,
          " are taken (indexes freed by a change set are reusable from the "
          "next one)"));
    }
    taken.insert(candidate);
    give(address, candidate, ++generation_high_water_[candidate]);
  }
  return absl::OkStatus();
}

absl::Status Balancer::AssignVipIndexes(State& next,
                                        const std::vector<VipKey>& touched) {
  std::vector<bool> vip_taken(limits_.max_vips, false);
  for (const auto& [key, vip] : state_.vips) vip_taken[vip->index] = true;
  std::set<uint32_t> adoptable_vips;
  if (adopted_ != nullptr) {
    for (uint32_t index : adopted_->view.vip_indexes) {
      if (index < vip_taken.size()) vip_taken[index] = true;
    }
    adoptable_vips = adopted_->view.vip_indexes;
  }
  std::vector<VipState*> unassigned_vips;
  for (const VipKey& key : touched) {
    if (!next.vips.contains(key)) continue;
    VipState& vip = MutableVip(next, key);
    auto old = state_.vips.find(key);
    std::optional<xlb_vip_value> left;
    if (adopted_ != nullptr) {
      auto it = adopted_->view.vips.find(AbiVipKey(key));
      if (it != adopted_->view.vips.end()) left = it->second;
    }
    if (old != state_.vips.end() && old->second->config.settings.ring_size ==
                                        vip.config.settings.ring_size) {
      vip.index = old->second->index;
    } else if (old == state_.vips.end() && left.has_value() &&
               left->ring_size == vip.config.settings.ring_size &&
               adoptable_vips.erase(left->index) > 0) {
      vip.index = left->index;  // adopted: keeps its ring and counters
    } else {
      unassigned_vips.push_back(&vip);
    }
  }
  uint32_t vip_candidate = 0;
  for (VipState* vip : unassigned_vips) {
    while (vip_candidate < vip_taken.size() && vip_taken[vip_candidate]) {
      ++vip_candidate;
    }
    if (vip_candidate >= vip_taken.size()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "vips: no free VIP index for ", vip->config.key.ToString(), "; all ",
          limits_.max_vips,
          " are taken (a VIP changing ring size needs a spare one)"));
    }
    vip_taken[vip_candidate] = true;
    vip->index = vip_candidate;
  }
  return absl::OkStatus();
}

void Balancer::UpdateBackendStates(State& next,
                                   const std::vector<VipKey>& touched) const {
  // Each address's count of VIPs where it is UP and DRAINING: the touched
  // VIPs' old memberships out, their new ones in.
  std::map<IpAddress, std::pair<int, int>> counts;
  auto count = [&](const VipState& vip, int sign) {
    const Membership m = ComputeMembership(vip.config, vip.healthy);
    for (size_t i = 0; i < vip.config.backends.size(); ++i) {
      auto& [up, draining] = counts[vip.config.backends[i].address];
      up += sign * (m.states[i] == BackendState::kUp);
      draining += sign * (m.states[i] == BackendState::kDraining);
    }
  };
  for (const VipKey& key : touched) {
    if (auto it = state_.vips.find(key); it != state_.vips.end()) {
      count(*it->second, -1);
    }
    if (auto it = next.vips.find(key); it != next.vips.end()) {
      count(*it->second, +1);
    }
  }
  for (const auto& [address, change] : counts) {
    if (change == std::pair(0, 0) || !next.backends.contains(address)) continue;
    BackendSlot& slot = next.backends[address];
    slot.up_in += change.first;
    slot.draining_in += change.second;
    slot.state = slot.up_in > 0         ? BackendState::kUp
                 : slot.draining_in > 0 ? BackendState::kDraining
                                        : BackendState::kDown;
  }
}

void Balancer::ComputeRings(State& next,
                            const std::vector<VipKey>& touched) const {
  UpdateBackendStates(next, touched);
  for (const VipKey& key : touched) {
    if (!next.vips.contains(key)) continue;
    VipState& vip = MutableVip(next, key);
    const Membership m = ComputeMembership(vip.config, vip.healthy);
    vip.fail_open = m.fail_open;
    RingInputs inputs{.size = vip.config.settings.ring_size,
                      .seed = vip.config.settings.maglev_seed};
    for (size_t i = 0; i < vip.config.backends.size(); ++i) {
      const BackendConfig& backend = vip.config.backends[i];
      if (m.in_ring[i]) {
        inputs.members.push_back(
            MaglevBackend{.key = backend.address.IdentityBytes(),
                          .weight = backend.weight,
                          .index = next.backends.Find(backend.address)->index});
      }
    }
    std::sort(inputs.members.begin(), inputs.members.end(),
              [](const MaglevBackend& a, const MaglevBackend& b) {
                return a.key < b.key;
              });
    const bool existed = state_.vips.contains(key);
    if (inputs.members.empty()) {
      if (vip.ring != nullptr || !existed) ++vip.no_backend_events;
      vip.ring = nullptr;
      vip.table_digest.reset();
      vip.ring_digest.reset();
    } else if (vip.ring == nullptr || *vip.ring != inputs) {
      vip.ring = std::make_shared<const RingInputs>(std::move(inputs));
      vip.table_digest.reset();
      vip.ring_digest.reset();
    }
  }
}

VipStatus Balancer::StatusOf(const VipState& vip) const {
  const Membership m = ComputeMembership(vip.config, vip.healthy);
  VipStatus status{.key = vip.config.key,
                   .index = vip.index,
                   .has_ring = vip.ring != nullptr,
                   .fail_open = m.fail_open,
                   .no_backend_events = vip.no_backend_events,
                   .ring_digest = std::nullopt};
  if (vip.ring_digest.has_value()) {
    status.ring_digest =
        WithHashFields(*vip.ring_digest, vip.config.settings.hash_mode);
  }
  for (size_t i = 0; i < vip.config.backends.size(); ++i) {
    const IpAddress& address = vip.config.backends[i].address;
    status.backends.push_back(
        VipBackendStatus{.address = address,
                         .index = state_.backends.Find(address)->index,
                         .healthy = vip.healthy.at(address),
                         .in_ring = m.in_ring[i],
                         .state = m.states[i]});
  }
  return status;
}

}  // namespace xlb
