// The one place changes to the balancer happen: a change set is checked
// against the generation precondition, applied to the model (and so the
// maps), persisted, and announced as an event, all under one mutex, so
// concurrent callers are serialized and events come out in order. If the
// state cannot be persisted the model and maps are rolled back.
//
// The gRPC service (api/service.h) and the health checker (through
// SetHealth) are its callers.
#ifndef XLB_LB_AGENT_CONTROLLER_H_
#define XLB_LB_AGENT_CONTROLLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lb/agent/events.h"
#include "lb/bgp/announcer.h"
#include "lb/health/probe_outcome.h"
#include "lb/model/model.h"
#include "lb/state/state.h"

namespace xlb::agent {

struct ControllerOptions {
  // Where the desired state is persisted; null keeps it in memory only.
  StateFile* state_file = nullptr;
  size_t event_capacity = 4096;
  absl::Time start_time = absl::Now();
  std::string version;  // written into the state file
  // The data plane's flow hash seed (xlbd --hash-seed): part of every ring
  // digest, since it decides which slot a flow hashes to.
  uint32_t flow_hash_seed = 0;
};

// The health checker's verdict on one backend of one VIP, with the probe
// that decided it.
struct HealthVerdict {
  bool healthy = false;
  health::ProbeOutcome reason = health::ProbeOutcome::kSuccess;
  std::string detail;  // empty on success
  absl::Duration latency;
};

// Transitions of one backend of one VIP to one health since the agent
// started.
struct HealthTransitionCount {
  VipKey vip;
  IpAddress backend;
  bool to_healthy = false;
  uint64_t count = 0;
};

class Controller {
 public:
  // Loads the persisted state and makes the model (and the maps) equal it.
  // A missing file is a first start (empty configuration). A corrupt file,
  // or one holding a configuration this data plane cannot take, is an
  // error: the agent must not start with something else.
  static absl::StatusOr<std::unique_ptr<Controller>> Create(
      Balancer* balancer, ControllerOptions options);

  // Applies `changes` (all or nothing), persists the result and records a
  // ConfigChanged event naming `method` and the VIPs whose configuration
  // changed. Returns the generation after the change (unchanged, with no
  // event and no write, when the change set changed nothing).
  absl::StatusOr<uint64_t> Change(const ChangeSet& changes,
                                  absl::string_view method);

  // Called after every change of the configuration, outside the lock, with
  // the keys of the VIPs whose configuration changed (the health checker's
  // targets follow the configuration through it). Set before serving.
  void SetConfigChangeHook(
      std::function<void(const std::vector<VipKey>& vips)> hook) {
    config_change_hook_ = std::move(hook);
  }

  // What decides which VIPs are announced over BGP: each VIP's
  // announce_min_healthy and healthy backends, and the host drain. The
  // observer is called at once with every VIP, then under the lock after
  // every change with the VIPs it changed (a configuration change's VIPs,
  // a health transition's VIP, none for SetHostDrain), in order; it must
  // not block or call back into the controller. Set before serving.
  using ServingObserver =
      std::function<void(const bgp::ServingChanges& changed, bool drained)>;
  void SetServingObserver(ServingObserver observer);

  // Drains (true) or undrains the host: persisted with the state, does not
  // change the generation. Returns whether it was drained before. On a
  // failure to persist nothing changes (Unavailable).
  absl::StatusOr<bool> SetHostDrain(bool drained);
  bool host_drained() const;

  // The health checker's verdict on one backend of one VIP. Takes effect in
  // the maps before returning. When the health changed: records a
  // HealthChanged event with the verdict's reason, detail and latency and
  // the VIP's ring digest after it, logs one line and counts the
  // transition. Does not change the generation or the state file.
  absl::Status SetHealth(const VipKey& vip, const IpAddress& backend,
                         const HealthVerdict& verdict);
  // Ordered by VIP, backend, then down before up.
  std::vector<HealthTransitionCount> HealthTransitionCounts() const;

  struct ConfigSnapshot {
    BalancerConfig config;
    uint64_t generation = 0;
  };
  ConfigSnapshot GetConfig() const;
  uint64_t generation() const;
  absl::StatusOr<VipConfig> GetVipConfig(const VipKey& key) const;
  absl::StatusOr<VipStatus> GetVipStatus(const VipKey& key) const;
  std::vector<VipStatus> ListVipStatus() const;
  // xlb.v1's ring digest of `vip` (VipStatus.ring_digest): the model's
  // digest with the flow hash seed folded in, as 16 hex digits; "" when the
  // VIP has no ring.
  std::string RingDigest(const VipStatus& vip) const;
  std::vector<BackendStatus> ListBackendStatus() const;
  DataplaneLimits limits() const { return limits_; }

  EventLog& events() { return events_; }

 private:
  Controller(Balancer* balancer, ControllerOptions options);

  // The whole state as a snapshot (the host drain included).
  absl::Status SaveSnapshot(uint64_t generation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the change to `generation` durable: the VIPs in `changed_vips`
  // (created, changed or deleted), or the whole state when the state file
  // asks for a snapshot.
  absl::Status Persist(uint64_t generation,
                       const std::vector<VipKey>& changed_vips)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the serving observer about `vips` (and the host drain).
  void NotifyServing(const std::vector<VipKey>& vips)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Change without the hook; `changed_vips` gets the VIPs whose
  // configuration changed (none: the generation did not move).
  absl::StatusOr<uint64_t> ChangeLocked(const ChangeSet& changes,
                                        absl::string_view method,
                                        std::vector<VipKey>& changed_vips);

  Balancer* const balancer_;
  const ControllerOptions options_;
  const DataplaneLimits limits_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool host_drained_ ABSL_GUARDED_BY(mu_) = false;
  ServingObserver serving_observer_ ABSL_GUARDED_BY(mu_);
  // (vip, backend, to_healthy) -> transitions.
  std::map<std::tuple<VipKey, IpAddress, bool>, uint64_t> transitions_
      ABSL_GUARDED_BY(mu_);
  EventLog events_;
  std::function<void(const std::vector<VipKey>&)> config_change_hook_;
};

// An announcer fed by `controller`: every change reaches it through the
// serving observer, and every announce and withdraw becomes a VipAnnounced
// event. Call controller->SetServingObserver(nullptr) before destroying it.
std::unique_ptr<bgp::Announcer> StartAnnouncer(Controller* controller,
                                               bgp::AnnouncerOptions options);

}  // namespace xlb::agent

#endif  // XLB_LB_AGENT_CONTROLLER_H_
