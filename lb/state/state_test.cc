#include "lb/state/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
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

  // A change to generation `generation`: `set` VIPs (address 192.0.2.N,
  // one backend 198.51.100.<generation>) and `deleted` ones.
  static xlb::v1::StateChange Change(uint64_t generation, std::vector<int> set,
                                     std::vector<int> deleted = {}) {
    xlb::v1::StateChange change;
    change.set_generation(generation);
    for (int n : set) {
      xlb::v1::Vip* vip = change.add_vips();
      *vip->mutable_key() = VipKey(n);
      vip->add_backends()->set_address(absl::StrCat("198.51.100.", generation));
    }
    for (int n : deleted) *change.add_deleted_vips() = VipKey(n);
    change.mutable_saved_at()->set_seconds(1700000000 + generation);
    return change;
  }
  static xlb::v1::VipKey VipKey(int n) {
    xlb::v1::VipKey key;
    key.set_address(absl::StrCat("192.0.2.", n));
    key.set_port(80);
    key.set_protocol(xlb::v1::PROTOCOL_TCP);
    return key;
  }
  // What loading should give after Sample(1) and `changes`, applied here
  // the simple way.
  static xlb::v1::PersistedState Expected(
      const std::vector<xlb::v1::StateChange>& changes) {
    xlb::v1::PersistedState state = Sample(1);
    state.set_format_version(kStateFormatVersion);
    for (const xlb::v1::StateChange& change : changes) {
      auto* vips = state.mutable_config()->mutable_vips();
      for (const xlb::v1::VipKey& key : change.deleted_vips()) {
        for (int i = 0; i < vips->size(); ++i) {
          if (vips->Get(i).key().address() == key.address()) {
            vips->DeleteSubrange(i, 1);
            break;
          }
        }
      }
      for (const xlb::v1::Vip& vip : change.vips()) {
        bool replaced = false;
        for (xlb::v1::Vip& old : *vips) {
          if (old.key().address() == vip.key().address()) {
            old = vip;
            replaced = true;
          }
        }
        if (!replaced) *vips->Add() = vip;
      }
      state.set_generation(change.generation());
      *state.mutable_saved_at() = change.saved_at();
    }
    return state;
  }
  // Saves Sample(1), then appends `changes`; returns each record's offset in
  // the journal, and its end last.
  std::vector<size_t> SaveAndAppend(
      StateFile& file, const std::vector<xlb::v1::StateChange>& changes) {
    EXPECT_TRUE(file.Save(Sample(1)).ok());
    std::vector<size_t> offsets = {kJournalHeader.size()};
    for (const xlb::v1::StateChange& change : changes) {
      absl::Status s = file.Append(change);
      EXPECT_TRUE(s.ok()) << s;
      offsets.push_back(offsets.back() + EncodeJournalRecord(change).size());
    }
    return offsets;
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

TEST_F(StateFileTest, FilesArePrivateAndLeaveNoTemporary) {
  StateFile file(path_);
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  ASSERT_TRUE(file.Save(Sample(2)).ok());
  for (const std::string& path :
       {path_, file.prev_path(), file.journal_path()}) {
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  EXPECT_FALSE(std::filesystem::exists(file.journal_path() + ".tmp"));
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

TEST_F(StateFileTest, AppendedChangesLoadBack) {
  StateFile file(path_);
  const std::vector<xlb::v1::StateChange> changes = {
      Change(2, {1, 2}),   // replaces 192.0.2.1, adds .2
      Change(3, {3}),      // adds .3
      Change(4, {}, {1}),  // deletes .1
      Change(5, {2}),      // replaces .2
  };
  SaveAndAppend(file, changes);
  EXPECT_FALSE(file.needs_snapshot());
  auto loaded = StateFile(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(Equal(**loaded, Expected(changes))) << (*loaded)->DebugString();
  EXPECT_EQ((*loaded)->config().vips_size(), 2);
  EXPECT_EQ((*loaded)->generation(), 5u);
}

TEST_F(StateFileTest, AppendNeedsASnapshotFirst) {
  StateFile file(path_);
  EXPECT_TRUE(file.needs_snapshot());
  absl::Status s = file.Append(Change(2, {1}));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(file.journal_path()));
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  EXPECT_FALSE(file.needs_snapshot());
  EXPECT_TRUE(file.Append(Change(2, {1})).ok());
}

TEST_F(StateFileTest, AStartedStateFileSavesWholeFirst) {
  StateFile first(path_);
  SaveAndAppend(first, {Change(2, {2})});
  // A new run may find a torn record at the journal's end: it rewrites
  // everything before appending.
  StateFile second(path_);
  ASSERT_TRUE(second.Load().ok());
  EXPECT_TRUE(second.needs_snapshot());
}

TEST_F(StateFileTest, TornLastRecordIsIgnored) {
  StateFile file(path_);
  const std::vector<xlb::v1::StateChange> changes = {
      Change(2, {2}), Change(3, {3}), Change(4, {4})};
  const std::vector<size_t> offsets = SaveAndAppend(file, changes);
  const std::string journal = Read(file.journal_path());
  ASSERT_EQ(journal.size(), offsets.back());
  const xlb::v1::PersistedState two = Expected({changes[0], changes[1]});
  // Cut anywhere in the last record, its header included.
  for (size_t cut = offsets[2]; cut < offsets[3]; ++cut) {
    Write(file.journal_path(), journal.substr(0, cut));
    auto loaded = StateFile(path_).Load();
    ASSERT_TRUE(loaded.ok()) << "cut at " << cut << ": " << loaded.status();
    ASSERT_TRUE(Equal(**loaded, two)) << "cut at " << cut;
  }
  // Whole, but its payload not as written (the last bytes never landed).
  std::string damaged = journal;
  damaged.back() ^= 0x01;
  Write(file.journal_path(), damaged);
  auto loaded = StateFile(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(Equal(**loaded, two));
}

TEST_F(StateFileTest, CorruptRecordBeforeTheLastIsAnError) {
  StateFile file(path_);
  const std::vector<size_t> offsets =
      SaveAndAppend(file, {Change(2, {2}), Change(3, {3}), Change(4, {4})});
  const std::string journal = Read(file.journal_path());
  // A payload byte of the second record.
  std::string damaged = journal;
  damaged[offsets[2] - 1] ^= 0x01;
  Write(file.journal_path(), damaged);
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr(absl::StrCat("record at byte ", offsets[1],
                                     " fails its SHA-256")));
  EXPECT_THAT(loaded.status().message(), HasSubstr(file.journal_path()));
  // Its length: the records after it can no longer be found, which is not
  // the same as a torn end.
  for (const size_t record : {offsets[1], offsets[2]}) {
    damaged = journal;
    damaged[record + 1] ^= 0x01;
    Write(file.journal_path(), damaged);
    loaded = StateFile(path_).Load();
    ASSERT_FALSE(loaded.ok()) << "record at " << record;
    EXPECT_THAT(loaded.status().message(),
                HasSubstr(absl::StrCat("record at byte ", record,
                                       " has a damaged length")));
  }
}

TEST_F(StateFileTest, GenerationsMustFollowEachOther) {
  StateFile file(path_);
  SaveAndAppend(file, {Change(2, {2}), Change(4, {4})});
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("has generation 4 where 3 should follow"));
}

TEST_F(StateFileTest, UnknownJournalFormatIsRefused) {
  StateFile file(path_);
  SaveAndAppend(file, {Change(2, {2})});
  std::string journal = Read(file.journal_path());
  journal.replace(0, kJournalHeader.size(), "xlb-journal 9\n");
  Write(file.journal_path(), journal);
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("xlb-journal 1"));
}

TEST_F(StateFileTest, JournalIsCompactedOnceLargerThanTheSnapshot) {
  StateFile file(path_, StateFileOptions{.min_journal_bytes = 1});
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  const size_t snapshot = Read(path_).size();
  std::vector<xlb::v1::StateChange> changes;
  while (!file.needs_snapshot()) {
    changes.push_back(Change(changes.size() + 2, {1}));
    ASSERT_TRUE(file.Append(changes.back()).ok());
  }
  const size_t journal = Read(file.journal_path()).size();
  EXPECT_GT(journal, snapshot);
  EXPECT_LE(journal - EncodeJournalRecord(changes.back()).size(), snapshot);
  // The state as loaded becomes the snapshot; the journal starts empty.
  const xlb::v1::PersistedState whole = Expected(changes);
  ASSERT_TRUE(file.Save(whole).ok());
  EXPECT_FALSE(file.needs_snapshot());
  EXPECT_EQ(Read(file.journal_path()), kJournalHeader);
  auto prev = DecodeStateFile(Read(file.prev_path()), "prev");
  ASSERT_TRUE(prev.ok()) << prev.status();
  EXPECT_EQ(prev->generation(), 1u);
  auto loaded = StateFile(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(Equal(**loaded, whole));
}

TEST_F(StateFileTest, EveryMomentOfACompactionLoadsTheSameState) {
  StateFile file(path_);
  const std::vector<xlb::v1::StateChange> changes = {Change(2, {2}),
                                                     Change(3, {3}, {1})};
  SaveAndAppend(file, changes);
  const std::string old_snapshot = Read(path_);
  const std::string old_journal = Read(file.journal_path());
  const xlb::v1::PersistedState whole = Expected(changes);
  ASSERT_TRUE(file.Save(whole).ok());
  const std::string new_snapshot = Read(path_);
  const std::string new_journal = Read(file.journal_path());
  // Before the rename, between it and the journal's replacement, after.
  for (const auto& [snapshot, journal] :
       {std::pair(old_snapshot, old_journal),
        std::pair(new_snapshot, old_journal),
        std::pair(new_snapshot, new_journal)}) {
    Write(path_, snapshot);
    Write(file.journal_path(), journal);
    auto loaded = StateFile(path_).Load();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    xlb::v1::PersistedState expected = whole;
    expected.set_format_version(kStateFormatVersion);
    // saved_at is the snapshot's or the last record's; both informational.
    *expected.mutable_saved_at() = (*loaded)->saved_at();
    EXPECT_TRUE(Equal(**loaded, expected)) << (*loaded)->DebugString();
  }
}

TEST_F(StateFileTest, RestartEqualsTheLastAcknowledgedChange) {
  // Small bound: compactions happen along the way.
  StateFile file(path_, StateFileOptions{.min_journal_bytes = 1});
  ASSERT_TRUE(file.Save(Sample(1)).ok());
  std::vector<xlb::v1::StateChange> changes;
  for (uint64_t generation = 2; generation < 60; ++generation) {
    const int n = static_cast<int>(generation % 7);
    changes.push_back(generation % 5 == 0 ? Change(generation, {}, {n})
                                          : Change(generation, {n}));
    const xlb::v1::PersistedState expected = Expected(changes);
    if (file.needs_snapshot()) {
      ASSERT_TRUE(file.Save(expected).ok());
    } else {
      ASSERT_TRUE(file.Append(changes.back()).ok());
    }
    auto loaded = StateFile(path_).Load();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ((*loaded)->generation(), generation);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        (*loaded)->config(), expected.config()))
        << "generation " << generation;
  }
  EXPECT_TRUE(std::filesystem::exists(file.prev_path()));  // it compacted
}

