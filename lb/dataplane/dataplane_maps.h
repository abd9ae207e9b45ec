// The data plane's maps as the balancer model writes them. Two
// implementations: Dataplane (the real BPF maps, lb/dataplane/dataplane.h) and
// InMemoryMaps (tests, including fault injection).
#ifndef XLB_LB_DATAPLANE_DATAPLANE_MAPS_H_
#define XLB_LB_DATAPLANE_DATAPLANE_MAPS_H_

#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "xlb_abi.h"

namespace xlb {

// Sizes fixed when the data plane is loaded; the model refuses to exceed them.
struct DataplaneLimits {
  uint32_t max_vips = XLB_DEFAULT_MAX_VIPS;
  uint32_t max_backends = XLB_DEFAULT_MAX_BACKENDS;  // index 0 is reserved
  uint32_t max_ring_size = XLB_MAX_RING_SIZE;
  uint32_t max_conns = XLB_DEFAULT_MAX_CONNS;
};

class DataplaneMaps {
 public:
  virtual ~DataplaneMaps() = default;

  virtual DataplaneLimits limits() const = 0;

  virtual absl::Status SetBackend(uint32_t index,
                                  const xlb_backend& backend) = 0;
  virtual absl::StatusOr<xlb_backend> GetBackend(uint32_t index) = 0;

  virtual absl::Status SetVip(const xlb_vip_key& key,
                              const xlb_vip_value& value) = 0;
  // NotFound when the key is absent.
  virtual absl::Status DeleteVip(const xlb_vip_key& key) = 0;
  virtual absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>>
  ListVips() = 0;

  // Creates a new ring holding `ring` (backend indexes) and swaps it in for
  // `vip_index` with one update: packets see the old ring or the new one.
  virtual absl::Status SetRing(uint32_t vip_index,
                               absl::Span<const uint32_t> ring) = 0;
  // Rewrites in place the slots where `ring` differs from `held`, what the
  // index's ring holds now (same size). Each slot changes atomically, the
  // ring as a whole does not. A write that fails may leave some of the
  // slots written; writing `held` back over `ring` repairs it.
  virtual absl::Status UpdateRing(uint32_t vip_index,
                                  absl::Span<const uint32_t> held,
                                  absl::Span<const uint32_t> ring) = 0;
  // A VIP without a ring drops its packets (counted as no_backend).
  virtual absl::Status DeleteRing(uint32_t vip_index) = 0;
  // NotFound when the VIP index has no ring.
  virtual absl::StatusOr<std::vector<uint32_t>> GetRing(uint32_t vip_index) = 0;

  // Deletes the connection entries made for any of `vip_indexes`. Packets
  // of established flows skip the VIP lookup (their entry names the VIP
  // index), so this is what ends a deleted VIP's flows, and lets a freed
  // index be given to another VIP cleanly. Entries are a cache, not state:
  // this is never undone.
  virtual absl::Status DeleteConns(const std::set<uint32_t>& vip_indexes) = 0;
};

}  // namespace xlb

#endif  // XLB_LB_DATAPLANE_DATAPLANE_MAPS_H_
