// TCP checks (half-open SYN probes, lb/health/syn_prober.h) against real
// listeners and real routers, each test in a network namespace of its own.
// Raw sockets, marks and namespaces need root: a privileged test.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "lb/health/checker.h"
#include "lb/health/probe_plan.h"
#include "lb/health/syn_prober.h"
#include "lb/health/testing/checker_test_util.h"
#include "lb/health/testing/test_servers.h"
#include "lb/testing/netns.h"
#include "lb/testing/privilege.h"

namespace xlb::health {
namespace {

using testing::FastTarget;
using testing::TransitionLog;
using xlb::testing::ScopedNetns;

class SynProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    ns_ = std::make_unique<ScopedNetns>();
    ASSERT_TRUE(ns_->ok());
    ASSERT_TRUE(ns_->Exec("ip link set lo up"));
    // The checker's thread starts in the namespace the test thread is in.
    enter_ = std::make_unique<ScopedNetns::Enter>(*ns_);
  }
  void TearDown() override {
    enter_.reset();
    ns_.reset();
  }

  // Runs `targets` until each has had its first transition (rise = fall =
  // 1, each starting opposite to `expect_up`); returns them by id.
  std::map<TargetId, HealthTransition> FirstTransitions(
      std::vector<HealthTarget> targets, bool expect_up) {
    TransitionLog log;
    auto checker = testing::NewChecker(log);
    for (HealthTarget& target : targets) {
      target.initial_status =
          expect_up ? HealthStatus::kDown : HealthStatus::kUp;
      absl::Status added = checker->AddTarget(target);
      EXPECT_TRUE(added.ok()) << added;
    }
    EXPECT_TRUE(checker->Start().ok());
    std::vector<HealthTransition> got = log.WaitFor(targets.size());
    checker->Stop();
    std::map<TargetId, HealthTransition> by_id;
    for (const HealthTransition& t : got) by_id.emplace(t.id, t);
    EXPECT_EQ(by_id.size(), targets.size());
    return by_id;
  }
  HealthTransition FirstTransition(HealthTarget target, bool expect_up) {
    const TargetId id = target.id;
    auto got = FirstTransitions({std::move(target)}, expect_up);
    return got.count(id) ? got[id] : HealthTransition{};
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::unique_ptr<ScopedNetns::Enter> enter_;
};

// Connections in SYN_RECV in this namespace (/proc/net/tcp and tcp6 state
// 03): what a backend keeps for a half-open connection nobody reset.
int HalfOpenConnections() {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "03") ++count;
    }
  }
  return count;
}

TEST_F(SynProbeTest, ListenerComesUpWithoutEverAcceptingAConnection) {
  testing::TcpServer server;
  HealthTarget target = FastTarget(1, HealthCheckType::kTcp, server.port());
  target.mutable_spec().rise = 3;
  HealthTransition t = FirstTransition(target, true);
  EXPECT_EQ(t.status, HealthStatus::kUp);
  EXPECT_EQ(t.reason, ProbeOutcome::kSuccess);
  EXPECT_EQ(t.consecutive, 3u);
  EXPECT_GT(t.latency, absl::ZeroDuration());
  // Half-open: the application never saw the probes, and the local
  // kernel's RST left the listener no half-open connection behind.
  EXPECT_EQ(server.accepted(), 0);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(HalfOpenConnections(), 0);
}

TEST_F(SynProbeTest, Ipv6ListenerComesUp) {
  testing::TcpServer server("::1");
  HealthTransition t = FirstTransition(
      FastTarget(1, HealthCheckType::kTcp, server.port(), "::1"), true);
  EXPECT_EQ(t.status, HealthStatus::kUp);
  EXPECT_EQ(server.accepted(), 0);
}

TEST_F(SynProbeTest, ClosedPortIsRefused) {
  for (const char* address : {"127.0.0.1", "::1"}) {
    HealthTransition t = FirstTransition(
        FastTarget(1, HealthCheckType::kTcp, testing::UnusedPort(), address),
        false);
    EXPECT_EQ(t.status, HealthStatus::kDown) << address;
    EXPECT_EQ(t.reason, ProbeOutcome::kRefused) << address;
    EXPECT_EQ(t.detail, "connection refused (RST)");
  }
}

TEST_F(SynProbeTest, BlackHoledBackendTimesOut) {
  testing::FullBacklogListener listener;  // drops every SYN
  HealthTransition t = FirstTransition(
      FastTarget(1, HealthCheckType::kTcp, listener.port()), false);
  EXPECT_EQ(t.reason, ProbeOutcome::kTimeout);
  EXPECT_GE(t.latency, absl::Milliseconds(80));
}

TEST_F(SynProbeTest, NoRouteIsUnreachable) {
  // Nothing routes to the documentation prefixes here: the SYN cannot even
  // be sent (IPv4 finds out resolving its source address, IPv6 sending).
  for (const char* address : {"192.0.2.7", "2001:db8::7"}) {
    HealthTransition t = FirstTransition(
        FastTarget(1, HealthCheckType::kTcp, 80, address), false);
    EXPECT_EQ(t.reason, ProbeOutcome::kUnreachable) << address << t.detail;
  }
}