TEST_F(StateFileTest, AppendToARemovedJournalFails) {
  StateFile file(path_);
  SaveAndAppend(file, {Change(2, {2})});
  ASSERT_EQ(unlink(file.journal_path().c_str()), 0);
  absl::Status s = file.Append(Change(3, {3}));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("was removed"));
  EXPECT_TRUE(file.needs_snapshot());
}

TEST_F(StateFileTest, SnapshotWithoutItsJournalIsRefused) {
  StateFile file(path_);
  SaveAndAppend(file, {Change(2, {2})});
  ASSERT_EQ(unlink(file.journal_path().c_str()), 0);
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("has no journal"));
  // An empty journal accepts the loss.
  Write(file.journal_path(), std::string(kJournalHeader));
  loaded = StateFile(path_).Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->generation(), 1u);
}

TEST_F(StateFileTest, JournalWithoutItsSnapshotIsRefused) {
  StateFile file(path_);
  SaveAndAppend(file, {Change(2, {2})});
  ASSERT_EQ(unlink(path_.c_str()), 0);
  auto loaded = StateFile(path_).Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(), HasSubstr(file.journal_path()));
}

TEST_F(StateFileTest, VersionOneFileStillLoads) {
  // Written by the previous version (no journal).
  std::filesystem::copy_file(XLB_STATE_V1_PATH, path_);
  StateFile file(path_);
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->format_version(), 1u);
  EXPECT_EQ((*loaded)->generation(), 12u);
  ASSERT_EQ((*loaded)->config().vips_size(), 2);
  EXPECT_EQ((*loaded)->config().vips(0).backends(1).weight(), 3u);
  EXPECT_EQ((*loaded)->config().vips(1).key().address(), "2001:db8::1");
  EXPECT_EQ((*loaded)->writer_version(), "0.1.0");
  // The first write makes it version 2, with a journal.
  ASSERT_TRUE(file.needs_snapshot());
  xlb::v1::PersistedState next = **loaded;
  next.set_generation(13);
  ASSERT_TRUE(file.Save(next).ok());
  EXPECT_THAT(Read(path_), ::testing::StartsWith("xlb-state 2 "));
  EXPECT_EQ(Read(file.prev_path()), Read(XLB_STATE_V1_PATH));
  auto reloaded = StateFile(path_).Load();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->generation(), 13u);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      (*reloaded)->config(), (*loaded)->config()));
}

}  // namespace
}  // namespace xlb
