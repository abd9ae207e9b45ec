// DataplaneMaps held in memory, for tests of the balancer model: the same
// contracts as the BPF maps (sizes, NotFound), plus fault injection and
// write counting.
#ifndef XLB_LB_DATAPLANE_IN_MEMORY_MAPS_H_
#define XLB_LB_DATAPLANE_IN_MEMORY_MAPS_H_

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "lb/dataplane/dataplane_maps.h"

namespace xlb {

// Orders xlb_vip_key by its bytes (the struct has no implicit padding).
struct VipKeyBytesLess {
  bool operator()(const xlb_vip_key& a, const xlb_vip_key& b) const;
};

class InMemoryMaps : public DataplaneMaps {
 public:
  // Everything the maps hold, comparable as a whole. Backend entries never
  // written read as all zero and are left out.
  struct Contents {
    std::map<uint32_t, xlb_backend> backends;
    std::map<xlb_vip_key, xlb_vip_value, VipKeyBytesLess> vips;
    std::map<uint32_t, std::vector<uint32_t>> rings;

    bool operator==(const Contents& other) const;
  };

  explicit InMemoryMaps(DataplaneLimits limits = {});

  // Makes write number `n` fail with Unavailable and no effect. Writes are
  // SetBackend, SetVip, DeleteVip, SetRing, UpdateRing and DeleteRing,
  // numbered from 1
  // over the maps' lifetime (see write_count()).
  void FailWrite(uint64_t n) { failing_writes_.insert(n); }
  uint64_t write_count() const { return write_count_; }
  uint64_t set_ring_count() const { return set_ring_count_; }
  const Contents& contents() const { return contents_; }

  DataplaneLimits limits() const override { return limits_; }
  absl::Status SetBackend(uint32_t index, const xlb_backend& backend) override;
  absl::StatusOr<xlb_backend> GetBackend(uint32_t index) override;
  absl::Status SetVip(const xlb_vip_key& key,
                      const xlb_vip_value& value) override;
  absl::Status DeleteVip(const xlb_vip_key& key) override;
  absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>> ListVips()
      override;
  absl::Status SetRing(uint32_t vip_index,
                       absl::Span<const uint32_t> ring) override;
  absl::Status UpdateRing(uint32_t vip_index, absl::Span<const uint32_t> held,
                          absl::Span<const uint32_t> ring) override;
  absl::Status DeleteRing(uint32_t vip_index) override;
  absl::StatusOr<std::vector<uint32_t>> GetRing(uint32_t vip_index) override;
  // Holds no connection entries: records which VIP indexes were purged.
  absl::Status DeleteConns(const std::set<uint32_t>& vip_indexes) override;
  const std::vector<uint32_t>& purged_conn_vips() const {
    return purged_conn_vips_;
  }

 private:
  // Counts a write; Unavailable when it is one chosen to fail.
  absl::Status CountWrite();

  DataplaneLimits limits_;
  Contents contents_;
  std::set<uint64_t> failing_writes_;
  uint64_t write_count_ = 0;
  uint64_t set_ring_count_ = 0;
  std::vector<uint32_t> purged_conn_vips_;
};

}  // namespace xlb

#endif  // XLB_LB_DATAPLANE_IN_MEMORY_MAPS_H_
