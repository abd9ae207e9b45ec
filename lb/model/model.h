// The balancer model: the desired configuration (VIPs, backends, health-check
// specs), the runtime health the health checker reports, and the map contents
// both imply. Every change goes through Balancer::Apply, which validates a
// whole change set, writes the maps in an order that never shows a packet a
// dangling index, and rolls back on a failed write so nothing is half applied.
//
// Decisions a caller should know:
// - Backend indexes are shared across VIPs: one address is one `backends`
//   entry, however many VIPs use it (refcounted). Index 0 is never given out.
//   An index given to a new address gets a new generation, so connection
//   entries made for its previous holder are never trusted. An index freed
//   by a change set is not reused within the same change set.
// - VIP indexes are allocated the same way (from 0). A VIP whose ring size
//   changes moves to a new index, so the change needs one spare index.
// - Drain is per (VIP, backend): the VIP's ring stops giving the backend new
//   flows. A backend's `backends` entry is the best of its states over the
//   VIPs using it (UP over DRAINING over DOWN), so it reads DRAINING only when
//   no VIP still sends it new flows, and DOWN only when it is down in all.
//   Weight 0 acts like drain (established flows stay, no new ones).
// - Health is per (VIP, backend), since each VIP has its own check. A backend
//   added to a VIP with a health check starts down and joins the ring on the
//   checker's first "up"; without a health check backends count as up.
//   Adding a check to an existing VIP keeps its backends' current health;
//   removing it marks them all up.
// - Effective ring: undrained backends with weight > 0 that are up. When
//   fewer than min_healthy_fraction of those are up the VIP fails open to all
//   of them (default 0.0: never). A VIP left with no backend has its ring
//   deleted, so the data plane drops its packets and counts no_backend; the
//   model reports it (VipStatus::has_ring, no_backend_events).
// - The rings are built with the backends sorted by address, so every host
//   given the same configuration builds the same rings, whatever the order of
//   the changes that produced it. VipStatus::ring_digest lets hosts compare
//   them: it names backends by address, not by index, since indexes depend
//   on each host's history.
// - The model keeps what decides each ring (size, seed, members), not the
//   ring: a table is built when it must be written and dropped once written
//   (BuildMaglevTable is deterministic, so rollback and Restore rebuild the
//   previous one). With 100 VIPs at M = 65537 that saves 26 MB.
// - A change set costs what it touches, not what the model holds: a state's
//   copy shares the VIPs and backend entries it does not change (copy on
//   write), and validation, index assignment, ring inputs and map writes
//   look only at the VIPs the change set touched and their addresses.
// - Limits come from DataplaneLimits: VIPs plus echo entries (one per address
//   with an echo-answering VIP) fit in max_vips; distinct backend addresses in
//   max_backends - 1; ring sizes in max_ring_size. Exceeding one is
//   ResourceExhausted.
#ifndef XLB_LB_MODEL_MODEL_H_
#define XLB_LB_MODEL_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lb/dataplane/dataplane_maps.h"
#include "lb/maglev/maglev.h"
#include "lb/model/cow_map.h"
#include "lb/model/maps_view.h"
#include "lb/model/model_config.h"
#include "xlb_abi.h"

namespace xlb {

// Operations of a change set. Error messages name fields from "ops[i]".
struct CreateVipOp {
  VipConfig vip;
};  // AlreadyExists if the key is taken
struct UpdateVipOp {
  VipKey key;
  VipSettings settings;
};  // keeps backends
struct DeleteVipOp {
  VipKey key;
};
struct AddBackendOp {
  VipKey vip;
  BackendConfig backend;
};
struct RemoveBackendOp {
  VipKey vip;
  IpAddress address;
};
struct SetWeightOp {
  VipKey vip;
  IpAddress address;
  uint32_t weight = 1;
};
struct SetDrainOp {
  VipKey vip;
  IpAddress address;
  bool drained = true;
};
// Runtime health from the health checker; FailedPrecondition on a VIP
// without a health check. Does not change the desired-config generation.
struct SetHealthOp {
  VipKey vip;
  IpAddress address;
  bool healthy = true;
};
// Declarative: make one VIP (created if absent) or everything equal `vip` /
// `config`. Backends kept by address keep their index and health.
struct ReplaceVipOp {
  VipConfig vip;
};
struct ReplaceAllOp {
  BalancerConfig config;
};

using Operation =
    std::variant<CreateVipOp, UpdateVipOp, DeleteVipOp, AddBackendOp,
                 RemoveBackendOp, SetWeightOp, SetDrainOp, SetHealthOp,
                 ReplaceVipOp, ReplaceAllOp>;

struct ChangeSet {
  std::vector<Operation> ops;  // applied in order, all or nothing
  // Compare-and-set: FailedPrecondition unless the desired-config generation
  // equals this.
  std::optional<uint64_t> expected_generation;
};

// A backend's state within one VIP, and as written to its `backends` entry.
enum class BackendState : uint8_t {
  kUp = XLB_BACKEND_UP,              // gets new flows
  kDraining = XLB_BACKEND_DRAINING,  // keeps established flows only
  kDown = XLB_BACKEND_DOWN,          // established flows move
};

struct VipBackendStatus {
  IpAddress address;
  uint32_t index = 0;    // backends map index
  bool healthy = false;  // as last reported (true without a health check)
  bool in_ring = false;
  BackendState state = BackendState::kDown;

