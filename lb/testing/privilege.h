// Gate for tests that need root and BPF (BPF_PROG_TEST_RUN, maps, bpffs,
// namespaces). Call RequirePrivilege() first thing in a privileged fixture's
// SetUp(), then return if the test was skipped or failed:
//
//   void SetUp() override {
//     xlb::testing::RequirePrivilege();
//     if (IsSkipped() || HasFatalFailure()) return;
//     ...
//   }
//
// Without the privilege the test is skipped with the reason, except under CI
// (environment CI=true), where it fails: CI must never pass by skipping.
#ifndef XLB_LB_TESTING_PRIVILEGE_H_
#define XLB_LB_TESTING_PRIVILEGE_H_

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace xlb::testing {

// Empty when the process may use BPF; otherwise why it may not.
inline std::string PrivilegeProblem() {
  if (geteuid() != 0)
    return "not running as root (euid " + std::to_string(geteuid()) + ")";
  // Creating the smallest possible map proves the bpf() syscall works for us.
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  long fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
  if (fd < 0) {
    return std::string("BPF unavailable: bpf(BPF_MAP_CREATE) failed: ") +
           std::strerror(errno);
  }
  close(static_cast<int>(fd));
  return "";
}

inline bool RunningUnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Skips the current test (fails it under CI=true) unless root with BPF.
inline void RequirePrivilege() {
  const std::string problem = PrivilegeProblem();
  if (problem.empty()) return;
  if (RunningUnderCi()) {
    FAIL() << "this test needs root and BPF, and CI=true forbids skipping: "
           << problem;
  }
  GTEST_SKIP() << "needs root and BPF: " << problem;
}

}  // namespace xlb::testing

#endif  // XLB_LB_TESTING_PRIVILEGE_H_
