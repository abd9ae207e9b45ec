// Packet tests of xlb_balancer's ICMP paths (docs/dataplane.md steps 8, 10,
// 11): "too big" answers, ICMP errors routed to the flow's backend, echo.
// One table row per packet (balancer_test_fixture.h).
#include <linux/bpf.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

// Step 8: too big after encapsulation. The usual MTU is TestNet::kMtu; a
// TCP segment carries 40 bytes of headers in IPv4, 60 in IPv6, and the outer
// header adds 20 (IPv4 backend) or 40 (IPv6 backend).
std::vector<BalancerRow> TooBigRows() {
  constexpr uint32_t kMtu = TestNet::kMtu;
  return {
      {.description = "PacketFittingMtuExactlyIsForwarded",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40050, 80, kTcpAck, kMtu - 20 - 40),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX},
       .ip_size = kMtu - 20},
      {.description = "TooBigIpv4WithDfGetsFragNeeded",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40051, 80, kTcpAck, kMtu - 20 - 40 + 1),
       .action = XDP_TX,
       .answer = FragNeeded(kMtu - 20),
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_ICMP_FRAG_NEEDED},
       .out_size = 70,
       .ip_size = kMtu - 20 + 1},
      {.description = "FragNeededToIpv6BackendAccountsForIpv6Overhead",
       .vips = {VipTcp4(RingOf(kV6BackendA))},
       .in = Tcp4(40052, 80, kTcpAck, kMtu - 40 - 40 + 1,
                  {.tos = 0x10, .ttl = 50}),
       .action = XDP_TX,
       .answer = FragNeeded(kMtu - 40),
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_ICMP_FRAG_NEEDED}},
      {.description = "TooBigIpv6GetsPacketTooBig",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = Tcp6(50050, 443, kTcpAck, kMtu - 40 - 40 + 1,
                  {.tos = 0x28, .flow_label = 0x54321}),
       .action = XDP_TX,
       .answer = PacketTooBig(kMtu - 40),
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_ICMP6_TOO_BIG},
       .out_size = 110},
      {.description = "TooBigIpv6ToIpv4BackendGetsPacketTooBig",
       .vips = {VipTcp6(RingOf(kV4BackendA))},
       .config = [](xlb_config& c) { c.mtu = 1400; },
       .in = Tcp6(50051, 443, kTcpAck, 1400 - 20 - 60 + 1),
       .action = XDP_TX,
       .answer = PacketTooBig(1400 - 20),
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_ICMP6_TOO_BIG},
       .ip_size = 1400 - 20 + 1},
      {.description = "TooBigIpv4WithoutDfDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40053, 80, kTcpAck, kMtu - 20 - 40 + 1, {.df = false}),
       .action = XDP_DROP,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_DROP_TOO_BIG}},
  };
}
INSTANTIATE_TEST_SUITE_P(TooBig, BalancerTable,
                         ::testing::ValuesIn(TooBigRows()), RowName);

// Packets the backend sent the client through the VIP (VIP to client):
// what a router's ICMP error quotes. The flow is the client's.
Input ReplyTcp4(uint16_t client_port, size_t payload) {
  return {{},
          TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                    Tcp(80, client_port, kTcpAck, payload)),
          MakeFlow(TestNet::Client4(), TestNet::Vip4(), client_port, 80,
                   kProtoTcp)};
}
Input ReplyTcp6(uint16_t client_port, size_t payload) {
  return {{},
          TcpPacket(TestNet::Vip6(), TestNet::Client6(),
                    Tcp(443, client_port, kTcpAck, payload)),
          MakeFlow(TestNet::Client6(), TestNet::Vip6(), client_port, 443,
                   kProtoTcp)};
}
Input ReplyUdp(const IpAddr& vip, const IpAddr& client, uint16_t vip_port,
               uint16_t client_port, size_t payload) {
  return {{},
          UdpPacket(vip, client, vip_port, client_port, Payload(payload)),
          MakeFlow(client, vip, client_port, vip_port, kProtoUdp)};
}

