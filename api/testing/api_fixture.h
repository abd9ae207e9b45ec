// A real xlb.v1 server for tests: the service, controller and state file of
// xlbd over InMemoryMaps, listening on a Unix socket in a private temporary
// directory, with a real gRPC client. Restart() replaces the agent (new
// model over the same maps and state file) as an xlbd restart would.
#ifndef XLB_API_TESTING_API_FIXTURE_H_
#define XLB_API_TESTING_API_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "api/server.h"
#include "api/service.h"
#include "lb/agent/controller.h"
#include "lb/bgp/announcer.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/model/model.h"
#include "lb/state/state.h"
#include "xlb/v1/xlb.grpc.pb.h"

namespace xlb::api::testing {

class ApiHarness {
 public:
  struct Options {
    DataplaneLimits limits{.max_vips = 16,
                           .max_backends = 64,
                           .max_ring_size = 65537,
                           .max_conns = 1024};
    bool persist = true;
    StateFileOptions state_file;
    size_t event_capacity = 4096;
    size_t max_event_watchers = kDefaultMaxEventWatchers;
    uint32_t flow_hash_seed = 0;  // as xlbd --hash-seed
    // Set: each agent start runs an announcer with these options, wired as
    // xlbd wires it, and GetStatus reports it.
    std::optional<bgp::AnnouncerOptions> bgp;
  };
  static absl::StatusOr<std::unique_ptr<ApiHarness>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<ApiHarness>> Start() {
    return Start(Options());
  }
  ~ApiHarness();

  // Stops the agent (server, controller, model) and starts a new one over
  // the same maps and state file.
  absl::Status Restart();
  // Stops the agent without starting a new one.
  void Stop();

  v1::LoadBalancer::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  InMemoryMaps& maps() { return maps_; }
  agent::Controller& controller() { return *controller_; }
  bgp::Announcer* announcer() { return announcer_.get(); }
  const std::string& dir() const { return dir_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& state_path() const { return state_path_; }

 private:
  ApiHarness(Options options, std::string dir);
  absl::Status StartAgent();

  Options options_;
  std::string dir_;
  std::string socket_;
  std::string state_path_;
  InMemoryMaps maps_;
  std::unique_ptr<StateFile> state_file_;
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<agent::Controller> controller_;
  std::unique_ptr<bgp::Announcer> announcer_;
  RequestCounters counters_;
  std::unique_ptr<LoadBalancerService> service_;
  std::unique_ptr<ApiServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LoadBalancer::Stub> stub_;
};

// One call each, for tests that only need the answer.
grpc::Status CreateVip(v1::LoadBalancer::Stub& stub, const v1::Vip& vip);
v1::GetConfigResponse GetConfig(v1::LoadBalancer::Stub& stub);  // must be OK

}  // namespace xlb::api::testing

#endif  // XLB_API_TESTING_API_FIXTURE_H_
