#include "lb/health/grpc_health_session.h"

#include "absl/strings/str_cat.h"

namespace xlb::health {
namespace {

constexpr absl::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kFrameHeaderBytes = 9;
constexpr uint32_t kMaxFrameSize = 16384;  // SETTINGS_MAX_FRAME_SIZE default
constexpr uint32_t kStreamId = 1;

enum FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPing = 0x6,
  kGoaway = 0x7,
  kContinuation = 0x9,
};
enum FrameFlag : uint8_t {
  kAck = 0x1,
  kEndStream = 0x1,
  kEndHeaders = 0x4,
  kPadded = 0x8,
  kPriority = 0x20,
};
constexpr uint16_t kSettingsEnablePush = 0x2;

// HPACK static table indexes (RFC 7541 Appendix A).
constexpr int kAuthority = 1, kMethod = 2, kPath = 4, kScheme = 6,
              kContentType = 31;

uint32_t ReadU32(absl::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(b[at + 3])};
}

void AppendFrame(uint8_t type, uint8_t flags, uint32_t stream,
                 absl::string_view payload, std::string* out) {
  const uint32_t n = payload.size();
  const char header[kFrameHeaderBytes] = {static_cast<char>(n >> 16),
                                          static_cast<char>(n >> 8),
                                          static_cast<char>(n),
                                          static_cast<char>(type),
                                          static_cast<char>(flags),
                                          static_cast<char>(stream >> 24),
                                          static_cast<char>(stream >> 16),
                                          static_cast<char>(stream >> 8),
                                          static_cast<char>(stream)};
  out->append(header, kFrameHeaderBytes);
  out->append(payload.data(), payload.size());
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// HealthCheckResponse.status (field 1, varint); nullopt if malformed.
std::optional<uint64_t> ParseServingStatus(absl::string_view message) {
  uint64_t status = 0;  // proto3 default: UNKNOWN
  size_t pos = 0;
  while (pos < message.size()) {
    uint64_t key = 0, value = 0;
    if (!ReadVarint(message, &pos, &key)) return std::nullopt;
    switch (key & 7) {
      case 0:
        if (!ReadVarint(message, &pos, &value)) return std::nullopt;
        if (key >> 3 == 1) status = value;
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        if (!ReadVarint(message, &pos, &value)) return std::nullopt;
        pos += value;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return std::nullopt;
    }
    if (pos > message.size()) return std::nullopt;
  }
  return status;
}

absl::string_view ServingStatusName(uint64_t status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "unrecognised";
  }
}

ProbeResult Bad(std::string detail) {
  return ProbeResult::Failure(ProbeOutcome::kBadResponse, std::move(detail));
}

}  // namespace

std::string BuildGrpcHealthGreeting(absl::string_view authority,
                                    absl::string_view service) {
  std::string out(kPreface);
  // SETTINGS: no server push.
  const char push_off[6] = {0, kSettingsEnablePush, 0, 0, 0, 0};
  AppendFrame(kSettings, 0, 0, absl::string_view(push_off, 6), &out);

  std::string block;
  HpackAppendLiteral(kMethod, "POST", &block);
  HpackAppendLiteral(kScheme, "http", &block);
  HpackAppendLiteral(kPath, "/grpc.health.v1.Health/Check", &block);
  HpackAppendLiteral(kAuthority, authority, &block);
  HpackAppendLiteral(kContentType, "application/grpc", &block);
  HpackAppendLiteral("te", "trailers", &block);
  HpackAppendLiteral("user-agent", "xlb-health-check", &block);
  AppendFrame(kHeaders, kEndHeaders, kStreamId, block, &out);

  // HealthCheckRequest { string service = 1; }
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);  // field 1, wire type 2
    AppendVarint(service.size(), &request);
    request.append(service.data(), service.size());
  }
  std::string message(1, '\0');  // not compressed
  const uint32_t n = request.size();
  message.push_back(static_cast<char>(n >> 24));
  message.push_back(static_cast<char>(n >> 16));
  message.push_back(static_cast<char>(n >> 8));
  message.push_back(static_cast<char>(n));
  message += request;
  AppendFrame(kData, kEndStream, kStreamId, message, &out);
  return out;
}

std::optional<ProbeResult> GrpcHealthSession::OnReceive(absl::string_view bytes,
                                                        std::string* reply) {
  buffer_.append(bytes.data(), bytes.size());
  size_t pos = 0;
  std::optional<ProbeResult> verdict;
  while (!verdict && buffer_.size() - pos >= kFrameHeaderBytes) {
    const absl::string_view b(buffer_);
    const uint32_t length = ReadU32(b, pos) >> 8;
    if (length > kMaxFrameSize) {
      return Bad(absl::StrCat("HTTP/2 frame of ", length, " bytes"));
    }
    if (buffer_.size() - pos < kFrameHeaderBytes + length) break;
    const uint8_t type = static_cast<uint8_t>(b[pos + 3]);
    const uint8_t flags = static_cast<uint8_t>(b[pos + 4]);
    const uint32_t stream = ReadU32(b, pos + 5) & 0x7fffffff;
    verdict = OnFrame(type, flags, stream,
                      b.substr(pos + kFrameHeaderBytes, length), reply);
    pos += kFrameHeaderBytes + length;
  }
  buffer_.erase(0, pos);
  return verdict;
}

