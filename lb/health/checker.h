// The active health-check engine: probes targets (backends of checked VIPs)
// on one event-loop thread and reports every up/down transition through a
// callback.
//
//   HealthCheckerOptions options;
//   options.on_transition = [&](const HealthTransition& t) { ... };
//   auto checker = HealthChecker::Create(std::move(options));
//   (*checker)->AddTarget(target);   // before or after Start()
//   (*checker)->Start();
//
// Scheduling. A target's first probe starts at a uniformly random point of
// its first interval, so targets added together do not probe together.
// After that probes start every `interval`, each delayed by a random amount
// in [0, jitter); a probe that outlives its interval delays the next start
// to the following interval boundary (one probe per target in flight).
// A probe that has no verdict after `timeout` fails with kTimeout.
// The loop's timers may fire late by the thread's timer slack: 0.4 % of
// the shortest interval, at most 4 ms. The kernel wakes the loop once for
// all the probe starts inside that window, which go out in one batch (one
// sendmmsg for TCP checks).
//
// Verdicts. A target starts in HealthTarget::initial_status and changes
// only after `rise` consecutive successes (down -> up) or `fall`
// consecutive failures (up -> down); see HealthState. Defaults come from
// HealthCheckSpec (lb/model/model_config.h): TCP connect, interval 5 s, timeout
// 2 s, rise 2, fall 3, no jitter, the VIP's port; HealthOverride replaces
// any of port, interval, timeout, rise, fall and jitter per backend.
//
// Threads. Every method is thread-safe. AddTarget, UpdateTarget and
// RemoveTarget return once the loop has applied them: after RemoveTarget
// returns, no callback for that target follows, even if its probe was in
// flight. Callbacks run on the loop thread; they may call this class's
// methods, but must not wait for another thread that is itself calling
// into the checker.
#ifndef XLB_LB_HEALTH_CHECKER_H_
#define XLB_LB_HEALTH_CHECKER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lb/base/unique_fd.h"
#include "lb/health/probe_outcome.h"
#include "lb/health/probe_plan.h"
#include "lb/health/slot_timers.h"
#include "lb/health/syn_prober.h"
#include "lb/health/target.h"
#include "lb/health/tls.h"

namespace xlb::health {

struct HealthTransition {
  TargetId id = 0;
  HealthStatus status = HealthStatus::kDown;     // the new status
  ProbeOutcome reason = ProbeOutcome::kSuccess;  // of the deciding probe
  std::string detail;                            // of the deciding probe
  absl::Duration latency;                        // of the deciding probe
  uint32_t consecutive = 0;  // results in a row that decided it
};

struct TargetCounters {
  uint64_t probes = 0;  // completed probes
  // Completed probes by outcome; [kSuccess] counts the successes.
  std::array<uint64_t, kProbeOutcomeCount> by_outcome{};

  uint64_t successes() const {
    return by_outcome[static_cast<size_t>(ProbeOutcome::kSuccess)];
  }
  uint64_t failures() const { return probes - successes(); }
  uint64_t count(ProbeOutcome outcome) const {
    return by_outcome[static_cast<size_t>(outcome)];
  }
};

struct TargetReport {
  TargetId id = 0;
  HealthStatus status = HealthStatus::kDown;
  TargetCounters counters;
  std::optional<ProbeResult> last_result;
  absl::Duration last_latency;
};

struct HealthCheckerOptions {
  std::function<void(const HealthTransition&)> on_transition;
  // CA bundle for HTTPS targets with verify_tls; empty: the system store.
  std::string tls_ca_file;
  // Seeds the schedule's randomness (reproducible runs); unset: random.
  std::optional<uint64_t> random_seed;
  // Test hook: sees each probe socket after SO_MARK and before connect()
  // (HTTP, HTTPS, gRPC, UDP; TCP checks share one raw socket).
  std::function<void(TargetId, int fd)> socket_observer;
};

class HealthChecker {
 public:
  static absl::StatusOr<std::unique_ptr<HealthChecker>> Create(
      HealthCheckerOptions options);
  ~HealthChecker();  // stops
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts the loop thread; every target's first probe is spread across
  // its first interval. FailedPrecondition if already running.
  absl::Status Start();
  // Stops the loop and aborts probes in flight (no results, no callbacks).
  // Targets, statuses and counters stay; Start() resumes probing.
  void Stop();

