// How the model's state becomes map entries (handed to the map writer),
// and reading the maps back for adoption.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <optional>
#include <set>

#include "lb/model/map_writer.h"
#include "lb/model/model.h"

namespace xlb {

// The VIPs and backend entries that differ between two states; everything
// else implies the same map entries in both.
struct Balancer::Scope {
  std::vector<VipKey> vips;          // their entries, rings, echo entries
  std::vector<IpAddress> addresses;  // their backends entries
  std::vector<uint32_t> retired;     // these backends entries, if retired
};

// Longer than most: one lambda per kind of entry, shared by the whole view
// and the scoped one.
MapsView Balancer::ViewOf(const State& state, const Scope* scope) {
  MapsView view;
  auto add_retired = [&](uint32_t index, uint32_t generation) {
    xlb_backend entry{};
    entry.state = XLB_BACKEND_UNUSED;
    entry.generation = generation;
    view.backends[index] = entry;
  };
  auto add_backend = [&](const IpAddress& address, const BackendSlot& slot) {
    xlb_backend entry{};
    address.ToAbi(entry.addr);
    entry.family = address.family();
    entry.state = static_cast<uint8_t>(slot.state);
    entry.generation = slot.generation;
    view.backends[slot.index] = entry;
  };
  auto add_vip = [&](const VipKey& key, const VipState& vip) {
    const VipSettings& settings = vip.config.settings;
    xlb_vip_value value{};
    value.index = vip.index;
    value.flags = (settings.hash_mode == HashMode::kNoSourcePort
                       ? XLB_VIP_F_HASH_NO_SRC_PORT
                       : 0u) |
                  (settings.echo_reply ? XLB_VIP_F_ECHO : 0u);
    value.ring_size = settings.ring_size;
    value.syn_rate_limit = settings.syn_rate_limit;
    view.vips[AbiVipKey(key)] = value;
    view.vip_indexes.insert(vip.index);
    if (vip.ring != nullptr) {
      view.rings[vip.index] = {.inputs = vip.ring,
                               .digest = vip.table_digest,
                               .ring_digest = vip.ring_digest};
    }
  };
  // One echo entry per address answering echo; it counts against the VIP
  // with the smallest key among those answering there.
  auto add_echo = [&](const IpAddress& address) {
    for (auto it = state.vips.lower_bound(VipKey{.address = address});
         it != state.vips.end() && it->first.address == address; ++it) {
      if (!it->second->config.settings.echo_reply) continue;
      const uint8_t icmp =
          address.is_v4() ? uint8_t{IPPROTO_ICMP} : uint8_t{IPPROTO_ICMPV6};
      xlb_vip_value echo_value{};
      echo_value.index = it->second->index;
      echo_value.flags = XLB_VIP_F_ECHO;
      view.vips.emplace(AbiVipKey(address, 0, icmp), echo_value);
      return;
    }
  };

  if (scope == nullptr) {
    state.retired.ForEach(add_retired);
    state.backends.ForEach(add_backend);
    for (const auto& [key, vip] : state.vips) {
      add_vip(key, *vip);
      if (vip->config.settings.echo_reply) add_echo(key.address);
    }
    return view;
  }
  for (uint32_t index : scope->retired) {
    if (const uint32_t* generation = state.retired.Find(index)) {
      add_retired(index, *generation);
    }
  }
  for (const IpAddress& address : scope->addresses) {
    if (const BackendSlot* slot = state.backends.Find(address)) {
      add_backend(address, *slot);
    }
  }
  for (const VipKey& key : scope->vips) {
    if (auto it = state.vips.find(key); it != state.vips.end()) {
      add_vip(key, *it->second);
    }
    add_echo(key.address);
  }
  return view;
}

Balancer::Scope Balancer::ScopeOf(const State& from, const State& to) {
  Scope scope;
  scope.vips = TouchedVips(from, to);
  ForEachDifference(
      from.backends, to.backends,
      [&](const IpAddress& address, const BackendSlot*, const BackendSlot*) {
        scope.addresses.push_back(address);
      });
  ForEachDifference(from.retired, to.retired,
                    [&](uint32_t index, const uint32_t*, const uint32_t*) {
                      scope.retired.push_back(index);
                    });
  return scope;
}

absl::Status Balancer::WriteChanges(const State& from, State& to) {
  // Right after adoption the maps hold what an earlier agent wrote, and
  // everything is compared with that; otherwise only what differs between
  // the states is.
  std::optional<Scope> scope;
  if (adopted_ == nullptr) scope = ScopeOf(from, to);
  const MapsView before =
      scope.has_value() ? ViewOf(from, &*scope) : adopted_->view;
  const MapsView after = ViewOf(to, scope.has_value() ? &*scope : nullptr);
  MapWriter writer(maps_, before, after);
  const absl::Status status = writer.Write();
  if (writer.needs_resync()) needs_resync_ = true;
  if (!status.ok()) return status;

  std::vector<VipKey> all;
  if (!scope.has_value()) {
    for (const auto& [key, vip] : to.vips) all.push_back(key);
  }
  for (const VipKey& key : scope.has_value() ? scope->vips : all) {
    auto it = to.vips.find(key);
    if (it == to.vips.end() || it->second->ring == nullptr) continue;
    auto digest = writer.ring_digests().find(it->second->index);
    if (digest != writer.ring_digests().end() &&
        (it->second->table_digest != digest->second.table ||
         it->second->ring_digest != digest->second.ring)) {
      VipState& vip = MutableVip(to, key);
      vip.table_digest = digest->second.table;
      vip.ring_digest = digest->second.ring;
    }
  }
  return absl::OkStatus();
}

absl::Status Balancer::Resync() {
  const MapsView view = ViewOf(state_);
  // Backend indexes the view does not cover may hold an entry a failed
  // rollback left behind: retire them, keeping their generation.
  for (uint32_t index = 1; index < limits_.max_backends; ++index) {
    if (view.backends.contains(index)) continue;
    absl::StatusOr<xlb_backend> entry = maps_->GetBackend(index);
    if (!entry.ok()) return entry.status();
    if (entry->state == XLB_BACKEND_UNUSED) continue;
    xlb_backend retired{};
    retired.state = XLB_BACKEND_UNUSED;
    retired.generation = entry->generation;
    if (absl::Status s = maps_->SetBackend(index, retired); !s.ok()) return s;
    state_.retired[index] = entry->generation;
  }
  for (const auto& [index, entry] : view.backends) {
    if (absl::Status s = maps_->SetBackend(index, entry); !s.ok()) return s;
  }
  for (const auto& [index, ring] : view.rings) {
    absl::StatusOr<std::vector<uint32_t>> table = ring.inputs->Build();
    if (!table.ok()) return table.status();
    if (absl::Status s = maps_->SetRing(index, *table); !s.ok()) return s;
  }
  for (const auto& [key, value] : view.vips) {
    if (absl::Status s = maps_->SetVip(key, value); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>> present =
      maps_->ListVips();
  if (!present.ok()) return present.status();
  for (const auto& [key, value] : *present) {
    if (view.vips.contains(key)) continue;
    if (absl::Status s = maps_->DeleteVip(key); !s.ok()) return s;
  }
  std::set<uint32_t> unused_vip_indexes;
  for (uint32_t index = 0; index < limits_.max_vips; ++index) {
    if (!view.vip_indexes.contains(index)) unused_vip_indexes.insert(index);
    if (view.rings.contains(index)) continue;
    if (absl::Status s = maps_->DeleteRing(index);
        !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
  }
  if (absl::Status s = maps_->DeleteConns(unused_vip_indexes); !s.ok()) {
    return s;
  }
  needs_resync_ = false;
  return absl::OkStatus();
}

// Adoption: what an earlier agent left in the maps, so a restarted agent
// keeps backend indexes, generations, VIP indexes, rings and health (see
// Balancer::Create).

absl::StatusOr<std::shared_ptr<const Balancer::Adoption>> Balancer::ReadMaps(
    DataplaneMaps* maps, const DataplaneLimits& limits) {
  auto adoption = std::make_shared<Adoption>();
  bool live = false;
  for (uint32_t i = 1; i < limits.max_backends; ++i) {
    absl::StatusOr<xlb_backend> entry = maps->GetBackend(i);
    if (!entry.ok()) return entry.status();
    if (entry->state == XLB_BACKEND_UNUSED && entry->generation == 0) continue;
    adoption->view.backends[i] = *entry;
    if (entry->state != XLB_BACKEND_UNUSED) {
      live = true;
      adoption->index_of.emplace(IpAddress::FromAbi(entry->family, entry->addr),
                                 i);
    }
  }
  absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>> vips =
      maps->ListVips();
  if (!vips.ok()) return vips.status();
  for (const auto& [key, value] : *vips) {
    live = true;
    adoption->view.vips[key] = value;
    const bool echo_entry = key.port == 0 && (key.proto == IPPROTO_ICMP ||
                                              key.proto == IPPROTO_ICMPV6);
    if (echo_entry || value.index >= limits.max_vips) continue;
    adoption->view.vip_indexes.insert(value.index);
    absl::StatusOr<std::vector<uint32_t>> ring = maps->GetRing(value.index);
    if (absl::IsNotFound(ring.status())) continue;
    if (!ring.ok()) return ring.status();
    std::set<uint32_t>& members = adoption->ring_members[value.index];
    for (uint32_t index : *ring) {
      if (index != XLB_NO_BACKEND) members.insert(index);
    }
    // The digest is enough to tell whether the first write must replace it.
    adoption->view.rings[value.index] = {.digest = TableDigest(*ring)};
  }
  if (!live) return nullptr;
  return adoption;
}

bool Balancer::AdoptedHealth(const VipConfig& vip,
                             const BackendConfig& backend) const {
  if (adopted_ == nullptr) return false;
  auto index = adopted_->index_of.find(backend.address);
  if (index == adopted_->index_of.end()) return false;
  auto value = adopted_->view.vips.find(AbiVipKey(vip.key));
  if (value != adopted_->view.vips.end()) {
    auto members = adopted_->ring_members.find(value->second.index);
    if (members != adopted_->ring_members.end() &&
        members->second.contains(index->second)) {
      return true;  // it was taking new flows of this VIP
    }
  }
  // Not in the ring because drained or weight 0 here: the entry says
  // whether it was up somewhere.
  const uint8_t state = adopted_->view.backends.at(index->second).state;
  return (backend.drained || backend.weight == 0) && state != XLB_BACKEND_DOWN;
}

}  // namespace xlb
