#include "lb/state/state.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "lb/base/log.h"

namespace xlb {
namespace {

constexpr absl::string_view kMagic = "xlb-state";
constexpr size_t kDigestBytes = 32;
// Length, its complement (a damaged length is told from a torn record by
// it), the payload's SHA-256.
constexpr size_t kRecordHeaderBytes = 4 + 4 + kDigestBytes;

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string Hex(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

void PutLe32(uint32_t value, std::string& out) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(value >> (8 * i)));
}

uint32_t GetLe32(absl::string_view data) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(data[i]))
             << (8 * i);
  }
  return value;
}

absl::Status Errno(absl::string_view what, absl::string_view path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("writing", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view path) {
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("reading", path);
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

// The file's contents; nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::nullopt;
    return Errno("opening", path);
  }
  absl::StatusOr<std::string> data = ReadAll(fd.get(), path);
  if (!data.ok()) return data.status();
  return *std::move(data);
}

// Creates (or truncates) `path` with `data`, fsync'd.
absl::Status WriteFileSynced(const std::string& path, absl::string_view data) {
  UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Errno("creating", path);
  // 0600 whatever the umask (open applies it to the mode above).
  if (fchmod(fd.get(), 0600) != 0) return Errno("setting the mode of", path);
  if (absl::Status s = WriteAll(fd.get(), data, path); !s.ok()) return s;
  if (fsync(fd.get()) != 0) return Errno("fsync of", path);
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno("opening directory", dir);
  if (fsync(fd.get()) != 0) return Errno("fsync of directory", dir);
  return absl::OkStatus();
}

// Replaces `path` with a file holding `data`, durably: a crash leaves the
// old file or the new one.
absl::Status ReplaceFile(const std::string& path, absl::string_view data) {
  const std::string temp = path + ".tmp";
  if (absl::Status s = WriteFileSynced(temp, data); !s.ok()) return s;
  if (rename(temp.c_str(), path.c_str()) != 0) {
    return Errno(absl::StrCat("renaming ", temp, " to"), path);
  }
  return SyncDirectoryOf(path);
}

using KeyTuple = std::tuple<std::string, uint32_t, int>;
KeyTuple KeyOf(const xlb::v1::VipKey& key) {
  return {key.address(), key.port(), key.protocol()};
}

