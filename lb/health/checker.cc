// Longer than most files on purpose: the event loop and the per-type probe
// state machines it drives share its timers and sockets.
#include "lb/health/checker.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "absl/strings/str_cat.h"
#include "lb/base/sigpipe.h"
#include "lb/health/health_state.h"
#include "lb/health/probe_plan.h"

namespace xlb::health {
namespace {

// epoll data of the wake eventfd and of the SYN probers' raw sockets (IPv4,
// IPv6); probe sockets carry slot << 32 | token.
constexpr uint64_t kWakeData = ~uint64_t{0};
constexpr uint64_t kSynData[2] = {~uint64_t{1}, ~uint64_t{2}};
constexpr int kMaxEventsPerWait = 256;
// Timer slack: a share of the shortest interval, and a bound that keeps
// timeouts close to what they were set to.
constexpr int64_t kTimerSlackDivisor = 250;
constexpr int64_t kMaxTimerSlackNs = 4'000'000;

// The checker whose loop runs on this thread, if any.
thread_local const HealthChecker* tls_loop_owner = nullptr;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct HealthChecker::TargetState {
  TargetState(HealthTarget t, EffectiveSchedule s,
              std::shared_ptr<const ProbePlan> p)
      : target(std::move(t)),
        schedule(s),
        plan(std::move(p)),
        health(target.initial_status, s.rise, s.fall) {}

  int64_t interval_ns() const {
    return absl::ToInt64Nanoseconds(schedule.interval);
  }

  uint32_t slot = 0;  // in slots_
  HealthTarget target;
  EffectiveSchedule schedule;
  std::shared_ptr<const ProbePlan> plan;
  HealthState health;
  TargetCounters counters;
  std::optional<ProbeResult> last_result;
  int64_t last_latency_ns = 0;

  std::unique_ptr<Probe> probe;  // in flight
  uint32_t probe_token = 0;
  uint32_t registered_events = 0;
  int64_t probe_started_ns = 0;
  in_addr syn_source{};      // TCP checks over IPv4: see SynProber
  int64_t next_base_ns = 0;  // next probe start before jitter
};

absl::StatusOr<std::unique_ptr<HealthChecker>> HealthChecker::Create(
    HealthCheckerOptions options) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    return absl::InternalError(
        absl::StrCat("epoll_create1: ", strerror(errno)));
  }
  UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeData;
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
  }
  absl::StatusOr<std::unique_ptr<TlsContexts>> tls =
      TlsContexts::Create(options.tls_ca_file);
  if (!tls.ok()) return tls.status();
  return std::unique_ptr<HealthChecker>(new HealthChecker(
      std::move(options), std::move(epoll), std::move(wake), *std::move(tls)));
}

HealthChecker::HealthChecker(HealthCheckerOptions options, UniqueFd epoll,
                             UniqueFd wake, std::unique_ptr<TlsContexts> tls)
    : options_(std::move(options)),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      tls_(std::move(tls)),
      random_(options_.random_seed ? *options_.random_seed
                                   : std::random_device{}()) {}

HealthChecker::~HealthChecker() { Stop(); }

absl::Status HealthChecker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return absl::FailedPreconditionError("already running");
  const int64_t now = NowNs();
  for (auto& t : slots_) {
    if (t != nullptr) ScheduleFirst(*t, now);
  }
  stop_requested_ = false;
  running_ = true;
  thread_ = std::thread(&HealthChecker::Run, this);
  return absl::OkStatus();
}

void HealthChecker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
  }
  stop_requested_ = true;
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  // Commands queued while the loop was exiting run here, loop stopped.
  std::vector<std::function<void()>> pending;
  pending.swap(commands_);
  for (auto& command : pending) command();
}

absl::Status HealthChecker::RunOnLoop(std::function<absl::Status()> fn) const {
  if (tls_loop_owner == this) return fn();
  std::unique_lock<std::mutex> lock(mu_);
  if (!running_) return fn();
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  commands_.push_back([fn = std::move(fn), done] { done->set_value(fn()); });
  lock.unlock();
  const uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
  return result.get();
}

absl::Status HealthChecker::AddTarget(const HealthTarget& target) {
  return RunOnLoop([&] { return AddOnLoop(target); });
}

absl::Status HealthChecker::UpdateTarget(const HealthTarget& target) {
  return RunOnLoop([&] { return UpdateOnLoop(target); });
}

