#include "lb/health/probe_outcome.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xlb::health {

absl::string_view ProbeOutcomeName(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kSuccess:
      return "success";
    case ProbeOutcome::kRefused:
      return "refused";
    case ProbeOutcome::kTimeout:
      return "timeout";
    case ProbeOutcome::kReset:
      return "reset";
    case ProbeOutcome::kUnreachable:
      return "unreachable";
    case ProbeOutcome::kWrongStatus:
      return "wrong status";
    case ProbeOutcome::kBadResponse:
      return "bad response";
    case ProbeOutcome::kTlsError:
      return "tls error";
    case ProbeOutcome::kLocalError:
      return "local error";
  }
  return "unknown";
}

absl::string_view ProbeOutcomeLabel(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kWrongStatus:
      return "wrong_status";
    case ProbeOutcome::kBadResponse:
      return "bad_response";
    case ProbeOutcome::kTlsError:
      return "tls_error";
    case ProbeOutcome::kLocalError:
      return "local_error";
    default:
      return ProbeOutcomeName(outcome);
  }
}

ProbeOutcome OutcomeFromErrno(int error) {
  switch (error) {
    case ECONNREFUSED:
      return ProbeOutcome::kRefused;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
      return ProbeOutcome::kReset;
    case ETIMEDOUT:
      return ProbeOutcome::kTimeout;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EADDRNOTAVAIL:
      return ProbeOutcome::kUnreachable;
    default:
      return ProbeOutcome::kLocalError;
  }
}

ProbeResult ErrnoFailure(absl::string_view call, int error) {
  return ProbeResult::Failure(OutcomeFromErrno(error),
                              absl::StrCat(call, ": ", std::strerror(error)));
}

}  // namespace xlb::health