// Applies the journal `data` to `state` (the snapshot): records up to the
// snapshot's generation are already in it (a compaction was interrupted
// before it emptied the journal); the others must continue its generation
// one by one.
absl::Status Replay(absl::string_view data, absl::string_view name,
                    xlb::v1::PersistedState& state) {
  auto corrupt = [&](absl::string_view problem) {
    return absl::DataLossError(
        absl::StrCat("state journal ", name, " is unusable: ", problem));
  };
  if (data.size() < kJournalHeader.size() &&
      absl::StartsWith(kJournalHeader, data)) {
    return absl::OkStatus();  // cut while being created: empty
  }
  if (!absl::StartsWith(data, kJournalHeader)) {
    return corrupt(absl::StrCat("it does not start with \"",
                                absl::StripAsciiWhitespace(kJournalHeader),
                                "\" (another format or version?)"));
  }
  // Position of each VIP in state.config, by key.
  std::map<KeyTuple, int> position;
  for (int i = 0; i < state.config().vips_size(); ++i) {
    position[KeyOf(state.config().vips(i).key())] = i;
  }
  std::vector<bool> deleted(state.config().vips_size(), false);
  size_t offset = kJournalHeader.size();
  uint64_t applied = 0;
  while (offset < data.size()) {
    absl::string_view rest = data.substr(offset);
    // A record cut short by a crash while it was appended: it was never
    // acknowledged.
    auto torn = [&] {
      LogWarning("state", "ignoring a torn last journal record",
                 {{"path", name}, {"offset", offset}, {"bytes", rest.size()}});
    };
    if (rest.size() < kRecordHeaderBytes) {
      torn();
      break;
    }
    const uint32_t length = GetLe32(rest);
    if (GetLe32(rest.substr(4)) != ~length) {
      return corrupt(
          absl::StrCat("the record at byte ", offset, " has a damaged length"));
    }
    if (rest.size() - kRecordHeaderBytes < length) {
      torn();
      break;
    }
    const absl::string_view payload = rest.substr(kRecordHeaderBytes, length);
    if (Sha256(payload) != rest.substr(8, kDigestBytes)) {
      if (rest.size() == kRecordHeaderBytes + length) {
        torn();  // the last record: its bytes may not all have landed
        break;
      }
      return corrupt(absl::StrCat("the record at byte ", offset,
                                  " fails its SHA-256 and more follow"));
    }
    xlb::v1::StateChange change;
    if (!change.ParseFromArray(payload.data(), static_cast<int>(length))) {
      return corrupt(absl::StrCat("the record at byte ", offset,
                                  " is not a valid xlb.v1.StateChange"));
    }
    offset += kRecordHeaderBytes + length;
    if (change.generation() <= state.generation() && applied == 0) continue;
    if (change.generation() != state.generation() + 1) {
      return corrupt(absl::StrCat(
          "the record at byte ", offset - kRecordHeaderBytes - length,
          " has generation ", change.generation(), " where ",
          state.generation() + 1,
          " should follow (records lost, or a journal that belongs to "
          "another snapshot)"));
    }
    for (const xlb::v1::VipKey& key : change.deleted_vips()) {
      auto it = position.find(KeyOf(key));
      if (it == position.end()) continue;
      deleted[it->second] = true;
      position.erase(it);
    }
    for (const xlb::v1::Vip& vip : change.vips()) {
      auto [it, added] =
          position.emplace(KeyOf(vip.key()), state.config().vips_size());
      if (added) {
        state.mutable_config()->add_vips();
        deleted.push_back(false);
      }
      *state.mutable_config()->mutable_vips(it->second) = vip;
    }
    state.set_generation(change.generation());
    *state.mutable_saved_at() = change.saved_at();
    ++applied;
  }
  if (std::find(deleted.begin(), deleted.end(), true) != deleted.end()) {
    xlb::v1::Config kept;
    for (int i = 0; i < state.config().vips_size(); ++i) {
      if (!deleted[i]) {
        *kept.add_vips() = std::move(*state.mutable_config()->mutable_vips(i));
      }
    }
    *state.mutable_config() = std::move(kept);
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeStateFile(const xlb::v1::PersistedState& state) {
  xlb::v1::PersistedState copy = state;
  copy.set_format_version(kStateFormatVersion);
  std::string body;
  google::protobuf::TextFormat::PrintToString(copy, &body);
  return absl::StrCat(kMagic, " ", kStateFormatVersion, " ", body.size(), " ",
                      Hex(Sha256(body)), "\n", body);
}

absl::StatusOr<xlb::v1::PersistedState> DecodeStateFile(
    absl::string_view data, absl::string_view name) {
  auto corrupt = [&](absl::string_view problem) {
    return absl::DataLossError(
        absl::StrCat("state file ", name, " is unusable: ", problem));
  };
  const size_t newline = data.find('\n');
  if (newline == absl::string_view::npos) {
    return corrupt("no header line (empty or truncated file)");
  }
  std::vector<absl::string_view> header =
      absl::StrSplit(data.substr(0, newline), ' ');
  if (header.size() != 4 || header[0] != kMagic) {
    return corrupt(
        absl::StrCat("header \"", data.substr(0, std::min<size_t>(newline, 80)),
                     "\" is not \"", kMagic, " <version> <length> <sha256>\""));
  }
  uint32_t version = 0;
  uint64_t length = 0;
  if (!absl::SimpleAtoi(header[1], &version) ||
      !absl::SimpleAtoi(header[2], &length)) {
    return corrupt("header version or length is not a number");
  }
  if (version != 1 && version != kStateFormatVersion) {
    return corrupt(absl::StrCat("format version ", version,
                                " is not supported (this xlbd reads 1 and ",
                                kStateFormatVersion, ")"));
  }
  absl::string_view body = data.substr(newline + 1);
  if (body.size() != length) {
    return corrupt(absl::StrCat("body is ", body.size(),
                                " bytes, the header says ", length,
                                " (truncated?)"));
  }
  if (Hex(Sha256(body)) != absl::AsciiStrToLower(header[3])) {
    return corrupt("SHA-256 of the body does not match the header");
  }
  xlb::v1::PersistedState state;
  if (!google::protobuf::TextFormat::ParseFromString(std::string(body),
                                                     &state)) {
    return corrupt("body is not a valid xlb.v1.PersistedState");
  }
  if (state.format_version() != version) {
    return corrupt(absl::StrCat("body format_version ", state.format_version(),
                                " differs from the header's ", version));
  }
  return state;
}

std::string EncodeJournalRecord(const xlb::v1::StateChange& change) {
  const std::string payload = change.SerializeAsString();
  std::string record;
  record.reserve(kRecordHeaderBytes + payload.size());
  PutLe32(static_cast<uint32_t>(payload.size()), record);
  PutLe32(~static_cast<uint32_t>(payload.size()), record);
  record += Sha256(payload);
  record += payload;
  return record;
}

absl::StatusOr<std::optional<xlb::v1::PersistedState>> StateFile::Load() const {
  absl::StatusOr<std::optional<std::string>> snapshot = ReadFile(path_);
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<std::optional<std::string>> journal = ReadFile(journal_path());
  if (!journal.ok()) return journal.status();
  if (!snapshot->has_value()) {
    struct stat st;
    const bool has_prev = stat(prev_path().c_str(), &st) == 0;
    const bool has_records =
        journal->has_value() && (*journal)->size() > kJournalHeader.size();
    if (has_prev) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state file ", path_, " is missing but its previous copy ",
          prev_path(),
          " exists; refusing to start with an empty configuration. Restore "
          "it (cp ",
          prev_path(), " ", path_, ") or remove ", prev_path(), " and ",
          journal_path(), " to start empty"));
    }
    if (has_records) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state file ", path_, " is missing but its journal ", journal_path(),
          " holds changes made on top of it; refusing to start with an "
          "empty configuration. Restore it, or remove ",
          journal_path(), " to start empty"));
    }
    return std::nullopt;
  }
  const std::string empty_journal =
      absl::StrCat("printf 'xlb-journal 1\\n' > ", journal_path());
  const std::string restore_hint = absl::StrCat(
      ". Refusing to start (docs/state.md, \"Recovering\"): restore the "
      "files, or go back to the snapshot before the last compaction (cp ",
      prev_path(), " ", path_, "; ", empty_journal, "), or remove ", path_,
      ", ", prev_path(), " and ", journal_path(),
      " to start with an empty configuration");
  absl::StatusOr<xlb::v1::PersistedState> state =
      DecodeStateFile(**snapshot, path_);
  if (!state.ok()) {
    return absl::DataLossError(
        absl::StrCat(state.status().message(), restore_hint));
  }
  if (!journal->has_value()) {
    if (state->format_version() == 1) return *std::move(state);
    return absl::DataLossError(absl::StrCat(
        "state file ", path_, " has no journal ", journal_path(),
        ": the changes acknowledged since the snapshot are missing. Refusing "
        "to start: restore it, or start from the snapshot alone, losing "
        "them, with an empty journal (",
        empty_journal, ")"));
  }
  if (absl::Status s = Replay(**journal, journal_path(), *state); !s.ok()) {
    return absl::DataLossError(absl::StrCat(s.message(), restore_hint));
  }
  return *std::move(state);
}

