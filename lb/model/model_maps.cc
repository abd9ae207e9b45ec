// How the model's state becomes map entries, the ordered, undoable writes
// that move the maps from one state to the next, and reading the maps back
// for adoption.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/maglev/maglev.h"
#include "lb/model/model.h"
#include "lb/model/model_maps_view.h"

namespace xlb {

namespace {

// Gives back a table an undo needs: rebuilt from a model state's inputs, or
// as read from the maps before it was overwritten.
using TableSource = std::function<absl::StatusOr<std::vector<uint32_t>>()>;

uint64_t RingDigest(absl::Span<const uint32_t> table) {
  return XxHash64(absl::string_view(reinterpret_cast<const char*>(table.data()),
                                    table.size() * sizeof(uint32_t)),
                  0);
}

// The ring part of the digest hosts compare (VipStatus::ring_digest).
// Backend indexes depend
// on each host's history (the order backends came and went, what an earlier
// agent left), so it hashes what is the same on every host that places the
// same backends in the same slots: the members' keys (family byte and 16
// address bytes) in key order, then the table with each slot holding its
// backend's rank in that order, from 1 (0 for an empty slot), as 4 bytes
// little-endian.
uint64_t PlacementDigest(absl::Span<const MaglevBackend> members,
                         absl::Span<const uint32_t> table) {
  uint32_t max_index = 0;
  size_t key_bytes = 0;
  for (const MaglevBackend& m : members) {
    max_index = std::max(max_index, m.index);
    key_bytes += m.key.size();
  }
  std::vector<uint32_t> rank_of(max_index + 1, 0);
  std::string bytes(key_bytes + table.size() * 4, '\0');
  char* out = bytes.data();
  for (size_t i = 0; i < members.size(); ++i) {
    rank_of[members[i].index] = static_cast<uint32_t>(i + 1);
    out = std::copy(members[i].key.begin(), members[i].key.end(), out);
  }
  for (uint32_t index : table) {
    const uint32_t rank = index <= max_index ? rank_of[index] : 0;
    *out++ = static_cast<char>(rank & 0xff);
    *out++ = static_cast<char>((rank >> 8) & 0xff);
    *out++ = static_cast<char>((rank >> 16) & 0xff);
    *out++ = static_cast<char>((rank >> 24) & 0xff);
  }
  return XxHash64(bytes, 0);
}

bool SameBytes(const auto& a, const auto& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

xlb_vip_key AbiKey(const IpAddress& address, uint16_t port, uint8_t proto) {
  xlb_vip_key key{};
  address.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family = address.family();
  return key;
}

// Map writes that remember how to undo themselves.
class MapWriter {
 public:
  explicit MapWriter(DataplaneMaps* maps) : maps_(maps) {}

  absl::Status SetBackend(uint32_t index, const xlb_backend& now,
                          const xlb_backend& before) {
    return Do(maps_->SetBackend(index, now),
              [=, this] { return maps_->SetBackend(index, before); });
  }
  // `before` is empty when the index had no ring. A ring of the same size
  // is rewritten in place, only the slots that change: swapping in a new
  // ring waits for an RCU grace period (~12-15 ms), the whole budget of a
  // change.
  absl::Status SetRing(uint32_t vip_index, absl::Span<const uint32_t> now,
                       TableSource before) {
    if (before) {
      absl::StatusOr<std::vector<uint32_t>> held = before();
      if (!held.ok()) return held.status();
      if (held->size() == now.size()) {
        auto was =
            std::make_shared<const std::vector<uint32_t>>(*std::move(held));
        auto is = std::make_shared<const std::vector<uint32_t>>(now.begin(),
                                                                now.end());
        // Undone even if the write fails: writing `was` back over the slots
        // that differ also repairs a write that stopped halfway.
        undo_.push_back(
            [=, this] { return maps_->UpdateRing(vip_index, *is, *was); });
        return maps_->UpdateRing(vip_index, *was, *is);
      }
    }
    return Do(maps_->SetRing(vip_index, now),
              [=, this] { return Put(vip_index, before); });
  }
  absl::Status DeleteRing(uint32_t vip_index, TableSource before) {
    return Do(maps_->DeleteRing(vip_index),
              [=, this] { return Put(vip_index, before); });
  }
  absl::Status SetVip(const xlb_vip_key& key, const xlb_vip_value& now,
                      std::optional<xlb_vip_value> before) {
    return Do(maps_->SetVip(key, now), [=, this] {
      return before ? maps_->SetVip(key, *before) : maps_->DeleteVip(key);
    });
  }
  absl::Status DeleteVip(const xlb_vip_key& key, const xlb_vip_value& before) {
    return Do(maps_->DeleteVip(key),
              [=, this] { return maps_->SetVip(key, before); });
  }

  // Undoes every write made, newest first; tries them all and returns the
  // first failure.
  absl::Status Rollback() {
    absl::Status first;
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      absl::Status s = (*it)();
      if (first.ok()) first = s;
    }
    undo_.clear();
    return first;
  }

 private:
  absl::Status Put(uint32_t vip_index, const TableSource& table) {
    if (!table) return maps_->DeleteRing(vip_index);
    absl::StatusOr<std::vector<uint32_t>> built = table();
    if (!built.ok()) return built.status();
    return maps_->SetRing(vip_index, *built);
  }

  absl::Status Do(absl::Status result, std::function<absl::Status()> undo) {
    if (result.ok()) undo_.push_back(std::move(undo));
    return result;
  }

  DataplaneMaps* maps_;
  std::vector<std::function<absl::Status()>> undo_;
};

}  // namespace

// The VIPs and backend entries that differ between two states; everything
// else implies the same map entries in both.
struct Balancer::Scope {
  std::vector<VipKey> vips;          // their entries, rings, echo entries
  std::vector<IpAddress> addresses;  // their backends entries
  std::vector<uint32_t> retired;     // these backends entries, if retired
};

Balancer::MapsView Balancer::ViewOf(const State& state, const Scope* scope) {
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
    view.vips[AbiKey(key.address, key.port,
                     static_cast<uint8_t>(key.protocol))] = value;
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
      view.vips.emplace(AbiKey(address, 0, icmp), echo_value);
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

absl::Status Balancer::WriteChanges(const State& from, State& to) {
  // Right after adoption the maps hold what an earlier agent wrote, and
  // everything is compared with that; otherwise only what differs between
  // the states is.
  std::optional<Scope> scope;
  if (adopted_ == nullptr) {
    scope.emplace();
    scope->vips = TouchedVips(from, to);
    ForEachDifference(
        from.backends, to.backends,
        [&](const IpAddress& address, const BackendSlot*, const BackendSlot*) {
          scope->addresses.push_back(address);
        });
    ForEachDifference(from.retired, to.retired,
                      [&](uint32_t index, const uint32_t*, const uint32_t*) {
                        scope->retired.push_back(index);
                      });
  }
  const MapsView before =
      scope.has_value() ? ViewOf(from, &*scope) : adopted_->view;
  const MapsView after = ViewOf(to, scope.has_value() ? &*scope : nullptr);
  MapWriter writer(maps_);
  // How an undo gets back the ring `before` has at `index`: a model state's
  // is rebuilt; an adopted one is read before it is overwritten (the model
  // never held it).
  auto source_of = [&](uint32_t index) -> absl::StatusOr<TableSource> {
    auto it = before.rings.find(index);
    if (it == before.rings.end()) return TableSource();
    if (Ring inputs = it->second.inputs; inputs != nullptr) {
      return TableSource([inputs] { return inputs->Build(); });
    }
    absl::StatusOr<std::vector<uint32_t>> held = maps_->GetRing(index);
    if (!held.ok()) return held.status();
    auto copy = std::make_shared<const std::vector<uint32_t>>(*std::move(held));
    return TableSource([copy] { return *copy; });
  };
  struct Digests {
    uint64_t table = 0;
    uint64_t ring = 0;
  };
  std::map<uint32_t, Digests> digests;  // of `to`'s rings, by VIP index
  auto old_backend = [&](uint32_t index) {
    auto it = before.backends.find(index);
    return it == before.backends.end() ? xlb_backend{} : it->second;
  };
  // Entries that rings may point at go first; entries that lose traffic
  // (DRAINING, DOWN, UNUSED) go after the rings and VIPs stop using them.
  std::vector<uint32_t> later_backends;
  absl::Status status = [&]() -> absl::Status {
    for (const auto& [index, entry] : after.backends) {
      const xlb_backend old = old_backend(index);
      if (SameBytes(old, entry)) continue;
      const bool new_holder =
          old.state == XLB_BACKEND_UNUSED || old.generation != entry.generation;
      if (entry.state != XLB_BACKEND_UNUSED &&
          (new_holder || entry.state == XLB_BACKEND_UP)) {
        if (absl::Status s = writer.SetBackend(index, entry, old); !s.ok()) {
          return s;
        }
      } else {
        later_backends.push_back(index);
      }
    }
    // Each ring is built only when its inputs changed, written unless the
    // maps already hold the same table, and dropped before the next one.
    for (const auto& [index, ring] : after.rings) {
      auto old = before.rings.find(index);
      const MapsView::RingEntry* was =
          old == before.rings.end() ? nullptr : &old->second;
      if (was != nullptr && was->inputs != nullptr &&
          (was->inputs == ring.inputs || *was->inputs == *ring.inputs)) {
        if (was->digest.has_value() && was->ring_digest.has_value()) {
          digests[index] = {.table = *was->digest, .ring = *was->ring_digest};
        }
        continue;
      }
      absl::StatusOr<std::vector<uint32_t>> table = ring.inputs->Build();
      if (!table.ok()) {
        return absl::Status(
            table.status().code(),
            absl::StrCat("VIP index ", index, ": ", table.status().message()));
      }
      const uint64_t digest = RingDigest(*table);
      digests[index] = {.table = digest,
                        .ring = PlacementDigest(ring.inputs->members, *table)};
      if (was != nullptr && was->digest == digest) continue;
      absl::StatusOr<TableSource> undo = source_of(index);
      if (!undo.ok()) return undo.status();
      if (absl::Status s = writer.SetRing(index, *table, *std::move(undo));
          !s.ok()) {
        return s;
      }
    }
    // A VIP that keeps its index but lost every backend: drop its packets
    // now. Rings of indexes no VIP uses any more go once the VIPs moved.
    std::vector<uint32_t> later_rings;
    for (const auto& [index, ring] : before.rings) {
      if (after.rings.contains(index)) continue;
      if (!after.vip_indexes.contains(index)) {
        later_rings.push_back(index);
        continue;
      }
      absl::StatusOr<TableSource> undo = source_of(index);
      if (!undo.ok()) return undo.status();
      if (absl::Status s = writer.DeleteRing(index, *std::move(undo));
          !s.ok()) {
        return s;
      }
    }
    for (const auto& [key, value] : after.vips) {
      auto old = before.vips.find(key);
      std::optional<xlb_vip_value> old_value;
      if (old != before.vips.end()) {
        if (SameBytes(old->second, value)) continue;
        old_value = old->second;
      }
      if (absl::Status s = writer.SetVip(key, value, old_value); !s.ok()) {
        return s;
      }
    }
    for (const auto& [key, value] : before.vips) {
      if (after.vips.contains(key)) continue;
      if (absl::Status s = writer.DeleteVip(key, value); !s.ok()) return s;
    }
    for (uint32_t index : later_rings) {
      absl::StatusOr<TableSource> undo = source_of(index);
      if (!undo.ok()) return undo.status();
      if (absl::Status s = writer.DeleteRing(index, *std::move(undo));
          !s.ok()) {
        return s;
      }
    }
    for (uint32_t index : later_backends) {
      const xlb_backend old = old_backend(index);
      auto now = after.backends.find(index);
      if (absl::Status s = writer.SetBackend(
              index, now == after.backends.end() ? xlb_backend{} : now->second,
              old);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }();
  if (status.ok()) {
    std::vector<VipKey> all;
    if (!scope.has_value()) {
      for (const auto& [key, vip] : to.vips) all.push_back(key);
    }
    for (const VipKey& key : scope.has_value() ? scope->vips : all) {
      auto it = to.vips.find(key);
      if (it == to.vips.end() || it->second->ring == nullptr) continue;
      auto digest = digests.find(it->second->index);
      if (digest != digests.end() &&
          (it->second->table_digest != digest->second.table ||
           it->second->ring_digest != digest->second.ring)) {
        VipState& vip = MutableVip(to, key);
        vip.table_digest = digest->second.table;
        vip.ring_digest = digest->second.ring;
      }
    }
    // Established packets skip the VIP lookup (their entry names the VIP
    // index): a freed index's entries go now, so its VIP's flows stop and a
    // VIP given the index later starts clean. Not undoable, so last; if it
    // fails the next Apply resyncs first, which retries it.
    std::set<uint32_t> freed;
    for (uint32_t index : before.vip_indexes) {
      if (!after.vip_indexes.contains(index)) freed.insert(index);
    }
    if (!maps_->DeleteConns(freed).ok()) needs_resync_ = true;
    return status;
  }

  if (absl::Status undo = writer.Rollback(); !undo.ok()) {
    needs_resync_ = true;
    return absl::InternalError(absl::StrCat(
        "writing the maps failed (", status.message(),
        ") and undoing the writes made so far failed too (", undo.message(),
        "); the model keeps the previous configuration and rewrites the maps "
        "before the next change"));
  }
  return absl::Status(status.code(),
                      absl::StrCat("writing the maps failed, nothing applied: ",
                                   status.message()));
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
    adoption->view.rings[value.index] = {.digest = RingDigest(*ring)};
  }
  if (!live) return nullptr;
  return adoption;
}

bool Balancer::AdoptedHealth(const VipConfig& vip,
                             const BackendConfig& backend) const {
  if (adopted_ == nullptr) return false;
  auto index = adopted_->index_of.find(backend.address);
  if (index == adopted_->index_of.end()) return false;
  xlb_vip_key key{};
  vip.key.address.ToAbi(key.addr);
  key.port = htons(vip.key.port);
  key.proto = static_cast<uint8_t>(vip.key.protocol);
  key.family = vip.key.address.family();
  auto value = adopted_->view.vips.find(key);
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