absl::Status HealthChecker::RemoveTarget(TargetId id) {
  return RunOnLoop([&] { return RemoveOnLoop(id); });
}

absl::StatusOr<TargetReport> HealthChecker::GetReport(TargetId id) const {
  TargetReport report;
  absl::Status status = RunOnLoop([&] {
    auto it = slot_of_.find(id);
    if (it == slot_of_.end()) {
      return absl::NotFoundError(absl::StrCat("health target ", id));
    }
    report = ReportOf(*slots_[it->second]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return report;
}

std::vector<TargetReport> HealthChecker::Reports() const {
  std::vector<TargetReport> reports;
  (void)RunOnLoop([&] {
    for (const auto& t : slots_) {
      if (t != nullptr) reports.push_back(ReportOf(*t));
    }
    return absl::OkStatus();
  });
  std::sort(reports.begin(), reports.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return reports;
}

size_t HealthChecker::target_count() const {
  size_t count = 0;
  (void)RunOnLoop([&] {
    count = slot_of_.size();
    return absl::OkStatus();
  });
  return count;
}

TargetReport HealthChecker::ReportOf(const TargetState& t) const {
  return TargetReport{t.target.id, t.health.status(), t.counters, t.last_result,
                      absl::Nanoseconds(t.last_latency_ns)};
}

absl::Status HealthChecker::AddOnLoop(const HealthTarget& target) {
  if (slot_of_.contains(target.id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("health target ", target.id, " already exists"));
  }
  std::function<void(int)> observer;
  if (options_.socket_observer) {
    observer = [this, id = target.id](int fd) {
      options_.socket_observer(id, fd);
    };
  }
  absl::StatusOr<std::shared_ptr<const ProbePlan>> plan =
      MakeProbePlan(target, tls_.get(), std::move(observer));
  if (!plan.ok()) return plan.status();
  if (absl::Status s = OpenSynProberFor(**plan); !s.ok()) return s;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slots_[slot] = std::make_unique<TargetState>(target, ResolveSchedule(target),
                                               *std::move(plan));
  slots_[slot]->slot = slot;
  slot_of_[target.id] = slot;
  CountInterval(*slots_[slot], 1);
  ScheduleFirst(*slots_[slot], NowNs());
  return absl::OkStatus();
}

absl::Status HealthChecker::UpdateOnLoop(const HealthTarget& target) {
  auto it = slot_of_.find(target.id);
  if (it == slot_of_.end()) {
    return absl::NotFoundError(absl::StrCat("health target ", target.id));
  }
  TargetState& t = *slots_[it->second];
  HealthTarget wanted = target;
  wanted.initial_status = t.target.initial_status;
  if (wanted == t.target) return absl::OkStatus();
  std::function<void(int)> observer;
  if (options_.socket_observer) {
    observer = [this, id = target.id](int fd) {
      options_.socket_observer(id, fd);
    };
  }
  absl::StatusOr<std::shared_ptr<const ProbePlan>> plan =
      MakeProbePlan(wanted, tls_.get(), std::move(observer));
  if (!plan.ok()) return plan.status();
  if (absl::Status s = OpenSynProberFor(**plan); !s.ok()) return s;
  AbortProbe(t);
  t.syn_source = {};
  CountInterval(t, -1);
  t.target = std::move(wanted);
  t.schedule = ResolveSchedule(t.target);
  CountInterval(t, 1);
  t.plan = *std::move(plan);
  t.health.SetThresholds(t.schedule.rise, t.schedule.fall);
  ScheduleFirst(t, NowNs());
  return absl::OkStatus();
}

absl::Status HealthChecker::RemoveOnLoop(TargetId id) {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) {
    return absl::NotFoundError(absl::StrCat("health target ", id));
  }
  const uint32_t slot = it->second;
  CountInterval(*slots_[slot], -1);
  // Closing the probe's socket removes it from epoll; events already
  // fetched carry a token that no longer matches (see HandleSocketEvent).
  slots_[slot].reset();
  timers_.Cancel(slot);
  free_slots_.push_back(slot);
  slot_of_.erase(it);
  return absl::OkStatus();
}

void HealthChecker::Run() {
  tls_loop_owner = this;
  pthread_setname_np(pthread_self(), "xlb-health");
  BlockSigpipeInThisThread();  // HTTPS probes write through OpenSSL
  epoll_event events[kMaxEventsPerWait];
  int64_t applied_slack_ns = -1;
  while (!stop_requested_) {
    if (const int64_t slack_ns = TimerSlackNs(); slack_ns != applied_slack_ns) {
      prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack_ns));
      applied_slack_ns = slack_ns;
    }
    const int n = epoll_wait(epoll_.get(), events, kMaxEventsPerWait,
                             NextTimeoutMs(NowNs()));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeData) {
        uint64_t count;
        (void)!read(wake_.get(), &count, sizeof(count));
        continue;
      }
      if (events[i].data.u64 == kSynData[0] ||
          events[i].data.u64 == kSynData[1]) {
        syn_probers_[events[i].data.u64 == kSynData[1]]->Drain(
            events[i].events, [this](uint64_t id, ProbeResult result) {
              OnSynVerdict(id, std::move(result));
            });
        continue;
      }
      HandleSocketEvent(events[i].data.u64, events[i].events);
    }
    RunCommands();
    RunDueTimers(NowNs());
    FlushSynProbers();
  }
  RunCommands();
  for (auto& t : slots_) {
    if (t != nullptr) AbortProbe(*t);
  }
  timers_.Clear();
  tls_loop_owner = nullptr;
}