Bytes Quote(const Bytes& offending, size_t quote_len) {
  return Bytes(offending.begin(),
               offending.begin() + std::min(quote_len, offending.size()));
}
// An ICMP error from a router about `offending`, quoting its first
// `quote_len` bytes; it belongs to the offending packet's flow.
Input RouterError4(uint8_t type, uint8_t code, uint32_t rest,
                   const Input& offending, size_t quote_len) {
  return ClientIp(
      BuildIp(Router4(), TestNet::Vip4(), kProtoIcmp,
              BuildIcmpv4(type, code, rest, Quote(offending.ip, quote_len)),
              {.tos = 0xc0, .df = false, .ttl = 255, .id = 0x0777}),
      offending.flow);
}
Input RouterError6(uint8_t type, uint8_t code, uint32_t rest,
                   const Input& offending, size_t quote_len) {
  return ClientIp(BuildIp(Router6(), TestNet::Vip6(), kProtoIcmpv6,
                          BuildIcmpv6(Router6(), TestNet::Vip6(), type, code,
                                      rest, Quote(offending.ip, quote_len)),
                          {.tos = 0xc0, .ttl = 64}),
                  offending.flow);
}
// "Fragmentation needed, next-hop MTU 1300" about `offending`.
Input FragNeededAbout(const Input& offending, size_t quote_len) {
  return RouterError4(kIcmpDestUnreachable, kIcmpCodeFragNeeded, 1300,
                      offending, quote_len);
}

// An echo reply the VIP sent the client, and a reply carrying IPv4 options.
Input EchoReplyToClient() {
  return {{},
          BuildIp(TestNet::Vip4(), TestNet::Client4(), kProtoIcmp,
                  BuildIcmpv4(kIcmpEchoReply, 0, 0x00010001, Payload(16))),
          {}};
}
Input ReplyWithOptions4(uint16_t client_port, size_t payload) {
  Ipv4Fields f;
  f.src = TestNet::Vip4();
  f.dst = TestNet::Client4();
  f.options = {0x01, 0x01, 0x01, 0x00};
  return {{},
          BuildIpv4(f, BuildTcp(f.src, f.dst,
                                Tcp(80, client_port, kTcpAck, payload))),
          {}};
}

// Step 10: ICMP errors about VIP flows.
std::vector<BalancerRow> IcmpErrorRows() {
  return {
      {.description = "IcmpFragNeededFollowsConnEntry",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendB),
       .in = FragNeededAbout(ReplyTcp4(40060, 1400), 28),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_ICMP_ERROR_FORWARDED, XLB_CNT_TX}},
      {.description = "IcmpErrorWithoutEntryUsesMaglevAndWritesNothing",
       .vips = {{TestNet::Vip4(), 53, kProtoUdp, Alternating(kV4BackendA, 2)}},
       .in = RouterError4(
           kIcmpTimeExceeded, 0, 0,
           ReplyUdp(TestNet::Vip4(), TestNet::Client4(), 53, 33060, 200),
           20 + 8 + 32),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_ICMP_ERROR_FORWARDED, XLB_CNT_TX},
       .entry_after = kNoEntry},
      {.description = "Icmp6PacketTooBigFollowsConnEntry",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .entry = CurrentEntry(kV6BackendB),
       .in = RouterError6(kIcmp6PacketTooBig, 0, 1280, ReplyTcp6(50060, 1400),
                          40 + 20 + 32),
       .action = XDP_TX,
       .to = kV6BackendB,
       .counts = {XLB_CNT_ICMP_ERROR_FORWARDED, XLB_CNT_TX}},
      {.description = "Icmp6ErrorForWildcardVipUsesMaglevToIpv4Backend",
       .vips = {{TestNet::Vip6(), 0, kProtoUdp, Alternating(kV4BackendA, 2)}},
       .in = RouterError6(
           kIcmp6TimeExceeded, 0, 0,
           ReplyUdp(TestNet::Vip6(), TestNet::Client6(), 5000, 50061, 64),
           40 + 8),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_ICMP_ERROR_FORWARDED, XLB_CNT_TX},
       .entry_after = kNoEntry},
      // ICMP errors write no entry: the stale one stays.
      {.description = "IcmpErrorWithStaleEntryUsesMaglevAndKeepsEntry",
       .vips = {VipTcp4(Alternating(kV4BackendA, 2))},
       .states = {{kV6BackendB, XLB_BACKEND_DOWN}},
       .entry = CurrentEntry(kV6BackendB),
       .in = FragNeededAbout(ReplyTcp4(40066, 1400), 28),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_ICMP_ERROR_FORWARDED, XLB_CNT_TX},
       .entry_after = kV6BackendB},
      // 56 + 20 fits a 90-byte MTU, 56 + 40 does not: the backend's family
      // counts.
      {.description = "IcmpErrorTooBigForIpv6BackendDrops",
       .vips = {VipTcp4(RingOf(kV6BackendA))},
       .config = [](xlb_config& c) { c.mtu = 90; },
       .in = FragNeededAbout(ReplyTcp4(40067, 100), 28),
       .action = XDP_DROP,
       .counts = {XLB_CNT_DROP_TOO_BIG}},
      {.description = "IcmpErrorQuotingIcmpPasses",
       .vips = {EchoVip(TestNet::Vip4())},
       .in = RouterError4(kIcmpTimeExceeded, 0, 0, EchoReplyToClient(), 28),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "IcmpErrorQuotingNonVipPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = FragNeededAbout(
           {{},
            TcpPacket(IpAddr::V4("203.0.113.99"), TestNet::Client4(),
                      Tcp(80, 40062, kTcpAck, 100)),
            {}},
           28),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "IcmpErrorWithTruncatedQuotePasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = FragNeededAbout(ReplyTcp4(40063, 100), 20 + 4),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "Icmp6ErrorWithTruncatedQuotePasses",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = RouterError6(kIcmp6PacketTooBig, 0, 1280, ReplyTcp6(50063, 100),
                          40 + 7),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "IcmpErrorQuotingIpv4OptionsPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = FragNeededAbout(ReplyWithOptions4(40064, 100), 24 + 8),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      // The 56-byte ICMP packet plus 20 does not fit 60.
      {.description = "IcmpErrorTooBigToForwardDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .config = [](xlb_config& c) { c.mtu = 60; },
       .in = FragNeededAbout(ReplyTcp4(40065, 100), 28),
       .action = XDP_DROP,
       .counts = {XLB_CNT_DROP_TOO_BIG}},
      // Timestamp request (type 13): neither an error nor an echo.
      {.description = "OtherIcmpTypeToVipPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = ClientIp(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
                              BuildIcmpv4(13, 0, 0x00010001, Payload(12)))),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
  };
}
INSTANTIATE_TEST_SUITE_P(IcmpErrors, BalancerTable,
                         ::testing::ValuesIn(IcmpErrorRows()), RowName);

