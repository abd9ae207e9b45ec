#include "lb/agent/controller.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lb/agent/convert.h"
#include "lb/base/log.h"
#include "lb/maglev/maglev.h"

namespace xlb::agent {
namespace {

// Earlier agents stored the HTTP defaults (http_path "/",
// http_expected_codes [200]) on every health check, whatever its type. Other
// types now refuse those fields, so a state file they wrote drops them here.
void DropStoredHttpDefaults(v1::Config& config) {
  for (v1::Vip& vip : *config.mutable_vips()) {
    if (!vip.settings().has_health_check()) continue;
    v1::HealthCheck* hc = vip.mutable_settings()->mutable_health_check();
    if (hc->type() == v1::HEALTH_CHECK_TYPE_HTTP ||
        hc->type() == v1::HEALTH_CHECK_TYPE_HTTPS) {
      continue;
    }
    if (hc->http_path() == "/") hc->clear_http_path();
    if (hc->http_expected_codes_size() == 1 &&
        hc->http_expected_codes(0) == 200) {
      hc->clear_http_expected_codes();
    }
  }
}

}  // namespace

Controller::Controller(Balancer* balancer, ControllerOptions options)
    : balancer_(balancer),
      options_(std::move(options)),
      limits_(balancer->limits()),
      events_(options_.event_capacity, options_.start_time) {}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Create(
    Balancer* balancer, ControllerOptions options) {
  std::unique_ptr<Controller> controller(
      new Controller(balancer, std::move(options)));
  BalancerConfig config;
  uint64_t generation = 0;
  bool host_drained = false;
  if (const StateFile* file = controller->options_.state_file) {
    absl::StatusOr<std::optional<v1::PersistedState>> loaded = file->Load();
    if (!loaded.ok()) return loaded.status();
    if (loaded->has_value()) {
      DropStoredHttpDefaults(*(*loaded)->mutable_config());
      absl::StatusOr<BalancerConfig> parsed =
          ConfigFromProto((*loaded)->config(), controller->limits_, "config");
      if (!parsed.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "state file ", file->path(),
            " holds a configuration this agent cannot apply (",
            parsed.status().message(),
            "); refusing to start. Start with the data-plane sizes it was "
            "saved with, or fix the file"));
      }
      config = *std::move(parsed);
      generation = (*loaded)->generation();
      host_drained = (*loaded)->host_drained();
      LogInfo("state", "loaded desired state",
              {{"path", file->path()},
               {"generation", generation},
               {"vips", config.vips.size()},
               {"host_drained", host_drained}});
    } else {
      LogInfo("state", "no state file: first start, empty configuration",
              {{"path", file->path()}});
    }
  }
  // Reconciles the maps (adopted from an earlier run, or new) with it.
  if (absl::Status s =
          balancer->Apply(ChangeSet{.ops = {ReplaceAllOp{config}}});
      !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("applying the persisted desired state to "
                                     "the data plane failed: ",
                                     s.message()));
  }
  absl::MutexLock lock(&controller->mu_);
  controller->generation_ = generation;
  controller->host_drained_ = host_drained;
  return controller;
}

absl::Status Controller::SaveSnapshot(uint64_t generation) {
  if (options_.state_file == nullptr) return absl::OkStatus();
  v1::PersistedState state;
  state.set_generation(generation);
  *state.mutable_config() = ConfigToProto(balancer_->desired_config());
  TimeToProto(absl::Now(), state.mutable_saved_at());
  state.set_writer_version(options_.version);
  state.set_host_drained(host_drained_);
  return options_.state_file->Save(state);
}

absl::Status Controller::Persist(uint64_t generation,
                                 const std::vector<VipKey>& changed_vips) {
  StateFile* file = options_.state_file;
  if (file == nullptr) return absl::OkStatus();
  if (file->needs_snapshot()) return SaveSnapshot(generation);
  // Only what changed: the VIPs the change set created, changed or deleted.
  v1::StateChange change;
  change.set_generation(generation);
  for (const VipKey& key : changed_vips) {
    absl::StatusOr<VipConfig> vip = balancer_->GetVipConfig(key);
    if (vip.ok()) {
      *change.add_vips() = VipToProto(*vip);
    } else {
      *change.add_deleted_vips() = VipKeyToProto(key);
    }
  }
  TimeToProto(absl::Now(), change.mutable_saved_at());
  return file->Append(change);
}

