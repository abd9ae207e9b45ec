// Internal to the balancer model (lb/model*.cc): map contents as a value,
// the contents a model state implies or those read back from the maps.
#ifndef XLB_LB_MODEL_MODEL_MAPS_VIEW_H_
#define XLB_LB_MODEL_MODEL_MAPS_VIEW_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "lb/dataplane/in_memory_maps.h"
#include "lb/model/model.h"
#include "xlb_abi.h"

namespace xlb {

struct Balancer::MapsView {
  // A ring as the view knows it: a model state's holds its inputs (and the
  // digests once its table was built); one read back from the maps holds
  // only the digest of what is there.
  struct RingEntry {
    Ring inputs;                          // null: read from the maps
    std::optional<uint64_t> digest;       // VipState::table_digest
    std::optional<uint64_t> ring_digest;  // VipState::ring_digest
  };
  // Live backends and retired (UNUSED) entries; absent means all zero.
  std::map<uint32_t, xlb_backend> backends;
  std::map<xlb_vip_key, xlb_vip_value, VipKeyBytesLess> vips;
  std::map<uint32_t, RingEntry> rings;  // VIP index -> ring
  std::set<uint32_t> vip_indexes;       // VIP indexes configured
};

// What an earlier agent left in the maps, indexed for adoption.
struct Balancer::Adoption {
  MapsView view;
  std::map<IpAddress, uint32_t> index_of;  // live backend entries by address
  std::map<uint32_t, std::set<uint32_t>> ring_members;  // VIP index -> backends
};

}  // namespace xlb

#endif  // XLB_LB_MODEL_MODEL_MAPS_VIEW_H_
