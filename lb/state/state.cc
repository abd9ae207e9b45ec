#include "lb/state/state.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "lb/base/unique_fd.h"

namespace xlb {
namespace {

constexpr absl::string_view kMagic = "xlb-state";

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
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

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string EncodeStateFile(const xlb::v1::PersistedState& state) {
  xlb::v1::PersistedState copy = state;
  copy.set_format_version(kStateFormatVersion);
  std::string body;
  google::protobuf::TextFormat::PrintToString(copy, &body);
  return absl::StrCat(kMagic, " ", kStateFormatVersion, " ", body.size(), " ",
                      Sha256Hex(body), "\n", body);
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
  if (version != kStateFormatVersion) {
    return corrupt(absl::StrCat("format version ", version,
                                " is not supported (this xlbd reads ",
                                kStateFormatVersion, ")"));
  }
  absl::string_view body = data.substr(newline + 1);
  if (body.size() != length) {
    return corrupt(absl::StrCat("body is ", body.size(),
                                " bytes, the header says ", length,
                                " (truncated?)"));
  }
  if (Sha256Hex(body) != absl::AsciiStrToLower(header[3])) {
    return corrupt("SHA-256 of the body does not match the header");
  }
  xlb::v1::PersistedState state;
  if (!google::protobuf::TextFormat::ParseFromString(std::string(body),
                                                     &state)) {
    return corrupt("body is not a valid xlb.v1.PersistedState");
  }
  if (state.format_version() != kStateFormatVersion) {
    return corrupt(absl::StrCat("body format_version ", state.format_version(),
                                " differs from the header's ", version));
  }
  return state;
}

absl::StatusOr<std::optional<xlb::v1::PersistedState>> StateFile::Load() const {
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno != ENOENT) return Errno("opening state file", path_);
    struct stat st;
    if (stat(prev_path().c_str(), &st) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state file ", path_, " is missing but its previous copy ",
          prev_path(),
          " exists; refusing to start with an empty configuration. Restore "
          "it (cp ",
          prev_path(), " ", path_, ") or remove both to start empty"));
    }
    return std::nullopt;
  }
  absl::StatusOr<std::string> data = ReadAll(fd.get(), path_);
  if (!data.ok()) return data.status();
  absl::StatusOr<xlb::v1::PersistedState> state = DecodeStateFile(*data, path_);
  if (!state.ok()) {
    return absl::DataLossError(
        absl::StrCat(state.status().message(),
                     ". Refusing to start: fix or restore it (the "
                     "previous good copy is ",
                     prev_path(),
                     "), or remove it to start with "
                     "an empty configuration"));
  }
  return *std::move(state);
}

absl::Status StateFile::Save(const xlb::v1::PersistedState& state) const {
  const std::string data = EncodeStateFile(state);
  const std::string temp = temp_path();
  {
    UniqueFd fd(
        open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Errno("creating", temp);
    // 0600 whatever the umask (open applies it to the mode above).
    if (fchmod(fd.get(), 0600) != 0) return Errno("setting the mode of", temp);
    if (absl::Status s = WriteAll(fd.get(), data, temp); !s.ok()) return s;
    if (fsync(fd.get()) != 0) return Errno("fsync of", temp);
  }
  // Keep the current file as the previous good copy. A hard link costs no
  // copy, and the current name is never absent: rename replaces it.
  if (unlink(prev_path().c_str()) != 0 && errno != ENOENT) {
    return Errno("removing", prev_path());
  }
  if (link(path_.c_str(), prev_path().c_str()) != 0 && errno != ENOENT) {
    return Errno("linking the previous state to", prev_path());
  }
  if (rename(temp.c_str(), path_.c_str()) != 0) {
    return Errno(absl::StrCat("renaming ", temp, " to"), path_);
  }
  const std::string dir = DirectoryOf(path_);
  UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return Errno("opening directory", dir);
  if (fsync(dir_fd.get()) != 0) return Errno("fsync of directory", dir);
  return absl::OkStatus();
}

}  // namespace xlb
