// How one health probe ended.
#ifndef XLB_LB_HEALTH_PROBE_OUTCOME_H_
#define XLB_LB_HEALTH_PROBE_OUTCOME_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace xlb::health {

enum class ProbeOutcome : uint8_t {
  kSuccess = 0,
  kRefused,      // connection refused (TCP RST to the SYN, ICMP unreachable)
  kTimeout,      // no verdict within the probe's timeout
  kReset,        // the connection or HTTP/2 stream was reset mid-probe
  kUnreachable,  // no route, host or network unreachable
  kWrongStatus,  // HTTP status not expected, grpc-status not OK, NOT_SERVING
  kBadResponse,  // malformed or unexpected reply (body mismatch, UDP bytes)
  kTlsError,     // TLS handshake or certificate verification failed
  kLocalError,   // the prober itself failed (socket(), descriptor limit)
};
inline constexpr size_t kProbeOutcomeCount = 9;

// "success", "refused", "timeout", "reset", "unreachable", "wrong status",
// "bad response", "tls error", "local error".
absl::string_view ProbeOutcomeName(ProbeOutcome outcome);
// The name as an identifier, for metric labels and log fields: "success",
// "wrong_status", "tls_error", ...
absl::string_view ProbeOutcomeLabel(ProbeOutcome outcome);

// The outcome of a probe, with a short human-readable detail on failure
// ("HTTP status 503", "connect: Connection refused").
struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kSuccess;
  std::string detail;

  bool ok() const { return outcome == ProbeOutcome::kSuccess; }
  static ProbeResult Success() { return {}; }
  static ProbeResult Failure(ProbeOutcome outcome, std::string detail) {
    return {outcome, std::move(detail)};
  }
};

// The outcome a failed socket call with `error` (an errno) stands for.
ProbeOutcome OutcomeFromErrno(int error);

// That outcome, with the detail "<call>: <strerror(error)>".
ProbeResult ErrnoFailure(absl::string_view call, int error);

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_PROBE_OUTCOME_H_