bool StateFile::needs_snapshot() const {
  return !journal_.valid() ||
         journal_bytes_ > std::max(snapshot_bytes_, options_.min_journal_bytes);
}

absl::Status StateFile::Save(const xlb::v1::PersistedState& state) {
  journal_.reset();  // until the new journal is in place
  const std::string data = EncodeStateFile(state);
  const std::string temp = temp_path();
  if (absl::Status s = WriteFileSynced(temp, data); !s.ok()) return s;
  // A version-2 snapshot never exists without its journal: the first one
  // gets an empty journal before it takes the file's name.
  struct stat st;
  if (stat(journal_path().c_str(), &st) != 0) {
    if (errno != ENOENT) return Errno("checking", journal_path());
    if (absl::Status s = ReplaceFile(journal_path(), kJournalHeader); !s.ok()) {
      return s;
    }
  }
  // Keep the current snapshot as the previous good copy. A hard link costs
  // no copy, and the current name is never absent: rename replaces it.
  if (unlink(prev_path().c_str()) != 0 && errno != ENOENT) {
    return Errno("removing", prev_path());
  }
  if (link(path_.c_str(), prev_path().c_str()) != 0 && errno != ENOENT) {
    return Errno("linking the previous state to", prev_path());
  }
  if (rename(temp.c_str(), path_.c_str()) != 0) {
    return Errno(absl::StrCat("renaming ", temp, " to"), path_);
  }
  // The new snapshot is durable before the journal it makes redundant goes.
  if (absl::Status s = SyncDirectoryOf(path_); !s.ok()) return s;
  if (absl::Status s = ReplaceFile(journal_path(), kJournalHeader); !s.ok()) {
    return s;
  }
  UniqueFd journal(
      open(journal_path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!journal.valid()) return Errno("opening", journal_path());
  journal_ = std::move(journal);
  journal_bytes_ = kJournalHeader.size();
  snapshot_bytes_ = data.size();
  return absl::OkStatus();
}

absl::Status StateFile::Append(const xlb::v1::StateChange& change) {
  if (needs_snapshot()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state journal ", journal_path(),
                     " takes no records until a snapshot is saved"));
  }
  const std::string record = EncodeJournalRecord(change);
  absl::Status status = WriteAll(journal_.get(), record, journal_path());
  if (status.ok() && fdatasync(journal_.get()) != 0) {
    status = Errno("fdatasync of", journal_path());
  }
  // A record in a journal someone removed would be lost at the next start.
  struct stat st;
  if (status.ok() && fstat(journal_.get(), &st) != 0) {
    status = Errno("fstat of", journal_path());
  }
  if (status.ok() && st.st_nlink == 0) {
    status = absl::InternalError(
        absl::StrCat("state journal ", journal_path(), " was removed"));
  }
  if (!status.ok()) {
    // Cut off what may have landed; the next change rewrites everything
    // anyway.
    (void)!ftruncate(journal_.get(), static_cast<off_t>(journal_bytes_));
    journal_.reset();
    return status;
  }
  journal_bytes_ += record.size();
  return absl::OkStatus();
}

}  // namespace xlb
