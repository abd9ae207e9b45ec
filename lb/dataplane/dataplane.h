// The data-plane wrapper: loads the BPF programs through their skeletons,
// pins programs, links and maps under a bpffs directory (so traffic keeps
// flowing while the agent restarts), attaches XDP and TC, and gives typed
// access to every map. The only code that touches the balancer's BPF objects.
#ifndef XLB_LB_DATAPLANE_DATAPLANE_H_
#define XLB_LB_DATAPLANE_DATAPLANE_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lb/base/unique_fd.h"
#include "lb/dataplane/dataplane_maps.h"
#include "xlb_abi.h"

struct xlb_balancer;
struct xlb_healthcheck;

namespace xlb {

enum class XdpMode { kNative, kGeneric };

struct DataplaneOptions {
  DataplaneLimits limits;
  // bpffs directory for pins; empty: nothing is pinned (tests, benchmarks).
  // When it holds maps from an earlier run they are reused, provided their
  // layout matches; an incompatible layout is an error, never a silent reset.
  std::string pin_dir;
};

using StatCounters = std::array<uint64_t, XLB_CNT_MAX>;

// One map's size and the memory the kernel charges for it.
struct MapMemory {
  std::string name;  // as pinned: "vips", "rings", "conns", ...
  uint32_t max_entries = 0;
  uint64_t bytes = 0;  // the kernel's own figure (fdinfo "memlock")
};

class Dataplane : public DataplaneMaps {
 public:
  // Opens and loads the balancer and health-probe programs, reusing maps
  // pinned under options.pin_dir and pinning the ones it creates.
  static absl::StatusOr<std::unique_ptr<Dataplane>> Load(
      const DataplaneOptions& options);
  ~Dataplane() override;

  // Attaches the balancer to `ifname` through a bpf_link (pinned when a pin
  // directory is set). A link pinned by an earlier run is updated to this
  // program atomically: no packet sees an interface without a balancer.
  // Refuses an interface that has another XDP program.
  absl::Status AttachXdp(const std::string& ifname, XdpMode mode);
  // Attaches the health-probe program to `ifname`'s TC egress hook,
  // replacing an earlier xlb program there atomically.
  absl::Status AttachHealthcheck(const std::string& ifname);
  // Removes the data plane: detaches xlb's XDP link and TC filter from
  // `ifname` and deletes every pin under `pin_dir`. Traffic to VIPs stops.
  // Works without loading anything, so it also clears an incompatible
  // layout left by another version.
  static absl::Status Remove(const std::string& pin_dir,
                             const std::string& ifname);

  absl::Status SetConfig(const xlb_config& config);
  absl::StatusOr<xlb_config> GetConfig();

  // Counters summed over CPUs.
  absl::StatusOr<StatCounters> ReadCounters();
  absl::StatusOr<xlb_vip_stats> ReadVipStats(uint32_t vip_index);
  absl::StatusOr<xlb_backend_stats> ReadBackendStats(uint32_t backend_index);
  // Entries currently in the connection table (walks it: for status, not
  // for hot paths).
  absl::StatusOr<uint32_t> CountConns();
  // Every map of the data plane with the kernel's memory figure; "rings"
  // includes every inner ring map it holds.
  absl::StatusOr<std::vector<MapMemory>> ReadMapMemory();

  int balancer_prog_fd() const;
  int healthcheck_prog_fd() const;
  int conns_fd() const;
  int syn_buckets_fd() const;
  uint32_t balancer_prog_id() const;
  uint32_t healthcheck_prog_id() const;

  // DataplaneMaps.
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
  absl::Status DeleteConns(const std::set<uint32_t>& vip_indexes) override;

 private:
  Dataplane(DataplaneOptions options, xlb_balancer* balancer,
            xlb_healthcheck* healthcheck);

  std::string PinPath(const std::string& name) const;
  template <typename T>
  absl::StatusOr<T> ReadPerCpu(int fd, uint32_t index, const char* map);

  DataplaneOptions options_;
  DataplaneLimits limits_;
  xlb_balancer* balancer_;
  xlb_healthcheck* healthcheck_;
  int num_cpus_;
  UniqueFd xdp_link_;
};

// Checks that `dir` is on a BPF filesystem (where pins can live).
absl::Status CheckBpffs(const std::string& dir);

}  // namespace xlb

#endif  // XLB_LB_DATAPLANE_DATAPLANE_H_
