#include "lb/model/model.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lb/maglev/maglev.h"
#include "lb/model/model_config.h"
#include "lb/model/model_maps_view.h"
#include "lib/flow_hash.h"

namespace xlb {
namespace {

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

// UP beats DRAINING beats DOWN: the entry serves the VIP that needs most.
BackendState Best(BackendState a, BackendState b) {
  auto rank = [](BackendState s) {
    return s == BackendState::kUp ? 2 : s == BackendState::kDraining ? 1 : 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

absl::Status NoVip(const std::string& field, const VipKey& key) {
  return absl::NotFoundError(absl::StrCat(field, ": no VIP ", key.ToString()));
}

}  // namespace

Balancer::Balancer(DataplaneMaps* maps, std::vector<uint32_t> generations)
    : maps_(maps),
      limits_(maps->limits()),
      generation_high_water_(std::move(generations)) {}

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
  balancer->state_.retired = std::move(retired);
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
  for (const auto& [address, slot] : state_.backends) {
    bool held = restored.retired.contains(slot.index);
    for (const auto& [a, s] : restored.backends) held |= s.index == slot.index;
    if (!held) restored.retired[slot.index] = slot.generation;
  }
  if (absl::Status s = WriteChanges(state_, restored); !s.ok()) return s;
  state_ = std::move(restored);
  return absl::OkStatus();
}

absl::Status Balancer::Apply(const ChangeSet& changes) {
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
  if (absl::Status s = CheckLimits(next); !s.ok()) return s;
  if (absl::Status s = AssignIndexes(next); !s.ok()) return s;
  ComputeRings(next);

  bool config_changed = next.vips.size() != state_.vips.size();
  for (auto a = next.vips.begin(), b = state_.vips.begin();
       !config_changed && a != next.vips.end(); ++a, ++b) {
    config_changed = a->second.config != b->second.config;
  }
  if (config_changed) ++next.generation;

  if (absl::Status s = WriteChanges(state_, next); !s.ok()) return s;
  state_ = std::move(next);
  adopted_.reset();  // the maps now hold exactly what the model implies
  return absl::OkStatus();
}

absl::Status Balancer::CheckLimits(const State& next) const {
  std::set<IpAddress> echo_addresses;
  std::set<IpAddress> backends;
  for (const auto& [key, vip] : next.vips) {
    if (vip.config.settings.echo_reply) echo_addresses.insert(key.address);
    for (const BackendConfig& backend : vip.config.backends) {
      backends.insert(backend.address);
    }
  }
  const size_t vip_entries = next.vips.size() + echo_addresses.size();
  if (vip_entries > limits_.max_vips) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "vips: ", next.vips.size(), " VIPs and ", echo_addresses.size(),
        " echo-reply addresses need ", vip_entries,
        " vips map entries; the data plane's max_vips is ", limits_.max_vips));
  }
  for (const auto& [key, vip] : next.vips) {
    const uint32_t ring_size = vip.config.settings.ring_size;
    const size_t weighted =
        std::count_if(vip.config.backends.begin(), vip.config.backends.end(),
                      [](const BackendConfig& b) { return b.weight > 0; });
    if (weighted > ring_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vips[", key.ToString(), "].backends: ", weighted,
          " backends with weight > 0 exceed ring_size ", ring_size));
    }
  }
  if (backends.size() + 1 > limits_.max_backends) {
    return absl::ResourceExhaustedError(
        absl::StrCat("backends: ", backends.size(),
                     " distinct backend addresses exceed the data plane's ",
                     limits_.max_backends - 1, " (max_backends ",
                     limits_.max_backends, ", index 0 reserved)"));
  }
  return absl::OkStatus();
}

