// Keeps the health checker's targets equal to the desired configuration
// (one target per backend of every VIP with a health check) and feeds its
// verdicts back through Controller::SetHealth.
//
// Threads: the checker reports transitions on its loop thread; they are
// queued and applied by a worker thread, so the loop never waits for the
// controller's lock while the controller (through Sync) waits for the loop.
//
// Memory: 100 VIPs x 100 backends are 10,000 targets, so the bookkeeping per
// target is only what tells a change apart: whose it is and pointers to the
// VIP's spec (one per VIP, shared with the checker's targets) and override.
// Time: a configuration change costs what it changed, the targets of the
// VIPs it names; the target table is copied on write.
#ifndef XLB_LB_AGENT_HEALTH_SYNC_H_
#define XLB_LB_AGENT_HEALTH_SYNC_H_

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "lb/agent/controller.h"
#include "lb/health/checker.h"
#include "lb/model/cow_map.h"

namespace xlb::agent {

class HealthSync {
 public:
  // kTunnelled probes go to the VIP address marked for the backend, so they
  // take the encapsulated path (needs the TC program attached); kDirect
  // probes go to the backend's own address. `tls_ca_file` is the CA bundle
  // HTTPS checks with https_verify trust; empty: the system's store.
  static absl::StatusOr<std::unique_ptr<HealthSync>> Start(
      Controller* controller, health::ProbeMode mode,
      const std::string& tls_ca_file = "");
  ~HealthSync();

  // Brings the checker's targets in line with the controller's current
  // configuration: of every VIP, or of those in `vips` (the others have not
  // changed since the last Sync). Idempotent; safe from any thread but the
  // checker's.
  void Sync();
  void Sync(const std::vector<VipKey>& vips);

  size_t target_count() const;

  // Completed probes of each target, by outcome, since it was added.
  struct ProbeCounts {
    VipKey vip;
    IpAddress backend;
    health::TargetCounters counters;
  };
  std::vector<ProbeCounts> probe_counts() const;

 private:
  struct Subject {
    VipKey vip;
    IpAddress backend;

    bool operator==(const Subject&) const = default;
  };
  // A target as last given to the checker, without what follows from these
  // and its id (address, port, tunnel mark).
  struct Tracked {
    Subject subject;
    health::SharedSpec spec;  // the VIP's, kept while it is unchanged
    std::shared_ptr<const HealthOverride> override_spec;  // null: none

    bool operator==(const Tracked& other) const;
  };
  using TrackedMap = CowMap<health::TargetId, Tracked>;
  // A checked VIP's spec (the same pointer as long as it is unchanged, so
  // comparing targets compares pointers) and the ids of its targets.
  struct VipTargets {
    health::SharedSpec spec;
    std::vector<health::TargetId> ids;
  };

  HealthSync(Controller* controller, health::ProbeMode mode);
  void ApplyTransitions();
  health::HealthTarget TargetOf(health::TargetId id, const Tracked& tracked,
                                bool healthy) const;
  std::shared_ptr<const TrackedMap> tracked() const;
  // Brings `key`'s targets in `targets` and the checker in line with the
  // controller. Called with sync_mu_ held.
  void SyncVip(const VipKey& key, TrackedMap& targets);

  Controller* const controller_;
  const health::ProbeMode mode_;
  std::unique_ptr<health::HealthChecker> checker_;

  mutable std::mutex sync_mu_;         // serializes Sync
  std::map<VipKey, VipTargets> vips_;  // guarded by sync_mu_

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<health::HealthTransition> queue_;
  // Immutable once published; replaced by Sync (which holds sync_mu_ too).
  std::shared_ptr<const TrackedMap> targets_ =
      std::make_shared<const TrackedMap>();  // guarded by queue_mu_
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace xlb::agent

#endif  // XLB_LB_AGENT_HEALTH_SYNC_H_
