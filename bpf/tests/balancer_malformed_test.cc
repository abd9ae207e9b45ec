// Packet tests of xlb_balancer, steps 1-4 of docs/dataplane.md: truncated
// and malformed packets are dropped, fragments, options and IPv6 extension
// headers are left to the kernel unchanged.
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

// ---------------------------------------------------------------------------
// Steps 1-4: malformed and truncated packets.

// A frame shorter than an Ethernet header cannot be shown to the program:
// BPF_PROG_TEST_RUN refuses XDP input under 14 bytes (with or without
// metadata in front). The nearest reachable inputs are a bare header:
TEST_F(BalancerPacketTest, EthernetHeaderAloneWithIpv4TypeDrops) {
  AddVip4(RingOf(kV4BackendA));
  ExpectDrop(
      BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(), kEthTypeIpv4, {}),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, EthernetHeaderAloneWithIpv6TypeDrops) {
  AddVip6(RingOf(kV6BackendA));
  ExpectDrop(
      BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(), kEthTypeIpv6, {}),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TruncatedIpv4HeaderDrops) {
  AddVip4(RingOf(kV4BackendA));
  Bytes frame = FromClient(
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn)));
  frame.resize(kEthHeaderLen + 19);
  ExpectDrop(frame, XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv4WrongVersionDrops) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.version = 6;
  ExpectDrop(
      FromClient(BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpSyn)))),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv4IhlBelowFiveDrops) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.ihl = 4;
  ExpectDrop(
      FromClient(BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpSyn)))),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv4TotalLengthBeyondFrameDrops) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  const Bytes tcp = BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpAck, 10));
  f.total_length = static_cast<uint16_t>(kIpv4HeaderLen + tcp.size() + 1);
  ExpectDrop(FromClient(BuildIpv4(f, tcp)), XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv4TotalLengthBelowHeaderDrops) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.total_length = 19;
  ExpectDrop(
      FromClient(BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpSyn)))),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TruncatedTcpHeaderDrops) {
  AddVip4(RingOf(kV4BackendA));
  Bytes tcp =
      BuildTcp(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn));
  tcp.resize(12);
  ExpectDrop(
      FromClient(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoTcp, tcp)),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TcpHeaderBeyondIpTotalLengthDrops) {
  // The frame holds the whole TCP header, but the IP packet ends early: the
  // rest is padding, so the TCP header is truncated.
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.total_length = kIpv4HeaderLen + 16;
  ExpectDrop(
      FromClient(BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpSyn)))),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TcpDataOffsetBelowFiveDrops) {
  AddVip4(RingOf(kV4BackendA));
  TcpFields t = Tcp(40000, 80, kTcpSyn);
  t.data_offset = 4;
  ExpectDrop(FromClient(TcpPacket(TestNet::Client4(), TestNet::Vip4(), t)),
             XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TruncatedUdpHeaderDrops) {
  AddVip(TestNet::Vip6(), 53, kProtoUdp, kVipIndex, 0, RingOf(kV6BackendA));
  Bytes udp = BuildUdp(TestNet::Client6(), TestNet::Vip6(), 1234, 53, {});
  udp.resize(6);
  ExpectDrop(
      FromClient(BuildIp(TestNet::Client6(), TestNet::Vip6(), kProtoUdp, udp)),
      XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TruncatedIcmpHeaderDrops) {
  Bytes icmp = BuildIcmpv4(kIcmpEchoRequest, 0, 0x00010001, {});
  icmp.resize(4);
  ExpectDrop(FromClient(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
                                icmp)),
             XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, TruncatedIpv6HeaderDrops) {
  AddVip6(RingOf(kV6BackendA));
  Bytes frame = FromClient(
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50000, 443, kTcpSyn)));
  frame.resize(kEthHeaderLen + 39);
  ExpectDrop(frame, XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv6WrongVersionDrops) {
  AddVip6(RingOf(kV6BackendA));
  Ipv6Fields f;
  f.src = TestNet::Client6();
  f.dst = TestNet::Vip6();
  f.version = 4;
  ExpectDrop(FromClient(BuildIpv6(
                 f, BuildTcp(f.src, f.dst, Tcp(50000, 443, kTcpSyn)))),
             XLB_CNT_DROP_MALFORMED);
}

TEST_F(BalancerPacketTest, Ipv6PayloadLengthBeyondFrameDrops) {
  AddVip6(RingOf(kV6BackendA));
  Ipv6Fields f;
  f.src = TestNet::Client6();
  f.dst = TestNet::Vip6();
  const Bytes tcp = BuildTcp(f.src, f.dst, Tcp(50000, 443, kTcpAck, 8));
  f.payload_length = static_cast<uint16_t>(tcp.size() + 1);
  ExpectDrop(FromClient(BuildIpv6(f, tcp)), XLB_CNT_DROP_MALFORMED);
}

// ---------------------------------------------------------------------------
// Steps 2-3: what is left to the kernel.

TEST_F(BalancerPacketTest, FirstIpv4FragmentPasses) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.df = false;
  f.mf = true;
  ExpectPass(FromClient(BuildIpv4(
                 f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpAck, 64)))),
             XLB_CNT_PASS_IPV4_FRAGMENT);
}

TEST_F(BalancerPacketTest, NonFirstIpv4FragmentPasses) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.df = false;
  f.frag_offset = 185;  // 1480 bytes in
  ExpectPass(FromClient(BuildIpv4(f, Payload(40))), XLB_CNT_PASS_IPV4_FRAGMENT);
}

TEST_F(BalancerPacketTest, Ipv4WithOptionsPasses) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Client4();
  f.dst = TestNet::Vip4();
  f.options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL
  ExpectPass(
      FromClient(BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(40000, 80, kTcpSyn)))),
      XLB_CNT_PASS_IPV4_OPTIONS);
}

class Ipv6ExtensionHeaderTest : public BalancerPacketTest,
                                public ::testing::WithParamInterface<uint8_t> {
};

TEST_P(Ipv6ExtensionHeaderTest, PassesUnchanged) {
  AddVip6(RingOf(kV6BackendA));
  // A generic 8-byte extension header (next header TCP, length 0), then TCP.
  Bytes payload = {kProtoTcp, 0, 0, 0, 0, 0, 0, 0};
  const Bytes tcp =
      BuildTcp(TestNet::Client6(), TestNet::Vip6(), Tcp(50000, 443, kTcpSyn));
  payload.insert(payload.end(), tcp.begin(), tcp.end());
  ExpectPass(FromClient(BuildIp(TestNet::Client6(), TestNet::Vip6(), GetParam(),
                                payload)),
             XLB_CNT_PASS_IPV6_EXT_HDR);
}

// hop-by-hop, routing, fragment, destination options, AH, ESP, mobility,
// HIP, shim6.
INSTANTIATE_TEST_SUITE_P(AllExtensionHeaders, Ipv6ExtensionHeaderTest,
                         ::testing::Values(0, 43, 44, 60, 51, 50, 135, 139,
                                           140));

}  // namespace
}  // namespace xlb::testing