void HealthChecker::RunCommands() {
  std::vector<std::function<void()>> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands.swap(commands_);
  }
  for (auto& command : commands) command();
}

int HealthChecker::NextTimeoutMs(int64_t now_ns) const {
  if (timers_.empty()) return -1;
  const int64_t wait_ns = timers_.next_ns() - now_ns;
  if (wait_ns <= 0) return 0;
  // Round up: waking before the deadline would only spin.
  return static_cast<int>(
      std::min<int64_t>((wait_ns + 999'999) / 1'000'000, 60'000));
}

void HealthChecker::RunDueTimers(int64_t now_ns) {
  while (!timers_.empty() && timers_.next_ns() <= now_ns) {
    const uint32_t slot = timers_.PopNext();
    TargetState* t = slots_[slot].get();
    if (t->probe != nullptr) {
      FinishProbe(*t,
                  ProbeResult::Failure(
                      ProbeOutcome::kTimeout,
                      absl::StrCat("no verdict within ",
                                   absl::FormatDuration(t->schedule.timeout))),
                  now_ns);
    } else {
      StartProbe(slot, *t, now_ns);
    }
  }
}

void HealthChecker::HandleSocketEvent(uint64_t data, uint32_t events) {
  const uint32_t slot = static_cast<uint32_t>(data >> 32);
  const uint32_t token = static_cast<uint32_t>(data);
  TargetState* t = slot < slots_.size() ? slots_[slot].get() : nullptr;
  if (t == nullptr || t->probe == nullptr || t->probe_token != token) return;
  ProbeProgress progress = t->probe->OnReady(events);
  if (progress.done()) {
    FinishProbe(*t, *std::move(progress.result), NowNs());
    return;
  }
  if (progress.wait_events != t->registered_events) {
    epoll_event ev{};
    ev.events = progress.wait_events;
    ev.data.u64 = data;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, t->probe->fd(), &ev);
    t->registered_events = progress.wait_events;
  }
}

absl::Status HealthChecker::OpenSynProberFor(const ProbePlan& plan) {
  const int family = plan.address.any.sa_family;
  std::unique_ptr<SynProber>& prober = syn_probers_[family == AF_INET6];
  if (plan.spec->type != HealthCheckType::kTcp || prober != nullptr) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<SynProber>> created =
      SynProber::Create(family);
  if (!created.ok()) return created.status();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kSynData[family == AF_INET6];
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, (*created)->fd(), &ev) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
  }
  prober = *std::move(created);
  return absl::OkStatus();
}

void HealthChecker::FlushSynProbers() {
  for (auto& prober : syn_probers_) {
    if (prober == nullptr) continue;
    prober->Flush([this](uint64_t id, ProbeResult result) {
      OnSynVerdict(id, std::move(result));
    });
  }
}

