// PreparePrivateDirectory: explicit modes whatever the umask, and refusal of
// directories that others could change, with the path and mode named.
#include "lb/base/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xlb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class PrivateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/xlb-private-dir-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    old_umask_ = umask(0);  // the worst case: nothing masked
  }
  void TearDown() override {
    umask(old_umask_);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  mode_t old_umask_ = 0;
};

TEST_F(PrivateDirTest, CreatesEveryMissingComponentWithTheModeUnderUmaskZero) {
  const std::string leaf = dir_ + "/a/b/c";
  ASSERT_TRUE(PreparePrivateDirectory(leaf, 0700, "--state-file").ok());
  EXPECT_EQ(ModeOf(dir_ + "/a"), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/a/b"), 0700u);
  EXPECT_EQ(ModeOf(leaf), 0700u);
  ASSERT_TRUE(
      PreparePrivateDirectory(dir_ + "/sock", 0750, "--listen-unix").ok());
  EXPECT_EQ(ModeOf(dir_ + "/sock"), 0750u);
  struct stat st {};
  ASSERT_EQ(stat(leaf.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_gid, getegid());
}

TEST_F(PrivateDirTest, NewDirectoryDropsTheParentsSetgidBit) {
  ASSERT_EQ(chmod(dir_.c_str(), 02700), 0);
  ASSERT_TRUE(PreparePrivateDirectory(dir_ + "/x", 0700, "--state-file").ok());
  EXPECT_EQ(ModeOf(dir_ + "/x"), 0700u);
}

TEST_F(PrivateDirTest, KeepsAnExistingDirectoryThatOnlyItsOwnerCanWrite) {
  const std::string existing = dir_ + "/existing";
  ASSERT_EQ(mkdir(existing.c_str(), 0755), 0);
  ASSERT_EQ(chmod(existing.c_str(), 0755), 0);
  EXPECT_TRUE(PreparePrivateDirectory(existing, 0700, "--state-file").ok());
  EXPECT_EQ(ModeOf(existing), 0755u);
}

TEST_F(PrivateDirTest, RefusesADirectoryOthersCanWriteNamingPathAndMode) {
  for (const mode_t mode : {0777, 0770, 0702, 01777}) {
    const std::string existing = dir_ + "/open";
    ASSERT_EQ(mkdir(existing.c_str(), 0700), 0);
    ASSERT_EQ(chmod(existing.c_str(), mode), 0);
    absl::Status s = PreparePrivateDirectory(existing, 0700, "--state-file");
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    char expected_mode[8];
    std::snprintf(expected_mode, sizeof(expected_mode), "%04o", mode);
    EXPECT_THAT(s.message(),
                AllOf(HasSubstr("--state-file: directory " + existing),
                      HasSubstr(std::string("(mode ") + expected_mode + ")"),
                      HasSubstr("chmod go-w " + existing)));
    EXPECT_EQ(ModeOf(existing), mode) << "left unchanged";
    ASSERT_EQ(rmdir(existing.c_str()), 0);
  }
}

TEST_F(PrivateDirTest, RefusesAnAncestorOthersCanWriteUnlessItIsSticky) {
  const std::string parent = dir_ + "/parent";
  ASSERT_EQ(mkdir(parent.c_str(), 0), 0);
  ASSERT_EQ(chmod(parent.c_str(), 0777), 0);
  absl::Status s =
      PreparePrivateDirectory(parent + "/pins", 0700, "--bpffs-dir");
  EXPECT_THAT(s.message(),
              HasSubstr("--bpffs-dir: directory " + parent +
                        " is writable by group or others (mode 0777)"));
  EXPECT_FALSE(std::filesystem::exists(parent + "/pins"));

  ASSERT_EQ(chmod(parent.c_str(), 01777), 0);  // like /tmp
  EXPECT_TRUE(
      PreparePrivateDirectory(parent + "/pins", 0700, "--bpffs-dir").ok());
  EXPECT_EQ(ModeOf(parent + "/pins"), 0700u);
}

TEST_F(PrivateDirTest, RefusesADirectoryOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string theirs = dir_ + "/theirs";
  ASSERT_EQ(mkdir(theirs.c_str(), 0700), 0);
  ASSERT_EQ(chown(theirs.c_str(), 4242, 4242), 0);
  absl::Status s = PreparePrivateDirectory(theirs, 0700, "--listen-unix");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--listen-unix: directory " + theirs +
                                     " is owned by uid 4242"));
  // ... and as an ancestor too.
  s = PreparePrivateDirectory(theirs + "/sub", 0700, "--listen-unix");
  EXPECT_THAT(s.message(), HasSubstr("is owned by uid 4242"));
}

TEST_F(PrivateDirTest, RefusesAFileInThePath) {
  std::ofstream(dir_ + "/file") << "x";
  absl::Status s =
      PreparePrivateDirectory(dir_ + "/file/sub", 0700, "--state-file");
  EXPECT_THAT(s.message(), HasSubstr("--state-file: " + dir_ +
                                     "/file exists and is not a directory"));
}

}  // namespace
}  // namespace xlb
