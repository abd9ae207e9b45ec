#include "tools/xlbctl/arguments.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lb/base/field_rules.h"

namespace xlb::xlbctl {
namespace {

absl::Status VipSyntaxError(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "VIP ", QuoteValue(text), ": ", why,
      " (expected ADDRESS:PORT[/tcp|/udp], e.g. 192.0.2.10:80/tcp or "
      "[2001:db8::10]:443/tcp)"));
}

}  // namespace

absl::StatusOr<std::optional<v1::VipKey>> ParseOptionalVipKey(
    absl::string_view text) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<v1::VipKey> key = ParseVipKey(text);
  if (!key.ok()) return key.status();
  return *key;
}

absl::StatusOr<v1::VipKey> ParseVipKey(absl::string_view text) {
  v1::VipKey key;
  absl::string_view rest = text;
  key.set_protocol(v1::PROTOCOL_TCP);
  if (size_t slash = rest.rfind('/'); slash != absl::string_view::npos) {
    absl::StatusOr<v1::Protocol> protocol =
        ParseProtocol(rest.substr(slash + 1));
    if (!protocol.ok()) return VipSyntaxError(text, "unknown protocol");
    key.set_protocol(*protocol);
    rest = rest.substr(0, slash);
  }
  absl::string_view address;
  absl::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) {
      return VipSyntaxError(text, "missing ']'");
    }
    address = rest.substr(1, close - 1);
    absl::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') {
      return VipSyntaxError(text, "missing :PORT");
    }
    port = after.substr(1);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == absl::string_view::npos) {
      return VipSyntaxError(text, "missing :PORT");
    }
    address = rest.substr(0, colon);
    if (address.find(':') != absl::string_view::npos) {
      return VipSyntaxError(text, "an IPv6 address needs brackets");
    }
    port = rest.substr(colon + 1);
  }
  absl::StatusOr<AddressBytes> parsed = ParseAddressText(address);
  if (!parsed.ok()) return VipSyntaxError(text, parsed.status().message());
  if (absl::Status s = CheckUsableAddress(*parsed); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("VIP ", QuoteValue(text), ": ", s.message()));
  }
  uint32_t port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return VipSyntaxError(text, "port must be 0..65535 (0: every port)");
  }
  key.set_address(std::string(address));
  key.set_port(port_number);
  return key;
}

std::string FormatVipKey(const v1::VipKey& key) {
  bool v6 = key.address().find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", key.address(), v6 ? "]" : "", ":",
                      key.port(), "/", ProtocolName(key.protocol()));
}

absl::Status CheckAddress(absl::string_view what, absl::string_view address) {
  absl::StatusOr<AddressBytes> parsed = ParseAddressText(address);
  absl::Status status =
      parsed.ok() ? CheckUsableAddress(*parsed) : parsed.status();
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.message()));
}

const std::vector<std::string>& ProtocolNames() {
  static const auto* names = new std::vector<std::string>{"tcp", "udp"};
  return *names;
}

const std::vector<std::string>& HashModeNames() {
  static const auto* names =
      new std::vector<std::string>{"five-tuple", "no-source-port"};
  return *names;
}

const std::vector<std::string>& HealthCheckTypeNames() {
  static const auto* names =
      new std::vector<std::string>{"tcp", "http", "https", "udp", "grpc"};
  return *names;
}

absl::StatusOr<v1::Protocol> ParseProtocol(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "tcp") return v1::PROTOCOL_TCP;
  if (lower == "udp") return v1::PROTOCOL_UDP;
  return absl::InvalidArgumentError(
      absl::StrCat("protocol ", QuoteValue(text), ": expected tcp or udp"));
}

std::string ProtocolName(v1::Protocol protocol) {
  switch (protocol) {
    case v1::PROTOCOL_TCP:
      return "tcp";
    case v1::PROTOCOL_UDP:
      return "udp";
    default:
      return "?";
  }
}

