// The checker against real loopback listeners: HTTP and UDP probes, and
// the schedule, verdict and API logic shared by every probe type (shown
// with UDP probes; TCP checks need a raw socket: syn_probe_test.cc).
#include "lb/health/checker.h"

#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lb/health/testing/checker_test_util.h"
#include "lb/health/testing/test_servers.h"

namespace xlb::health {
namespace {

using testing::FastTarget;
using testing::TransitionLog;

// A UDP probe expecting its request echoed.
HealthTarget EchoTarget(TargetId id, uint16_t port) {
  HealthTarget target = FastTarget(id, HealthCheckType::kUdp, port);
  target.mutable_spec().udp_request = target.mutable_spec().udp_response =
      "ping";
  return target;
}

// Runs `target` until its first transition (rise = fall = 1, the initial
// status opposite to `expect_up`) and returns it.
HealthTransition FirstTransition(HealthTarget target, bool expect_up) {
  target.initial_status = expect_up ? HealthStatus::kDown : HealthStatus::kUp;
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  absl::Status added = checker->AddTarget(target);
  EXPECT_TRUE(added.ok()) << added;
  EXPECT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(1);
  checker->Stop();
  if (got.empty()) {
    ADD_FAILURE() << "no transition";
    return {};
  }
  EXPECT_EQ(got[0].id, target.id);
  EXPECT_EQ(got[0].status, expect_up ? HealthStatus::kUp : HealthStatus::kDown)
      << ProbeOutcomeName(got[0].reason) << ": " << got[0].detail;
  return got[0];
}

TEST(CheckerHttpTest, ExpectedStatusComesUpAndSendsHostHeader) {
  testing::HttpServer server({.status = 200, .body = "fine"});
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  target.mutable_spec().http_path = "/healthz";
  FirstTransition(target, true);
  EXPECT_NE(server.last_request().find("GET /healthz HTTP/1.1\r\n"),
            std::string::npos);
  EXPECT_NE(server.last_request().find(
                absl::StrCat("Host: 127.0.0.1:", server.port(), "\r\n")),
            std::string::npos)
      << server.last_request();
}

TEST(CheckerHttpTest, SlowAnswerInsideTimeoutIsUp) {
  testing::HttpServer server({.delay = absl::Milliseconds(40)});
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.interval = absl::Milliseconds(200);
  spec.timeout = absl::Milliseconds(150);
  HealthTransition t = FirstTransition(target, true);
  EXPECT_GE(t.latency, absl::Milliseconds(40));
}

TEST(CheckerHttpTest, AnswerAfterTimeoutIsTimeout) {
  testing::HttpServer server({.delay = absl::Milliseconds(300)});
  HealthTransition t = FirstTransition(
      FastTarget(1, HealthCheckType::kHttp, server.port()), false);
  EXPECT_EQ(t.reason, ProbeOutcome::kTimeout);
}

TEST(CheckerHttpTest, UnexpectedStatusIsWrongStatus) {
  testing::HttpServer server({.status = 503});
  HealthTransition t = FirstTransition(
      FastTarget(1, HealthCheckType::kHttp, server.port()), false);
  EXPECT_EQ(t.reason, ProbeOutcome::kWrongStatus);
  EXPECT_EQ(t.detail, "HTTP status 503");
}

TEST(CheckerHttpTest, AnyListedStatusIsAccepted) {
  testing::HttpServer server({.status = 204, .body = ""});
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  target.mutable_spec().http_expected_codes = {200, 204};
  FirstTransition(target, true);
}

TEST(CheckerHttpTest, BodyLackingSubstringIsBadResponse) {
  testing::HttpServer server({.body = "status: degraded"});
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  target.mutable_spec().http_body_substring = "status: ok";
  HealthTransition t = FirstTransition(target, false);
  EXPECT_EQ(t.reason, ProbeOutcome::kBadResponse);
}

TEST(CheckerHttpTest, SubstringSplitAcrossChunksIsFound) {
  testing::HttpServer server({.body = "status: ok", .chunked = true});
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  target.mutable_spec().http_body_substring = "status: ok";
  FirstTransition(target, true);
}

TEST(CheckerHttpTest, NonHttpServerIsBadResponse) {
  testing::TcpServer server;  // accepts and closes
  HealthTransition t = FirstTransition(
      FastTarget(1, HealthCheckType::kHttp, server.port()), false);
  EXPECT_TRUE(t.reason == ProbeOutcome::kBadResponse ||
              t.reason == ProbeOutcome::kReset)
      << ProbeOutcomeName(t.reason);
}

TEST(CheckerUdpTest, ExpectedReplyIsUp) {
  testing::UdpServer server({.echo = true});
  HealthTarget target = FastTarget(1, HealthCheckType::kUdp, server.port());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.udp_request = "ping";
  spec.udp_response = "ping";
  FirstTransition(target, true);
}

TEST(CheckerUdpTest, WrongReplyIsBadResponse) {
  testing::UdpServer server({.echo = false, .reply = "pong?"});
  HealthTarget target = FastTarget(1, HealthCheckType::kUdp, server.port());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.udp_request = "ping";
  spec.udp_response = "pong";
  HealthTransition t = FirstTransition(target, false);
  EXPECT_EQ(t.reason, ProbeOutcome::kBadResponse);
}

TEST(CheckerUdpTest, SilentServerTimesOut) {
  testing::UdpServer server({.silent = true});
  HealthTarget target = FastTarget(1, HealthCheckType::kUdp, server.port());
  target.mutable_spec().udp_request = "ping";
  HealthTransition t = FirstTransition(target, false);
  EXPECT_EQ(t.reason, ProbeOutcome::kTimeout);
}

TEST(CheckerUdpTest, UnboundPortIsRefused) {
  uint16_t port = 0;
  { testing::BindLoopback("127.0.0.1", SOCK_DGRAM, &port); }
  HealthTarget target = FastTarget(1, HealthCheckType::kUdp, port);
  target.mutable_spec().udp_request = "ping";
  HealthTransition t = FirstTransition(target, false);
  EXPECT_EQ(t.reason, ProbeOutcome::kRefused);
}

TEST(CheckerStateTest, FlappingBackendNeverTransitions) {
  // One server per target: each alternates over the probes it receives.
  testing::UdpServer server_of_up({.echo = true, .alternate = true});
  testing::UdpServer server_of_down({.echo = true, .alternate = true});
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  for (HealthStatus initial : {HealthStatus::kUp, HealthStatus::kDown}) {
    const bool up = initial == HealthStatus::kUp;
    HealthTarget target =
        FastTarget(up ? 1 : 2, HealthCheckType::kUdp,
                   up ? server_of_up.port() : server_of_down.port());
    HealthCheckSpec& spec = target.mutable_spec();
    spec.udp_request = spec.udp_response = "ping";
    spec.interval = absl::Milliseconds(50);
    spec.timeout = absl::Milliseconds(40);
    spec.rise = 2;
    spec.fall = 2;
    target.initial_status = initial;
    ASSERT_TRUE(checker->AddTarget(target).ok());
  }
  ASSERT_TRUE(checker->Start().ok());
  absl::SleepFor(absl::Milliseconds(800));
  checker->Stop();
  EXPECT_TRUE(log.All().empty());
  uint64_t probes = 0;
  for (const TargetReport& report : checker->Reports()) {
    probes += report.counters.probes;
    EXPECT_EQ(report.status,
              report.id == 1 ? HealthStatus::kUp : HealthStatus::kDown);
  }
  EXPECT_GE(probes, 10u);
}

TEST(CheckerStateTest, RiseAndFallNeedConsecutiveResults) {
  testing::UdpServer server({.echo = true});
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = EchoTarget(1, server.port());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.interval = absl::Milliseconds(50);
  spec.timeout = absl::Milliseconds(40);
  spec.rise = 3;
  ASSERT_TRUE(checker->AddTarget(target).ok());
  ASSERT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, HealthStatus::kUp);
  EXPECT_EQ(got[0].consecutive, 3u);
  absl::StatusOr<TargetReport> report = checker->GetReport(1);
  ASSERT_TRUE(report.ok());
  EXPECT_GE(report->counters.successes(), 3u);
  EXPECT_EQ(report->counters.failures(), 0u);
}

TEST(CheckerStateTest, CountersSplitFailuresByReason) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = EchoTarget(1, testing::UnusedPort());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.interval = absl::Milliseconds(50);
  spec.timeout = absl::Milliseconds(40);
  ASSERT_TRUE(checker->AddTarget(target).ok());  // initially down: no event
  ASSERT_TRUE(checker->Start().ok());
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<TargetReport> report = checker->GetReport(1);
  ASSERT_TRUE(report.ok());
  EXPECT_GE(report->counters.count(ProbeOutcome::kRefused), 3u);
  EXPECT_EQ(report->counters.failures(), report->counters.probes);
  ASSERT_TRUE(report->last_result.has_value());
  EXPECT_EQ(report->last_result->outcome, ProbeOutcome::kRefused);
  EXPECT_TRUE(log.All().empty());
}

