// CPU cost of the health checker at scale: N targets probed every second,
// measured as what it costs the load balancer's host.
//
//   health_bench [--targets=10000] [--seconds=10] [--type=tcp|udp]
//                [--mode=veth|loopback] [--tunnelled]
//   health_bench --baseline [--targets=10000]   (loopback: the kernel alone)
//
// --mode=veth (default): the listeners ("backends") live in a network
// namespace of their own, joined to the checker's by a veth pair on
// documentation addresses:
//
//   checker netns                          backends netns
//   xhb-lb 198.51.100.1/24  <-- veth -->  xhb-be 198.51.100.2/24
//   203.0.113.0/24 via 198.51.100.2        local 203.0.113.0/24 dev lo
//
// Targets are 203.0.113.1-250 x ports 8000-8039 (10,000 distinct
// address:port pairs; the backends' listeners bind the wildcard address).
// The checker thread runs on CPU 1, the listener thread on CPU 0, and RPS
// steers each veth end's receive processing to its own side's CPU: what
// arrives for the backends (SYN, ACK, RST, datagrams) is processed on CPU
// 0, what arrives for the checker (SYN-ACK, replies) on CPU 1. So CPU 1
// does the LB host's work (its sockets and epoll, the SYN/ACK/RST it sends,
// the SYN-ACKs it receives) and none of the backends'.
//
// --mode=loopback: the listeners are on 127.0.1.1-16:8000 in the checker's
// own namespace, no pinning. The kernel then runs the backend's side of
// every handshake inline in the probing thread, so the figure includes work
// real backends do on their own hosts (kept for comparison).
//
// Reports the checker thread's CPU time (user + system, from
// /proc/self/task/<tid>/stat) and the whole process's (getrusage), as a
// percentage of one core over the measuring window. In veth mode it also
// reports the softirq time of the checker's CPU (/proc/stat: receive
// processing that ran while the thread slept is charged to no thread) and
// the packets each CPU's network receive path processed
// (/proc/net/softnet_stat), which shows the steering worked.
//
// One program: its set-up, load and report stay together (~570 lines).
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
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lb/base/unique_fd.h"
#include "lb/health/checker.h"

namespace xlb::health {
namespace {

enum class Mode { kVeth, kLoopback };

// Loopback mode: 127.0.1.1 .. 127.0.1.16, one port.
constexpr int kLoopbackAddresses = 16;
constexpr uint16_t kPort = 8000;

// Veth mode.
constexpr int kCheckerCpu = 1;
constexpr int kBackendCpu = 0;
constexpr char kCheckerLink[] = "xhb-lb";
constexpr char kBackendLink[] = "xhb-be";
constexpr char kCheckerLinkAddress[] = "198.51.100.1";
constexpr char kBackendLinkAddress[] = "198.51.100.2";
constexpr char kBackendPrefix[] = "203.0.113.";  // .1 .. .250
constexpr int kBackendAddresses = 250;
constexpr int kBackendPorts = 40;  // kPort .. kPort + 39

bool Fail(const std::string& what) {
  std::fprintf(stderr, "health_bench: %s: %s\n", what.c_str(), strerror(errno));
  return false;
}

bool Sh(const std::string& command) {
  if (std::system(command.c_str()) == 0) return true;
  std::fprintf(stderr, "health_bench: command failed: %s\n", command.c_str());
  return false;
}

bool BringUpLoopback() {
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Fail("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Fail("SIOCSIFFLAGS lo");
  return true;
}

// Moves the calling thread into a new network namespace with lo up. Called
// on the main thread before any other exists, the whole process moves; the
// namespace goes away with the last thread or socket in it.
bool EnterPrivateNetwork() {
  if (unshare(CLONE_NEWNET) != 0) return Fail("unshare(CLONE_NEWNET)");
  return BringUpLoopback();
}

bool PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return Fail(absl::StrCat("sched_setaffinity(CPU ", cpu, ")"));
  }
  return true;
}

void RaiseFdLimit() {
  rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

struct Endpoint {
  std::string address;
  uint16_t port;
};

// Target i; distinct for i < 10,000 in veth mode.
Endpoint TargetOf(Mode mode, int i) {
  if (mode == Mode::kLoopback) {
    return {absl::StrCat("127.0.1.", i % kLoopbackAddresses + 1), kPort};
  }
  i %= kBackendAddresses * kBackendPorts;
  return {absl::StrCat(kBackendPrefix, i / kBackendPorts + 1),
          static_cast<uint16_t>(kPort + i % kBackendPorts)};
}

// What the listeners bind: each loopback address, or the wildcard address
// on each port (the backends' namespace routes 203.0.113.0/24 locally).
std::vector<Endpoint> ListenEndpoints(Mode mode) {
  std::vector<Endpoint> endpoints;
  if (mode == Mode::kLoopback) {
    for (int i = 0; i < kLoopbackAddresses; ++i) {
      endpoints.push_back(TargetOf(mode, i));
    }
  } else {
    for (int p = 0; p < kBackendPorts; ++p) {
      endpoints.push_back({"0.0.0.0", static_cast<uint16_t>(kPort + p)});
    }
  }
  return endpoints;
}

// Echoes one datagram from the address it was sent to (the listeners bind
// the wildcard address); false when there is none.
bool Echo(int fd) {
  char buf[512];
  sockaddr_storage from;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
  iovec iov = {buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t got = recvmsg(fd, &msg, 0);
  if (got < 0) return false;
  iov.iov_len = got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      auto* info = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c));
      info->ipi_spec_dst = info->ipi_addr;  // reply from there
      info->ipi_ifindex = 0;
    }
  }
  sendmsg(fd, &msg, 0);
  return true;
}