// The prober resets every SYN-ACK, also one whose probe has given up: the
// local kernel drops SYN-ACKs to the probe port, so nothing else would
// clear the listener's half-open connection.
TEST_F(SynProbeTest, LateSynAckIsResetToo) {
  testing::TcpServer server;
  absl::StatusOr<std::unique_ptr<SynProber>> prober =
      SynProber::Create(AF_INET);
  ASSERT_TRUE(prober.ok()) << prober.status();
  absl::StatusOr<std::shared_ptr<const ProbePlan>> plan = MakeProbePlan(
      FastTarget(1, HealthCheckType::kTcp, server.port()), nullptr, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  int verdicts = 0;
  auto count = [&](uint64_t, ProbeResult) { ++verdicts; };

  in_addr source{};
  std::unique_ptr<Probe> probe = (*prober)->NewProbe(*plan, 1, &source);
  ASSERT_FALSE(probe->Start().done());
  (*prober)->Flush(count);
  probe.reset();  // gives up before its SYN-ACK is read
  pollfd readable{(*prober)->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&readable, 1, 1000), 1);
  (*prober)->Drain(EPOLLIN, count);
  EXPECT_EQ(HalfOpenConnections(), 1);  // the local kernel sent no RST
  (*prober)->Flush(count);
  EXPECT_EQ(verdicts, 0);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(HalfOpenConnections(), 0);
}

// The port the SYNs leave from is reserved by a listening socket, which
// must not accept connections itself.
TEST_F(SynProbeTest, ProbePortAcceptsNoConnection) {
  absl::StatusOr<std::unique_ptr<SynProber>> prober =
      SynProber::Create(AF_INET);
  ASSERT_TRUE(prober.ok()) << prober.status();
  UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*prober)->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_NE(connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            0);
  ASSERT_EQ(errno, EINPROGRESS);
  pollfd connected{client.get(), POLLOUT, 0};
  EXPECT_EQ(poll(&connected, 1, 300), 0);  // neither accepted nor refused
}

// A router (a second namespace behind a veth pair) answers the SYNs with
// ICMP destination unreachable, which comes back on the raw socket's error
// queue and decides the probe it quotes.
TEST_F(SynProbeTest, IcmpUnreachableFromARouterIsUnreachable) {
  ScopedNetns router;
  ASSERT_TRUE(router.ok());
  const std::string link = absl::StrCat("xsp", getpid() % 100000);
  ASSERT_TRUE(xlb::testing::Sh(absl::StrCat(
      "ip link add ", link, "a address 02:00:00:00:00:0a type veth peer name ",
      link, "b address 02:00:00:00:00:0b netns ", router.name())));
  // No duplicate address detection and fixed neighbours: nothing to wait
  // for or race with before the first SYN.
  ASSERT_TRUE(xlb::testing::Sh(absl::StrCat(
      "sysctl -qw net.ipv6.conf.", link,
      "a.accept_dad=0 && "
      "ip addr add 198.51.100.1/24 dev ",
      link,
      "a && ip -6 addr add "
      "2001:db8:51::1/64 dev ",
      link, "a && ip link set ", link,
      "a up && ip route add 203.0.113.0/24 via 198.51.100.2 && "
      "ip -6 route add 2001:db8:113::/64 via 2001:db8:51::2 && "
      "ip neigh add 198.51.100.2 lladdr 02:00:00:00:00:0b dev ",
      link,
      "a && "
      "ip -6 neigh add 2001:db8:51::2 lladdr 02:00:00:00:00:0b dev ",
      link, "a")));
  ASSERT_TRUE(router.Exec(absl::StrCat(
      "sh -c 'sysctl -qw net.ipv6.conf.", link,
      "b.accept_dad=0 "
      "net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 "
      "net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 && "
      "ip addr add 198.51.100.2/24 dev ",
      link,
      "b && ip -6 addr add "
      "2001:db8:51::2/64 dev ",
      link, "b && ip link set ", link,
      "b up && "
      "ip route add unreachable 203.0.113.0/24 && "
      "ip -6 route add unreachable 2001:db8:113::/64 && "
      "ip neigh add 198.51.100.1 lladdr 02:00:00:00:00:0a dev ",
      link,
      "b && "
      "ip -6 neigh add 2001:db8:51::1 lladdr 02:00:00:00:00:0a dev ",
      link, "b'")));
  // Carrier comes up asynchronously; a SYN sent before would be dropped.
  ASSERT_TRUE(xlb::testing::Sh(absl::StrCat(
      "for i in $(seq 100); do ip link show ", link,
      "a | grep -q 'state UP' && exit 0; sleep 0.02; done; exit 1")));
  std::vector<HealthTarget> targets = {
      FastTarget(1, HealthCheckType::kTcp, 80, "203.0.113.9"),
      FastTarget(2, HealthCheckType::kTcp, 80, "2001:db8:113::9")};
  // The first probes may race neighbour discovery (the router's first
  // ICMPv6 error can be lost to it), so the second failure decides.
  for (HealthTarget& target : targets) {
    target.mutable_spec().interval = absl::Milliseconds(300);
    target.mutable_spec().timeout = absl::Milliseconds(250);
    target.mutable_spec().fall = 2;
  }
  auto got = FirstTransitions(targets, false);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].reason, ProbeOutcome::kUnreachable) << got[1].detail;
  EXPECT_NE(got[1].detail.find("ICMP from 198.51.100.2"), std::string::npos)
      << got[1].detail;
  EXPECT_EQ(got[2].reason, ProbeOutcome::kUnreachable) << got[2].detail;
  EXPECT_NE(got[2].detail.find("ICMP from 2001:db8:51::2"), std::string::npos)
      << got[2].detail;
}