  // InvalidArgument (ValidateTarget), AlreadyExists for a known id.
  absl::Status AddTarget(const HealthTarget& target);
  // Replaces a target's parameters, keeping its status and counters; an
  // in-flight probe is abandoned and the streak restarts. initial_status is
  // ignored. NotFound for an unknown id. Identical parameters: no-op.
  absl::Status UpdateTarget(const HealthTarget& target);
  // NotFound for an unknown id.
  absl::Status RemoveTarget(TargetId id);

  absl::StatusOr<TargetReport> GetReport(TargetId id) const;
  std::vector<TargetReport> Reports() const;  // ordered by id
  size_t target_count() const;

 private:
  struct TargetState;

  HealthChecker(HealthCheckerOptions options, UniqueFd epoll, UniqueFd wake,
                std::unique_ptr<TlsContexts> tls);

  // Runs `fn` where the target state may be touched: inline on the loop
  // thread or while the loop is stopped, else queued and awaited.
  absl::Status RunOnLoop(std::function<absl::Status()> fn) const;
  void Run();
  void RunCommands();
  int NextTimeoutMs(int64_t now_ns) const;
  void RunDueTimers(int64_t now_ns);
  void HandleSocketEvent(uint64_t data, uint32_t events);
  // Opens the SYN prober a TCP check of `plan`'s family needs, once.
  absl::Status OpenSynProberFor(const ProbePlan& plan);
  // Sends the SYNs and RSTs the SYN probers queued this turn.
  void FlushSynProbers();
  // A SYN prober's verdict for the probe `id` (slot << 32 | token).
  void OnSynVerdict(uint64_t id, ProbeResult result);

  absl::Status AddOnLoop(const HealthTarget& target);
  absl::Status UpdateOnLoop(const HealthTarget& target);
  absl::Status RemoveOnLoop(TargetId id);
  TargetReport ReportOf(const TargetState& t) const;

  void ScheduleFirst(TargetState& t, int64_t now_ns);
  void ScheduleNext(TargetState& t, int64_t now_ns);
  void StartProbe(uint32_t slot, TargetState& t, int64_t now_ns);
  void FinishProbe(TargetState& t, ProbeResult result, int64_t now_ns);
  void AbortProbe(TargetState& t);
  int64_t RandomBelow(int64_t bound_ns);
  // How late the loop's timers may fire (see the top of this file).
  int64_t TimerSlackNs() const;
  void CountInterval(const TargetState& t, int delta);

  const HealthCheckerOptions options_;
  const UniqueFd epoll_;
  const UniqueFd wake_;  // eventfd: commands queued or stop requested
  const std::unique_ptr<TlsContexts> tls_;

  mutable std::mutex mu_;
  bool running_ = false;                                 // guarded by mu_
  mutable std::vector<std::function<void()>> commands_;  // guarded by mu_
  std::atomic<bool> stop_requested_{false};
  std::thread thread_;

  // Touched only by the loop thread, or under mu_ while stopped.
  // TCP checks' raw sockets, IPv4 and IPv6, opened with the first such
  // target; declared before the targets, whose probes refer to them.
  std::unique_ptr<SynProber> syn_probers_[2];
  std::vector<std::unique_ptr<TargetState>> slots_;
  std::vector<uint32_t> free_slots_;
  absl::flat_hash_map<TargetId, uint32_t> slot_of_;
  SlotTimers timers_;  // per target: its next probe start or probe deadline
  std::map<int64_t, uint32_t> targets_by_interval_ns_;  // shortest first
  uint32_t next_probe_token_ = 1;
  std::mt19937_64 random_;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_CHECKER_H_