TEST(CheckerApiTest, RejectsDuplicateUnknownAndInvalidTargets) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = EchoTarget(1, testing::UnusedPort());
  ASSERT_TRUE(checker->AddTarget(target).ok());
  ASSERT_TRUE(checker->Start().ok());
  EXPECT_EQ(checker->AddTarget(target).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(checker->RemoveTarget(9).code(), absl::StatusCode::kNotFound);
  target.id = 9;
  EXPECT_EQ(checker->UpdateTarget(target).code(), absl::StatusCode::kNotFound);
  target.address = "not-an-ip";
  EXPECT_EQ(checker->AddTarget(target).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checker->target_count(), 1u);
  EXPECT_EQ(checker->Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CheckerApiTest, UpdateKeepsStatusAndAppliesNewPort) {
  testing::UdpServer server({.echo = true});
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = EchoTarget(1, server.port());
  target.initial_status = HealthStatus::kUp;
  target.override_spec.port = testing::UnusedPort();
  ASSERT_TRUE(checker->AddTarget(target).ok());
  ASSERT_TRUE(checker->Start().ok());
  ASSERT_EQ(log.WaitFor(1).size(), 1u);  // down: refused on the override port
  target.override_spec.port.reset();
  ASSERT_TRUE(checker->UpdateTarget(target).ok());
  std::vector<HealthTransition> got = log.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].status, HealthStatus::kDown);
  EXPECT_EQ(got[0].reason, ProbeOutcome::kRefused);
  EXPECT_EQ(got[1].status, HealthStatus::kUp);
}

