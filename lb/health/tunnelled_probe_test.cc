// Tunnelled probes carry SO_MARK = XLB_HC_MARK_TAG | backend index, the
// mark bpf/healthcheck.bpf.c encapsulates by. Setting a mark needs
// CAP_NET_ADMIN, hence a privileged test. The mark is read back from each
// probe socket through the checker's socket observer. TCP checks send from
// a shared raw socket with a mark per packet: syn_probe_test.cc.
#include <sys/socket.h>

#include <map>
#include <mutex>

#include "gtest/gtest.h"
#include "lb/health/checker.h"
#include "lb/health/testing/checker_test_util.h"
#include "lb/health/testing/test_servers.h"
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

TEST_F(TunnelledProbeTest, UdpAndHttpProbeSocketsCarryTheBackendsTunnelMark) {
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
