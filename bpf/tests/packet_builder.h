// A small, independent packet builder for the BPF packet tests: Ethernet,
// IPv4 (with options), IPv6, TCP, UDP, ICMP and ICMPv6 (checksums by
// lb/checksum.h, not by the BPF code), plus builders for the frames the
// programs are expected to emit (encapsulation, ICMP too-big answers, echo
// replies), written from docs/dataplane.md and not from the BPF code under
// test.
//
// Everything here is plain byte arithmetic: multi-byte fields are written in
// network byte order, and "host order" integers are taken as arguments.
#ifndef XLB_BPF_TESTS_PACKET_BUILDER_H_
#define XLB_BPF_TESTS_PACKET_BUILDER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "xlb_abi.h"

namespace xlb::testing {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline constexpr uint16_t kEthTypeIpv4 = 0x0800;
inline constexpr uint16_t kEthTypeArp = 0x0806;
inline constexpr uint16_t kEthTypeVlan = 0x8100;
inline constexpr uint16_t kEthTypeIpv6 = 0x86dd;
inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kIpv4HeaderLen = 20;
inline constexpr size_t kIpv6HeaderLen = 40;

inline constexpr uint8_t kProtoHopByHop = 0;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6 = 41;
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint8_t kProtoIcmpv6 = 58;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpCodeFragNeeded = 4;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmp6DestUnreachable = 1;
inline constexpr uint8_t kIcmp6PacketTooBig = 2;
inline constexpr uint8_t kIcmp6TimeExceeded = 3;
inline constexpr uint8_t kIcmp6EchoRequest = 128;
inline constexpr uint8_t kIcmp6EchoReply = 129;

// An IPv4 or IPv6 address as its wire bytes.
struct IpAddr {
  int family = 4;                   // 4 or 6
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes

  // Parses a literal; aborts the test binary on a typo (tests use constants).
  static IpAddr V4(std::string_view text);
  static IpAddr V6(std::string_view text);