absl::Status Balancer::AssignIndexes(State& next) {
  // Indexes in use before the change stay taken until it is written, so a
  // packet never finds a freed index holding a different backend.
  std::vector<bool> taken(limits_.max_backends, false);
  taken[XLB_NO_BACKEND] = true;
  for (const auto& [address, slot] : state_.backends) taken[slot.index] = true;
  // Adoption: entries an earlier agent left stay taken too; their addresses
  // get their old index and generation back below.
  std::map<IpAddress, uint32_t> adoptable;
  if (adopted_ != nullptr) {
    adoptable = adopted_->index_of;
    for (const auto& [address, index] : adoptable) taken[index] = true;
  }

  std::map<IpAddress, BackendSlot> backends;
  for (const auto& [key, vip] : next.vips) {
    for (const BackendConfig& backend : vip.config.backends) {
      ++backends[backend.address].refcount;
    }
  }
  next.retired = state_.retired;
  for (const auto& [address, slot] : state_.backends) {
    auto it = backends.find(address);
    if (it == backends.end()) {
      next.retired[slot.index] = slot.generation;
    } else {
      it->second.index = slot.index;
      it->second.generation = slot.generation;
    }
  }
  for (auto& [address, slot] : backends) {
    auto it = adoptable.find(address);
    if (slot.index != 0 || it == adoptable.end()) continue;
    slot.index = it->second;
    slot.generation = adopted_->view.backends.at(it->second).generation;
    next.retired.erase(slot.index);
    adoptable.erase(it);
  }
  for (const auto& [address, index] : adoptable) {
    next.retired[index] = adopted_->view.backends.at(index).generation;
  }
  uint32_t candidate = 1;
  for (auto& [address, slot] : backends) {
    if (slot.index != 0) continue;
    while (candidate < taken.size() && taken[candidate]) ++candidate;
    if (candidate >= taken.size()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "backends: no free index for ", address.ToString(), "; all ",
          limits_.max_backends - 1,
          " are taken (indexes freed by a change set are reusable from the "
          "next one)"));
    }
    taken[candidate] = true;
    slot.index = candidate;
    slot.generation = ++generation_high_water_[candidate];
    next.retired.erase(candidate);
  }
  next.backends = std::move(backends);

  std::vector<bool> vip_taken(limits_.max_vips, false);
  for (const auto& [key, vip] : state_.vips) vip_taken[vip.index] = true;
  std::set<uint32_t> adoptable_vips;
  if (adopted_ != nullptr) {
    for (uint32_t index : adopted_->view.vip_indexes) {
      if (index < vip_taken.size()) vip_taken[index] = true;
    }
    adoptable_vips = adopted_->view.vip_indexes;
  }
  std::vector<VipState*> unassigned;
  for (auto& [key, vip] : next.vips) {
    auto old = state_.vips.find(key);
    std::optional<xlb_vip_value> left;
    if (adopted_ != nullptr) {
      xlb_vip_key abi{};
      key.address.ToAbi(abi.addr);
      abi.port = htons(key.port);
      abi.proto = static_cast<uint8_t>(key.protocol);
      abi.family = key.address.family();
      auto it = adopted_->view.vips.find(abi);
      if (it != adopted_->view.vips.end()) left = it->second;
    }
    if (old != state_.vips.end() && old->second.config.settings.ring_size ==
                                        vip.config.settings.ring_size) {
      vip.index = old->second.index;
    } else if (old == state_.vips.end() && left.has_value() &&
               left->ring_size == vip.config.settings.ring_size &&
               adoptable_vips.erase(left->index) > 0) {
      vip.index = left->index;  // adopted: keeps its ring and counters
    } else {
      unassigned.push_back(&vip);
    }
  }
  uint32_t vip_candidate = 0;
  for (VipState* vip : unassigned) {
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

void Balancer::ComputeRings(State& next) const {
  for (auto& [address, slot] : next.backends) slot.state = BackendState::kDown;
  for (auto& [key, vip] : next.vips) {
    const Membership m = ComputeMembership(vip.config, vip.healthy);
    vip.fail_open = m.fail_open;
    RingInputs inputs{.size = vip.config.settings.ring_size,
                      .seed = vip.config.settings.maglev_seed};
    for (size_t i = 0; i < vip.config.backends.size(); ++i) {
      const BackendConfig& backend = vip.config.backends[i];
      BackendSlot& slot = next.backends.at(backend.address);
      slot.state = Best(slot.state, m.states[i]);
      if (m.in_ring[i]) {
        inputs.members.push_back(
            MaglevBackend{.key = backend.address.IdentityBytes(),
                          .weight = backend.weight,
                          .index = slot.index});
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
      vip.ring_digest.reset();
    } else if (vip.ring == nullptr || *vip.ring != inputs) {
      vip.ring = std::make_shared<const RingInputs>(std::move(inputs));
      vip.ring_digest.reset();
    }
  }
}

absl::StatusOr<std::vector<uint32_t>> Balancer::RingInputs::Build() const {
  absl::StatusOr<std::vector<uint32_t>> table =
      BuildMaglevTable(members, size, seed);
  if (!table.ok()) {
    return absl::InternalError(
        absl::StrCat("building a ring: ", table.status().message()));
  }
  return table;
}

BalancerConfig Balancer::desired_config() const {
  BalancerConfig config;
  for (const auto& [key, vip] : state_.vips) config.vips.push_back(vip.config);
  return config;
}

VipStatus Balancer::StatusOf(const VipState& vip) const {
  const Membership m = ComputeMembership(vip.config, vip.healthy);
  VipStatus status{.key = vip.config.key,
                   .index = vip.index,
                   .has_ring = vip.ring != nullptr,
                   .fail_open = m.fail_open,
                   .no_backend_events = vip.no_backend_events};
  for (size_t i = 0; i < vip.config.backends.size(); ++i) {
    const IpAddress& address = vip.config.backends[i].address;
    status.backends.push_back(
        VipBackendStatus{.address = address,
                         .index = state_.backends.at(address).index,
                         .healthy = vip.healthy.at(address),
                         .in_ring = m.in_ring[i],
                         .state = m.states[i]});
  }
  return status;
}

absl::StatusOr<VipStatus> Balancer::GetVipStatus(const VipKey& key) const {
  auto it = state_.vips.find(key);
  if (it == state_.vips.end()) return NoVip("key", key);
  return StatusOf(it->second);
}

std::vector<VipStatus> Balancer::ListVipStatus() const {
  std::vector<VipStatus> all;
  for (const auto& [key, vip] : state_.vips) all.push_back(StatusOf(vip));
  return all;
}

absl::StatusOr<BackendStatus> Balancer::GetBackendStatus(
    const IpAddress& address) const {
  auto it = state_.backends.find(address);
  if (it == state_.backends.end()) {
    return absl::NotFoundError(absl::StrCat("address: ", address.ToString(),
                                            " is a backend of no VIP"));
  }
  const BackendSlot& slot = it->second;
  return BackendStatus{.address = address,
                       .index = slot.index,
                       .generation = slot.generation,
                       .refcount = slot.refcount,
                       .state = slot.state};
}

std::vector<BackendStatus> Balancer::ListBackendStatus() const {
  std::vector<BackendStatus> all;
  for (const auto& [address, slot] : state_.backends) {
    all.push_back(*GetBackendStatus(address));
  }
  return all;
}

absl::StatusOr<std::optional<PredictedBackend>> Balancer::PredictBackend(
    const xlb_flow& flow, uint32_t flow_hash_seed) const {
  VipKey key{.address = IpAddress::FromAbi(flow.family, flow.dst),
             .port = ntohs(flow.dport),
             .protocol = static_cast<Protocol>(flow.proto)};
  auto it = state_.vips.find(key);
  if (it == state_.vips.end()) {
    key.port = 0;
    it = state_.vips.find(key);
  }
  if (it == state_.vips.end()) {
    key.port = ntohs(flow.dport);
    return absl::NotFoundError(
        absl::StrCat("flow: no VIP for ", key.ToString()));
  }
  const VipState& vip = it->second;
  if (vip.ring == nullptr) return std::nullopt;
  absl::StatusOr<std::vector<uint32_t>> ring = vip.ring->Build();
  if (!ring.ok()) return ring.status();
  const bool with_src_port =
      vip.config.settings.hash_mode == HashMode::kFiveTuple;
  const uint32_t slot = xlb_ring_slot(
      xlb_flow_hash(&flow, flow_hash_seed, with_src_port), ring->size());
  const uint32_t index = (*ring)[slot];
  for (const auto& [address, backend] : state_.backends) {
    if (backend.index == index) {
      return PredictedBackend{.index = index, .address = address};
    }
  }
  return std::nullopt;  // an empty slot: the data plane drops too
}

}  // namespace xlb