  bool operator==(const VipBackendStatus&) const = default;
};

struct VipStatus {
  VipKey key;
  uint32_t index = 0;      // VIP index in vips, rings and vip_stats
  bool has_ring = false;   // false: no eligible backend, packets dropped
  bool fail_open = false;  // below min_healthy_fraction: down ones in ring
  // Times the VIP entered the no-backend state (created without one too).
  uint64_t no_backend_events = 0;
  // What decides the backend of a new flow to this VIP, but for the data
  // plane's flow hash seed: the Maglev table with each slot naming its
  // backend by address instead of by this host's backend index, and the
  // hash fields (model.cc, WithHashFields). Equal on two hosts, given the
  // same seed, when they send every new flow to the same backend, however
  // each numbered its backends. nullopt without a ring.
  std::optional<uint64_t> ring_digest;
  std::vector<VipBackendStatus> backends;  // in configuration order

  bool operator==(const VipStatus&) const = default;
};

struct BackendStatus {
  IpAddress address;
  uint32_t index = 0;
  uint32_t generation = 0;
  uint32_t refcount = 0;                     // VIPs using the address
  BackendState state = BackendState::kDown;  // as in the backends map

  bool operator==(const BackendStatus&) const = default;
};

struct PredictedBackend {
  uint32_t index = 0;
  IpAddress address;
};

class Balancer {
 public:
  // `maps` must outlive the balancer. Reads the generation of every backends
  // entry so indexes left by a previous agent get fresh generations.
  //
  // Adoption (agent restart over pinned maps): Create also reads what the
  // maps hold, and the first successful Apply writes only what differs from
  // it. A backend address already in the backends map keeps its index and
  // generation (connection entries stay valid); a VIP keeps its index when
  // its ring size is unchanged; a ring already equal to the one built is not
  // written again; entries the new configuration lacks are removed. A
  // checked backend takes its health from the maps instead of starting down:
  // healthy when it is in the VIP's ring, or when it is drained or weight 0
  // in the VIP and its entry is not DOWN.
  static absl::StatusOr<std::unique_ptr<Balancer>> Create(DataplaneMaps* maps);

  // Validates the whole change set, then writes the maps. On any error the
  // model and the maps are as they were (see Resync for the exception).
  // Costs what the change set touches, not what the model holds. On success
  // `changed_vips` (when given) gets the keys of the VIPs whose
  // configuration it created, changed or deleted, sorted.
  absl::Status Apply(const ChangeSet& changes,
                     std::vector<VipKey>* changed_vips = nullptr);

  // Rewrites every entry the model implies. Apply calls it first after a
  // rollback could not complete (rollback writes failing too).
  absl::Status Resync();

  // The model's whole state, to return to with Restore. Cheap: it shares
  // what later changes do not touch.
  struct Snapshot;
  std::shared_ptr<const Snapshot> TakeSnapshot() const;
  // Writes the maps back to `snapshot`'s contents and makes it the model's
  // state again (for a change that reached the maps but could not be made
  // durable). Backend indexes given out since keep their fresh generations.
  // On a failed write nothing changes, as for Apply.
  absl::Status Restore(const Snapshot& snapshot);

  const DataplaneLimits& limits() const { return limits_; }

  // Incremented by every Apply that changes the desired configuration.
  uint64_t generation() const { return state_.generation; }
  BalancerConfig desired_config() const;  // VIPs sorted by key
  absl::StatusOr<VipConfig> GetVipConfig(const VipKey& key) const;
  absl::StatusOr<VipStatus> GetVipStatus(const VipKey& key) const;
  std::vector<VipStatus> ListVipStatus() const;
  absl::StatusOr<BackendStatus> GetBackendStatus(
      const IpAddress& address) const;
  std::vector<BackendStatus> ListBackendStatus() const;

  // The backend the data plane picks for a new flow, from the model's ring
  // (rebuilt for the call, so meant for tests and diagnostics):
  // the VIP is found like the data plane does (exact port, then port 0),
  // `flow_hash_seed` is the config map's hash_seed. NotFound when the flow is
  // for no VIP; nullopt when the VIP has no ring (dropped).
  absl::StatusOr<std::optional<PredictedBackend>> PredictBackend(
      const xlb_flow& flow, uint32_t flow_hash_seed) const;