// Accepts and closes TCP connections, or echoes UDP, on `endpoints` until
// `stop`. In veth mode the thread first moves into the backends' own
// namespace, pinned to kBackendCpu. `ready` receives the thread's id once
// the sockets listen, or -1.
void Serve(Mode mode, bool udp, const std::atomic<bool>& stop,
           std::promise<pid_t>& ready) {
  pthread_setname_np(pthread_self(), "xlb-backends");
  if (mode == Mode::kVeth &&
      (unshare(CLONE_NEWNET) != 0 || !BringUpLoopback() ||
       !PinThisThread(kBackendCpu))) {
    Fail("backends' namespace");
    ready.set_value(-1);
    return;
  }
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  std::vector<UniqueFd> sockets;
  for (const Endpoint& e : ListenEndpoints(mode)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(e.port);
    inet_pton(AF_INET, e.address.c_str(), &a.sin_addr);
    UniqueFd fd(socket(
        AF_INET,
        (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    if (udp) setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        (!udp && listen(fd.get(), 4096) != 0)) {
      Fail(absl::StrCat("bind/listen ", e.address, ":", e.port));
      ready.set_value(-1);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev);
    sockets.push_back(std::move(fd));
  }
  ready.set_value(static_cast<pid_t>(syscall(SYS_gettid)));
  epoll_event events[64];
  while (!stop) {
    const int n = epoll_wait(epoll.get(), events, 64, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      for (;;) {
        if (udp) {
          if (!Echo(fd)) break;
        } else {
          const int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (conn < 0) break;
          close(conn);
        }
      }
    }
  }
}

// The listeners on their own thread, stopped and joined on destruction.
class Listeners {
 public:
  Listeners(Mode mode, bool udp) {
    std::future<pid_t> tid = ready_.get_future();
    thread_ = std::thread(Serve, mode, udp, std::cref(stop_), std::ref(ready_));
    tid_ = tid.get();
  }
  ~Listeners() {
    stop_ = true;
    thread_.join();
  }
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  bool ok() const { return tid_ > 0; }
  pid_t tid() const { return tid_; }

 private:
  std::atomic<bool> stop_{false};
  std::promise<pid_t> ready_;
  std::thread thread_;
  pid_t tid_ = -1;
};

// Writes a CPU mask to `link`'s RPS setting, through a sysfs mounted in a
// private mount namespace (sysfs shows the links of the namespace that
// mounts it, as `ip netns exec` does).
std::string SetRpsCommand(const std::string& link, int cpu) {
  return absl::StrCat(
      "unshare --mount sh -c 'mount -t sysfs sysfs /sys && echo ",
      absl::Hex(1u << cpu), " > /sys/class/net/", link,
      "/queues/rx-0/rps_cpus'");
}

// Joins the calling thread's namespace (the checker's) to the listener
// thread's by a veth pair, with routes and RPS as the header describes.
// Both namespaces are anonymous: they and the pair go away with the process.
bool ConnectBackends(pid_t backends_tid) {
  const std::string backends_ns =
      absl::StrCat("/proc/", getpid(), "/task/", backends_tid, "/ns/net");
  const std::string in_backends =
      absl::StrCat("nsenter --net=", backends_ns, " ");
  const std::string local_prefix = absl::StrCat(kBackendPrefix, "0/24");
  return Sh(absl::StrCat("ip link add ", kCheckerLink, " type veth peer name ",
                         kBackendLink, " netns ", backends_tid)) &&
         Sh(absl::StrCat("ip addr add ", kCheckerLinkAddress, "/24 dev ",
                         kCheckerLink)) &&
         Sh(absl::StrCat("ip link set ", kCheckerLink, " up")) &&
         Sh(absl::StrCat("ip route add ", local_prefix, " via ",
                         kBackendLinkAddress)) &&
         Sh(SetRpsCommand(kCheckerLink, kCheckerCpu)) &&
         Sh(absl::StrCat(in_backends, "ip addr add ", kBackendLinkAddress,
                         "/24 dev ", kBackendLink)) &&
         Sh(absl::StrCat(in_backends, "ip link set ", kBackendLink, " up")) &&
         Sh(absl::StrCat(in_backends, "ip route add local ", local_prefix,
                         " dev lo")) &&
         Sh(in_backends + SetRpsCommand(kBackendLink, kBackendCpu));
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

// Seconds one CPU spent in interrupts and softirqs (/proc/stat).
double CpuInterruptSeconds(int cpu) {
  std::ifstream stat("/proc/stat");
  const std::string name = absl::StrCat("cpu", cpu);
  for (std::string line; std::getline(stat, line);) {
    std::istringstream fields(line);
    std::string label;
    fields >> label;
    if (label != name) continue;
    // user nice system idle iowait irq softirq
    double v[7] = {};
    for (double& x : v) fields >> x;
    return (v[5] + v[6]) / sysconf(_SC_CLK_TCK);
  }
  return 0;
}

// Packets each CPU's receive path processed (/proc/net/softnet_stat: one
// row per CPU, first column).
std::vector<uint64_t> SoftnetProcessed() {
  std::ifstream stat("/proc/net/softnet_stat");
  std::vector<uint64_t> processed;
  for (std::string line; std::getline(stat, line);) {
    processed.push_back(
        std::stoull(line.substr(0, line.find(' ')), nullptr, 16));
  }
  return processed;
}

// The kernel's own cost of the same TCP traffic without the checker: a
// thread that opens, connects (blocking) and resets `rate` connections a
// second with nothing else to do. The checker's cost above this is its own.
void RunBaseline(int rate, int seconds) {
  Listeners listeners(Mode::kLoopback, false);
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
        inet_pton(AF_INET, TargetOf(Mode::kLoopback, i).address.c_str(),
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
  std::printf(
      "baseline: %d bare TCP connect+reset/s, no checker: thread-cpu=%.1f%%\n",
      rate, 100 * cpu / wall);
}

int Run(Mode mode, int targets, int seconds, bool udp, bool tunnelled) {
  Listeners listeners(mode, udp);
  if (!listeners.ok()) return 1;
  if (mode == Mode::kVeth) {
    if (!ConnectBackends(listeners.tid())) return 1;
    // The checker's loop thread inherits this thread's affinity.
    if (!PinThisThread(kCheckerCpu)) return 1;
  }
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
    const Endpoint e = TargetOf(mode, i);
    HealthTarget t;
    t.id = i;
    t.address = e.address;
    t.port = e.port;
    if (tunnelled) {  // marked probes (nothing here encapsulates them)
      t.mode = ProbeMode::kTunnelled;
      t.mark = TunnelledProbeMark(static_cast<uint32_t>(i) + 1);
    }
    HealthCheckSpec& spec = t.mutable_spec();
    spec.type = udp ? HealthCheckType::kUdp : HealthCheckType::kTcp;
    spec.interval = absl::Seconds(1);
    spec.timeout = absl::Milliseconds(500);
    spec.jitter = absl::Milliseconds(100);
    spec.udp_request = spec.udp_response = "health?";
    if (absl::Status s = (*checker)->AddTarget(t); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  (void)(*checker)->Start();
  absl::SleepFor(absl::Seconds(3));  // first probes spread over 1 s; rise 2

  auto total_counters = [&] {
    TargetCounters total;
    for (const TargetReport& r : (*checker)->Reports()) {
      total.probes += r.counters.probes;
      for (size_t i = 0; i < kProbeOutcomeCount; ++i) {
        total.by_outcome[i] += r.counters.by_outcome[i];
      }
    }
    return total;
  };
  const TargetCounters counters0 = total_counters();
  const CpuSeconds thread0 = ThreadCpuSeconds("xlb-health");
  const double process0 = ProcessCpuSeconds();
  const double interrupts0 = CpuInterruptSeconds(kCheckerCpu);
  const std::vector<uint64_t> rx0 = SoftnetProcessed();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  const CpuSeconds thread1 = ThreadCpuSeconds("xlb-health");
  const double process1 = ProcessCpuSeconds();
  const double interrupts1 = CpuInterruptSeconds(kCheckerCpu);
  const std::vector<uint64_t> rx1 = SoftnetProcessed();
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  const TargetCounters counters1 = total_counters();
  (*checker)->Stop();
  // Failures by outcome, e.g. " (timeout 3)".
  std::string failure_kinds;
  for (size_t i = 0; i < kProbeOutcomeCount; ++i) {
    const auto outcome = static_cast<ProbeOutcome>(i);
    const uint64_t n = counters1.count(outcome) - counters0.count(outcome);
    if (outcome == ProbeOutcome::kSuccess || n == 0) continue;
    absl::StrAppend(&failure_kinds, failure_kinds.empty() ? " (" : ", ",
                    ProbeOutcomeName(outcome), " ", n);
  }
  if (!failure_kinds.empty()) failure_kinds += ")";

  std::string steering;
  if (mode == Mode::kVeth) {
    absl::StrAppend(
        &steering, " checker-cpu-softirq=",
        absl::StrFormat("%.1f%%", 100 * (interrupts1 - interrupts0) / wall),
        " rx-pkts/s");
    for (size_t cpu = 0; cpu < rx1.size() && cpu < rx0.size(); ++cpu) {
      absl::StrAppend(&steering, cpu == 0 ? "=" : ",", "cpu", cpu, ":",
                      absl::StrFormat("%.0f", (rx1[cpu] - rx0[cpu]) / wall));
    }
  }
  std::printf(
      "%s targets=%d mode=%s probes=%s interval=1s window=%.1fs "
      "probes/s=%.0f "
      "failures=%llu%s up=%d/%d checker-thread-cpu=%.1f%% (user %.1f%%, "
      "system %.1f%%) process-cpu=%.1f%% (incl. listeners)%s\n",
      udp ? "udp" : "tcp", targets, mode == Mode::kVeth ? "veth" : "loopback",
      tunnelled ? "tunnelled" : "direct", wall,
      (counters1.probes - counters0.probes) / wall,
      static_cast<unsigned long long>(counters1.failures() -
                                      counters0.failures()),
      failure_kinds.c_str(), ups.load(), targets,
      100 * (thread1.total() - thread0.total()) / wall,
      100 * (thread1.user - thread0.user) / wall,
      100 * (thread1.system - thread0.system) / wall,
      100 * (process1 - process0) / wall, steering.c_str());
  return 0;
}

}  // namespace
}  // namespace xlb::health

int main(int argc, char** argv) {
  using xlb::health::Mode;
  int targets = 10000, seconds = 10;
  bool udp = false, baseline = false, tunnelled = false;
  Mode mode = Mode::kVeth;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--targets=")) {
      (void)absl::SimpleAtoi(arg, &targets);
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      (void)absl::SimpleAtoi(arg, &seconds);
    } else if (arg == "--baseline") {
      baseline = true;
    } else if (arg == "--tunnelled") {
      tunnelled = true;
    } else if (arg == "--type=udp") {
      udp = true;
    } else if (arg == "--mode=loopback") {
      mode = Mode::kLoopback;
    } else if (arg != "--type=tcp" && arg != "--mode=veth") {
      std::fprintf(stderr,
                   "usage: health_bench [--targets=N] [--seconds=S] "
                   "[--type=tcp|udp] [--mode=veth|loopback] [--tunnelled] "
                   "[--baseline]\n");
      return 2;
    }
  }
  if (mode == Mode::kVeth && std::thread::hardware_concurrency() < 2) {
    std::fprintf(stderr, "health_bench: --mode=veth needs two CPUs\n");
    return 1;
  }
  if (!xlb::health::EnterPrivateNetwork()) return 1;
  xlb::health::RaiseFdLimit();
  if (baseline) {
    xlb::health::RunBaseline(targets, seconds);
    return 0;
  }
  return xlb::health::Run(mode, targets, seconds, udp, tunnelled);
}
