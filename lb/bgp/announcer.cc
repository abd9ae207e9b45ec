#include "lb/bgp/announcer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lb/base/log.h"
#include "lb/bgp/gobgp_client.h"

namespace xlb::bgp {

size_t BgpStatus::announced_vips() const {
  return static_cast<size_t>(
      std::count_if(vips.begin(), vips.end(),
                    [](const VipAnnouncement& v) { return v.announced; }));
}

Announcer::Announcer(AnnouncerOptions options)
    : options_(std::move(options)),
      facts_{.bgp_configured = !options_.api_address.empty(),
             .dataplane_attached = options_.dataplane_attached,
             .next_hop_v4 = options_.next_hop_v4,
             .next_hop_v6 = options_.next_hop_v6} {
  if (facts_.bgp_configured) thread_ = std::thread([this] { Run(); });
}

Announcer::~Announcer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Announcer::Update(const ServingChanges& changed, bool host_drained) {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, serving] : changed) {
    if (serving.has_value()) {
      serving_[key] = *serving;
    } else {
      serving_.erase(key);
    }
  }
  plan_ = PlanAnnouncements(facts_, host_drained, serving_);
  host_drained_ = host_drained;
  has_plan_ = true;
  dirty_ = true;
}

BgpStatus Announcer::Status() const {
  absl::MutexLock lock(&mu_);
  return BgpStatus{
      .configured = facts_.bgp_configured,
      .api_address = options_.api_address,
      .daemon_reachable = synced_,
      .last_error = last_error_,
      .last_error_time = last_error_time_,
      .host_drained = host_drained_,
      .next_hop_v4 = facts_.next_hop_v4,
      .next_hop_v6 = facts_.next_hop_v6,
      .announcements = announcements_,
      .withdrawals = withdrawals_,
      .vips = Announcements(
          plan_, DaemonView{.reachable = synced_, .installed = installed_})};
}

absl::Status Announcer::Connect(std::unique_ptr<GobgpClient>& client,
                                std::unique_ptr<DaemonWatch>& watch,
                                std::set<Route>& listed) {
  client =
      std::make_unique<GobgpClient>(options_.api_address, options_.rpc_timeout);
  absl::StatusOr<std::unique_ptr<DaemonWatch>> started =
      client->StartWatch([this](const absl::Status&) {
        absl::MutexLock lock(&mu_);
        daemon_lost_ = true;
      });
  if (!started.ok()) return started.status();
  watch = *std::move(started);
  absl::StatusOr<std::set<Route>> routes = client->ListOwnRoutes();
  if (!routes.ok()) return routes.status();
  listed = *std::move(routes);
  return absl::OkStatus();
}

bool Announcer::NextChange(Route& route, bool& add) const {
  std::set<IpAddress> planned;
  for (const Route& r : plan_.routes) planned.insert(r.prefix);
  for (const Route& r : installed_) {
    if (!planned.contains(r.prefix)) {
      route = r;
      add = false;
      return true;
    }
  }
  for (const Route& r : plan_.routes) {
    if (!installed_.contains(r)) {
      route = r;  // replaces a path of the same prefix with another next hop
      add = true;
      return true;
    }
  }
  return false;
}

void Announcer::Fail(const absl::Status& status) {
  const std::string message(status.message());
  if (synced_ || message != last_error_) {
    LogWarning("bgp",
               synced_ ? "lost gobgpd; retrying with backoff"
                       : "gobgpd unreachable; retrying with backoff",
               {{"api", options_.api_address}, {"error", message}});
  }
  synced_ = false;
  last_error_ = message;
  last_error_time_ = absl::Now();
}

void Announcer::PublishChanges() {
  std::map<VipKey, bool> now;
  for (VipAnnouncement& a : Announcements(
           plan_, DaemonView{.reachable = synced_, .installed = installed_})) {
    now[a.vip] = a.announced;
    auto before = announced_.find(a.vip);
    if ((before != announced_.end() && before->second) == a.announced) continue;
    if (a.announced) a.reason.clear();
    LogInfo("bgp", a.announced ? "VIP announced" : "VIP withdrawn",
            {{"vip", a.vip.ToString()}, {"reason", a.reason}});
    if (options_.on_change) options_.on_change(a);
  }
  for (const auto& [vip, was_announced] : announced_) {
    if (!was_announced || now.contains(vip)) continue;
    VipAnnouncement gone{
        .vip = vip, .announced = false, .reason = "VIP deleted"};
    LogInfo("bgp", "VIP withdrawn",
            {{"vip", vip.ToString()}, {"reason", gone.reason}});
    if (options_.on_change) options_.on_change(gone);
  }
  announced_ = std::move(now);
}

void Announcer::Run() {
  std::unique_ptr<GobgpClient> client;
  std::unique_ptr<DaemonWatch> watch;
  absl::Duration backoff = options_.min_backoff;
  absl::MutexLock lock(&mu_);
  auto retry_later =
      [&](const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        Fail(status);
        PublishChanges();
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
      };
  // Nothing is touched before the first plan (see the file comment).
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || has_plan_;
  };
  mu_.Await(absl::Condition(&ready));
  while (!stopping_) {
    if (synced_ && daemon_lost_) {
      retry_later(absl::UnavailableError(
          "gobgpd went away (its API connection closed); it lost every path"));
      continue;
    }
    if (!synced_) {
      // The old watch's thread takes mu_ when it ends: join it unlocked.
      std::unique_ptr<DaemonWatch> old_watch = std::move(watch);
      daemon_lost_ = false;
      std::set<Route> listed;
      mu_.Unlock();
      old_watch.reset();
      const absl::Status connected = Connect(client, watch, listed);
      mu_.Lock();
      if (!connected.ok()) {
        retry_later(connected);
        continue;
      }
      LogInfo("bgp", "reached gobgpd; reconciling its paths with the plan",
              {{"api", options_.api_address},
               {"own_paths_found", listed.size()},
               {"routes_planned", plan_.routes.size()}});
      installed_ = std::move(listed);
      synced_ = true;
      backoff = options_.min_backoff;
    }
    Route route;
    bool add = false;
    if (!NextChange(route, add)) {
      dirty_ = false;
      PublishChanges();
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || dirty_ || daemon_lost_;
      };
      mu_.Await(absl::Condition(&wake));
      continue;
    }
    mu_.Unlock();
    const absl::Status done = add ? client->Add(route) : client->Delete(route);
    mu_.Lock();
    if (!done.ok()) {
      retry_later(done);
      continue;
    }
    if (add) {
      std::erase_if(installed_,
                    [&](const Route& r) { return r.prefix == route.prefix; });
      installed_.insert(route);
      ++announcements_;
    } else {
      installed_.erase(route);
      ++withdrawals_;
    }
    LogInfo("bgp", add ? "path added" : "path withdrawn",
            {{"route", route.ToString()}});
    PublishChanges();
  }
  // Unlocked by `lock`; the watch is joined unlocked.
  mu_.Unlock();
  watch.reset();
  mu_.Lock();
}

}  // namespace xlb::bgp