 private:
  struct VipState {
    VipConfig config;
    std::map<IpAddress, bool> healthy;  // one entry per configured backend
    uint32_t index = 0;
    Ring ring;  // null: no eligible backend
    // Digests of the table `ring` builds, once it was built (written, or
    // found equal to what the maps hold). table_digest: XXH64 of the table
    // as written (backend indexes), so a change of inputs that builds the
    // same table is not written. ring_digest: XXH64 of the table naming
    // backends by address (PlacementDigest in maps_view.cc).
    std::optional<uint64_t> table_digest;
    std::optional<uint64_t> ring_digest;
    bool fail_open = false;
    uint64_t no_backend_events = 0;
  };
  struct BackendSlot {
    uint32_t index = 0;
    uint32_t generation = 0;
    uint32_t refcount = 0;  // VIPs using the address
    // VIPs where it is UP, and DRAINING: `state` is the best of them.
    uint32_t up_in = 0;
    uint32_t draining_in = 0;
    BackendState state = BackendState::kDown;

    bool operator==(const BackendSlot&) const = default;
  };
  // Copies share what neither changes (VIP states, map shards), so a change
  // set copies only what it touches.
  struct State {
    uint64_t generation = 0;
    // Never written while shared: see MutableVip.
    std::map<VipKey, std::shared_ptr<VipState>> vips;
    CowMap<IpAddress, BackendSlot> backends;
    // Freed backend indexes -> generation of their last holder, as the
    // backends map keeps it (state XLB_BACKEND_UNUSED).
    CowMap<uint32_t, uint32_t> retired;
    IndexBitmap live;  // the indexes `backends` holds
  };
  // What one write of the maps covers: the VIPs and the backend entries
  // that differ between two states (see Scope in model_maps.cc).
  struct Scope;
  // What an earlier agent left in the maps, indexed for adoption.
  struct Adoption {
    MapsView view;
    std::map<IpAddress, uint32_t> index_of;  // live backends by address
    std::map<uint32_t, std::set<uint32_t>> ring_members;  // VIP -> backends
  };

  Balancer(DataplaneMaps* maps, std::vector<uint32_t> generations);
  static absl::Status NoVip(const std::string& field, const VipKey& key);

  // `key`'s state in `state`, to write: created when absent, copied first
  // when another state shares it.
  static VipState& MutableVip(State& state, const VipKey& key);
  // Keys of the VIPs whose states differ (are not shared) between `a` and
  // `b`, sorted.
  static std::vector<VipKey> TouchedVips(const State& a, const State& b);

  struct Operations;  // one applier per operation type
  absl::Status ApplyOperation(const Operation& op, const std::string& path,
                              State& next) const;
  absl::Status ApplyReplaceVip(const VipConfig& vip, State& next) const;
  // The passes below look at the VIPs in `touched` only (and the addresses
  // they use): the others are the same in `state_` and `next`.
  // Net change of each address's refcount; addresses that keep theirs are
  // left out.
  std::map<IpAddress, int> RefcountChanges(
      const State& next, const std::vector<VipKey>& touched) const;
  absl::Status CheckLimits(const State& next,
                           const std::vector<VipKey>& touched,
                           const std::map<IpAddress, int>& refcounts) const;
  absl::Status AssignIndexes(State& next, const std::vector<VipKey>& touched,
                             const std::map<IpAddress, int>& refcounts);
  absl::Status AssignBackendIndexes(State& next,
                                    const std::map<IpAddress, int>& refcounts);
  absl::Status AssignVipIndexes(State& next,
                                const std::vector<VipKey>& touched);
  // Backend states and each VIP's ring inputs (no tables: WriteChanges
  // builds those it writes).
  void ComputeRings(State& next, const std::vector<VipKey>& touched) const;
  // Each backend's state: the best of its states in the VIPs using it.
  void UpdateBackendStates(State& next,
                           const std::vector<VipKey>& touched) const;
  static Scope ScopeOf(const State& from, const State& to);
  // The entries `state` implies, all of them or those `scope` covers.
  static MapsView ViewOf(const State& state, const Scope* scope = nullptr);
  // Writes what differs between the two states' views with a MapWriter
  // (needs_resync_ when it leaves the maps differing from both). Fills in
  // the ring digests of `to`.
  absl::Status WriteChanges(const State& from, State& to);
  VipStatus StatusOf(const VipState& vip) const;

  // Adoption (model_maps.cc). Reads the maps; null when they are empty.
  static absl::StatusOr<std::shared_ptr<const Adoption>> ReadMaps(
      DataplaneMaps* maps, const DataplaneLimits& limits);
  // Health a checked backend takes when first configured after adoption.
  bool AdoptedHealth(const VipConfig& vip, const BackendConfig& backend) const;

  DataplaneMaps* maps_;
  DataplaneLimits limits_;
  State state_;
  // What the maps held at Create when an earlier agent left entries there;
  // the "before" of the first write. Null once written (or when empty).
  std::shared_ptr<const Adoption> adopted_;
  // Highest generation ever written per backend index. Never rolled back:
  // an index briefly given out by a change set that then failed still gets a
  // fresh generation next time.
  std::vector<uint32_t> generation_high_water_;
  bool needs_resync_ = false;
};

}  // namespace xlb

#endif  // XLB_LB_MODEL_MODEL_H_
