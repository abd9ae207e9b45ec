// The map writer: moves the data-plane maps from one MapsView to another in
// an order that never shows a packet a dangling index, and undoes every
// write it made when one fails, so a change reaches the maps whole or not
// at all.
//
// The phases, in order:
//  1. backends entries rings will point at (a new holder, or now UP);
//  2. rings whose tables changed, built one at a time;
//  3. rings of VIPs that keep their index but lost every backend;
//  4. VIP entries added or changed; 5. VIP entries removed;
//  6. rings of indexes no VIP uses any more;
//  7. backends entries that lose traffic (DRAINING, DOWN, UNUSED);
//  8. connection entries of freed VIP indexes (not undoable, so last).
#ifndef XLB_LB_MODEL_MAP_WRITER_H_
#define XLB_LB_MODEL_MAP_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lb/dataplane/dataplane_maps.h"
#include "lb/model/maps_view.h"

namespace xlb {

class MapWriter {
 public:
  // `before` is what the maps hold for every entry `after` covers; both and
  // `maps` must outlive the writer.
  MapWriter(DataplaneMaps* maps, const MapsView& before, const MapsView& after);

  // Runs the phases. On a failed write, undoes the writes made so far and
  // says so; when undoing fails too, or phase 8 fails, the maps differ from
  // both views and needs_resync() is true.
  absl::Status Write();

  // Digests of each ring `after` has, by VIP index, once Write succeeded.
  struct Digests {
    uint64_t table = 0;  // TableDigest
    uint64_t ring = 0;   // PlacementDigest
  };
  const std::map<uint32_t, Digests>& ring_digests() const { return digests_; }
  bool needs_resync() const { return needs_resync_; }

 private:
  // Gives back a table an undo needs.
  using TableSource = std::function<absl::StatusOr<std::vector<uint32_t>>()>;

  absl::Status WriteArrivingBackends();
  absl::Status WriteChangedRings();
  absl::Status DeleteEmptiedRings();
  absl::Status WriteVips();
  absl::Status DeleteRemovedVips();
  absl::Status DeleteUnusedRings();
  absl::Status WriteLeavingBackends();
  void DeleteConnsOfFreedVips();

  xlb_backend BackendBefore(uint32_t index) const;
  // How an undo gets back the ring `before` has at `index`: a model state's
  // is rebuilt; one read from the maps is read again before it is
  // overwritten. Empty when `before` has no ring there.
  absl::StatusOr<TableSource> RingBefore(uint32_t index) const;

  // Writes that remember how to undo themselves.
  absl::Status SetBackend(uint32_t index, const xlb_backend& now);
  absl::Status SetRing(uint32_t vip_index, const std::vector<uint32_t>& now);
  absl::Status DeleteRing(uint32_t vip_index);
  absl::Status Undoable(absl::Status result,
                        std::function<absl::Status()> undo);
  absl::Status PutRing(uint32_t vip_index, const TableSource& table);
  // Undoes every write made, newest first; tries them all and returns the
  // first failure.
  absl::Status Rollback();

  DataplaneMaps* maps_;
  const MapsView& before_;
  const MapsView& after_;
  std::vector<uint32_t> leaving_backends_;  // phase 1 leaves them to 7
  std::map<uint32_t, Digests> digests_;
  std::vector<std::function<absl::Status()>> undo_;
  bool needs_resync_ = false;
};

}  // namespace xlb

#endif  // XLB_LB_MODEL_MAP_WRITER_H_
