// gRPC health probes (our HTTP/2 client) against the real gRPC C++ server's
// default grpc.health.v1 service.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "gtest/gtest.h"
#include "lb/health/checker.h"
#include "lb/health/testing/checker_test_util.h"

namespace xlb::health {
namespace {

using testing::FastTarget;
using testing::TransitionLog;

class GrpcProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    // A server with only the health service would have no polled queue;
    // an (unimplemented) callback service provides the callback path.
    builder.RegisterCallbackGenericService(&generic_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    health_ = server_->GetHealthCheckService();
    ASSERT_NE(health_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  HealthTarget Target(const std::string& service, HealthStatus initial) {
    HealthTarget target = FastTarget(1, HealthCheckType::kGrpc, port_);
    HealthCheckSpec& spec = target.mutable_spec();
    spec.grpc_service = service;
    spec.interval = absl::Milliseconds(100);
    spec.timeout = absl::Milliseconds(100);
    target.initial_status = initial;
    return target;
  }

  int port_ = 0;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
  grpc::HealthCheckServiceInterface* health_ = nullptr;
};

TEST_F(GrpcProbeTest, ServingServiceComesUpAndNotServingGoesDown) {
  health_->SetServingStatus("xlb.test.Echo", true);
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  ASSERT_TRUE(
      checker->AddTarget(Target("xlb.test.Echo", HealthStatus::kDown)).ok());
  ASSERT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, HealthStatus::kUp) << got[0].detail;

  health_->SetServingStatus("xlb.test.Echo", false);
  got = log.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].status, HealthStatus::kDown);
  EXPECT_EQ(got[1].reason, ProbeOutcome::kWrongStatus);
  EXPECT_EQ(got[1].detail, "health status NOT_SERVING");
}

TEST_F(GrpcProbeTest, WholeServerServingIsUp) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  ASSERT_TRUE(checker->AddTarget(Target("", HealthStatus::kDown)).ok());
  ASSERT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, HealthStatus::kUp) << got[0].detail;
}

TEST_F(GrpcProbeTest, UnknownServiceIsWrongGrpcStatus) {
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  ASSERT_TRUE(
      checker->AddTarget(Target("no.such.Service", HealthStatus::kUp)).ok());
  ASSERT_TRUE(checker->Start().ok());
  std::vector<HealthTransition> got = log.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, HealthStatus::kDown);
  EXPECT_EQ(got[0].reason, ProbeOutcome::kWrongStatus);
  EXPECT_EQ(got[0].detail.rfind("grpc-status 5", 0), 0u) << got[0].detail;
}

TEST_F(GrpcProbeTest, RepeatedProbesKeepSucceeding) {
  health_->SetServingStatus("xlb.test.Echo", true);
  TransitionLog log;
  auto checker = testing::NewChecker(log);
  HealthTarget target = Target("xlb.test.Echo", HealthStatus::kUp);
  HealthCheckSpec& spec = target.mutable_spec();
  spec.interval = absl::Milliseconds(50);
  spec.timeout = absl::Milliseconds(50);
  ASSERT_TRUE(checker->AddTarget(target).ok());
  ASSERT_TRUE(checker->Start().ok());
  absl::SleepFor(absl::Milliseconds(600));
  absl::StatusOr<TargetReport> report = checker->GetReport(1);
  ASSERT_TRUE(report.ok());
  EXPECT_GE(report->counters.probes, 5u);
  EXPECT_EQ(report->counters.failures(), 0u)
      << (report->last_result ? report->last_result->detail : "");
  EXPECT_TRUE(log.All().empty());
}

}  // namespace
}  // namespace xlb::health
