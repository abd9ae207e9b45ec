// What each text field of xlb's configuration may hold, decided in one place.
//
// The API's conversion and the model's validation (and through them the
// state-file loader), xlbctl and xlbd check text with these functions, so a
// value is accepted or refused, for the same reason, on every path. Text
// ends up in C APIs (inet_pton, OpenSSL's server name, request lines) as
// NUL-terminated strings, so no field that does may hold a NUL, and every
// field has a byte limit.
//
// A Check* function returns OK or InvalidArgument whose message is the value
// (as QuoteValue shows it) and what is wrong with it, without the field's
// name: callers prefix that ("vip.key.address: ").
//
// Pure logic: no syscalls.
#ifndef XLB_LB_BASE_FIELD_RULES_H_
#define XLB_LB_BASE_FIELD_RULES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace xlb {

// INET6_ADDRSTRLEN - 1: the longest address text,
// "2001:0db8:ffff:ffff:ffff:ffff:255.255.255.255".
inline constexpr size_t kMaxAddressTextBytes = 45;
inline constexpr size_t kMaxHttpPathBytes = 1024;
// OpenSSL's limit on a TLS server name (the host part of http_host).
inline constexpr size_t kMaxHttpHostBytes = 255;
inline constexpr size_t kMaxHttpBodySubstringBytes = 1024;
inline constexpr size_t kMaxGrpcServiceBytes = 255;
// udp_request and udp_response.
inline constexpr size_t kMaxUdpProbeBytes = 1024;
// IFNAMSIZ - 1.
inline constexpr size_t kMaxInterfaceNameBytes = 15;

// `value` for an error message: quoted, every byte outside printable ASCII
// escaped (a NUL shows as \x00, a newline as \n), cut after 64 bytes
// ("..." follows).
std::string QuoteValue(absl::string_view value);

// An IP address as network-order bytes (IPv4 in the first four).
struct AddressBytes {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  bool operator==(const AddressBytes&) const = default;
};

// Dotted-quad IPv4 or RFC 4291 IPv6 text, at most kMaxAddressTextBytes; no
// names, prefixes or zone indexes.
absl::StatusOr<AddressBytes> ParseAddressText(absl::string_view text);
// The canonical text of `address` ("2001:db8::1").
std::string FormatAddress(const AddressBytes& address);
// OK when another host can send packets to `address` (a VIP, a backend, an
// outer source). Refused, with the reason: unspecified (0.0.0.0/8, ::),
// loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10),
// multicast (224.0.0.0/4, ff00::/8), 255.255.255.255 and IPv4-mapped IPv6
// (::ffff:0:0/96).
absl::Status CheckUsableAddress(const AddressBytes& address);

// HealthCheck.http_path (a set one: empty means "/" and is not checked):
// starts with '/', printable ASCII without spaces, at most
// kMaxHttpPathBytes. Anything else is percent-encoded by the client.
absl::Status CheckHttpPath(absl::string_view path);
// HealthCheck.http_host (a set one): HOST or HOST:PORT, HOST a DNS name
// (letters, digits, '-', '_', '.'), an IPv4 address or a bracketed IPv6
// address, PORT 1..65535; at most kMaxHttpHostBytes.
absl::Status CheckHttpHost(absl::string_view host);
// HealthCheck.http_body_substring: text (non-ASCII allowed) without NUL or
// control characters other than tab, CR and LF; at most
// kMaxHttpBodySubstringBytes.
absl::Status CheckHttpBodySubstring(absl::string_view text);
// HealthCheck.grpc_service: printable ASCII without spaces, at most
// kMaxGrpcServiceBytes.
absl::Status CheckGrpcService(absl::string_view service);
// HealthCheck.udp_request and udp_response: any bytes, at most
// kMaxUdpProbeBytes.
absl::Status CheckUdpPayload(absl::string_view payload);
// A network interface name as the kernel takes it: 1..15 bytes, no '/',
// ':', whitespace or control characters, not "." or "..".
absl::Status CheckInterfaceName(absl::string_view name);

}  // namespace xlb

#endif  // XLB_LB_BASE_FIELD_RULES_H_