void Controller::NotifyServing(const std::vector<VipKey>& vips) {
  if (!serving_observer_) return;
  bgp::ServingChanges changes;
  changes.reserve(vips.size());
  for (const VipKey& key : vips) {
    absl::StatusOr<VipConfig> config = balancer_->GetVipConfig(key);
    if (!config.ok()) {
      changes.emplace_back(key, std::nullopt);  // deleted
      continue;
    }
    absl::StatusOr<VipStatus> status = balancer_->GetVipStatus(key);
    changes.emplace_back(
        key, bgp::ServingOf(*config, status.ok() ? &*status : nullptr));
  }
  serving_observer_(changes, host_drained_);
}

void Controller::SetServingObserver(ServingObserver observer) {
  absl::MutexLock lock(&mu_);
  serving_observer_ = std::move(observer);
  if (!serving_observer_) return;
  std::vector<VipKey> all;
  for (const VipStatus& vip : balancer_->ListVipStatus())
    all.push_back(vip.key);
  NotifyServing(all);
}

absl::StatusOr<bool> Controller::SetHostDrain(bool drained) {
  absl::MutexLock lock(&mu_);
  const bool was_drained = host_drained_;
  if (was_drained == drained) return was_drained;
  host_drained_ = drained;
  if (absl::Status saved = SaveSnapshot(generation_); !saved.ok()) {
    host_drained_ = was_drained;
    LogError("state", "persisting the host drain failed; nothing changed",
             {{"error", saved.message()}});
    return absl::UnavailableError(
        absl::StrCat("persisting the host drain failed, nothing changed: ",
                     saved.message()));
  }
  LogInfo("api", drained ? "host drained" : "host undrained", {});
  NotifyServing({});
  return was_drained;
}

bool Controller::host_drained() const {
  absl::MutexLock lock(&mu_);
  return host_drained_;
}

absl::StatusOr<uint64_t> Controller::Change(const ChangeSet& changes,
                                            absl::string_view method) {
  std::vector<VipKey> changed;
  absl::StatusOr<uint64_t> generation = ChangeLocked(changes, method, changed);
  if (!changed.empty() && config_change_hook_) config_change_hook_(changed);
  return generation;
}

absl::StatusOr<uint64_t> Controller::ChangeLocked(
    const ChangeSet& changes, absl::string_view method,
    std::vector<VipKey>& changed_vips) {
  absl::MutexLock lock(&mu_);
  if (changes.expected_generation.has_value() &&
      *changes.expected_generation != generation_) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected_generation: ", *changes.expected_generation,
                     " differs from the current generation ", generation_,
                     "; re-read the configuration and retry"));
  }
  const std::shared_ptr<const Balancer::Snapshot> before =
      balancer_->TakeSnapshot();
  const uint64_t model_generation = balancer_->generation();
  ChangeSet unconditional = changes;
  unconditional.expected_generation.reset();
  std::vector<VipKey> vips;
  if (absl::Status s = balancer_->Apply(unconditional, &vips); !s.ok()) {
    return s;
  }
  if (balancer_->generation() == model_generation) return generation_;

  const uint64_t next = generation_ + 1;
  if (absl::Status saved = Persist(next, vips); !saved.ok()) {
    absl::Status restored = balancer_->Restore(*before);
    LogError("state", "persisting the desired state failed; rolling back",
             {{"error", saved.message()},
              {"rollback", restored.ok() ? "ok" : restored.ToString()}});
    if (!restored.ok()) {
      return absl::InternalError(absl::StrCat(
          "persisting the desired state failed (", saved.message(),
          ") and rolling the maps back failed too (", restored.message(),
          "): the maps hold a configuration that is not persisted"));
    }
    return absl::UnavailableError(absl::StrCat(
        "persisting the desired state failed, the change was rolled back: ",
        saved.message()));
  }
  generation_ = next;
  v1::Event event;
  v1::ConfigChanged* config_changed = event.mutable_config_changed();
  config_changed->set_generation(next);
  config_changed->set_method(std::string(method));
  for (const VipKey& key : vips) {
    *config_changed->add_vips() = VipKeyToProto(key);
  }
  events_.Append(std::move(event));
  NotifyServing(vips);
  LogInfo("api", "configuration changed",
          {{"generation", next}, {"method", method}, {"vips", vips.size()}});
  changed_vips = std::move(vips);
  return next;
}