TEST(CheckerApiTest, RemovedTargetInFlightNeverReports) {
  testing::HttpServer server({.delay = absl::Milliseconds(150)});
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = FastTarget(1, HealthCheckType::kHttp, server.port());
  HealthCheckSpec& spec = target.mutable_spec();
  spec.interval = absl::Milliseconds(200);
  spec.timeout = absl::Milliseconds(200);
  ASSERT_TRUE(checker->AddTarget(target).ok());  // down, rise 1
  ASSERT_TRUE(checker->Start().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (server.requests() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(server.requests(), 1);  // the probe waits for its answer now
  ASSERT_TRUE(checker->RemoveTarget(1).ok());
  absl::SleepFor(absl::Milliseconds(400));  // the answer has come and gone
  EXPECT_TRUE(log.All().empty());
  EXPECT_EQ(checker->GetReport(1).status().code(), absl::StatusCode::kNotFound);
}

TEST(CheckerApiTest, NoCallbackAfterRemoveUnderChurn) {
  std::mutex mu;
  std::set<TargetId> removed;
  std::atomic<int> late{0};
  HealthCheckerOptions options;
  options.on_transition = [&](const HealthTransition& t) {
    std::lock_guard<std::mutex> lock(mu);
    if (removed.count(t.id)) ++late;
  };
  auto checker = *HealthChecker::Create(std::move(options));
  const uint16_t refused = testing::UnusedPort();
  ASSERT_TRUE(checker->Start().ok());
  for (TargetId id = 1; id <= 200; ++id) {
    HealthTarget target = EchoTarget(id, refused);
    HealthCheckSpec& spec = target.mutable_spec();
    spec.interval = absl::Milliseconds(5);
    spec.timeout = absl::Milliseconds(5);
    target.initial_status = id % 2 ? HealthStatus::kUp : HealthStatus::kDown;
    ASSERT_TRUE(checker->AddTarget(target).ok());
    if (id > 5) {
      ASSERT_TRUE(checker->RemoveTarget(id - 5).ok());
      std::lock_guard<std::mutex> lock(mu);
      removed.insert(id - 5);
    }
    absl::SleepFor(absl::Microseconds(500));
  }
  checker->Stop();
  EXPECT_EQ(late, 0);
}

TEST(CheckerScheduleTest, FirstProbesSpreadAcrossTheInterval) {
  testing::UdpServer server({.echo = true});
  std::mutex mu;
  std::map<TargetId, absl::Time> first_start;
  HealthCheckerOptions options;
  options.socket_observer = [&](TargetId id, int) {
    std::lock_guard<std::mutex> lock(mu);
    first_start.emplace(id, absl::Now());
  };
  auto checker = *HealthChecker::Create(std::move(options));
  for (TargetId id = 1; id <= 100; ++id) {
    HealthTarget target = EchoTarget(id, server.port());
    target.mutable_spec().interval = absl::Milliseconds(200);
    ASSERT_TRUE(checker->AddTarget(target).ok());
  }
  const absl::Time started = absl::Now();
  ASSERT_TRUE(checker->Start().ok());
  absl::SleepFor(absl::Milliseconds(300));
  checker->Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(first_start.size(), 100u);
  int buckets[4] = {};  // 50 ms quarters of the first interval
  for (const auto& [id, at] : first_start) {
    const int64_t ms = absl::ToInt64Milliseconds(at - started);
    ++buckets[std::clamp<int64_t>(ms / 50, 0, 3)];
  }
  for (int count : buckets) EXPECT_GE(count, 10);  // ~25 expected in each
}

// The loop thread's timer slack, read from procfs (-1 if not found).
int64_t LoopTimerSlackNs() {
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "xlb-health") continue;
    std::ifstream slack(absl::StrCat("/proc/", task.path().filename().string(),
                                     "/timerslack_ns"));
    int64_t ns = -1;
    slack >> ns;
    return ns;
  }
  return -1;
}

