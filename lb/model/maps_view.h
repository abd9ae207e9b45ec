// Map contents as a value: the entries a model state implies, or what was
// read back from the maps. The map writer (map_writer.h) moves the maps
// from one view to another.
#ifndef XLB_LB_MODEL_MAPS_VIEW_H_
#define XLB_LB_MODEL_MAPS_VIEW_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/maglev/maglev.h"
#include "lb/model/model_config.h"
#include "xlb_abi.h"

namespace xlb {

// What decides a VIP's ring: equal inputs build equal tables, so the model
// keeps these and builds a table only to write it.
struct RingInputs {
  uint32_t size = 0;
  uint32_t seed = 0;
  std::vector<MaglevBackend> members;  // sorted by key, never empty

  absl::StatusOr<std::vector<uint32_t>> Build() const;
  bool operator==(const RingInputs&) const = default;
};
using Ring = std::shared_ptr<const RingInputs>;  // immutable, shared

struct MapsView {
  // A ring as the view knows it: a model state's holds its inputs (and the
  // digests once its table was built); one read back from the maps holds
  // only the digest of what is there.
  struct RingEntry {
    Ring inputs;                          // null: read from the maps
    std::optional<uint64_t> digest;       // TableDigest
    std::optional<uint64_t> ring_digest;  // PlacementDigest
  };
  // Live backends and retired (UNUSED) entries; absent means all zero.
  std::map<uint32_t, xlb_backend> backends;
  std::map<xlb_vip_key, xlb_vip_value, VipKeyBytesLess> vips;
  std::map<uint32_t, RingEntry> rings;  // VIP index -> ring
  std::set<uint32_t> vip_indexes;       // VIP indexes configured
};

// XXH64 of a ring's table as written.
uint64_t TableDigest(const std::vector<uint32_t>& table);

// The ring part of the digest hosts compare (VipStatus::ring_digest): the
// table with backends named by address, not by this host's index.
uint64_t PlacementDigest(absl::Span<const MaglevBackend> members,
                         absl::Span<const uint32_t> table);

// A `vips` map key: a VIP's, or (port 0, ICMP protocol) an echo entry's.
xlb_vip_key AbiVipKey(const IpAddress& address, uint16_t port, uint8_t proto);
inline xlb_vip_key AbiVipKey(const VipKey& key) {
  return AbiVipKey(key.address, key.port, static_cast<uint8_t>(key.protocol));
}

}  // namespace xlb

#endif  // XLB_LB_MODEL_MAPS_VIEW_H_
