// Directories that hold xlbd's files (state, API socket, bpffs pins): made
// with an explicit mode and owner whatever the umask, and refused when anyone
// but their owner could change them.
//
// PreparePrivateDirectory(path, mode, what):
//   - each missing component of `path` is created with `mode` (never
//     wider, not even for a moment) and owned by the effective user and group;
//   - `path` must end up a directory owned by root or the effective user and
//     writable by neither its group nor others; an existing one keeps its mode;
//   - every existing ancestor must be owned by root or the effective user and
//     not writable by group or others, unless it has the sticky bit (/tmp,
//     /sys/fs/bpf), where others cannot rename or remove what is ours.
// Errors start with `what` (a flag name such as "--state-file") and name the
// path, its owner or mode, and the fix.
#ifndef XLB_LB_BASE_PRIVATE_DIR_H_
#define XLB_LB_BASE_PRIVATE_DIR_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace xlb {

absl::Status PreparePrivateDirectory(const std::string& path, mode_t mode,
                                     absl::string_view what);

}  // namespace xlb

#endif  // XLB_LB_BASE_PRIVATE_DIR_H_
