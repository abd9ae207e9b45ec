// HTTPS probes against a server with a certificate made at test time.
#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "lb/health/checker.h"
#include "lb/health/testing/checker_test_util.h"
#include "lb/health/testing/test_servers.h"

namespace xlb::health {
namespace {

using testing::FastTarget;
using testing::TransitionLog;

class HttpsProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = testing::MakeSelfSignedCertificate();
    ASSERT_FALSE(cert_.cert_pem.empty());
  }

  // The first transition of a checker built with `options`.
  HealthTransition Run(HealthTarget target, HealthCheckerOptions options = {}) {
    TransitionLog log;
    auto checker = testing::NewChecker(log, std::move(options));
    EXPECT_TRUE(checker->AddTarget(target).ok());
    EXPECT_TRUE(checker->Start().ok());
    std::vector<HealthTransition> got = log.WaitFor(1);
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? HealthTransition{} : got[0];
  }

  HealthTarget Target(uint16_t port, bool verify) {
    HealthTarget target = FastTarget(1, HealthCheckType::kHttps, port);
    HealthCheckSpec& spec = target.mutable_spec();
    spec.interval = absl::Milliseconds(200);
    spec.timeout = absl::Milliseconds(200);
    spec.http_body_substring = "ok";
    target.verify_tls = verify;
    return target;
  }

  testing::SelfSignedCertificate cert_;
};

TEST_F(HttpsProbeTest, SelfSignedServerIsUpWithoutVerification) {
  testing::HttpServer server({.body = "all ok"}, &cert_);
  HealthTransition t = Run(Target(server.port(), false));
  EXPECT_EQ(t.status, HealthStatus::kUp) << t.detail;
}

TEST_F(HttpsProbeTest, SelfSignedServerFailsVerification) {
  testing::HttpServer server({.body = "all ok"}, &cert_);
  HealthTarget target = Target(server.port(), true);
  target.initial_status = HealthStatus::kUp;
  HealthTransition t = Run(target);
  EXPECT_EQ(t.status, HealthStatus::kDown);
  EXPECT_EQ(t.reason, ProbeOutcome::kTlsError);
  EXPECT_NE(t.detail.find("certificate"), std::string::npos) << t.detail;
}

TEST_F(HttpsProbeTest, TrustedCertificatePassesVerification) {
  testing::HttpServer server({.body = "all ok"}, &cert_);
  const std::string ca_file = ::testing::TempDir() + "/xlb_health_ca.pem";
  std::ofstream(ca_file) << cert_.cert_pem;
  HealthCheckerOptions options;
  options.tls_ca_file = ca_file;
  HealthTransition t = Run(Target(server.port(), true), std::move(options));
  EXPECT_EQ(t.status, HealthStatus::kUp) << t.detail;
  std::remove(ca_file.c_str());
}

TEST_F(HttpsProbeTest, WrongHostNameFailsVerification) {
  testing::HttpServer server({.body = "all ok"}, &cert_);
  const std::string ca_file = ::testing::TempDir() + "/xlb_health_ca2.pem";
  std::ofstream(ca_file) << cert_.cert_pem;
  HealthCheckerOptions options;
  options.tls_ca_file = ca_file;
  HealthTarget target = Target(server.port(), true);
  target.mutable_spec().http_host = "other.example";
  target.initial_status = HealthStatus::kUp;
  HealthTransition t = Run(target, std::move(options));
  EXPECT_EQ(t.reason, ProbeOutcome::kTlsError) << t.detail;
  std::remove(ca_file.c_str());
}

TEST_F(HttpsProbeTest, ServerClosingDuringHandshakeFails) {
  testing::TcpServer server;  // accepts and closes: no TLS
  HealthTarget target = Target(server.port(), false);
  target.initial_status = HealthStatus::kUp;
  HealthTransition t = Run(target);
  EXPECT_EQ(t.status, HealthStatus::kDown);
  // The close arrives as a clean end of stream or, if our ClientHello was
  // already unread in the server's buffer, as a reset.
  EXPECT_TRUE(t.reason == ProbeOutcome::kTlsError ||
              t.reason == ProbeOutcome::kReset)
      << ProbeOutcomeName(t.reason) << ": " << t.detail;
}

}  // namespace
}  // namespace xlb::health
