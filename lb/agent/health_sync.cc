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
    const Tracked* tracked = targets_->Find(t.id);
    if (tracked == nullptr) continue;  // target removed meanwhile
    const Subject subject = tracked->subject;
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
  std::set<VipKey> keys;
  for (const VipConfig& vip : controller_->GetConfig().config.vips) {
    keys.insert(vip.key);
  }
  {
    std::lock_guard<std::mutex> sync_lock(sync_mu_);
    for (const auto& [key, targets] : vips_) keys.insert(key);
  }
  Sync(std::vector<VipKey>(keys.begin(), keys.end()));
}

void HealthSync::Sync(const std::vector<VipKey>& vips) {
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  TrackedMap targets = *targets_;  // Sync's own; a cheap copy
  for (const VipKey& key : vips) SyncVip(key, targets);
  auto published = std::make_shared<const TrackedMap>(std::move(targets));
  std::lock_guard<std::mutex> lock(queue_mu_);
  targets_ = std::move(published);
}

void HealthSync::SyncVip(const VipKey& key, TrackedMap& targets) {
  VipTargets& was = vips_[key];
  // What the VIP wants now: a target per backend while it has a check.
  health::SharedSpec spec;
  std::map<health::TargetId, std::pair<Tracked, bool>> wanted;  // + healthy
  const absl::StatusOr<VipConfig> vip = controller_->GetVipConfig(key);
  const absl::StatusOr<VipStatus> status = controller_->GetVipStatus(key);
  if (vip.ok() && status.ok() && vip->settings.health_check.has_value()) {
    spec = was.spec != nullptr && *was.spec == *vip->settings.health_check
               ? was.spec
               : std::make_shared<const HealthCheckSpec>(
                     *vip->settings.health_check);
    std::map<IpAddress, const HealthOverride*> override_of;
    for (const BackendConfig& backend : vip->backends) {
      if (backend.health_override.has_value()) {
        override_of[backend.address] = &*backend.health_override;
      }
    }
    for (const VipBackendStatus& b : status->backends) {
      // VIP index in the high half, backend index in the low half.
      const health::TargetId id = (uint64_t{status->index} << 32) | b.index;
      Tracked tracked{.subject = {.vip = key, .backend = b.address},
                      .spec = spec};
      if (auto it = override_of.find(b.address); it != override_of.end()) {
        tracked.override_spec =
            std::make_shared<const HealthOverride>(*it->second);
      }
      wanted.emplace(id, std::pair(std::move(tracked), b.healthy));
    }
  }

  for (const health::TargetId id : was.ids) {
    const Tracked* current = targets.Find(id);
    // An id another VIP has taken over since (a VIP index is reused) is
    // that VIP's now.
    if (wanted.contains(id) || current == nullptr ||
        current->subject.vip != key) {
      continue;
    }
    (void)checker_->RemoveTarget(id);
    targets.Erase(id);
  }
  std::vector<health::TargetId> ids;
  for (const auto& [id, want] : wanted) {
    const Tracked* current = targets.Find(id);
    if (current != nullptr && *current == want.first) {
      ids.push_back(id);
      continue;
    }
    const health::HealthTarget target = TargetOf(id, want.first, want.second);
    const absl::Status s = current == nullptr ? checker_->AddTarget(target)
                                              : checker_->UpdateTarget(target);
    if (s.ok()) {
      targets[id] = want.first;
      ids.push_back(id);
      continue;
    }
    LogError("health", "health-check target refused",
             {{"target", id}, {"error", s.message()}});
    // The checker keeps what it had: an update refused leaves the previous
    // target, an addition refused none (tried again next Sync).
    if (current != nullptr) ids.push_back(id);
  }
  if (ids.empty()) {
    vips_.erase(key);
  } else {
    was = VipTargets{.spec = spec, .ids = std::move(ids)};
  }
}

std::vector<HealthSync::ProbeCounts> HealthSync::probe_counts() const {
  const std::shared_ptr<const TrackedMap> targets = tracked();
  std::vector<ProbeCounts> counts;
  for (const health::TargetReport& report : checker_->Reports()) {
    const Tracked* tracked = targets->Find(report.id);
    if (tracked == nullptr) continue;
    counts.push_back(ProbeCounts{.vip = tracked->subject.vip,
                                 .backend = tracked->subject.backend,
                                 .counters = report.counters});
  }
  return counts;
}

size_t HealthSync::target_count() const { return tracked()->size(); }

}  // namespace xlb::agent
