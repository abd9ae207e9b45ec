#include "api/health_sync.h"

#include <set>

#include "lb/log.h"

namespace xlb::api {

HealthSync::HealthSync(Controller* controller, health::ProbeMode mode)
    : controller_(controller), mode_(mode) {}

absl::StatusOr<std::unique_ptr<HealthSync>> HealthSync::Start(
    Controller* controller, health::ProbeMode mode,
    const std::string& tls_ca_file) {
  std::unique_ptr<HealthSync> sync(new HealthSync(controller, mode));
  health::HealthCheckerOptions options;
  options.tls_ca_file = tls_ca_file;
  HealthSync* self = sync.get();
  options.on_transition = [self](const health::HealthTransition& t) {
    {
      std::lock_guard<std::mutex> lock(self->queue_mu_);
      self->queue_.push_back(t);
    }
    self->queue_cv_.notify_one();
  };
  absl::StatusOr<std::unique_ptr<health::HealthChecker>> checker =
      health::HealthChecker::Create(std::move(options));
  if (!checker.ok()) return checker.status();
  sync->checker_ = *std::move(checker);
  sync->worker_ = std::thread([self] { self->ApplyTransitions(); });
  sync->Sync();
  if (absl::Status s = sync->checker_->Start(); !s.ok()) return s;
  return sync;
}

HealthSync::~HealthSync() {
  if (checker_ != nullptr) checker_->Stop();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void HealthSync::ApplyTransitions() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const health::HealthTransition t = queue_.front();
    queue_.pop_front();
    auto it = subjects_.find(t.id);
    if (it == subjects_.end()) continue;  // target removed meanwhile
    const Subject subject = it->second;
    lock.unlock();
    absl::Status s = controller_->SetHealth(
        subject.vip, subject.backend,
        HealthVerdict{.healthy = t.status == health::HealthStatus::kUp,
                      .reason = t.reason,
                      .detail = t.detail,
                      .latency = t.latency});
    // NotFound / FailedPrecondition: the backend or the check went away
    // since the probe started. The controller logs the transitions.
    if (!s.ok() && !absl::IsNotFound(s) && !absl::IsFailedPrecondition(s)) {
      LogError("health", "applying a health transition failed",
               {{"vip", subject.vip.ToString()},
                {"backend", subject.backend.ToString()},
                {"error", s.message()}});
    }
    lock.lock();
  }
}

void HealthSync::Sync() {
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  const Controller::ConfigSnapshot snapshot = controller_->GetConfig();
  const std::vector<VipStatus> statuses = controller_->ListVipStatus();
  std::map<VipKey, const VipStatus*> status_of;
  for (const VipStatus& s : statuses) status_of[s.key] = &s;

  std::map<health::TargetId, health::HealthTarget> wanted;
  std::map<health::TargetId, Subject> subjects;
  for (const VipConfig& vip : snapshot.config.vips) {
    if (!vip.settings.health_check.has_value()) continue;
    auto status = status_of.find(vip.key);
    if (status == status_of.end()) continue;
    std::map<IpAddress, HealthOverride> override_of;
    for (const BackendConfig& backend : vip.backends) {
      if (backend.health_override.has_value()) {
        override_of[backend.address] = *backend.health_override;
      }
    }
    for (const VipBackendStatus& b : status->second->backends) {
      // VIP index in the high half, backend index in the low half.
      const health::TargetId id =
          (uint64_t{status->second->index} << 32) | b.index;
      health::HealthTarget target;
      target.id = id;
      target.mode = mode_;
      target.address = mode_ == health::ProbeMode::kTunnelled
                           ? vip.key.address.ToString()
                           : b.address.ToString();
      target.port = vip.key.port;
      target.mark = mode_ == health::ProbeMode::kTunnelled
                        ? health::TunnelledProbeMark(b.index)
                        : 0;
      target.spec = *vip.settings.health_check;
      target.verify_tls = target.spec.https_verify;
      if (auto it = override_of.find(b.address); it != override_of.end()) {
        target.override_spec = it->second;
      }
      target.initial_status =
          b.healthy ? health::HealthStatus::kUp : health::HealthStatus::kDown;
      wanted[id] = target;
      subjects[id] = Subject{.vip = vip.key, .backend = b.address};
    }
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    subjects_ = subjects;
  }
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    (void)checker_->RemoveTarget(it->first);
    it = targets_.erase(it);
  }
  for (const auto& [id, target] : wanted) {
    auto it = targets_.find(id);
    absl::Status s;
    if (it == targets_.end()) {
      s = checker_->AddTarget(target);
    } else {
      health::HealthTarget update = target;
      update.initial_status = it->second.initial_status;  // ignored anyway
      if (update == it->second) continue;
      s = checker_->UpdateTarget(target);
    }
    if (!s.ok()) {
      LogError("health", "health-check target refused",
               {{"target", id}, {"error", s.message()}});
      continue;
    }
    targets_[id] = target;
  }
}

std::vector<HealthSync::ProbeCounts> HealthSync::probe_counts() const {
  std::map<health::TargetId, Subject> subjects;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    subjects = subjects_;
  }
  std::vector<ProbeCounts> counts;
  for (const health::TargetReport& report : checker_->Reports()) {
    auto it = subjects.find(report.id);
    if (it == subjects.end()) continue;
    counts.push_back(ProbeCounts{.vip = it->second.vip,
                                 .backend = it->second.backend,
                                 .counters = report.counters});
  }
  return counts;
}

size_t HealthSync::target_count() const {
  std::lock_guard<std::mutex> lock(sync_mu_);
  return targets_.size();
}

}  // namespace xlb::api
