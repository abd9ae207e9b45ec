// xlbctl's exit codes: what a script can tell apart without parsing text.
// docs/xlbctl.md lists them; keep the two in step.
#ifndef XLB_TOOLS_XLBCTL_EXIT_CODES_H_
#define XLB_TOOLS_XLBCTL_EXIT_CODES_H_

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace xlb::xlbctl {

inline constexpr int kExitOk = 0;
// Any failure without a code of its own (ALREADY_EXISTS, FAILED_PRECONDITION
// such as a generation mismatch, RESOURCE_EXHAUSTED, INTERNAL, ...).
inline constexpr int kExitFailure = 1;
// The command line is wrong: unknown verb or option, missing argument.
inline constexpr int kExitUsage = 2;
// The VIP or backend named does not exist (NOT_FOUND).
inline constexpr int kExitNotFound = 3;
// A value is malformed: rejected by xlbctl (a VIP, address, duration or
// config file it cannot parse) or by the agent (INVALID_ARGUMENT).
inline constexpr int kExitInvalid = 4;
// The agent cannot be reached or did not answer in time (UNAVAILABLE,
// DEADLINE_EXCEEDED).
inline constexpr int kExitUnavailable = 5;
// The agents compared (several --server) disagree: some VIP's ring digest
// differs between them, so flows that move between them change backend.
inline constexpr int kExitDisagree = 6;

// Marks a status as the agents' disagreement (exit code kExitDisagree).
inline constexpr char kDisagreePayload[] = "xlbctl/agents-disagree";

inline absl::Status DisagreementError(absl::string_view message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kDisagreePayload, absl::Cord("1"));
  return status;
}

inline int ExitCodeFor(const absl::Status& status) {
  if (status.GetPayload(kDisagreePayload).has_value()) return kExitDisagree;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_EXIT_CODES_H_
