#include "lb/agent/health_sync.h"

#include <set>

#include "lb/base/log.h"

namespace xlb::agent {

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
    auto it = targets_->find(t.id);
    if (it == targets_->end()) continue;  // target removed meanwhile
    const Subject subject = it->second.subject;
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

bool HealthSync::Tracked::operator==(const Tracked& other) const {
  const bool same_override =
      override_spec == other.override_spec ||
      (override_spec != nullptr && other.override_spec != nullptr &&
       *override_spec == *other.override_spec);
  return subject == other.subject && spec == other.spec && same_override;
}

health::HealthTarget HealthSync::TargetOf(health::TargetId id,
                                          const Tracked& tracked,
                                          bool healthy) const {
  const uint32_t backend_index = static_cast<uint32_t>(id);
  health::HealthTarget target;
  target.id = id;
  target.mode = mode_;
  target.address = mode_ == health::ProbeMode::kTunnelled
                       ? tracked.subject.vip.address.ToString()
                       : tracked.subject.backend.ToString();
  target.port = tracked.subject.vip.port;
  target.mark = mode_ == health::ProbeMode::kTunnelled
                    ? health::TunnelledProbeMark(backend_index)
                    : 0;
  target.spec = tracked.spec;
  target.verify_tls = tracked.spec->https_verify;
  if (tracked.override_spec != nullptr) {
    target.override_spec = *tracked.override_spec;
  }
  target.initial_status =
      healthy ? health::HealthStatus::kUp : health::HealthStatus::kDown;
  return target;
}

std::shared_ptr<const HealthSync::TrackedMap> HealthSync::tracked() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return targets_;
}

void HealthSync::Sync() {
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  const Controller::ConfigSnapshot snapshot = controller_->GetConfig();
  const std::vector<VipStatus> statuses = controller_->ListVipStatus();
  std::map<VipKey, const VipStatus*> status_of;
  for (const VipStatus& s : statuses) status_of[s.key] = &s;

  // One spec per VIP, the same pointer as long as it is unchanged, so
  // comparing targets compares pointers.
  std::map<VipKey, health::SharedSpec> specs;
  auto wanted = std::make_shared<TrackedMap>();
  std::map<health::TargetId, bool> healthy;
  for (const VipConfig& vip : snapshot.config.vips) {
    if (!vip.settings.health_check.has_value()) continue;
    auto status = status_of.find(vip.key);
    if (status == status_of.end()) continue;
    health::SharedSpec& spec = specs[vip.key];
    if (auto old = specs_.find(vip.key);
        old != specs_.end() && *old->second == *vip.settings.health_check) {
      spec = old->second;
    } else {
      spec =
          std::make_shared<const HealthCheckSpec>(*vip.settings.health_check);
    }
    std::map<IpAddress, const HealthOverride*> override_of;
    for (const BackendConfig& backend : vip.backends) {
      if (backend.health_override.has_value()) {
        override_of[backend.address] = &*backend.health_override;
      }
    }
    for (const VipBackendStatus& b : status->second->backends) {
      // VIP index in the high half, backend index in the low half.
      const health::TargetId id =
          (uint64_t{status->second->index} << 32) | b.index;
      Tracked tracked{.subject = {.vip = vip.key, .backend = b.address},
                      .spec = spec};
      if (auto it = override_of.find(b.address); it != override_of.end()) {
        tracked.override_spec =
            std::make_shared<const HealthOverride>(*it->second);
      }
      wanted->emplace(id, std::move(tracked));
      healthy[id] = b.healthy;
    }
  }
  specs_ = std::move(specs);

  const std::shared_ptr<const TrackedMap> current = targets_;  // Sync's own
  for (const auto& [id, tracked] : *current) {
    if (!wanted->contains(id)) (void)checker_->RemoveTarget(id);
  }
  for (auto it = wanted->begin(); it != wanted->end();) {
    const health::TargetId id = it->first;
    auto old = current->find(id);
    if (old != current->end() && old->second == it->second) {
      ++it;
      continue;
    }
    const health::HealthTarget target = TargetOf(id, it->second, healthy[id]);
    const absl::Status s = old == current->end()
                               ? checker_->AddTarget(target)
                               : checker_->UpdateTarget(target);
    if (s.ok()) {
      ++it;
      continue;
    }
    LogError("health", "health-check target refused",
             {{"target", id}, {"error", s.message()}});
    // The checker keeps what it had: an update refused leaves the previous
    // target, an addition refused none (tried again next Sync).
    if (old != current->end()) {
      it->second = old->second;
      ++it;
    } else {
      it = wanted->erase(it);
    }
  }
  std::lock_guard<std::mutex> lock(queue_mu_);
  targets_ = std::move(wanted);
}

std::vector<HealthSync::ProbeCounts> HealthSync::probe_counts() const {
  const std::shared_ptr<const TrackedMap> targets = tracked();
  std::vector<ProbeCounts> counts;
  for (const health::TargetReport& report : checker_->Reports()) {
    auto it = targets->find(report.id);
    if (it == targets->end()) continue;
    counts.push_back(ProbeCounts{.vip = it->second.subject.vip,
                                 .backend = it->second.subject.backend,
                                 .counters = report.counters});
  }
  return counts;
}

size_t HealthSync::target_count() const { return tracked()->size(); }

}  // namespace xlb::agent
