// Tunnelled probes carry SO_MARK = XLB_HC_MARK_TAG | backend index, the
// mark bpf/healthcheck.bpf.c encapsulates by. Setting a mark needs
// CAP_NET_ADMIN, hence a privileged test. The mark is read back from each
// probe socket through the checker's socket observer.
#include <sys/socket.h>

#include <map>
#include <mutex>

#include "gtest/gtest.h"
#include "lb/health/checker.h"
#include "lb/health/checker_test_util.h"
#include "lb/health/test_servers.h"
#include "lb/testing/privilege.h"

namespace xlb::health {
namespace {

using testing::FastTarget;
using testing::TransitionLog;

class TunnelledProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
  }
};

TEST_F(TunnelledProbeTest, ProbeSocketsCarryTheBackendsTunnelMark) {
  testing::TcpServer vip;  // stands in for the VIP address
  std::mutex mu;
  std::map<TargetId, std::vector<uint32_t>> marks;
  TransitionLog log;
  HealthCheckerOptions options;
  options.socket_observer = [&](TargetId id, int fd) {
    uint32_t mark = 0;
    socklen_t len = sizeof(mark);
    EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
    std::lock_guard<std::mutex> lock(mu);
    marks[id].push_back(mark);
  };
  auto checker = testing::NewChecker(log, std::move(options));
  HealthTarget tunnelled = FastTarget(1, HealthCheckType::kTcp, vip.port());
  tunnelled.mode = ProbeMode::kTunnelled;
  tunnelled.mark = TunnelledProbeMark(5);
  HealthTarget direct = FastTarget(2, HealthCheckType::kTcp, vip.port());
  ASSERT_TRUE(checker->AddTarget(tunnelled).ok());
  ASSERT_TRUE(checker->AddTarget(direct).ok());
  ASSERT_TRUE(checker->Start().ok());
  ASSERT_EQ(log.WaitFor(2).size(), 2u);  // both up: the probes went out
  checker->Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(marks[1].empty());
  for (uint32_t mark : marks[1]) EXPECT_EQ(mark, 0x58000005u);
  ASSERT_FALSE(marks[2].empty());
  for (uint32_t mark : marks[2]) EXPECT_EQ(mark, 0u);
}

TEST_F(TunnelledProbeTest, UdpAndHttpProbesCarryTheMarkToo) {
  testing::UdpServer udp({.echo = true});
  testing::HttpServer http({});
  std::mutex mu;
  std::map<TargetId, uint32_t> marks;
  TransitionLog log;
  HealthCheckerOptions options;
  options.socket_observer = [&](TargetId id, int fd) {
    uint32_t mark = 0;
    socklen_t len = sizeof(mark);
    getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len);
    std::lock_guard<std::mutex> lock(mu);
    marks[id] = mark;
  };
  auto checker = testing::NewChecker(log, std::move(options));
  HealthTarget u = FastTarget(1, HealthCheckType::kUdp, udp.port());
  u.mutable_spec().udp_request = "hi";
  HealthTarget h = FastTarget(2, HealthCheckType::kHttp, http.port());
  for (HealthTarget* t : {&u, &h}) {
    t->mode = ProbeMode::kTunnelled;
    t->mark = TunnelledProbeMark(static_cast<uint32_t>(t->id) + 100);
    ASSERT_TRUE(checker->AddTarget(*t).ok());
  }
  ASSERT_TRUE(checker->Start().ok());
  ASSERT_EQ(log.WaitFor(2).size(), 2u);
  checker->Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(marks[1], XLB_HC_MARK_TAG | 101u);
  EXPECT_EQ(marks[2], XLB_HC_MARK_TAG | 102u);
}

}  // namespace
}  // namespace xlb::health