// Waits up to a second for the loop to apply a timer slack of `ns`.
bool LoopTimerSlackBecomes(int64_t ns) {
  for (int i = 0; i < 100; ++i) {
    if (LoopTimerSlackNs() == ns) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ADD_FAILURE() << "timer slack " << LoopTimerSlackNs() << " ns, want " << ns;
  return false;
}

// The loop's timers may fire late by 0.4 % of the shortest interval, at
// most 4 ms, so that probe starts close together go out in one batch.
TEST(CheckerScheduleTest, TimerSlackFollowsTheShortestInterval) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget slow = EchoTarget(1, testing::UnusedPort());
  slow.mutable_spec().interval = absl::Seconds(2);
  slow.mutable_spec().timeout = absl::Seconds(1);
  ASSERT_TRUE(checker->AddTarget(slow).ok());
  ASSERT_TRUE(checker->Start().ok());
  EXPECT_TRUE(LoopTimerSlackBecomes(4'000'000));  // the bound

  HealthTarget fast = EchoTarget(2, testing::UnusedPort());
  fast.mutable_spec().interval = absl::Milliseconds(100);
  ASSERT_TRUE(checker->AddTarget(fast).ok());
  EXPECT_TRUE(LoopTimerSlackBecomes(400'000));

  slow.mutable_spec().interval = absl::Milliseconds(50);
  slow.mutable_spec().timeout = absl::Milliseconds(40);
  ASSERT_TRUE(checker->UpdateTarget(slow).ok());
  EXPECT_TRUE(LoopTimerSlackBecomes(200'000));

  ASSERT_TRUE(checker->RemoveTarget(1).ok());
  EXPECT_TRUE(LoopTimerSlackBecomes(400'000));
  checker->Stop();
}

TEST(CheckerScheduleTest, JitterDelaysEachProbeByADifferentAmount) {
  testing::UdpServer server({.echo = true});
  std::mutex mu;
  std::map<TargetId, std::vector<absl::Time>> starts;
  HealthCheckerOptions options;
  options.socket_observer = [&](TargetId id, int) {
    std::lock_guard<std::mutex> lock(mu);
    starts[id].push_back(absl::Now());
  };
  auto checker = *HealthChecker::Create(std::move(options));
  for (TargetId id : {1, 2}) {
    HealthTarget target = EchoTarget(id, server.port());
    HealthCheckSpec& spec = target.mutable_spec();
    spec.interval = absl::Milliseconds(50);
    spec.timeout = absl::Milliseconds(40);
    spec.jitter = id == 1 ? absl::ZeroDuration() : absl::Milliseconds(40);
    ASSERT_TRUE(checker->AddTarget(target).ok());
  }
  ASSERT_TRUE(checker->Start().ok());
  absl::SleepFor(absl::Milliseconds(1200));
  checker->Stop();
  std::lock_guard<std::mutex> lock(mu);
  // Spread of the gaps between consecutive starts.
  auto gap_spread = [](const std::vector<absl::Time>& times) {
    absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
    for (size_t i = 1; i < times.size(); ++i) {
      lo = std::min(lo, times[i] - times[i - 1]);
      hi = std::max(hi, times[i] - times[i - 1]);
    }
    return hi - lo;
  };
  ASSERT_GE(starts[1].size(), 15u);
  ASSERT_GE(starts[2].size(), 15u);
  EXPECT_GT(gap_spread(starts[2]), absl::Milliseconds(20));
  // Without jitter starts stay on the interval grid: the gaps average 50 ms.
  const absl::Duration mean =
      (starts[1].back() - starts[1].front()) / (starts[1].size() - 1);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(mean), 50.0, 5.0);
}

}  // namespace
}  // namespace xlb::health
