#include "lb/model/map_writer.h"

#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace xlb {
namespace {

bool SameBytes(const auto& a, const auto& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

}  // namespace

MapWriter::MapWriter(DataplaneMaps* maps, const MapsView& before,
                     const MapsView& after)
    : maps_(maps), before_(before), after_(after) {}

absl::Status MapWriter::Write() {
  absl::Status status = WriteArrivingBackends();
  if (status.ok()) status = WriteChangedRings();
  if (status.ok()) status = DeleteEmptiedRings();
  if (status.ok()) status = WriteVips();
  if (status.ok()) status = DeleteRemovedVips();
  if (status.ok()) status = DeleteUnusedRings();
  if (status.ok()) status = WriteLeavingBackends();
  if (status.ok()) {
    DeleteConnsOfFreedVips();
    return status;
  }
  if (absl::Status undo = Rollback(); !undo.ok()) {
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

// Entries that rings may point at go first; entries that lose traffic go
// after the rings and VIPs stop using them.
absl::Status MapWriter::WriteArrivingBackends() {
  for (const auto& [index, entry] : after_.backends) {
    const xlb_backend old = BackendBefore(index);
    if (SameBytes(old, entry)) continue;
    const bool new_holder =
        old.state == XLB_BACKEND_UNUSED || old.generation != entry.generation;
    if (entry.state != XLB_BACKEND_UNUSED &&
        (new_holder || entry.state == XLB_BACKEND_UP)) {
      if (absl::Status s = SetBackend(index, entry); !s.ok()) return s;
    } else {
      leaving_backends_.push_back(index);
    }
  }
  return absl::OkStatus();
}

// Each ring is built only when its inputs changed, written unless the maps
// already hold the same table, and dropped before the next one.
absl::Status MapWriter::WriteChangedRings() {
  for (const auto& [index, ring] : after_.rings) {
    auto old = before_.rings.find(index);
    const MapsView::RingEntry* was =
        old == before_.rings.end() ? nullptr : &old->second;
    if (was != nullptr && was->inputs != nullptr &&
        (was->inputs == ring.inputs || *was->inputs == *ring.inputs)) {
      if (was->digest.has_value() && was->ring_digest.has_value()) {
        digests_[index] = {.table = *was->digest, .ring = *was->ring_digest};
      }
      continue;
    }
    absl::StatusOr<std::vector<uint32_t>> table = ring.inputs->Build();
    if (!table.ok()) {
      return absl::Status(
          table.status().code(),
          absl::StrCat("VIP index ", index, ": ", table.status().message()));
    }
    const uint64_t digest = TableDigest(*table);
    digests_[index] = {.table = digest,
                       .ring = PlacementDigest(ring.inputs->members, *table)};
    if (was != nullptr && was->digest == digest) continue;
    if (absl::Status s = SetRing(index, *table); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// A VIP that keeps its index but lost every backend: its packets are
// dropped from now on.
absl::Status MapWriter::DeleteEmptiedRings() {
  for (const auto& [index, ring] : before_.rings) {
    if (after_.rings.contains(index) || !after_.vip_indexes.contains(index)) {
      continue;
    }
    if (absl::Status s = DeleteRing(index); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MapWriter::WriteVips() {
  for (const auto& [key, value] : after_.vips) {
    auto old = before_.vips.find(key);
    std::optional<xlb_vip_value> old_value;
    if (old != before_.vips.end()) {
      if (SameBytes(old->second, value)) continue;
      old_value = old->second;
    }
    if (absl::Status s = Undoable(maps_->SetVip(key, value),
                                  [this, key, old_value] {
                                    return old_value
                                               ? maps_->SetVip(key, *old_value)
                                               : maps_->DeleteVip(key);
                                  });
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status MapWriter::DeleteRemovedVips() {
  for (const auto& [key, value] : before_.vips) {
    if (after_.vips.contains(key)) continue;
    if (absl::Status s =
            Undoable(maps_->DeleteVip(key),
                     [this, key, value] { return maps_->SetVip(key, value); });
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Rings of indexes no VIP uses any more go once the VIPs moved off them.
absl::Status MapWriter::DeleteUnusedRings() {
  for (const auto& [index, ring] : before_.rings) {
    if (after_.vip_indexes.contains(index)) continue;
    if (absl::Status s = DeleteRing(index); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MapWriter::WriteLeavingBackends() {
  for (uint32_t index : leaving_backends_) {
    auto now = after_.backends.find(index);
    if (absl::Status s = SetBackend(
            index, now == after_.backends.end() ? xlb_backend{} : now->second);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Established packets skip the VIP lookup (their entry names the VIP
// index): a freed index's entries go now, so its VIP's flows stop and a VIP
// given the index later starts clean. If this fails the next change
// resyncs first, which retries it.
void MapWriter::DeleteConnsOfFreedVips() {
  std::set<uint32_t> freed;
  for (uint32_t index : before_.vip_indexes) {
    if (!after_.vip_indexes.contains(index)) freed.insert(index);
  }
  if (!maps_->DeleteConns(freed).ok()) needs_resync_ = true;
}

xlb_backend MapWriter::BackendBefore(uint32_t index) const {
  auto it = before_.backends.find(index);
  return it == before_.backends.end() ? xlb_backend{} : it->second;
}

absl::StatusOr<MapWriter::TableSource> MapWriter::RingBefore(
    uint32_t index) const {
  auto it = before_.rings.find(index);
  if (it == before_.rings.end()) return TableSource();
  if (Ring inputs = it->second.inputs; inputs != nullptr) {
    return TableSource([inputs] { return inputs->Build(); });
  }
  // Left by an earlier agent: the model never held it.
  absl::StatusOr<std::vector<uint32_t>> held = maps_->GetRing(index);
  if (!held.ok()) return held.status();
  auto copy = std::make_shared<const std::vector<uint32_t>>(*std::move(held));
  return TableSource([copy] { return *copy; });
}

absl::Status MapWriter::SetBackend(uint32_t index, const xlb_backend& now) {
  const xlb_backend before = BackendBefore(index);
  return Undoable(maps_->SetBackend(index, now), [this, index, before] {
    return maps_->SetBackend(index, before);
  });
}

// A ring of the same size is rewritten in place, only the slots that
// change: swapping in a new ring waits for an RCU grace period (~12-15 ms),
// the whole budget of a change.
absl::Status MapWriter::SetRing(uint32_t vip_index,
                                const std::vector<uint32_t>& now) {
  absl::StatusOr<TableSource> before = RingBefore(vip_index);
  if (!before.ok()) return before.status();
  if (*before) {
    absl::StatusOr<std::vector<uint32_t>> held = (*before)();
    if (!held.ok()) return held.status();
    if (held->size() == now.size()) {
      auto was =
          std::make_shared<const std::vector<uint32_t>>(*std::move(held));
      auto is = std::make_shared<const std::vector<uint32_t>>(now);
      // Undone even if the write fails: writing `was` back over the slots
      // that differ also repairs a write that stopped halfway.
      undo_.push_back(
          [=, this] { return maps_->UpdateRing(vip_index, *is, *was); });
      return maps_->UpdateRing(vip_index, *was, *is);
    }
  }
  return Undoable(maps_->SetRing(vip_index, now),
                  [this, vip_index, source = *std::move(before)] {
                    return PutRing(vip_index, source);
                  });
}

absl::Status MapWriter::DeleteRing(uint32_t vip_index) {
  absl::StatusOr<TableSource> before = RingBefore(vip_index);
  if (!before.ok()) return before.status();
  return Undoable(maps_->DeleteRing(vip_index),
                  [this, vip_index, source = *std::move(before)] {
                    return PutRing(vip_index, source);
                  });
}

absl::Status MapWriter::PutRing(uint32_t vip_index, const TableSource& table) {
  if (!table) return maps_->DeleteRing(vip_index);
  absl::StatusOr<std::vector<uint32_t>> built = table();
  if (!built.ok()) return built.status();
  return maps_->SetRing(vip_index, *built);
}

absl::Status MapWriter::Undoable(absl::Status result,
                                 std::function<absl::Status()> undo) {
  if (result.ok()) undo_.push_back(std::move(undo));
  return result;
}

absl::Status MapWriter::Rollback() {
  absl::Status first;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    absl::Status s = (*it)();
    if (first.ok()) first = s;
  }
  undo_.clear();
  return first;
}

}  // namespace xlb
