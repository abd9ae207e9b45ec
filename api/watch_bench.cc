// What stalled WatchEvents streams cost the agent: its resident memory and
// thread count with N streams open that asked for every held event
// (after_sequence = 0) and never read, and how long shutting the API down
// takes with them open.
//
// The agent side is the real service over in-memory maps; its event buffer
// is filled first with `--events` ConfigChanged events naming `--event-vips`
// VIPs each (a SetConfig over 512 VIPs makes such an event). The stalled
// clients run in a child process forked before gRPC starts, one connection
// per stream, so the numbers are the agent's alone.
//
//   watch_bench [--streams=100] [--events=4096] [--event-vips=512]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/server.h"
#include "api/service.h"
#include "grpcpp/create_channel.h"
#include "lb/agent/controller.h"
#include "lb/base/log.h"
#include "lb/dataplane/in_memory_maps.h"

namespace xlb::api {
namespace {

using Clock = std::chrono::steady_clock;

// A field of /proc/self/status ("VmRSS" in kB, "Threads").
long ProcStatus(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field + ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    long value = 0;
    if (absl::SimpleAtoi(rest, &value)) return value;
  }
  return -1;
}

// The child: opens `streams` WatchEvents streams on `socket`, each on its own
// connection, reads nothing, says "ready" on `ready_fd` and holds them until
// `wait_fd` closes.
int StalledClients(int streams, int wait_fd, int ready_fd) {
  char socket[4096] = {};
  ssize_t n = read(wait_fd, socket, sizeof(socket) - 1);
  if (n <= 0) return 1;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Event>>> readers;
  std::vector<std::unique_ptr<v1::LoadBalancer::Stub>> stubs;
  for (int i = 0; i < streams; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("xlb.watch_bench.connection", i);  // a connection per stream
    stubs.push_back(v1::LoadBalancer::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("unix:", socket),
                                  grpc::InsecureChannelCredentials(), args)));
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    v1::WatchEventsRequest request;
    request.set_after_sequence(0);
    readers.push_back(
        stubs.back()->WatchEvents(contexts.back().get(), request));
  }
  if (write(ready_fd, "r", 1) != 1) return 1;
  char c;
  while (read(wait_fd, &c, 1) > 0) {
  }
  for (auto& context : contexts) context->TryCancel();
  return 0;
}

uint64_t StreamsStarted(const RequestCounters& counters) {
  uint64_t started = 0;
  for (const auto& [key, count] : counters.Snapshot()) {
    if (key.first == "WatchEvents" && key.second == "OK") started += count;
  }
  return started;
}

int Main(int argc, char** argv) {
  int streams = 100;
  int events = 4096;
  int event_vips = 512;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--streams=")) {
      if (!absl::SimpleAtoi(arg, &streams) || streams < 0) return 2;
    } else if (absl::ConsumePrefix(&arg, "--events=")) {
      if (!absl::SimpleAtoi(arg, &events) || events < 1) return 2;
    } else if (absl::ConsumePrefix(&arg, "--event-vips=")) {
      if (!absl::SimpleAtoi(arg, &event_vips) || event_vips < 0) return 2;
    } else {
      std::fprintf(stderr,
                   "usage: watch_bench [--streams=N] [--events=N] "
                   "[--event-vips=N]\n");
      return 2;
    }
  }
  // Fork before gRPC starts any thread.
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return 1;
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(to_child[1]);
    close(from_child[0]);
    _exit(StalledClients(streams, to_child[0], from_child[1]));
  }
  close(to_child[0]);
  close(from_child[1]);

  SetLogLevel(LogLevel::kWarning);
  InMemoryMaps maps(DataplaneLimits{.max_vips = 16,
                                    .max_backends = 64,
                                    .max_ring_size = 65537,
                                    .max_conns = 1024});
  auto balancer = *Balancer::Create(&maps);
  auto controller = *agent::Controller::Create(
      balancer.get(),
      agent::ControllerOptions{.event_capacity = static_cast<size_t>(events)});
  for (int e = 0; e < events; ++e) {
    v1::Event event;
    v1::ConfigChanged* changed = event.mutable_config_changed();
    changed->set_generation(e + 1);
    changed->set_method("SetConfig");
    for (int v = 0; v < event_vips; ++v) {
      v1::VipKey* key = changed->add_vips();
      key->set_address(absl::StrCat("2001:db8::", v / 256, ":", v % 256));
      key->set_port(443);
      key->set_protocol(v1::PROTOCOL_TCP);
    }
    controller->events().Append(std::move(event));
  }
  RequestCounters counters;
  LoadBalancerService service(
      controller.get(), nullptr, AgentInfo(), &counters,
      std::max<size_t>(kDefaultMaxEventWatchers, streams));
  char dir_template[] = "/tmp/xlb-watch-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string socket = dir + "/xlbd.sock";
  auto server =
      *ApiServer::Start(ListenerOptions{.unix_socket = socket}, {&service});
  absl::SleepFor(absl::Seconds(1));
  const long rss_before = ProcStatus("VmRSS");
  const long threads_before = ProcStatus("Threads");

  if (write(to_child[1], socket.data(), socket.size()) !=
      static_cast<ssize_t>(socket.size())) {
    return 1;
  }
  char ready;
  if (read(from_child[0], &ready, 1) != 1) {
    std::fprintf(stderr, "the client process failed\n");
    return 1;
  }
  // Wait until the agent took every stream, then let the writes settle.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (StreamsStarted(counters) < static_cast<uint64_t>(streams) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const uint64_t started = StreamsStarted(counters);
  absl::SleepFor(absl::Seconds(3));
  const long rss_after = ProcStatus("VmRSS");
  const long threads_after = ProcStatus("Threads");

  const auto t0 = Clock::now();
  controller->events().Shutdown();
  server->Shutdown();
  const double shutdown_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  close(to_child[1]);
  int status = 0;
  waitpid(child, &status, 0);

  std::printf(
      "%d stalled streams (%llu started), %d held events of %d VIPs each\n",
      streams, static_cast<unsigned long long>(started), events, event_vips);
  std::printf("agent RSS   %8.1f MB -> %8.1f MB  (%+.2f MB per stream)\n",
              rss_before / 1024.0, rss_after / 1024.0,
              streams > 0 ? (rss_after - rss_before) / 1024.0 / streams : 0.0);
  std::printf("threads     %8ld    -> %8ld\n", threads_before, threads_after);
  std::printf("API shutdown with the streams open: %.0f ms\n", shutdown_ms);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace xlb::api

int main(int argc, char** argv) { return xlb::api::Main(argc, argv); }
