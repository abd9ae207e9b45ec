// The agent's durable desired state: a snapshot of the whole state plus a
// journal of the changes acknowledged since, read back at start
// (docs/state.md). A change costs what it changes: it is one record
// appended to the journal and fsync'd; the whole state is written only when
// the journal has grown as large as the snapshot (compaction).
//
// Snapshot, `<path>`, format version 2 (version 1, the same without a
// journal, is still read):
//
//   xlb-state 2 <body length in bytes> <SHA-256 of the body, hex>\n
//   <body: xlb.v1.PersistedState in protobuf text format>
//
// Journal, `<path>.journal`: the line "xlb-journal 1\n", then records, each
//
//   <length: u32 LE> <~length: u32 LE> <SHA-256 of the payload: 32 bytes>
//   <payload: xlb.v1.StateChange, protobuf binary encoding>
//
// Crash guarantees: Append returns only once its record is durable, and a
// record is the only thing appended, so after a crash the journal is every
// acknowledged record plus at most one torn one at its end, which Load
// ignores. Save (compaction) writes the new snapshot to `<path>.tmp`,
// fsyncs it, keeps the current one as `<path>.prev` (a hard link), renames
// it over `<path>`, fsyncs the directory, and only then replaces the journal
// with an empty one the same way: records the new snapshot already holds
// (generation not above its own) are skipped at load, so every moment of a
// compaction reads back as the same state.
#ifndef XLB_LB_STATE_STATE_H_
#define XLB_LB_STATE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lb/base/unique_fd.h"
#include "xlb/v1/state.pb.h"

namespace xlb {

// The snapshot format written; version 1 is still read.
inline constexpr uint32_t kStateFormatVersion = 2;
inline constexpr absl::string_view kJournalHeader = "xlb-journal 1\n";

struct StateFileOptions {
  // The journal is compacted into a new snapshot once it is larger than the
  // snapshot and than this: appending stays cheap on average, and a load
  // reads at most about twice the snapshot.
  uint64_t min_journal_bytes = 1 << 20;
};

class StateFile {
 public:
  explicit StateFile(std::string path, StateFileOptions options = {})
      : path_(std::move(path)), options_(options) {}

  // The state saved last: the snapshot with the journal's records applied.
  // nullopt when there is no state (a first start). DataLoss, naming the
  // file and the problem, when the snapshot is truncated, corrupt or of an
  // unknown format version, when a journal record other than the last is
  // corrupt or out of sequence, or when a version-2 snapshot has no journal;
  // FailedPrecondition when the snapshot is missing but its previous copy
  // or a journal with records exists (someone removed it). A torn last
  // record (a crash while appending: never acknowledged) is ignored. Never an
  // empty state in place of an unreadable one.
  absl::StatusOr<std::optional<xlb::v1::PersistedState>> Load() const;

  // Whether the next change must be saved whole (Save) instead of appended:
  // until the first Save of this object (a journal left by an earlier run
  // may end in a torn record), after a failed write, and once the journal
  // has outgrown its bound.
  bool needs_snapshot() const;

  // Makes `state` the snapshot and empties the journal (see the file
  // comment). `state.format_version` is set by Save.
  absl::Status Save(const xlb::v1::PersistedState& state);

  // Appends one change to the journal, durably. FailedPrecondition when
  // needs_snapshot(). After a failure the journal is cut back to what it
  // held and the next change must be saved whole.
  absl::Status Append(const xlb::v1::StateChange& change);

  const std::string& path() const { return path_; }
  std::string prev_path() const { return path_ + ".prev"; }
  std::string temp_path() const { return path_ + ".tmp"; }
  std::string journal_path() const { return path_ + ".journal"; }

 private:
  std::string path_;
  StateFileOptions options_;
  UniqueFd journal_;  // open for appending after a successful Save
  uint64_t journal_bytes_ = 0;
  uint64_t snapshot_bytes_ = 0;
};

// The snapshot's bytes for `state` (header and body); exposed for tests.
std::string EncodeStateFile(const xlb::v1::PersistedState& state);
// Parses a snapshot's bytes (format version 1 or 2); `name` is used in
// messages.
absl::StatusOr<xlb::v1::PersistedState> DecodeStateFile(absl::string_view data,
                                                        absl::string_view name);
// One journal record's bytes; exposed for tests.
std::string EncodeJournalRecord(const xlb::v1::StateChange& change);

}  // namespace xlb

#endif  // XLB_LB_STATE_STATE_H_
