// Packet tests of xlb_balancer, steps 1-4 of docs/dataplane.md: truncated
// and malformed packets are dropped, fragments, options and IPv6 extension
// headers are left to the kernel unchanged. One table row per packet
// (balancer_test_fixture.h).
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

Bytes Segment4(const TcpFields& t) {
  return BuildTcp(TestNet::Client4(), TestNet::Vip4(), t);
}
Bytes Segment6(const TcpFields& t) {
  return BuildTcp(TestNet::Client6(), TestNet::Vip6(), t);
}

// The client's packet to the VIP of the family, its header as `f` says (src
// and dst are set here), around `payload`: by default a TCP SYN.
Input Ipv4(Ipv4Fields f,
           const Bytes& payload = Segment4(Tcp(40000, 80, kTcpSyn))) {
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  return ClientIp(BuildIpv4(f, payload));
}
Input Ipv6(Ipv6Fields f,
           const Bytes& payload = Segment6(Tcp(50000, 443, kTcpSyn))) {
  f.src = TestNet::Client6();
  f.dst = TestNet::Vip6();
  return ClientIp(BuildIpv6(f, payload));
}
// Their length fields claim one byte more than the frame holds.
Input Ipv4Overlong(const Bytes& payload) {
  return Ipv4({.total_length =
                   static_cast<uint16_t>(kIpv4HeaderLen + payload.size() + 1)},
              payload);
}
Input Ipv6Overlong(const Bytes& payload) {
  return Ipv6({.payload_length = static_cast<uint16_t>(payload.size() + 1)},
              payload);
}

// Steps 1-4: malformed and truncated packets.
//
// A frame shorter than an Ethernet header cannot be shown to the program:
// BPF_PROG_TEST_RUN refuses XDP input under 14 bytes (with or without
// metadata in front). The nearest reachable inputs are a bare header.
std::vector<BalancerRow> MalformedRows() {
  std::vector<BalancerRow> rows = {
      {.description = "EthernetHeaderAloneWithIpv4TypeDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = RawFrame(BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(),
                                    kEthTypeIpv4, {}))},
      {.description = "EthernetHeaderAloneWithIpv6TypeDrops",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = RawFrame(BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(),
                                    kEthTypeIpv6, {}))},
      {.description = "TruncatedIpv4HeaderDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = RawFrame(
           Truncated(Tcp4(40000, 80, kTcpSyn).frame, kEthHeaderLen + 19))},
      {.description = "Ipv4WrongVersionDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.version = 6})},
      {.description = "Ipv4IhlBelowFiveDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.ihl = 4})},
      {.description = "Ipv4TotalLengthBeyondFrameDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4Overlong(Segment4(Tcp(40000, 80, kTcpAck, 10)))},
      {.description = "Ipv4TotalLengthBelowHeaderDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.total_length = 19})},
      {.description = "TruncatedTcpHeaderDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in =
           ClientIp(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoTcp,
                            Truncated(Segment4(Tcp(40000, 80, kTcpSyn)), 12)))},
      // The frame holds the whole TCP header, but the IP packet ends early:
      // the rest is padding, so the TCP header is truncated.
      {.description = "TcpHeaderBeyondIpTotalLengthDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.total_length = kIpv4HeaderLen + 16})},
      {.description = "TcpDataOffsetBelowFiveDrops",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = ClientTcp(
           TestNet::Client4(), TestNet::Vip4(),
           {.sport = 40000, .dport = 80, .flags = kTcpSyn, .data_offset = 4})},
      {.description = "TruncatedUdpHeaderDrops",
       .vips = {{TestNet::Vip6(), 53, kProtoUdp, RingOf(kV6BackendA)}},
       .in = ClientIp(BuildIp(TestNet::Client6(), TestNet::Vip6(), kProtoUdp,
                              Truncated(BuildUdp(TestNet::Client6(),
                                                 TestNet::Vip6(), 1234, 53, {}),
                                        6)))},
      {.description = "TruncatedIcmpHeaderDrops",
       .in = ClientIp(BuildIp(
           TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
           Truncated(BuildIcmpv4(kIcmpEchoRequest, 0, 0x00010001, {}), 4)))},
      {.description = "TruncatedIpv6HeaderDrops",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = RawFrame(
           Truncated(Tcp6(50000, 443, kTcpSyn).frame, kEthHeaderLen + 39))},
      {.description = "Ipv6WrongVersionDrops",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = Ipv6({.version = 4})},
      {.description = "Ipv6PayloadLengthBeyondFrameDrops",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = Ipv6Overlong(Segment6(Tcp(50000, 443, kTcpAck, 8)))},
  };
  for (BalancerRow& row : rows) {
    row.action = XDP_DROP;
    row.counts = {XLB_CNT_DROP_MALFORMED};
  }
  return rows;
}
INSTANTIATE_TEST_SUITE_P(Malformed, BalancerTable,
                         ::testing::ValuesIn(MalformedRows()), RowName);

// A generic 8-byte IPv6 extension header (next header TCP, length 0) as
// header `type`, then the usual SYN.
Input WithExtensionHeader(uint8_t type) {
  Bytes payload = {kProtoTcp, 0, 0, 0, 0, 0, 0, 0};
  const Bytes tcp = Segment6(Tcp(50000, 443, kTcpSyn));
  payload.insert(payload.end(), tcp.begin(), tcp.end());
  return ClientIp(BuildIp(TestNet::Client6(), TestNet::Vip6(), type, payload));
}

// Steps 2-3: what is left to the kernel.
std::vector<BalancerRow> LeftToKernelRows() {
  std::vector<BalancerRow> rows = {
      {.description = "FirstIpv4FragmentPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.df = false, .mf = true},
                  Segment4(Tcp(40000, 80, kTcpAck, 64))),
       .counts = {XLB_CNT_PASS_IPV4_FRAGMENT}},
      // 1480 bytes in.
      {.description = "NonFirstIpv4FragmentPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.df = false, .frag_offset = 185}, Payload(40)),
       .counts = {XLB_CNT_PASS_IPV4_FRAGMENT}},
      // NOP NOP NOP EOL.
      {.description = "Ipv4WithOptionsPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Ipv4({.options = {0x01, 0x01, 0x01, 0x00}}),
       .counts = {XLB_CNT_PASS_IPV4_OPTIONS}},
  };
  const std::pair<const char*, uint8_t> extension_headers[] = {
      {"HopByHop", 0},   {"Routing", 43},        {"Fragment", 44},
      {"DestOpts", 60},  {"Authentication", 51}, {"Esp", 50},
      {"Mobility", 135}, {"Hip", 139},           {"Shim6", 140}};
  for (const auto& [name, type] : extension_headers) {
    rows.push_back({.description = std::string("Ipv6") + name + "HeaderPasses",
                    .vips = {VipTcp6(RingOf(kV6BackendA))},
                    .in = WithExtensionHeader(type),
                    .counts = {XLB_CNT_PASS_IPV6_EXT_HDR}});
  }
  return rows;
}
INSTANTIATE_TEST_SUITE_P(LeftToKernel, BalancerTable,
                         ::testing::ValuesIn(LeftToKernelRows()), RowName);

}  // namespace
}  // namespace xlb::testing