// Tunnelled probes of one VIP go to the same address and port and differ
// only by their mark (the backend's index, which bpf/healthcheck.bpf.c
// encapsulates by). Here policy routing sends one mark nowhere: the marked
// probe must fail and the unmarked one to the same address and port
// succeed, so the mark reaches routing and replies find their own probe.
TEST_F(SynProbeTest, EachProbeCarriesItsTargetsMarkAndGetsItsOwnVerdict) {
  testing::TcpServer vip;
  const uint32_t mark = TunnelledProbeMark(5);
  ASSERT_TRUE(xlb::testing::Sh(
      absl::StrCat("ip rule add pref 10 fwmark ", mark,
                   " lookup 100 && "
                   "ip rule add pref 20 lookup local && ip rule del pref 0 && "
                   "ip route add unreachable default table 100")));
  HealthTarget tunnelled = FastTarget(1, HealthCheckType::kTcp, vip.port());
  tunnelled.mode = ProbeMode::kTunnelled;
  tunnelled.mark = mark;
  tunnelled.initial_status = HealthStatus::kUp;
  HealthTarget direct = FastTarget(2, HealthCheckType::kTcp, vip.port());
  direct.initial_status = HealthStatus::kDown;
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  ASSERT_TRUE(checker->AddTarget(tunnelled).ok());
  ASSERT_TRUE(checker->AddTarget(direct).ok());
  ASSERT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(2);
  checker->Stop();
  ASSERT_EQ(got.size(), 2u);
  for (const HealthTransition& t : got) {
    if (t.id == 1) {
      EXPECT_EQ(t.status, HealthStatus::kDown);
      EXPECT_EQ(t.reason, ProbeOutcome::kUnreachable) << t.detail;
    } else {
      EXPECT_EQ(t.status, HealthStatus::kUp) << t.detail;
    }
  }
}

// Clears or restores `capability` in this thread's effective set
// (capabilities are per thread; the permitted set keeps it).
bool SetEffectiveCapability(int capability, bool on) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const uint32_t bit = 1u << (capability % 32);
  if (on) {
    data[capability / 32].effective |= bit;
  } else {
    data[capability / 32].effective &= ~bit;
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// Without CAP_NET_RAW no raw socket opens: a TCP target is refused with an
// error that names the capability, and nothing is added.
TEST_F(SynProbeTest, TcpTargetWithoutCapNetRawIsRefused) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);  // not started: adds run here
  ASSERT_TRUE(SetEffectiveCapability(CAP_NET_RAW, false));
  absl::Status added =
      checker->AddTarget(FastTarget(1, HealthCheckType::kTcp, 80));
  ASSERT_TRUE(SetEffectiveCapability(CAP_NET_RAW, true));
  EXPECT_EQ(added.code(), absl::StatusCode::kFailedPrecondition) << added;
  EXPECT_TRUE(absl::StrContains(added.message(), "CAP_NET_RAW")) << added;
  EXPECT_EQ(checker->target_count(), 0u);
  // With the capability back, the same target is accepted.
  EXPECT_TRUE(
      checker->AddTarget(FastTarget(1, HealthCheckType::kTcp, 80)).ok());
}

TEST_F(SynProbeTest, ManyTargetsOfOneAddressAndPortEachGetAVerdict) {
  testing::TcpServer server;
  std::vector<HealthTarget> targets;
  for (TargetId id = 1; id <= 200; ++id) {
    HealthTarget target = FastTarget(id, HealthCheckType::kTcp, server.port());
    target.mutable_spec().interval = absl::Milliseconds(20);
    target.mutable_spec().timeout = absl::Milliseconds(20);
    targets.push_back(target);
  }
  auto got = FirstTransitions(targets, true);
  ASSERT_EQ(got.size(), 200u);
  for (const auto& [id, t] : got) EXPECT_EQ(t.status, HealthStatus::kUp) << id;
  EXPECT_EQ(server.accepted(), 0);
}

}  // namespace
}  // namespace xlb::health
