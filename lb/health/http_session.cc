#include "lb/health/http_session.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace xlb::health {

std::string BuildHttpRequest(absl::string_view path, absl::string_view host) {
  return absl::StrCat("GET ", path.empty() ? "/" : path,
                      " HTTP/1.1\r\nHost: ", host,
                      "\r\nUser-Agent: xlb-health-check\r\nAccept: */*\r\n"
                      "Connection: close\r\n\r\n");
}

std::optional<ProbeResult> HttpSession::OnReceive(absl::string_view bytes,
                                                  std::string* /*reply*/) {
  if (absl::Status status = parser_.Feed(bytes); !status.ok()) {
    return ProbeResult::Failure(ProbeOutcome::kBadResponse,
                                std::string(status.message()));
  }
  return Verdict();
}

ProbeResult HttpSession::OnPeerClosed() {
  parser_.OnEof();
  if (std::optional<ProbeResult> verdict = Verdict()) return *verdict;
  return ProbeResult::Failure(
      ProbeOutcome::kBadResponse,
      parser_.has_status()
          ? "connection closed before the response body was complete"
          : "connection closed before an HTTP status line");
}

std::optional<ProbeResult> HttpSession::Verdict() {
  if (!parser_.has_status()) return std::nullopt;
  const int code = parser_.status_code();
  const std::vector<uint32_t>& expected = plan_->spec->http_expected_codes;
  const bool wanted =
      expected.empty()
          ? code == 200
          : std::find(expected.begin(), expected.end(),
                      static_cast<uint32_t>(code)) != expected.end();
  if (!wanted) {
    return ProbeResult::Failure(ProbeOutcome::kWrongStatus,
                                absl::StrCat("HTTP status ", code));
  }
  const std::string& needle = plan_->spec->http_body_substring;
  if (needle.empty() || absl::StrContains(parser_.body(), needle)) {
    return ProbeResult::Success();
  }
  if (parser_.complete() || parser_.body_truncated()) {
    return ProbeResult::Failure(
        ProbeOutcome::kBadResponse,
        absl::StrCat("body lacks \"", needle.substr(0, 64), "\"",
                     parser_.body_truncated() ? " in its first 64 KiB" : ""));
  }
  return std::nullopt;
}

}  // namespace xlb::health
