// Facts xlbd reads from the host: an interface's MAC address and MTU, and
// the MAC address of the default gateway (from the kernel's neighbour table).
#ifndef XLB_TOOLS_XLBD_HOST_NETWORK_H_
#define XLB_TOOLS_XLBD_HOST_NETWORK_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace xlb::xlbd {

using MacAddress = std::array<uint8_t, 6>;

absl::StatusOr<MacAddress> ParseMac(absl::string_view text);
std::string FormatMac(const MacAddress& mac);

absl::StatusOr<MacAddress> InterfaceMac(const std::string& ifname);
absl::StatusOr<uint32_t> InterfaceMtu(const std::string& ifname);

// The MAC of the IPv4 default route's gateway on `ifname` (/proc/net/route
// and /proc/net/arp), else of the IPv6 default route's (`ip -6 route` and
// `ip -6 neigh`). NotFound, saying what was missing, when neither resolves.
absl::StatusOr<MacAddress> GatewayMac(const std::string& ifname);

// Parses the two /proc tables (exposed for tests).
absl::StatusOr<std::string> DefaultGatewayV4FromRouteTable(
    absl::string_view proc_net_route, const std::string& ifname);
absl::StatusOr<MacAddress> MacFromArpTable(absl::string_view proc_net_arp,
                                           const std::string& ip,
                                           const std::string& ifname);

}  // namespace xlb::xlbd

#endif  // XLB_TOOLS_XLBD_HOST_NETWORK_H_
