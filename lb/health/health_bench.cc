// CPU cost of the health checker at scale: N targets probed every second
// against local listeners, in a private network namespace so the probe
// traffic never leaves the process's own loopback.
//
//   health_bench [--targets=10000] [--seconds=10] [--type=tcp|udp]
//   health_bench --baseline [--targets=10000]   (the kernel's share alone)
//
// Reports the checker thread's CPU time (user + system, from
// /proc/self/task/<tid>/stat; loopback packet processing runs in the
// sending thread and is included) and the whole process's (getrusage),
// as a percentage of one core, over the measuring window.
#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lb/health/checker.h"
#include "lb/unique_fd.h"

namespace xlb::health {
namespace {

constexpr int kListenerAddresses = 16;  // 127.0.1.1 .. 127.0.1.16
constexpr uint16_t kPort = 8000;

bool Fail(const std::string& what) {
  std::fprintf(stderr, "health_bench: %s: %s\n", what.c_str(), strerror(errno));
  return false;
}

bool EnterPrivateNetwork() {
  if (unshare(CLONE_NEWNET) != 0) return Fail("unshare(CLONE_NEWNET)");
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Fail("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Fail("SIOCSIFFLAGS lo");
  return true;
}

void RaiseFdLimit() {
  rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

std::string ListenerAddress(int i) { return absl::StrCat("127.0.1.", i + 1); }

// Accepts and closes TCP connections, or echoes UDP, on every listener
// address, until `stop`.
void Serve(bool udp, const std::atomic<bool>& stop) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  std::vector<UniqueFd> sockets;
  for (int i = 0; i < kListenerAddresses; ++i) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    inet_pton(AF_INET, ListenerAddress(i).c_str(), &a.sin_addr);
    UniqueFd fd(socket(
        AF_INET,
        (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      Fail("bind");
    }
    if (!udp) listen(fd.get(), 4096);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev);
    sockets.push_back(std::move(fd));
  }
  epoll_event events[64];
  while (!stop) {
    const int n = epoll_wait(epoll.get(), events, 64, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      char buf[512];
      sockaddr_storage from;
      socklen_t len = sizeof(from);
      for (;;) {
        if (udp) {
          const ssize_t got =
              recvfrom(fd, buf, sizeof(buf), 0,
                       reinterpret_cast<sockaddr*>(&from), &len);
          if (got < 0) break;
          sendto(fd, buf, got, 0, reinterpret_cast<sockaddr*>(&from), len);
        } else {
          const int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (conn < 0) break;
          close(conn);
        }
      }
    }
  }
}

struct CpuSeconds {
  double user = 0;
  double system = 0;
  double total() const { return user + system; }
};

// User and system CPU seconds of the thread named `name`.
CpuSeconds ThreadCpuSeconds(const std::string& name) {
  DIR* dir = opendir("/proc/self/task");
  CpuSeconds seconds;
  while (dirent* entry = readdir(dir)) {
    const std::string task = absl::StrCat("/proc/self/task/", entry->d_name);
    std::string comm;
    std::getline(std::ifstream(task + "/comm"), comm);
    if (comm != name) continue;
    std::string stat;
    std::getline(std::ifstream(task + "/stat"), stat);
    // Fields after the ")" closing comm: state is field 3; utime 14, stime 15.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    seconds = {utime / sysconf(_SC_CLK_TCK), stime / sysconf(_SC_CLK_TCK)};
  }
  closedir(dir);
  return seconds;
}

double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

// The kernel's own cost of the same TCP traffic without the checker: a
// thread that opens, connects (blocking) and resets `rate` connections a
// second with nothing else to do. The checker's cost above this is its own.
void RunBaseline(int rate, int seconds) {
  std::atomic<bool> stop{false};
  std::thread server(Serve, false, std::cref(stop));
  absl::SleepFor(absl::Milliseconds(100));
  double cpu = 0, wall = 0;
  std::thread client([&] {
    pthread_setname_np(pthread_self(), "xlb-baseline");
    const int per_ms = std::max(1, rate / 1000);
    const absl::Time t0 = absl::Now();
    const CpuSeconds c0 = ThreadCpuSeconds("xlb-baseline");
    for (int64_t ms = 0; ms < seconds * 1000; ++ms) {
      for (int i = 0; i < per_ms; ++i) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(kPort);
        inet_pton(AF_INET, ListenerAddress(i % kListenerAddresses).c_str(),
                  &a.sin_addr);
        UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const linger reset = {1, 0};
        setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
      }
      absl::SleepFor(t0 + absl::Milliseconds(ms + 1) - absl::Now());
    }
    cpu = ThreadCpuSeconds("xlb-baseline").total() - c0.total();
    wall = absl::ToDoubleSeconds(absl::Now() - t0);
  });
  client.join();
  stop = true;
  server.join();
  std::printf(
      "baseline: %d bare TCP connect+reset/s, no checker: thread-cpu=%.1f%%\n",
      rate, 100 * cpu / wall);
}

int Run(int targets, int seconds, bool udp) {
  std::atomic<bool> stop{false};
  std::thread server(Serve, udp, std::cref(stop));
  absl::SleepFor(absl::Milliseconds(100));

  std::atomic<int> ups{0};
  HealthCheckerOptions options;
  options.on_transition = [&](const HealthTransition& t) {
    if (t.status == HealthStatus::kUp) ++ups;
  };
  absl::StatusOr<std::unique_ptr<HealthChecker>> checker =
      HealthChecker::Create(std::move(options));
  if (!checker.ok()) {
    std::fprintf(stderr, "%s\n", checker.status().ToString().c_str());
    return 1;
  }
  for (int i = 0; i < targets; ++i) {
    HealthTarget t;
    t.id = i;
    t.address = ListenerAddress(i % kListenerAddresses);
    t.port = kPort;
    t.spec.type = udp ? HealthCheckType::kUdp : HealthCheckType::kTcp;
    t.spec.interval = absl::Seconds(1);
    t.spec.timeout = absl::Milliseconds(500);
    t.spec.jitter = absl::Milliseconds(100);
    t.spec.udp_request = t.spec.udp_response = "health?";
    if (absl::Status s = (*checker)->AddTarget(t); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  (void)(*checker)->Start();
  absl::SleepFor(absl::Seconds(3));  // first probes spread over 1 s; rise 2

  auto total_probes = [&] {
    uint64_t probes = 0, failures = 0;
    for (const TargetReport& r : (*checker)->Reports()) {
      probes += r.counters.probes;
      failures += r.counters.failures();
    }
    return std::pair(probes, failures);
  };
  const auto [probes0, failures0] = total_probes();
  const CpuSeconds thread0 = ThreadCpuSeconds("xlb-health");
  const double process0 = ProcessCpuSeconds();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  const CpuSeconds thread1 = ThreadCpuSeconds("xlb-health");
  const double process1 = ProcessCpuSeconds();
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  const auto [probes1, failures1] = total_probes();
  (*checker)->Stop();
  stop = true;
  server.join();

  std::printf(
      "%s targets=%d interval=1s window=%.1fs probes/s=%.0f failures=%llu "
      "up=%d/%d checker-thread-cpu=%.1f%% (user %.1f%%, system %.1f%%) "
      "process-cpu=%.1f%% (incl. listeners)\n",
      udp ? "udp" : "tcp", targets, wall, (probes1 - probes0) / wall,
      static_cast<unsigned long long>(failures1 - failures0), ups.load(),
      targets, 100 * (thread1.total() - thread0.total()) / wall,
      100 * (thread1.user - thread0.user) / wall,
      100 * (thread1.system - thread0.system) / wall,
      100 * (process1 - process0) / wall);
  return 0;
}

}  // namespace
}  // namespace xlb::health

int main(int argc, char** argv) {
  int targets = 10000, seconds = 10;
  bool udp = false, baseline = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--targets=")) {
      (void)absl::SimpleAtoi(arg, &targets);
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      (void)absl::SimpleAtoi(arg, &seconds);
    } else if (arg == "--baseline") {
      baseline = true;
    } else if (arg == "--type=udp") {
      udp = true;
    } else if (arg != "--type=tcp") {
      std::fprintf(stderr,
                   "usage: health_bench [--targets=N] [--seconds=S] "
                   "[--type=tcp|udp] [--baseline]\n");
      return 2;
    }
  }
  if (!xlb::health::EnterPrivateNetwork()) return 1;
  xlb::health::RaiseFdLimit();
  if (baseline) {
    xlb::health::RunBaseline(targets, seconds);
    return 0;
  }
  return xlb::health::Run(targets, seconds, udp);
}