absl::StatusOr<v1::HashMode> ParseHashMode(absl::string_view text) {
  if (text == "five-tuple") return v1::HASH_MODE_FIVE_TUPLE;
  if (text == "no-source-port") return v1::HASH_MODE_NO_SOURCE_PORT;
  return absl::InvalidArgumentError(absl::StrCat(
      "--hash ", QuoteValue(text), ": expected five-tuple or no-source-port"));
}

std::string HashModeName(v1::HashMode mode) {
  switch (mode) {
    case v1::HASH_MODE_UNSPECIFIED:
    case v1::HASH_MODE_FIVE_TUPLE:
      return "five-tuple";
    case v1::HASH_MODE_NO_SOURCE_PORT:
      return "no-source-port";
    default:
      return "?";
  }
}

absl::StatusOr<v1::HealthCheckType> ParseHealthCheckType(
    absl::string_view text) {
  if (text == "tcp") return v1::HEALTH_CHECK_TYPE_TCP;
  if (text == "http") return v1::HEALTH_CHECK_TYPE_HTTP;
  if (text == "https") return v1::HEALTH_CHECK_TYPE_HTTPS;
  if (text == "udp") return v1::HEALTH_CHECK_TYPE_UDP;
  if (text == "grpc") return v1::HEALTH_CHECK_TYPE_GRPC;
  return absl::InvalidArgumentError(absl::StrCat(
      "--type ", QuoteValue(text), ": expected tcp, http, https, udp or grpc"));
}

std::string HealthCheckTypeName(v1::HealthCheckType type) {
  switch (type) {
    case v1::HEALTH_CHECK_TYPE_TCP:
      return "tcp";
    case v1::HEALTH_CHECK_TYPE_HTTP:
      return "http";
    case v1::HEALTH_CHECK_TYPE_HTTPS:
      return "https";
    case v1::HEALTH_CHECK_TYPE_UDP:
      return "udp";
    case v1::HEALTH_CHECK_TYPE_GRPC:
      return "grpc";
    default:
      return "none";
  }
}

std::string BackendStateName(v1::BackendState state) {
  switch (state) {
    case v1::BACKEND_STATE_UP:
      return "up";
    case v1::BACKEND_STATE_DRAINING:
      return "draining";
    case v1::BACKEND_STATE_DOWN:
      return "down";
    default:
      return "?";
  }
}

std::string AttachModeName(v1::AttachMode mode) {
  switch (mode) {
    case v1::ATTACH_MODE_NATIVE:
      return "native";
    case v1::ATTACH_MODE_GENERIC:
      return "generic";
    case v1::ATTACH_MODE_DETACHED:
      return "detached";
    default:
      return "?";
  }
}

absl::StatusOr<google::protobuf::Duration> ParseDuration(
    absl::string_view what, absl::string_view text) {
  // google.protobuf.Duration holds at most 315,576,000,000 s (10,000 years).
  constexpr absl::Duration kMaxProtoDuration = absl::Seconds(315576000000);
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) ||
      duration < absl::ZeroDuration() || duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", QuoteValue(text),
                     ": expected a duration such as 500ms, 5s, 1m"));
  }
  if (duration >= kMaxProtoDuration) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", QuoteValue(text), ": too long to send"));
  }
  // Whole seconds and the rest: nanoseconds alone overflow int64 past 292
  // years.
  google::protobuf::Duration proto;
  absl::Duration rest;
  proto.set_seconds(absl::IDivDuration(duration, absl::Seconds(1), &rest));
  proto.set_nanos(static_cast<int32_t>(rest / absl::Nanoseconds(1)));
  return proto;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  if (duration.seconds() == 0 && duration.nanos() == 0) return "-";
  return absl::FormatDuration(absl::Seconds(duration.seconds()) +
                              absl::Nanoseconds(duration.nanos()));
}

}  // namespace xlb::xlbctl
