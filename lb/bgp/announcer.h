// Keeps xlbd's own VIP routes in the local gobgpd equal to what it should
// announce (lb/bgp/announce_policy.h), on a thread of its own: Update()
// only records the new plan and wakes the thread, so neither the API nor
// forwarding ever waits for the daemon.
//
// The thread (re)connects with backoff (min_backoff doubling to
// max_backoff), then reconciles: lists the daemon's paths, withdraws its
// own that should not be there, adds the missing ones, and leaves every
// other path alone. It holds a watch stream on the daemon; when the daemon
// goes away (a restarted gobgpd has lost every path) it reconnects and
// reconciles again. Until the first Update it touches nothing, so a
// restarted xlbd never withdraws what it is about to announce again.
// Stopping (or killing) xlbd withdraws nothing: the routes stay with the
// pinned data plane that keeps forwarding.
//
// Without an API address (BGP not configured) there is no thread: the
// announcer only reports why nothing is announced.
#ifndef XLB_LB_BGP_ANNOUNCER_H_
#define XLB_LB_BGP_ANNOUNCER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lb/bgp/announce_policy.h"

namespace xlb::bgp {

class GobgpClient;  // lb/bgp/gobgp_client.h: only the announcer's thread
class DaemonWatch;  // talks to gobgpd, so users need not see its API

struct AnnouncerOptions {
  // gobgpd's gRPC API (bgp::ValidateApiAddress); empty: BGP not
  // configured.
  std::string api_address;
  bool dataplane_attached = false;
  std::optional<IpAddress> next_hop_v4;
  std::optional<IpAddress> next_hop_v6;
  absl::Duration rpc_timeout = absl::Seconds(5);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Called on the announcer's thread, in order, for every VIP whose route
  // was announced or stopped being announced (deleted VIPs included).
  std::function<void(const VipAnnouncement&)> on_change;
};

struct BgpStatus {
  bool configured = false;
  std::string api_address;
  bool daemon_reachable = false;
  std::string last_error;  // empty: none since start
  absl::Time last_error_time;
  bool host_drained = false;
  std::optional<IpAddress> next_hop_v4;
  std::optional<IpAddress> next_hop_v6;
  uint64_t announcements = 0;  // paths added since start
  uint64_t withdrawals = 0;    // paths withdrawn since start
  std::vector<VipAnnouncement> vips;

  size_t announced_vips() const;
};

class Announcer {
 public:
  explicit Announcer(AnnouncerOptions options);
  ~Announcer();  // stops the thread; withdraws nothing
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // What changed of the state announcement depends on: the VIPs in
  // `changed` (created, changed or deleted) and the host drain. Costs the
  // VIPs' count, never their backends', and never waits for the daemon:
  // called under the controller's lock after every change.
  void Update(const ServingChanges& changed, bool host_drained);

  BgpStatus Status() const;

 private:
  void Run();
  // Connects, opens the watch and lists the daemon's own paths.
  absl::Status Connect(std::unique_ptr<GobgpClient>& client,
                       std::unique_ptr<DaemonWatch>& watch,
                       std::set<Route>& listed);
  // The next change that brings the daemon to the plan: a withdrawal, else
  // an addition. False when in sync.
  bool NextChange(Route& route, bool& add) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports the VIPs whose announced state changed since the last call.
  void PublishChanges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AnnouncerOptions options_;
  const HostFacts facts_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool has_plan_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // a plan the thread has not seen
  std::map<VipKey, VipServing> serving_ ABSL_GUARDED_BY(mu_);
  AnnouncePlan plan_ ABSL_GUARDED_BY(mu_);
  bool host_drained_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;  // installed_ mirrors the daemon
  bool daemon_lost_ ABSL_GUARDED_BY(mu_) = false;
  std::set<Route> installed_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  absl::Time last_error_time_ ABSL_GUARDED_BY(mu_);
  uint64_t announcements_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t withdrawals_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<VipKey, bool> announced_ ABSL_GUARDED_BY(mu_);  // as published
  std::thread thread_;
};

}  // namespace xlb::bgp

#endif  // XLB_LB_BGP_ANNOUNCER_H_
