#include "tools/xlbd/host_network.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "lb/base/unique_fd.h"

namespace xlb::xlbd {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return absl::InternalError(absl::StrCat("cannot run ", command));
  }
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  pclose(pipe);
  return out;
}

absl::Status Ioctl(const std::string& ifname, unsigned long request,
                   ifreq& ifr) {
  if (ifname.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat("--interface: \"", ifname, "\" is too long"));
  }
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  std::memset(&ifr, 0, sizeof(ifr));
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (!fd.valid() || ioctl(fd.get(), request, &ifr) != 0) {
    return absl::NotFoundError(
        absl::StrCat("--interface: ", ifname, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MacAddress> ParseMac(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  MacAddress mac{};
  if (parts.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a MAC address (aa:bb:cc:dd:ee:ff)"));
  }
  for (size_t i = 0; i < 6; ++i) {
    uint32_t byte = 0;
    if (parts[i].size() != 2 || !absl::SimpleHexAtoi(parts[i], &byte)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" is not a MAC address (aa:bb:cc:dd:ee:ff)"));
    }
    mac[i] = static_cast<uint8_t>(byte);
  }
  return mac;
}

std::string FormatMac(const MacAddress& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                         mac[2], mac[3], mac[4], mac[5]);
}

absl::StatusOr<MacAddress> InterfaceMac(const std::string& ifname) {
  ifreq ifr;
  if (absl::Status s = Ioctl(ifname, SIOCGIFHWADDR, ifr); !s.ok()) return s;
  MacAddress mac;
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return mac;
}

absl::StatusOr<uint32_t> InterfaceMtu(const std::string& ifname) {
  ifreq ifr;
  if (absl::Status s = Ioctl(ifname, SIOCGIFMTU, ifr); !s.ok()) return s;
  return static_cast<uint32_t>(ifr.ifr_mtu);
}

absl::StatusOr<std::string> DefaultGatewayV4FromRouteTable(
    absl::string_view table, const std::string& ifname) {
  // Iface Destination Gateway Flags ... Mask ...; hex, little-endian.
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 8 || f[0] != ifname || f[1] != "00000000" ||
        f[7] != "00000000") {
      continue;
    }
    uint32_t gateway = 0;
    if (!absl::SimpleHexAtoi(f[2], &gateway) || gateway == 0) continue;
    in_addr addr{.s_addr = gateway};  // already in network order as read
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr, text, sizeof(text));
    return std::string(text);
  }
  return absl::NotFoundError(
      absl::StrCat("no IPv4 default route via a gateway on ", ifname));
}

absl::StatusOr<MacAddress> MacFromArpTable(absl::string_view table,
                                           const std::string& ip,
                                           const std::string& ifname) {
  // IP HWtype Flags HWaddress Mask Device
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 6 || f[0] != ip || f[5] != ifname) continue;
    uint32_t flags = 0;
    if (!absl::SimpleHexAtoi(f[2], &flags) || (flags & 0x2) == 0) continue;
    return ParseMac(f[3]);
  }
  return absl::NotFoundError(
      absl::StrCat("gateway ", ip, " has no complete ARP entry on ", ifname,
                   " (ping it once, or give --gateway-mac)"));
}

absl::StatusOr<MacAddress> GatewayMac(const std::string& ifname) {
  absl::StatusOr<std::string> gateway =
      DefaultGatewayV4FromRouteTable(ReadFile("/proc/net/route"), ifname);
  std::string v4_problem;
  if (gateway.ok()) {
    absl::StatusOr<MacAddress> mac =
        MacFromArpTable(ReadFile("/proc/net/arp"), *gateway, ifname);
    if (mac.ok()) return mac;
    v4_problem = std::string(mac.status().message());
  } else {
    v4_problem = std::string(gateway.status().message());
  }
  // IPv6: "default via fe80::1 dev eth0 ..." then "fe80::1 lladdr aa:..
  // REACHABLE".
  absl::StatusOr<std::string> route = RunCommand(
      absl::StrCat("ip -6 route show default dev ", ifname, " 2>/dev/null"));
  std::string v6_problem = "no IPv6 default route via a gateway on " + ifname;
  if (route.ok()) {
    std::vector<absl::string_view> f =
        absl::StrSplit(*route, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
    for (size_t i = 0; i + 1 < f.size(); ++i) {
      if (f[i] != "via") continue;
      const std::string via(f[i + 1]);
      absl::StatusOr<std::string> neigh = RunCommand(absl::StrCat(
          "ip -6 neigh show ", via, " dev ", ifname, " 2>/dev/null"));
      if (!neigh.ok()) break;
      std::vector<absl::string_view> n =
          absl::StrSplit(*neigh, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
      for (size_t j = 0; j + 1 < n.size(); ++j) {
        if (n[j] == "lladdr") return ParseMac(n[j + 1]);
      }
      v6_problem =
          absl::StrCat("IPv6 gateway ", via, " has no neighbour entry");
      break;
    }
  }
  return absl::NotFoundError(absl::StrCat("cannot resolve the gateway MAC on ",
                                          ifname, ": ", v4_problem, "; ",
                                          v6_problem, ". Give --gateway-mac"));
}

}  // namespace xlb::xlbd