Input EchoRequest4(uint32_t rest, size_t payload, const IpParams& params = {}) {
  return ClientIp(BuildIp(
      TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
      BuildIcmpv4(kIcmpEchoRequest, 0, rest, Payload(payload)), params));
}
Input EchoRequest6(uint32_t rest, size_t payload, const IpParams& params = {}) {
  return ClientIp(
      BuildIp(TestNet::Client6(), TestNet::Vip6(), kProtoIcmpv6,
              BuildIcmpv6(TestNet::Client6(), TestNet::Vip6(),
                          kIcmp6EchoRequest, 0, rest, Payload(payload)),
              params));
}

// Step 11: echo.
std::vector<BalancerRow> EchoRows() {
  return {
      {.description = "EchoRequestToIpv4VipIsAnswered",
       .vips = {EchoVip(TestNet::Vip4())},
       .in = EchoRequest4(0x4d2a0007, 56,
                          {.tos = 0x00, .df = true, .ttl = 53, .id = 0x4242}),
       .action = XDP_TX,
       .answer = EchoReplyFrame,
       .counts = {XLB_CNT_ICMP_ECHO_REPLY}},
      {.description = "EchoRequestToIpv6VipIsAnswered",
       .vips = {EchoVip(TestNet::Vip6())},
       .in = EchoRequest6(0x1a2b0003, 40,
                          {.tos = 0x00, .ttl = 61, .flow_label = 0x9abc}),
       .action = XDP_TX,
       .answer = EchoReplyFrame,
       .counts = {XLB_CNT_ICMP_ECHO_REPLY}},
      // A TCP VIP on the address is not enough.
      {.description = "EchoRequestWithoutEchoEntryPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = EchoRequest4(0x00010001, 16),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "Ipv6EchoRequestWithEntryLackingEchoFlagPasses",
       .vips = {EchoVip(TestNet::Vip6(), /*flags=*/0)},
       .in = EchoRequest6(0x00010001, 16),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
  };
}
INSTANTIATE_TEST_SUITE_P(Echo, BalancerTable, ::testing::ValuesIn(EchoRows()),
                         RowName);

}  // namespace
}  // namespace xlb::testing
