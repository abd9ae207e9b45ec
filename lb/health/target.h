// What the health checker probes: one backend of one VIP, with the VIP's
// HealthCheckSpec (lb/model/model_config.h) and optional per-backend overrides.
#ifndef XLB_LB_HEALTH_TARGET_H_
#define XLB_LB_HEALTH_TARGET_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lb/model/model_config.h"
#include "xlb_abi.h"

namespace xlb::health {

// Chosen by the caller, unique within one HealthChecker; e.g. the VIP index
// in the high half and the backend index in the low half.
using TargetId = uint64_t;

enum class HealthStatus : uint8_t { kDown, kUp };

enum class ProbeMode : uint8_t {
  // Connect to the backend's own address.
  kDirect,
  // Connect to the VIP's address with SO_MARK = TunnelledProbeMark(backend
  // index); bpf/healthcheck.bpf.c (TC egress) encapsulates the packets to
  // that backend, so the probe tests the path real traffic takes.
  kTunnelled,
};

constexpr uint32_t TunnelledProbeMark(uint32_t backend_index) {
  return XLB_HC_MARK_TAG | (backend_index & XLB_HC_MARK_INDEX_MASK);
}

// Per-backend exceptions to the VIP's HealthCheckSpec
// (lb/model/model_config.h).
using HealthOverride = ::xlb::HealthOverride;

// A VIP's check, immutable and shared by the targets of all its backends
// (10,000 targets of 100 VIPs hold 100 specs, not 10,000).
using SharedSpec = std::shared_ptr<const HealthCheckSpec>;
const SharedSpec& DefaultSpec();  // HealthCheckSpec{}

struct HealthTarget {
  TargetId id = 0;
  ProbeMode mode = ProbeMode::kDirect;
  // IPv4 or IPv6 literal: the backend's address (kDirect) or the VIP's
  // (kTunnelled).
  std::string address;
  // The service port (the VIP's port). Probed unless the override or the
  // spec names another port.
  uint16_t port = 0;
  // SO_MARK of the probe socket; 0 sets none. kTunnelled requires
  // TunnelledProbeMark(backend index).
  uint32_t mark = 0;
  SharedSpec spec = DefaultSpec();  // never null
  HealthOverride override_spec;
  // The status the target holds until rise (from kDown) or fall (from kUp)
  // consecutive probe results say otherwise. The model starts the backends
  // of a newly checked VIP as kDown and, after an agent restart, adopts
  // kUp for backends the data plane already serves. No callback reports
  // the initial status itself.
  HealthStatus initial_status = HealthStatus::kDown;
  // kHttps: verify the server's certificate chain against the checker's CA
  // store and its name against the Host header value (or the address).
  bool verify_tls = false;

  // A private copy of `spec` to edit (when building a target by hand).
  HealthCheckSpec& mutable_spec();

  // Compares the specs' contents, not the pointers.
  bool operator==(const HealthTarget& other) const;
};

// The timing and thresholds in force: the spec with the override applied.
struct EffectiveSchedule {
  uint16_t port = 0;
  absl::Duration interval;
  absl::Duration timeout;
  uint32_t rise = 0;
  uint32_t fall = 0;
  absl::Duration jitter;
};

// Override, then spec (a non-zero spec.port), then target.port.
EffectiveSchedule ResolveSchedule(const HealthTarget& target);

// Refuses what the checker cannot run: a bad address, port 0, a
// non-positive interval or timeout, a timeout above the interval, a jitter
// outside [0, interval), rise or fall outside [1, kMaxHealthThreshold], a
// tunnelled target without a tunnel mark. The API-level floors (e.g.
// kMinHealthInterval) are the model's to enforce; tests use shorter ones.
absl::Status ValidateTarget(const HealthTarget& target);

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_TARGET_H_