void HealthChecker::OnSynVerdict(uint64_t id, ProbeResult result) {
  const uint32_t slot = static_cast<uint32_t>(id >> 32);
  TargetState* t = slot < slots_.size() ? slots_[slot].get() : nullptr;
  if (t == nullptr || t->probe == nullptr ||
      t->probe_token != static_cast<uint32_t>(id)) {
    return;
  }
  FinishProbe(*t, std::move(result), NowNs());
}

void HealthChecker::ScheduleFirst(TargetState& t, int64_t now_ns) {
  t.next_base_ns = now_ns + RandomBelow(t.interval_ns());
  timers_.Set(t.slot, t.next_base_ns);
}

void HealthChecker::ScheduleNext(TargetState& t, int64_t now_ns) {
  const int64_t interval = t.interval_ns();
  if (t.next_base_ns < now_ns) {  // the probe outlived its interval
    t.next_base_ns +=
        (now_ns - t.next_base_ns + interval - 1) / interval * interval;
  }
  timers_.Set(t.slot, t.next_base_ns + RandomBelow(absl::ToInt64Nanoseconds(
                                           t.schedule.jitter)));
}

void HealthChecker::StartProbe(uint32_t slot, TargetState& t, int64_t now_ns) {
  t.next_base_ns += t.interval_ns();
  t.probe_token = next_probe_token_++;
  const uint64_t id = (uint64_t{slot} << 32) | t.probe_token;
  if (t.plan->spec->type == HealthCheckType::kTcp) {
    t.probe = syn_probers_[t.plan->address.any.sa_family == AF_INET6]->NewProbe(
        t.plan, id, &t.syn_source);
  } else {
    t.probe = MakeProbe(t.plan);
  }
  t.probe_started_ns = now_ns;
  ProbeProgress progress = t.probe->Start();
  if (progress.done()) {
    FinishProbe(t, *std::move(progress.result), NowNs());
    return;
  }
  const int64_t deadline =
      now_ns + absl::ToInt64Nanoseconds(t.schedule.timeout);
  if (t.probe->fd() < 0) {  // a SYN: its prober reports the verdict
    timers_.Set(slot, deadline);
    return;
  }
  epoll_event ev{};
  ev.events = progress.wait_events;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, t.probe->fd(), &ev) != 0) {
    FinishProbe(
        t,
        ProbeResult::Failure(ProbeOutcome::kLocalError,
                             absl::StrCat("epoll_ctl: ", strerror(errno))),
        NowNs());
    return;
  }
  t.registered_events = progress.wait_events;
  timers_.Set(slot, deadline);
}

void HealthChecker::AbortProbe(TargetState& t) {
  t.probe.reset();  // closing the socket also leaves the epoll set
  t.registered_events = 0;
}

void HealthChecker::FinishProbe(TargetState& t, ProbeResult result,
                                int64_t now_ns) {
  AbortProbe(t);
  const int64_t latency_ns = now_ns - t.probe_started_ns;
  ++t.counters.probes;
  ++t.counters.by_outcome[static_cast<size_t>(result.outcome)];
  t.last_latency_ns = latency_ns;
  const bool changed = t.health.Record(result.ok());
  ScheduleNext(t, now_ns);
  if (!changed || !options_.on_transition) {
    t.last_result = std::move(result);
    return;
  }
  HealthTransition transition;
  transition.id = t.target.id;
  transition.status = t.health.status();
  transition.reason = result.outcome;
  transition.detail = result.detail;
  transition.latency = absl::Nanoseconds(latency_ns);
  transition.consecutive = transition.status == HealthStatus::kUp
                               ? t.schedule.rise
                               : t.schedule.fall;
  t.last_result = std::move(result);
  // Last: the callback may remove or update this very target.
  options_.on_transition(transition);
}

int64_t HealthChecker::TimerSlackNs() const {
  if (targets_by_interval_ns_.empty()) return kMaxTimerSlackNs;
  return std::clamp<int64_t>(
      targets_by_interval_ns_.begin()->first / kTimerSlackDivisor, 1,
      kMaxTimerSlackNs);
}

void HealthChecker::CountInterval(const TargetState& t, int delta) {
  auto [it, _] = targets_by_interval_ns_.try_emplace(t.interval_ns(), 0);
  it->second += delta;
  if (it->second == 0) targets_by_interval_ns_.erase(it);
}

int64_t HealthChecker::RandomBelow(int64_t bound_ns) {
  if (bound_ns <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, bound_ns - 1)(random_);
}

}  // namespace xlb::health
