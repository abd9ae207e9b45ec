#include "lb/state/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace xlb {
namespace {

using ::testing::HasSubstr;

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/xlb-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/state";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static xlb::v1::PersistedState Sample(uint64_t generation) {
    xlb::v1::PersistedState state;
    state.set_generation(generation);
    xlb::v1::Vip* vip = state.mutable_config()->add_vips();
    vip->mutable_key()->set_address("192.0.2.1");
    vip->mutable_key()->set_port(80);
    vip->mutable_key()->set_protocol(xlb::v1::PROTOCOL_TCP);
    vip->add_backends()->set_address("198.51.100.1");
    vip->add_backends()->set_address("2001:db8::1");
    return state;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void Write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  }

  std::string dir_;
  std::string path_;
};

bool Equal(const xlb::v1::PersistedState& a, const xlb::v1::PersistedState& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

TEST_F(StateFileTest, MissingFileIsAFirstStart) {
  auto loaded = StateFile(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(StateFileTest, SavedStateLoadsBackEqual) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(7)).ok());
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  xlb::v1::PersistedState expected = Sample(7);
  expected.set_format_version(kStateFormatVersion);
  EXPECT_TRUE(Equal(**loaded, expected)) << (*loaded)->DebugString();
}

TEST_F(StateFileTest, FileIsPrivateAndLeavesNoTemporary) {
  ASSERT_TRUE(StateFile(path_).Save(Sample(1)).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(StateFileTest, SecondSaveKeepsTheFirstAsPrevious) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  ASSERT_TRUE(file.Save(Sample(2)).ok());
  auto prev = DecodeStateFile(Read(file.prev_path()), "prev");
  ASSERT_TRUE(prev.ok()) << prev.status();
  EXPECT_EQ(prev->generation(), 1u);
  EXPECT_EQ((*file.Load())->generation(), 2u);
}

TEST_F(StateFileTest, TruncatedFileIsRefusedAndNamesThePreviousCopy) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  ASSERT_TRUE(file.Save(Sample(2)).ok());
  const std::string data = Read(path_);
  // Cut at every length: never loads, never as an empty configuration.
  for (size_t cut = 0; cut < data.size(); cut += 7) {
    Write(path_, data.substr(0, cut));
    auto loaded = file.Load();
    ASSERT_FALSE(loaded.ok()) << "cut at " << cut;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(loaded.status().message(), HasSubstr(file.prev_path()));
  }
}

TEST_F(StateFileTest, FlippedByteIsRefused) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  std::string data = Read(path_);
  data[data.size() - 5] ^= 0x01;
  Write(path_, data);
  auto loaded = file.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("SHA-256"));
}

TEST_F(StateFileTest, UnknownFormatVersionIsRefused) {
  std::string data = EncodeStateFile(Sample(1));
  data.replace(0, 11, "xlb-state 9");
  auto decoded = DecodeStateFile(data, "f");
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("format version 9"));
}

TEST_F(StateFileTest, GarbageIsRefused) {
  Write(path_, "vips { }\n");
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StateFileTest, MissingFileWithPreviousCopyIsRefused) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  ASSERT_TRUE(file.Save(Sample(2)).ok());
  ASSERT_EQ(unlink(path_.c_str()), 0);
  auto loaded = file.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StateFileTest, SaveIntoMissingDirectoryFails) {
  StateFile file(dir_ + "/absent/state");
  EXPECT_FALSE(file.Save(Sample(1)).ok());
}

}  // namespace
}  // namespace xlb
