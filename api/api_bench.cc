// Backend changes per second through the real API: a gRPC client on the
// server's Unix socket, the controller (state file fsync'd per call), the
// model and the maps, the real BPF maps when run as root (else in-memory
// ones). Reports the rate for batched UpdateBackends calls and for one
// change per call, with per-call latency, how long a health transition
// takes to reach the ring (what the health checker's verdicts go through,
// the controller and the model; health is not persisted), and one change
// per call again with 100 VIPs x 100 backends loaded: a change should cost
// what it changes, not what the whole configuration holds.
//
//   api_bench [--batch=500] [--seconds=3] [--ring-size=65537] [--in-memory]
//             [--no-state]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/server.h"
#include "api/service.h"
#include "grpcpp/create_channel.h"
#include "lb/agent/controller.h"
#include "lb/agent/testing/requests.h"
#include "lb/base/log.h"
#include "lb/dataplane/dataplane.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/state/state.h"

namespace xlb::api {
namespace {

using Clock = std::chrono::steady_clock;
using namespace xlb::agent::testing;  // NOLINT: request builders

struct Result {
  double changes_per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  uint64_t changes = 0;
};

// Alternately adds and removes `batch` backends per call for `seconds`.
// Addresses are 10.<first_octet + i / 65536>.x.y.
Result Run(v1::LoadBalancer::Stub& stub, const v1::VipKey& vip, int batch,
           double seconds, int first_octet) {
  std::vector<double> latencies;
  uint64_t changes = 0;
  bool adding = true;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() <
         seconds) {
    v1::UpdateBackendsRequest request;
    for (int i = 0; i < batch; ++i) {
      const std::string address = absl::StrCat(
          "10.", first_octet + i / 65536, ".", (i / 256) % 256, ".", i % 256);
      *request.add_changes() =
          adding ? Add(vip, address) : Remove(vip, address);
    }
    grpc::ClientContext context;
    v1::UpdateBackendsResponse response;
    const auto t0 = Clock::now();
    grpc::Status status = stub.UpdateBackends(&context, request, &response);
    latencies.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!status.ok()) {
      std::fprintf(stderr, "UpdateBackends: %s\n",
                   status.error_message().c_str());
      std::exit(1);
    }
    changes += batch;
    adding = !adding;
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  return Result{.changes_per_second = changes / elapsed,
                .p50_ms = latencies[latencies.size() / 2],
                .p99_ms = latencies[latencies.size() * 99 / 100],
                .changes = changes};
}

// Alternately takes one backend of a health-checked VIP down and up, as
// verdicts of the health checker do, for `seconds`.
Result RunHealth(agent::Controller& controller, const VipKey& vip,
                 const IpAddress& backend, double seconds) {
  std::vector<double> latencies;
  bool healthy = false;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() <
         seconds) {
    const auto t0 = Clock::now();
    absl::Status s = controller.SetHealth(
        vip, backend, agent::HealthVerdict{.healthy = healthy});
    latencies.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!s.ok()) {
      std::fprintf(stderr, "SetHealth: %s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
    healthy = !healthy;
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  return Result{.changes_per_second = latencies.size() / elapsed,
                .p50_ms = latencies[latencies.size() / 2],
                .p99_ms = latencies[latencies.size() * 99 / 100],
                .changes = latencies.size()};
}

int Main(int argc, char** argv) {
  int batch = 500;
  double seconds = 3;
  uint32_t ring_size = 65537;
  bool in_memory = geteuid() != 0;
  bool persist = true;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--batch=")) {
      if (!absl::SimpleAtoi(arg, &batch) || batch < 1) return 2;
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg, &seconds)) return 2;
    } else if (absl::ConsumePrefix(&arg, "--ring-size=")) {
      if (!absl::SimpleAtoi(arg, &ring_size)) return 2;
    } else if (arg == "--in-memory") {
      in_memory = true;
    } else if (arg == "--no-state") {
      persist = false;  // to see what the state file's fsyncs cost
    } else {
      std::fprintf(stderr,
                   "usage: api_bench [--batch=N] [--seconds=S] "
                   "[--ring-size=M] [--in-memory] [--no-state]\n");
      return 2;
    }
  }
  SetLogLevel(LogLevel::kWarning);
  // Room for the 100 x 100 case: 102 VIPs, 10,600 backend addresses.
  const DataplaneLimits limits{.max_vips = 128,
                               .max_backends = 16384,
                               .max_ring_size = XLB_MAX_RING_SIZE,
                               .max_conns = 1024};
  std::unique_ptr<DataplaneMaps> maps;
  if (in_memory) {
    maps = std::make_unique<InMemoryMaps>(limits);
  } else {
    auto dp = Dataplane::Load(DataplaneOptions{.limits = limits});
    if (!dp.ok()) {
      std::fprintf(stderr, "loading the data plane: %s (try --in-memory)\n",
                   std::string(dp.status().message()).c_str());
      return 1;
    }
    maps = *std::move(dp);
  }
  char dir_template[] = "/tmp/xlb-api-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  StateFile state(dir + "/state");
  auto balancer = *Balancer::Create(maps.get());
  auto controller = *agent::Controller::Create(
      balancer.get(),
      agent::ControllerOptions{.state_file = persist ? &state : nullptr});
  LoadBalancerService service(controller.get(), nullptr, AgentInfo(), nullptr);
  const std::string socket = dir + "/xlbd.sock";
  auto server =
      *ApiServer::Start(ListenerOptions{.unix_socket = socket}, {&service});
  auto stub = v1::LoadBalancer::NewStub(grpc::CreateChannel(
      "unix:" + socket, grpc::InsecureChannelCredentials()));

  const v1::VipKey vip = Key("192.0.2.1", 80);
  const v1::VipKey checked_vip = Key("192.0.2.2", 80);
  // A VIP with 100 standing backends, so every ring build has real work;
  // their addresses are 10.<octet>.0.1-100.
  auto create = [&](const v1::VipKey& key, bool with_check, int octet) -> bool {
    grpc::ClientContext context;
    v1::CreateVipRequest request;
    *request.mutable_vip() = Vip(key);
    v1::VipSettings* settings = request.mutable_vip()->mutable_settings();
    settings->set_ring_size(ring_size);
    if (with_check) {
      settings->mutable_health_check()->set_type(v1::HEALTH_CHECK_TYPE_TCP);
    }
    for (int i = 1; i <= 100; ++i) {
      request.mutable_vip()->add_backends()->set_address(
          absl::StrCat("10.", octet, ".0.", i));
    }
    v1::CreateVipResponse response;
    grpc::Status s = stub->CreateVip(&context, request, &response);
    if (!s.ok()) {
      std::fprintf(stderr, "CreateVip: %s\n", s.error_message().c_str());
    }
    return s.ok();
  };
  if (!create(vip, false, 50) || !create(checked_vip, true, 50)) return 1;
  // The checked VIP's backends start down: bring them all up.
  const VipKey checked{.address = *IpAddress::Parse("192.0.2.2"), .port = 80};
  for (int i = 1; i <= 100; ++i) {
    absl::Status s = controller->SetHealth(
        checked, *IpAddress::Parse(absl::StrCat("10.50.0.", i)),
        agent::HealthVerdict{.healthy = true});
    if (!s.ok()) {
      std::fprintf(stderr, "SetHealth: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  std::printf("maps: %s; ring size %u; %s\n",
              in_memory ? "in-memory" : "real BPF maps", ring_size,
              persist ? "state file fsync'd per call" : "no state file");
  const Result batched = Run(*stub, vip, batch, seconds, 100);
  std::printf(
      "batched  (%4d changes/call): %8.0f backend changes/s  call p50 %.2f ms "
      "p99 %.2f ms  (%llu changes)\n",
      batch, batched.changes_per_second, batched.p50_ms, batched.p99_ms,
      static_cast<unsigned long long>(batched.changes));
  const Result single = Run(*stub, vip, 1, seconds, 200);
  std::printf(
      "single   (   1 change/call):  %8.0f backend changes/s  call p50 %.2f ms "
      "p99 %.2f ms  (%llu changes)\n",
      single.changes_per_second, single.p50_ms, single.p99_ms,
      static_cast<unsigned long long>(single.changes));
  const Result health =
      RunHealth(*controller, checked, *IpAddress::Parse("10.50.0.1"), seconds);
  std::printf(
      "health   (1 transition/call): %8.0f transitions/s     call p50 %.2f ms "
      "p99 %.2f ms  (%llu transitions)\n",
      health.changes_per_second, health.p50_ms, health.p99_ms,
      static_cast<unsigned long long>(health.changes));

  // 100 more VIPs of 100 backends each (distinct addresses: 10,000 more
  // backends entries), then the single-change run again on one of them.
  std::vector<v1::VipKey> loaded;
  for (int i = 1; i <= 100; ++i) {
    loaded.push_back(Key("203.0.113.1", 1000 + i));
    if (!create(loaded.back(), false, 100 + i)) return 1;
  }
  const Result loaded_single = Run(*stub, loaded.front(), 1, seconds, 210);
  std::printf(
      "single, 100 VIPs x 100 backends loaded: %8.0f backend changes/s  call "
      "p50 %.2f ms p99 %.2f ms  (%llu changes; p50 %.2fx the one-VIP "
      "figure)\n",
      loaded_single.changes_per_second, loaded_single.p50_ms,
      loaded_single.p99_ms,
      static_cast<unsigned long long>(loaded_single.changes),
      loaded_single.p50_ms / single.p50_ms);
  server->Shutdown();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace xlb::api

int main(int argc, char** argv) { return xlb::api::Main(argc, argv); }
