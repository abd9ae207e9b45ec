// A network namespace owned by a test: created on construction, entered by
// the calling thread while a ScopedNetns::Enter lives, deleted (with every
// link inside it) on destruction, whatever the test's outcome.
#ifndef XLB_LB_TESTING_NETNS_H_
#define XLB_LB_TESTING_NETNS_H_

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace xlb::testing {

// Runs a shell command, failing the test with its text if it fails.
inline bool Sh(const std::string& command) {
  int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << "command failed: " << command;
  return rc == 0;
}

class ScopedNetns {
 public:
  ScopedNetns() {
    static std::atomic<int> counter{0};
    name_ = absl::StrCat("xlbt-", getpid(), "-", counter++);
    created_ = Sh(absl::StrCat("ip netns add ", name_));
  }
  ~ScopedNetns() {
    if (created_) std::system(absl::StrCat("ip netns del ", name_).c_str());
  }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const std::string& name() const { return name_; }
  bool ok() const { return created_; }
  // Runs `command` inside the namespace.
  bool Exec(const std::string& command) const {
    return Sh(absl::StrCat("ip netns exec ", name_, " ", command));
  }

  // Moves the calling thread into the namespace until destroyed.
  class Enter {
   public:
    explicit Enter(const ScopedNetns& ns) {
      original_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      int target = open(absl::StrCat("/run/netns/", ns.name()).c_str(),
                        O_RDONLY | O_CLOEXEC);
      entered_ = target >= 0 && setns(target, CLONE_NEWNET) == 0;
      EXPECT_TRUE(entered_) << "cannot enter namespace " << ns.name();
      if (target >= 0) close(target);
    }
    ~Enter() {
      if (entered_) setns(original_, CLONE_NEWNET);
      if (original_ >= 0) close(original_);
    }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    int original_ = -1;
    bool entered_ = false;
  };

 private:
  std::string name_;
  bool created_ = false;
};

}  // namespace xlb::testing

#endif  // XLB_LB_TESTING_NETNS_H_