std::optional<ProbeResult> GrpcHealthSession::OnFrame(uint8_t type,
                                                      uint8_t flags,
                                                      uint32_t stream,
                                                      absl::string_view payload,
                                                      std::string* reply) {
  if (in_header_block_ && type != kContinuation) {
    return Bad("HTTP/2 header block interrupted");
  }
  switch (type) {
    case kSettings:
      if ((flags & kAck) == 0) AppendFrame(kSettings, kAck, 0, "", reply);
      return std::nullopt;
    case kPing:
      if ((flags & kAck) == 0) AppendFrame(kPing, kAck, 0, payload, reply);
      return std::nullopt;
    case kGoaway:
      if (payload.size() >= 8 &&
          (ReadU32(payload, 0) & 0x7fffffff) < kStreamId) {
        return Bad(absl::StrCat("GOAWAY before the stream, error code ",
                                ReadU32(payload, 4)));
      }
      return std::nullopt;
    case kRstStream:
      if (stream != kStreamId) return std::nullopt;
      return ProbeResult::Failure(
          ProbeOutcome::kReset,
          absl::StrCat("RST_STREAM, error code ",
                       payload.size() >= 4 ? ReadU32(payload, 0) : 0));
    case kData:
    case kHeaders: {
      if (stream != kStreamId) return std::nullopt;
      size_t pad = 0;
      if (flags & kPadded) {
        if (payload.empty()) return Bad("empty padded frame");
        pad = static_cast<uint8_t>(payload[0]);
        payload.remove_prefix(1);
      }
      if (type == kHeaders && (flags & kPriority)) {
        if (payload.size() < 5) return Bad("short HEADERS priority");
        payload.remove_prefix(5);
      }
      if (pad > payload.size()) return Bad("padding exceeds the frame");
      payload.remove_suffix(pad);
      if (type == kData) {
        if (!seen_response_headers_) return Bad("DATA before HEADERS");
        if (message_.size() + payload.size() > 64 * 1024) {
          return Bad("response message above 64 KiB");
        }
        message_.append(payload.data(), payload.size());
        if (flags & kEndStream) return Bad("stream ended without trailers");
        return std::nullopt;
      }
      header_block_.assign(payload.data(), payload.size());
      header_block_ends_stream_ = (flags & kEndStream) != 0;
      if ((flags & kEndHeaders) == 0) {
        in_header_block_ = true;
        return std::nullopt;
      }
      return OnHeaderBlock(header_block_ends_stream_);
    }
    case kContinuation:
      if (!in_header_block_ || stream != kStreamId) {
        return Bad("unexpected CONTINUATION");
      }
      header_block_.append(payload.data(), payload.size());
      if ((flags & kEndHeaders) == 0) return std::nullopt;
      in_header_block_ = false;
      return OnHeaderBlock(header_block_ends_stream_);
    default:  // WINDOW_UPDATE, PRIORITY, unknown types: nothing to do
      return std::nullopt;
  }
}

std::optional<ProbeResult> GrpcHealthSession::OnHeaderBlock(bool end_stream) {
  HeaderList headers;
  if (absl::Status s = hpack_.Decode(header_block_, &headers); !s.ok()) {
    return Bad(std::string(s.message()));
  }
  header_block_.clear();
  for (const auto& [name, value] : headers) {
    if (!seen_response_headers_ && name == ":status" && value != "200") {
      return ProbeResult::Failure(ProbeOutcome::kWrongStatus,
                                  absl::StrCat("HTTP/2 :status ", value));
    }
    if (name == "grpc-status") grpc_status_ = value;
    if (name == "grpc-message") grpc_message_ = value;
  }
  seen_response_headers_ = true;
  if (!end_stream) return std::nullopt;
  return Finish();
}

ProbeResult GrpcHealthSession::Finish() {
  if (!grpc_status_) return Bad("trailers without grpc-status");
  if (*grpc_status_ != "0") {
    return ProbeResult::Failure(
        ProbeOutcome::kWrongStatus,
        absl::StrCat("grpc-status ", *grpc_status_,
                     grpc_message_.empty() ? "" : ": ", grpc_message_));
  }
  if (message_.size() < 5) return Bad("no HealthCheckResponse message");
  if (message_[0] != 0) return Bad("compressed HealthCheckResponse");
  const uint32_t length = ReadU32(message_, 1);
  if (length != message_.size() - 5) return Bad("gRPC message length mismatch");
  const std::optional<uint64_t> status =
      ParseServingStatus(absl::string_view(message_).substr(5));
  if (!status) return Bad("malformed HealthCheckResponse");
  if (*status == 1) return ProbeResult::Success();
  return ProbeResult::Failure(
      ProbeOutcome::kWrongStatus,
      absl::StrCat("health status ", ServingStatusName(*status)));
}

ProbeResult GrpcHealthSession::OnPeerClosed() {
  return Bad("connection closed before the gRPC response was complete");
}

}  // namespace xlb::health
