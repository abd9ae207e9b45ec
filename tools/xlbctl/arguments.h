// The command line's value syntax, parsed and printed the same way
// everywhere: VIPs as ADDRESS:PORT/PROTOCOL, backend addresses, durations
// and the short names of the API's enums.
#ifndef XLB_TOOLS_XLBCTL_ARGUMENTS_H_
#define XLB_TOOLS_XLBCTL_ARGUMENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/duration.pb.h"
#include "xlb/v1/config.pb.h"
#include "xlb/v1/xlb.pb.h"

namespace xlb::xlbctl {

// "192.0.2.10:80/tcp", "[2001:db8::10]:443/tcp", "192.0.2.10:0/udp" (port
// wildcard). The protocol defaults to tcp when "/PROTOCOL" is left out.
// The address must be IPv4 or IPv6 text; INVALID_ARGUMENT names the part
// that is wrong.
absl::StatusOr<v1::VipKey> ParseVipKey(absl::string_view text);
// An optional VIP argument: nullopt when `text` is empty.
absl::StatusOr<std::optional<v1::VipKey>> ParseOptionalVipKey(
    absl::string_view text);
// The inverse of ParseVipKey, always with the protocol.
std::string FormatVipKey(const v1::VipKey& key);

// An IPv4 or IPv6 address in text (as the API takes it), checked locally so
// a typo is reported before anything is sent.
absl::Status CheckAddress(absl::string_view what, absl::string_view address);

// "tcp", "udp".
absl::StatusOr<v1::Protocol> ParseProtocol(absl::string_view text);
std::string ProtocolName(v1::Protocol protocol);
// "five-tuple", "no-source-port".
absl::StatusOr<v1::HashMode> ParseHashMode(absl::string_view text);
std::string HashModeName(v1::HashMode mode);
// "tcp", "http", "https", "udp", "grpc".
absl::StatusOr<v1::HealthCheckType> ParseHealthCheckType(
    absl::string_view text);
std::string HealthCheckTypeName(v1::HealthCheckType type);
// "up", "draining", "down".
std::string BackendStateName(v1::BackendState state);
// "native", "generic", "detached".
std::string AttachModeName(v1::AttachMode mode);

// Go-style durations: "300ms", "5s", "1m30s".
absl::StatusOr<google::protobuf::Duration> ParseDuration(
    absl::string_view what, absl::string_view text);
// "5s", "250ms", "-" when unset.
std::string FormatDuration(const google::protobuf::Duration& duration);

// Names accepted by the parsers above, for help text and completion.
const std::vector<std::string>& ProtocolNames();
const std::vector<std::string>& HashModeNames();
const std::vector<std::string>& HealthCheckTypeNames();

}  // namespace xlb::xlbctl

#endif  // XLB_TOOLS_XLBCTL_ARGUMENTS_H_
