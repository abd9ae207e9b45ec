// The agent's durable desired state: one file, replaced atomically after
// every acknowledged change, read back at start (docs/state.md).
//
// File format, version 1:
//
//   xlb-state 1 <body length in bytes> <SHA-256 of the body, hex>\n
//   <body: xlb.v1.PersistedState in protobuf text format>
//
// The header makes truncation and corruption detectable (a cut text-format
// file may still parse). Save() writes `<path>.tmp`, fsyncs it, keeps the
// current file as `<path>.prev` (a hard link, so the previous good copy
// survives), renames the temporary over `<path>` and fsyncs the directory:
// after a crash at any moment `<path>` is either the old or the new state.
#ifndef XLB_LB_STATE_STATE_H_
#define XLB_LB_STATE_STATE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "xlb/v1/state.pb.h"

namespace xlb {

inline constexpr uint32_t kStateFormatVersion = 1;

class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}

  // The state saved last. nullopt when there is no file (a first start).
  // DataLoss, naming the file and the problem, when it is truncated, corrupt
  // or of an unknown format version; FailedPrecondition when the file is
  // missing but its previous copy exists (someone removed it). Never an
  // empty state in place of an unreadable one.
  absl::StatusOr<std::optional<xlb::v1::PersistedState>> Load() const;

  // Replaces the file atomically and durably (see the file comment).
  // `state.format_version` is set by Save.
  absl::Status Save(const xlb::v1::PersistedState& state) const;

  const std::string& path() const { return path_; }
  std::string prev_path() const { return path_ + ".prev"; }
  std::string temp_path() const { return path_ + ".tmp"; }

 private:
  std::string path_;
};

// The file's bytes for `state` (header and body); exposed for tests.
std::string EncodeStateFile(const xlb::v1::PersistedState& state);
// Parses a file's bytes; `name` is used in messages.
absl::StatusOr<xlb::v1::PersistedState> DecodeStateFile(absl::string_view data,
                                                        absl::string_view name);

}  // namespace xlb

#endif  // XLB_LB_STATE_STATE_H_
