// xlb.v1.LoadBalancer: each unary handler (gRPC's synchronous API) turns
// the request into a model change set (lb/agent/convert.h) and hands it to the
// Controller, which serializes changes. WatchEvents runs on gRPC's callback
// API (api/event_stream.h), so an open stream holds no thread. absl::Status
// becomes grpc::Status in exactly one place (Handle in service.cc), which
// also counts requests per method and code for the metrics.
#ifndef XLB_API_SERVICE_H_
#define XLB_API_SERVICE_H_

#include <map>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/event_stream.h"
#include "lb/agent/controller.h"
#include "lb/bgp/announcer.h"
#include "lb/dataplane/dataplane.h"
#include "xlb/v1/xlb.grpc.pb.h"

namespace xlb::api {

// Facts about the running agent that GetStatus reports.
struct AgentInfo {
  std::string version;
  std::string interface;  // empty: not attached
  v1::AttachMode attach_mode = v1::ATTACH_MODE_DETACHED;
  std::string pin_dir;
  bool adopted_pinned_maps = false;
  absl::Time start_time = absl::Now();
};

// Requests answered, per (method, gRPC status code name).
class RequestCounters {
 public:
  void Count(const std::string& method, const std::string& code);
  std::map<std::pair<std::string, std::string>, uint64_t> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> counts_
      ABSL_GUARDED_BY(mu_);
};

// WatchEvents streams open at once, unless the agent is told otherwise.
inline constexpr size_t kDefaultMaxEventWatchers = 128;

class LoadBalancerService final
    : public v1::LoadBalancer::WithCallbackMethod_WatchEvents<
          v1::LoadBalancer::Service> {
 public:
  // `dataplane` may be null (stats are then unavailable), and so may
  // `announcer` (GetStatus then reports BGP as not configured); everything
  // must outlive the service, and the service must outlive the gRPC server
  // it is registered with.
  LoadBalancerService(agent::Controller* controller, Dataplane* dataplane,
                      AgentInfo info, RequestCounters* counters,
                      size_t max_event_watchers = kDefaultMaxEventWatchers,
                      const bgp::Announcer* announcer = nullptr);

  grpc::Status CreateVip(grpc::ServerContext*, const v1::CreateVipRequest*,
                         v1::CreateVipResponse*) override;
  grpc::Status UpdateVip(grpc::ServerContext*, const v1::UpdateVipRequest*,
                         v1::UpdateVipResponse*) override;
  grpc::Status DeleteVip(grpc::ServerContext*, const v1::DeleteVipRequest*,
                         v1::DeleteVipResponse*) override;
  grpc::Status GetVip(grpc::ServerContext*, const v1::GetVipRequest*,
                      v1::GetVipResponse*) override;
  grpc::Status ListVips(grpc::ServerContext*, const v1::ListVipsRequest*,
                        v1::ListVipsResponse*) override;
  grpc::Status UpdateBackends(grpc::ServerContext*,
                              const v1::UpdateBackendsRequest*,
                              v1::UpdateBackendsResponse*) override;
  grpc::Status SetConfig(grpc::ServerContext*, const v1::SetConfigRequest*,
                         v1::SetConfigResponse*) override;
  grpc::Status SetVip(grpc::ServerContext*, const v1::SetVipRequest*,
                      v1::SetVipResponse*) override;
  grpc::Status GetConfig(grpc::ServerContext*, const v1::GetConfigRequest*,
                         v1::GetConfigResponse*) override;
  grpc::Status GetStats(grpc::ServerContext*, const v1::GetStatsRequest*,
                        v1::GetStatsResponse*) override;
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                         v1::GetStatusResponse*) override;
  grpc::Status SetHostDrain(grpc::ServerContext*,
                            const v1::SetHostDrainRequest*,
                            v1::SetHostDrainResponse*) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(
      grpc::CallbackServerContext*, const v1::WatchEventsRequest*) override;

  // GetStats without gRPC (the metrics endpoint uses it).
  absl::StatusOr<v1::GetStatsResponse> Stats() const;

 private:
  template <typename Fn>
  grpc::Status Handle(const char* method, Fn&& fn);

  agent::Controller* const controller_;
  Dataplane* const dataplane_;
  const AgentInfo info_;
  RequestCounters* const counters_;
  const bgp::Announcer* const announcer_;
  EventStreams event_streams_;
};

// The gRPC status for an absl::Status: same code, same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace xlb::api

#endif  // XLB_API_SERVICE_H_
