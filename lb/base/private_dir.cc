#include "lb/base/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace xlb {
namespace {

std::string Mode(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

absl::Status Errno(absl::string_view what, absl::string_view action,
                   const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, ": cannot ", action, " ", path, ": ", std::strerror(errno)));
}

// Creates `path` with exactly `mode`: made with no permission at all, then
// given `mode`, so no umask and no moment of a wider mode applies.
absl::Status Create(const std::string& path, mode_t mode,
                    absl::string_view what) {
  if (mkdir(path.c_str(), 0) != 0) {
    if (errno == EEXIST) return absl::OkStatus();  // made meanwhile: checked
    return Errno(what, "create directory", path);
  }
  if (chown(path.c_str(), geteuid(), getegid()) != 0) {
    return Errno(what, "set the owner of", path);
  }
  if (chmod(path.c_str(), mode) != 0) {
    return Errno(what, "set the mode of", path);
  }
  return absl::OkStatus();
}

absl::Status Check(const std::string& path, const struct stat& st, bool last,
                   absl::string_view what) {
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", path, " exists and is not a directory"));
  }
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": directory ", path, " is owned by uid ", st.st_uid,
        ", who could replace xlbd's files in it; xlbd (uid ", geteuid(),
        ") uses only directories owned by root or by itself"));
  }
  const bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (others_write && (last || (st.st_mode & S_ISVTX) == 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": directory ", path, " is writable by group or others (mode ",
        Mode(st.st_mode),
        "), who could replace or remove xlbd's files in it. Remove the write "
        "bits (chmod go-w ",
        path, ") or choose another directory"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PreparePrivateDirectory(const std::string& path, mode_t mode,
                                     absl::string_view what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty directory"));
  }
  const std::vector<absl::string_view> parts =
      absl::StrSplit(path, '/', absl::SkipEmpty());
  std::string prefix = path[0] == '/' ? "/" : "";
  for (size_t i = 0; i <= parts.size(); ++i) {
    // i == 0 checks the root ("/") of an absolute path; relative paths start
    // at their first component.
    if (i > 0) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      absl::StrAppend(&prefix, parts[i - 1]);
    } else if (prefix.empty()) {
      continue;
    }
    struct stat st;
    if (stat(prefix.c_str(), &st) != 0) {
      if (errno != ENOENT) return Errno(what, "inspect", prefix);
      if (absl::Status s = Create(prefix, mode, what); !s.ok()) return s;
      if (stat(prefix.c_str(), &st) != 0) return Errno(what, "inspect", prefix);
    }
    if (absl::Status s = Check(prefix, st, i == parts.size(), what); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace xlb
