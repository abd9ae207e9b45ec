// Incremental HTTP/1.1 response parser for health probes: status line,
// headers, and a body framed by Content-Length, chunked encoding or the
// end of the connection. Keeps at most a bounded prefix of the body.
#ifndef XLB_LB_HEALTH_HTTP_RESPONSE_PARSER_H_
#define XLB_LB_HEALTH_HTTP_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace xlb::health {

class HttpResponseParser {
 public:
  static constexpr size_t kMaxHeaderBytes = 16 * 1024;
  static constexpr size_t kMaxBodyBytes = 64 * 1024;

  // Consumes bytes; an error means the response is malformed.
  absl::Status Feed(absl::string_view bytes);
  // The peer closed the connection: completes a close-delimited body.
  void OnEof();

  bool has_status() const { return status_code_ != 0; }
  int status_code() const { return status_code_; }
  // The body so far (at most kMaxBodyBytes), de-chunked.
  const std::string& body() const { return body_; }
  bool body_truncated() const { return body_truncated_; }
  bool complete() const { return state_ == State::kComplete; }

 private:
  enum class State {
    kHeaders,
    kFixedBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kUntilClose,
    kComplete
  };
  absl::Status ParseHeaders(absl::string_view head);
  absl::Status Advance();
  void AppendBody(absl::string_view data);

  State state_ = State::kHeaders;
  std::string pending_;  // received, not yet consumed
  int status_code_ = 0;
  uint64_t remaining_ = 0;  // of the fixed body or the current chunk
  std::string body_;
  bool body_truncated_ = false;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_HTTP_RESPONSE_PARSER_H_
