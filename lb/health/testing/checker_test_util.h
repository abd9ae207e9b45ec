// Shared by the checker's tests: a transition recorder and target builders.
#ifndef XLB_LB_HEALTH_TESTING_CHECKER_TEST_UTIL_H_
#define XLB_LB_HEALTH_TESTING_CHECKER_TEST_UTIL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lb/health/checker.h"

namespace xlb::health::testing {

// Collects transitions from the checker's thread.
class TransitionLog {
 public:
  std::function<void(const HealthTransition&)> Callback() {
    return [this](const HealthTransition& t) {
      std::lock_guard<std::mutex> lock(mu_);
      transitions_.push_back(t);
      cv_.notify_all();
    };
  }
  // Waits until `count` transitions arrived; returns them all.
  std::vector<HealthTransition> WaitFor(
      size_t count, absl::Duration limit = absl::Seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(limit),
                 [&] { return transitions_.size() >= count; });
    return transitions_;
  }
  std::vector<HealthTransition> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return transitions_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HealthTransition> transitions_;
};

// A target with test-sized timing: 100 ms interval, 80 ms timeout.
inline HealthTarget FastTarget(TargetId id, HealthCheckType type, uint16_t port,
                               const std::string& address = "127.0.0.1") {
  HealthTarget t;
  t.id = id;
  t.address = address;
  t.port = port;
  HealthCheckSpec& spec = t.mutable_spec();
  spec.type = type;
  spec.interval = absl::Milliseconds(100);
  spec.timeout = absl::Milliseconds(80);
  spec.rise = 1;
  spec.fall = 1;
  return t;
}

inline std::unique_ptr<HealthChecker> NewChecker(
    TransitionLog& log, HealthCheckerOptions options = {}) {
  options.on_transition = log.Callback();
  absl::StatusOr<std::unique_ptr<HealthChecker>> checker =
      HealthChecker::Create(std::move(options));
  EXPECT_TRUE(checker.ok()) << checker.status();
  return checker.ok() ? *std::move(checker) : nullptr;
}

}  // namespace xlb::health::testing

#endif  // XLB_LB_HEALTH_TESTING_CHECKER_TEST_UTIL_H_