  size_t size() const { return family == 4 ? 4 : 16; }
  std::span<const uint8_t> wire() const { return {bytes.data(), size()}; }
  // As the ABI stores addresses: __be32[4], IPv4 in [0], the rest zero.
  void ToAbi(__be32 out[4]) const;
  std::string ToString() const;
  bool operator==(const IpAddr&) const = default;
};

Mac MacFromString(std::string_view text);

// ---- Checksums ----

// The TCP/UDP/ICMPv6 pseudo-header (RFC 793 / RFC 8200 8.1) as an accumulator.
uint32_t PseudoHeaderSum(const IpAddr& src, const IpAddr& dst, uint8_t proto,
                         uint32_t length);

// ---- Layer 4 ----

struct TcpFields {
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint32_t seq = 0x01020304;
  uint32_t ack = 0;
  uint8_t flags = kTcpSyn;
  uint16_t window = 64240;
  // Header length in 32-bit words; default 5 + options.
  std::optional<uint8_t> data_offset;
  Bytes options;  // padded to a multiple of 4 by the caller
  Bytes payload;
};
// A TCP segment with a correct checksum over the src/dst pseudo-header.
Bytes BuildTcp(const IpAddr& src, const IpAddr& dst, const TcpFields& tcp);
Bytes BuildUdp(const IpAddr& src, const IpAddr& dst, uint16_t sport,
               uint16_t dport, const Bytes& payload);
// ICMP message: type, code, checksum, `rest` (the 4 bytes after the checksum,
// host order), body.
Bytes BuildIcmpv4(uint8_t type, uint8_t code, uint32_t rest, const Bytes& body);
Bytes BuildIcmpv6(const IpAddr& src, const IpAddr& dst, uint8_t type,
                  uint8_t code, uint32_t rest, const Bytes& body);

// ---- Layer 3 ----

struct Ipv4Fields {
  IpAddr src, dst;
  uint8_t tos = 0;
  uint16_t id = 0x1234;
  bool df = true;
  bool mf = false;
  uint16_t frag_offset = 0;  // in 8-byte units
  uint8_t ttl = 57;
  uint8_t protocol = kProtoTcp;
  Bytes options;  // multiple of 4 bytes
  // Overrides for malformed packets (the checksum still covers the header).
  std::optional<uint8_t> version;
  std::optional<uint8_t> ihl;
  std::optional<uint16_t> total_length;
};
Bytes BuildIpv4(const Ipv4Fields& ip, const Bytes& payload);

struct Ipv6Fields {
  IpAddr src, dst;
  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;
  uint8_t next_header = kProtoTcp;
  uint8_t hop_limit = 57;
  std::optional<uint8_t> version;
  std::optional<uint16_t> payload_length;
};
Bytes BuildIpv6(const Ipv6Fields& ip, const Bytes& payload);

// The IP-level knobs shared by both families, for the convenience builders.
struct IpParams {
  uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class
  bool df = true;   // IPv4 only
  uint8_t ttl = 57;
  uint16_t id = 0x1234;
  uint32_t flow_label = 0;  // IPv6 only
};
// An IP packet of src's family carrying `l4` as protocol `proto`.
Bytes BuildIp(const IpAddr& src, const IpAddr& dst, uint8_t proto,
              const Bytes& l4, const IpParams& params = {});
Bytes TcpPacket(const IpAddr& src, const IpAddr& dst, const TcpFields& tcp,
                const IpParams& params = {});
Bytes UdpPacket(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                uint16_t dport, const Bytes& payload,
                const IpParams& params = {});

// ---- Layer 2 ----

Bytes BuildEthernet(const Mac& dst, const Mac& src, uint16_t ethertype,
                    const Bytes& payload);
// Ethernet frame around an IP packet; the ethertype follows its version.
Bytes EthernetFrame(const Mac& dst, const Mac& src, const Bytes& ip_packet);
// An ARP request (who-has target tell sender), 28 bytes of ARP.
Bytes ArpRequestFrame(const Mac& src, const IpAddr& sender,
                      const IpAddr& target);

// ---- Expected outputs (docs/dataplane.md) ----

// The 5-tuple as the data plane keys and hashes it (ports host order in).
xlb_flow MakeFlow(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                  uint16_t dport, uint8_t proto);
uint32_t FlowHash(const xlb_flow& flow, uint32_t seed, bool with_src_port);
uint32_t RingSlot(uint32_t hash, uint32_t ring_size);

// Step 9's outer source: base with its host bits replaced by the hash's.
IpAddr OuterSourceV4(const IpAddr& base, uint8_t prefix_len, uint32_t hash);
IpAddr OuterSourceV6(const IpAddr& base, uint8_t prefix_len, uint32_t hash);

struct EncapParams {
  Mac gateway_mac{};
  Mac iface_mac{};
  IpAddr outer_src;   // already drawn from the prefix
  IpAddr backend;     // outer destination; its family picks the outer header
  uint32_t hash = 0;  // flow hash (IPv6 flow label)
};
// Step 9: Ethernet{gateway, iface} + outer header + `inner` (a whole IP
// packet, exactly ip_len bytes).
Bytes EncapsulatedFrame(const EncapParams& p, const Bytes& inner);

// Step 8: the ICMP "fragmentation needed" (IPv4) answer to `request` (a whole
// frame; addresses swapped, quoting 20 + 8 bytes) with the given next-hop MTU.
Bytes FragNeededFrame(const Bytes& request, uint16_t mtu);
// Step 8: the ICMPv6 "packet too big" answer, quoting 40 + 8 bytes.
Bytes PacketTooBigFrame(const Bytes& request, uint32_t mtu);
// Step 11: the echo reply to an ICMP or ICMPv6 echo request frame.
Bytes EchoReplyFrame(const Bytes& request);

// Hex dump, 16 bytes a line, for failure messages.
std::string HexDump(std::span<const uint8_t> bytes);

}  // namespace xlb::testing

#endif  // XLB_BPF_TESTS_PACKET_BUILDER_H_
