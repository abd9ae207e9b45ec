#include "lb/health/http_response_parser.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace xlb::health {
namespace {

constexpr absl::string_view kCrlf = "\r\n";

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed response: ", what));
}

}  // namespace

absl::Status HttpResponseParser::Feed(absl::string_view bytes) {
  if (state_ == State::kComplete) return absl::OkStatus();
  pending_.append(bytes.data(), bytes.size());
  return Advance();
}

void HttpResponseParser::OnEof() {
  if (state_ == State::kUntilClose) state_ = State::kComplete;
}

void HttpResponseParser::AppendBody(absl::string_view data) {
  const size_t room = kMaxBodyBytes - body_.size();
  if (data.size() > room) body_truncated_ = true;
  body_.append(data.data(), std::min(room, data.size()));
}

absl::Status HttpResponseParser::ParseHeaders(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, kCrlf);
  absl::string_view status_line = lines[0];
  // "HTTP/1.1 200 OK"
  if (!absl::ConsumePrefix(&status_line, "HTTP/1.") || status_line.size() < 5 ||
      status_line[1] != ' ') {
    return Malformed(
        absl::StrCat("status line '", lines[0].substr(0, 64), "'"));
  }
  int code = 0;
  if (!absl::SimpleAtoi(status_line.substr(2, 3), &code) || code < 100 ||
      code > 999) {
    return Malformed(
        absl::StrCat("status code in '", lines[0].substr(0, 64), "'"));
  }
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) {
      return Malformed(
          absl::StrCat("header line '", lines[i].substr(0, 64), "'"));
    }
    const absl::string_view name = lines[i].substr(0, colon);
    const absl::string_view value =
        absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      if (!absl::SimpleAtoi(value, &length)) {
        return Malformed(absl::StrCat("Content-Length '", value, "'"));
      }
      has_length = true;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = absl::StrContains(absl::AsciiStrToLower(value), "chunked");
    }
  }
  if (code < 200 && code != 101) return absl::OkStatus();  // interim: skip
  status_code_ = code;
  if (code == 204 || code == 304 || code == 101) {
    state_ = State::kComplete;
  } else if (chunked) {
    state_ = State::kChunkSize;
  } else if (has_length) {
    remaining_ = length;
    state_ = length == 0 ? State::kComplete : State::kFixedBody;
  } else {
    state_ = State::kUntilClose;
  }
  return absl::OkStatus();
}

absl::Status HttpResponseParser::Advance() {
  size_t pos = 0;
  absl::Status status;
  for (bool progress = true; progress && state_ != State::kComplete;) {
    progress = false;
    absl::string_view rest = absl::string_view(pending_).substr(pos);
    switch (state_) {
      case State::kHeaders: {
        const size_t end = rest.find("\r\n\r\n");
        if (end == absl::string_view::npos) {
          if (rest.size() > kMaxHeaderBytes) {
            status = Malformed("headers exceed 16 KiB");
          }
          break;
        }
        status = ParseHeaders(rest.substr(0, end));
        pos += end + 4;
        progress = status.ok();
        break;
      }
      case State::kFixedBody:
      case State::kChunkData: {
        if (rest.empty()) break;
        const size_t take = std::min<uint64_t>(remaining_, rest.size());
        AppendBody(rest.substr(0, take));
        pos += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          state_ = state_ == State::kFixedBody ? State::kComplete
                                               : State::kChunkDataEnd;
        }
        progress = true;
        break;
      }
      case State::kChunkSize: {
        const size_t end = rest.find(kCrlf);
        if (end == absl::string_view::npos) break;
        absl::string_view size_text = rest.substr(0, end);
        size_text = size_text.substr(0, size_text.find(';'));  // extensions
        uint64_t size = 0;
        if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text),
                                 &size)) {
          status = Malformed(absl::StrCat("chunk size '", size_text, "'"));
          break;
        }
        pos += end + 2;
        remaining_ = size;
        state_ = size == 0 ? State::kTrailers : State::kChunkData;
        progress = true;
        break;
      }
      case State::kChunkDataEnd:
        if (rest.size() < 2) break;
        if (!absl::StartsWith(rest, kCrlf)) {
          status = Malformed("chunk not followed by CRLF");
          break;
        }
        pos += 2;
        state_ = State::kChunkSize;
        progress = true;
        break;
      case State::kTrailers: {
        const size_t end = rest.find(kCrlf);
        if (end == absl::string_view::npos) break;
        pos += end + 2;
        if (end == 0) state_ = State::kComplete;
        progress = true;
        break;
      }
      case State::kUntilClose:
        AppendBody(rest);
        pos += rest.size();
        break;
      case State::kComplete:
        break;
    }
    if (!status.ok()) return status;
  }
  pending_.erase(0, pos);
  return absl::OkStatus();
}

}  // namespace xlb::health
