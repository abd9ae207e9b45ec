// grpc.health.v1.Health/Check over HTTP/2 cleartext with prior knowledge,
// spoken directly on the probe's non-blocking socket: a blocking gRPC
// client per probe would stall the checker's event loop.
//
// The client sends the connection preface, SETTINGS, one HEADERS frame
// (HPACK literals without indexing) and one DATA frame holding the gRPC
// message (a 5-byte prefix and a HealthCheckRequest{service} protobuf) on
// stream 1. It acknowledges the server's SETTINGS and PINGs, decodes the
// response headers and trailers, and reads HealthCheckResponse.status.
#ifndef XLB_LB_HEALTH_GRPC_HEALTH_SESSION_H_
#define XLB_LB_HEALTH_GRPC_HEALTH_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "lb/health/hpack.h"
#include "lb/health/stream_session.h"

namespace xlb::health {

// Everything the client sends before reading: preface, SETTINGS, HEADERS,
// DATA (END_STREAM).
std::string BuildGrpcHealthGreeting(absl::string_view authority,
                                    absl::string_view service);

// Success: HTTP :status 200, grpc-status 0 and status SERVING (1).
// NOT_SERVING, SERVICE_UNKNOWN and a non-zero grpc-status are kWrongStatus;
// protocol violations are kBadResponse; RST_STREAM is kReset.
class GrpcHealthSession : public StreamSession {
 public:
  std::optional<ProbeResult> OnReceive(absl::string_view bytes,
                                       std::string* reply) override;
  ProbeResult OnPeerClosed() override;

 private:
  std::optional<ProbeResult> OnFrame(uint8_t type, uint8_t flags,
                                     uint32_t stream, absl::string_view payload,
                                     std::string* reply);
  std::optional<ProbeResult> OnHeaderBlock(bool end_stream);
  ProbeResult Finish();

  std::string buffer_;
  HpackDecoder hpack_;
  std::string header_block_;  // fragments until END_HEADERS
  bool header_block_ends_stream_ = false;
  bool in_header_block_ = false;
  bool seen_response_headers_ = false;
  std::string message_;  // DATA payload of stream 1
  std::optional<std::string> grpc_status_;
  std::string grpc_message_;
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_GRPC_HEALTH_SESSION_H_