absl::Status Controller::SetHealth(const VipKey& vip, const IpAddress& backend,
                                   const HealthVerdict& verdict) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<VipStatus> status = balancer_->GetVipStatus(vip);
  if (!status.ok()) return status.status();
  bool was_healthy = false;
  bool found = false;
  for (const VipBackendStatus& b : status->backends) {
    if (b.address == backend) {
      was_healthy = b.healthy;
      found = true;
    }
  }
  if (!found) {
    return absl::NotFoundError(absl::StrCat("backend: ", backend.ToString(),
                                            " is not a backend of ",
                                            vip.ToString()));
  }
  const bool healthy = verdict.healthy;
  if (absl::Status s = balancer_->Apply(
          ChangeSet{.ops = {SetHealthOp{
                        .vip = vip, .address = backend, .healthy = healthy}}});
      !s.ok()) {
    return s;
  }
  if (was_healthy == healthy) return absl::OkStatus();
  absl::StatusOr<VipStatus> after = balancer_->GetVipStatus(vip);
  if (!after.ok()) return after.status();
  const std::string ring_digest = RingDigest(*after);
  const bool ring_changed = after->ring_digest != status->ring_digest;
  ++transitions_[{vip, backend, healthy}];
  v1::Event event;
  v1::HealthChanged* changed = event.mutable_health_changed();
  *changed->mutable_vip() = VipKeyToProto(vip);
  changed->set_backend(backend.ToString());
  changed->set_healthy(healthy);
  changed->set_reason(ProbeOutcomeToProto(verdict.reason));
  changed->set_detail(verdict.detail);
  DurationToProto(verdict.latency, changed->mutable_latency());
  changed->set_ring_digest(ring_digest);
  changed->set_ring_changed(ring_changed);
  events_.Append(std::move(event));
  NotifyServing({vip});
  LogInfo("health", healthy ? "backend up" : "backend down",
          {{"vip", vip.ToString()},
           {"backend", backend.ToString()},
           {"reason", health::ProbeOutcomeLabel(verdict.reason)},
           {"detail", verdict.detail},
           {"latency", absl::FormatDuration(verdict.latency)},
           {"ring_digest", ring_digest},
           {"ring_changed", ring_changed}});
  return absl::OkStatus();
}

std::vector<HealthTransitionCount> Controller::HealthTransitionCounts() const {
  absl::MutexLock lock(&mu_);
  std::vector<HealthTransitionCount> counts;
  counts.reserve(transitions_.size());
  for (const auto& [key, count] : transitions_) {
    counts.push_back(HealthTransitionCount{.vip = std::get<0>(key),
                                           .backend = std::get<1>(key),
                                           .to_healthy = std::get<2>(key),
                                           .count = count});
  }
  return counts;
}

Controller::ConfigSnapshot Controller::GetConfig() const {
  absl::MutexLock lock(&mu_);
  return ConfigSnapshot{.config = balancer_->desired_config(),
                        .generation = generation_};
}

uint64_t Controller::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

absl::StatusOr<VipConfig> Controller::GetVipConfig(const VipKey& key) const {
  absl::MutexLock lock(&mu_);
  return balancer_->GetVipConfig(key);
}

absl::StatusOr<VipStatus> Controller::GetVipStatus(const VipKey& key) const {
  absl::MutexLock lock(&mu_);
  return balancer_->GetVipStatus(key);
}

std::string Controller::RingDigest(const VipStatus& vip) const {
  if (!vip.ring_digest.has_value()) return "";
  // XXH64 of the model's digest, 8 bytes little-endian, seeded with the
  // flow hash seed.
  char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((*vip.ring_digest >> (8 * i)) & 0xff);
  }
  return absl::StrFormat("%016x",
                         XxHash64(absl::string_view(bytes, sizeof(bytes)),
                                  options_.flow_hash_seed));
}

std::vector<VipStatus> Controller::ListVipStatus() const {
  absl::MutexLock lock(&mu_);
  return balancer_->ListVipStatus();
}

std::vector<BackendStatus> Controller::ListBackendStatus() const {
  absl::MutexLock lock(&mu_);
  return balancer_->ListBackendStatus();
}

std::unique_ptr<bgp::Announcer> StartAnnouncer(Controller* controller,
                                               bgp::AnnouncerOptions options) {
  options.on_change = [controller](const bgp::VipAnnouncement& a) {
    controller->events().Append(VipAnnouncedEvent(a));
  };
  auto announcer = std::make_unique<bgp::Announcer>(std::move(options));
  controller->SetServingObserver(
      [a = announcer.get()](const bgp::ServingChanges& changed, bool drained) {
        a->Update(changed, drained);
      });
  return announcer;
}

}  // namespace xlb::agent
