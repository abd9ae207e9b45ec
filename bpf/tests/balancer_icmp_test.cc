// Packet tests of xlb_balancer's ICMP paths (docs/dataplane.md steps 8, 10,
// 11): "too big" answers, ICMP errors routed to the flow's backend, echo.
#include <linux/bpf.h>

#include <algorithm>
#include <cstdint>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

// ---------------------------------------------------------------------------
// Step 8: too big after encapsulation.

TEST_F(BalancerPacketTest, PacketFittingMtuExactlyIsForwarded) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40050, 80, kTcpAck, TestNet::kMtu - 20 - 40));
  ASSERT_EQ(ip.size() + 20, TestNet::kMtu);
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40050, 80, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
}

TEST_F(BalancerPacketTest, TooBigIpv4WithDfGetsFragNeeded) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                Tcp(40051, 80, kTcpAck, TestNet::kMtu - 20 - 40 + 1));
  ASSERT_EQ(ip.size() + 20, TestNet::kMtu + 1);
  const Bytes frame = FromClient(ip);
  const Bytes expected = FragNeededFrame(frame, TestNet::kMtu - 20);
  ASSERT_EQ(expected.size(), 70u);
  ExpectTx(frame, expected);
  EXPECT_EQ(Counter(XLB_CNT_ICMP_FRAG_NEEDED), 1u);
  EXPECT_EQ(Counter(XLB_CNT_TX), 0u);
}

TEST_F(BalancerPacketTest, FragNeededToIpv6BackendAccountsForIpv6Overhead) {
  AddVip4(RingOf(kV6BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                Tcp(40052, 80, kTcpAck, TestNet::kMtu - 40 - 40 + 1),
                {.tos = 0x10, .ttl = 50});
  const Bytes frame = FromClient(ip);
  ExpectTx(frame, FragNeededFrame(frame, TestNet::kMtu - 40));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_FRAG_NEEDED), 1u);
}

TEST_F(BalancerPacketTest, TooBigIpv6GetsPacketTooBig) {
  AddVip6(RingOf(kV6BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(),
                Tcp(50050, 443, kTcpAck, TestNet::kMtu - 40 - 40 + 1),
                {.tos = 0x28, .flow_label = 0x54321});
  const Bytes frame = FromClient(ip);
  const Bytes expected = PacketTooBigFrame(frame, TestNet::kMtu - 40);
  ASSERT_EQ(expected.size(), 110u);
  ExpectTx(frame, expected);
  EXPECT_EQ(Counter(XLB_CNT_ICMP6_TOO_BIG), 1u);
}

TEST_F(BalancerPacketTest, TooBigIpv6ToIpv4BackendGetsPacketTooBig) {
  config_.mtu = 1400;
  ApplyConfig();
  AddVip6(RingOf(kV4BackendA));
  const Bytes ip = TcpPacket(TestNet::Client6(), TestNet::Vip6(),
                             Tcp(50051, 443, kTcpAck, 1400 - 20 - 60 + 1));
  ASSERT_EQ(ip.size() + 20, 1401u);
  const Bytes frame = FromClient(ip);
  ExpectTx(frame, PacketTooBigFrame(frame, 1400 - 20));
  EXPECT_EQ(Counter(XLB_CNT_ICMP6_TOO_BIG), 1u);
}

TEST_F(BalancerPacketTest, TooBigIpv4WithoutDfDrops) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip = TcpPacket(
      TestNet::Client4(), TestNet::Vip4(),
      Tcp(40053, 80, kTcpAck, TestNet::kMtu - 20 - 40 + 1), {.df = false});
  ExpectDrop(FromClient(ip), XLB_CNT_DROP_TOO_BIG);
}

// ---------------------------------------------------------------------------
// Step 10: ICMP errors about VIP flows.

// An ICMP error from a router about a packet the backend sent (VIP to
// client), quoting `quote_len` bytes of it.
Bytes RouterIcmp4Error(uint8_t type, uint8_t code, uint32_t rest,
                       const Bytes& offending, size_t quote_len) {
  const Bytes quote(offending.begin(),
                    offending.begin() + std::min(quote_len, offending.size()));
  return BuildIp(Router4(), TestNet::Vip4(), kProtoIcmp,
                 BuildIcmpv4(type, code, rest, quote),
                 {.tos = 0xc0, .df = false, .ttl = 255, .id = 0x0777});
}
Bytes RouterIcmp6Error(uint8_t type, uint8_t code, uint32_t rest,
                       const Bytes& offending, size_t quote_len) {
  const Bytes quote(offending.begin(),
                    offending.begin() + std::min(quote_len, offending.size()));
  return BuildIp(
      Router6(), TestNet::Vip6(), kProtoIcmpv6,
      BuildIcmpv6(Router6(), TestNet::Vip6(), type, code, rest, quote),
      {.tos = 0xc0, .ttl = 64});
}

TEST_F(BalancerPacketTest, IcmpFragNeededFollowsConnEntry) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40060, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes offending = TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                                    Tcp(80, 40060, kTcpAck, 1400));
  const Bytes ip = RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                    1300, offending, 28);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ERROR_FORWARDED), 1u);
}

TEST_F(BalancerPacketTest, IcmpErrorWithoutEntryUsesMaglevAndWritesNothing) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip(TestNet::Vip4(), 53, kProtoUdp, kVipIndex, 0, ring);
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 33060, 53, kProtoUdp);
  const Bytes offending =
      UdpPacket(TestNet::Vip4(), TestNet::Client4(), 53, 33060, Payload(200));
  const Bytes ip =
      RouterIcmp4Error(kIcmpTimeExceeded, 0, 0, offending, 20 + 8 + 32);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, Pick(flow, ring)));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ERROR_FORWARDED), 1u);
  EXPECT_FALSE(GetConn(flow).has_value());
}

TEST_F(BalancerPacketTest, Icmp6PacketTooBigFollowsConnEntry) {
  AddVip6(RingOf(kV6BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50060, 443, kProtoTcp);
  SetConn(flow, Conn(kV6BackendB, Generation(kV6BackendB), 0));
  const Bytes offending = TcpPacket(TestNet::Vip6(), TestNet::Client6(),
                                    Tcp(443, 50060, kTcpAck, 1400));
  const Bytes ip =
      RouterIcmp6Error(kIcmp6PacketTooBig, 0, 1280, offending, 40 + 20 + 32);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendB));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ERROR_FORWARDED), 1u);
}

TEST_F(BalancerPacketTest, Icmp6ErrorForWildcardVipUsesMaglevToIpv4Backend) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip(TestNet::Vip6(), 0, kProtoUdp, kVipIndex, 0, ring);
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50061, 5000, kProtoUdp);
  const Bytes offending =
      UdpPacket(TestNet::Vip6(), TestNet::Client6(), 5000, 50061, Payload(64));
  const Bytes ip =
      RouterIcmp6Error(kIcmp6TimeExceeded, 0, 0, offending, 40 + 8);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, Pick(flow, ring)));
  EXPECT_FALSE(GetConn(flow).has_value());
}

TEST_F(BalancerPacketTest, IcmpErrorWithStaleEntryUsesMaglevAndKeepsEntry) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip4(ring);
  SetBackend(kV6BackendB, BackendAddr(kV6BackendB), XLB_BACKEND_DOWN,
             Generation(kV6BackendB));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40066, 80, kProtoTcp);
  const xlb_conn stale = Conn(kV6BackendB, Generation(kV6BackendB), 0);
  SetConn(flow, stale);
  const Bytes offending = TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                                    Tcp(80, 40066, kTcpAck, 1400));
  const Bytes ip = RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                    1300, offending, 28);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, Pick(flow, ring)));
  const auto conn = GetConn(flow);
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(conn->backend, stale.backend) << "ICMP errors write no entry";
}

TEST_F(BalancerPacketTest, IcmpErrorTooBigForIpv6BackendDrops) {
  // 56 + 20 fits a 90-byte MTU, 56 + 40 does not: the backend's family counts.
  config_.mtu = 90;
  ApplyConfig();
  AddVip4(RingOf(kV6BackendA));
  const Bytes offending = TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                                    Tcp(80, 40067, kTcpAck, 100));
  ExpectDrop(
      FromClient(RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                  1300, offending, 28)),
      XLB_CNT_DROP_TOO_BIG);
}

TEST_F(BalancerPacketTest, IcmpErrorQuotingIcmpPasses) {
  xlb_vip_value v{};
  v.index = kEchoVipIndex;
  v.flags = XLB_VIP_F_ECHO;
  SetVip(TestNet::Vip4(), 0, kProtoIcmp, v);
  const Bytes offending =
      BuildIp(TestNet::Vip4(), TestNet::Client4(), kProtoIcmp,
              BuildIcmpv4(kIcmpEchoReply, 0, 0x00010001, Payload(16)));
  ExpectPass(
      FromClient(RouterIcmp4Error(kIcmpTimeExceeded, 0, 0, offending, 28)),
      XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, IcmpErrorQuotingNonVipPasses) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes offending =
      TcpPacket(IpAddr::V4("203.0.113.99"), TestNet::Client4(),
                Tcp(80, 40062, kTcpAck, 100));
  ExpectPass(
      FromClient(RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                  1300, offending, 28)),
      XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, IcmpErrorWithTruncatedQuotePasses) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes offending = TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                                    Tcp(80, 40063, kTcpAck, 100));
  ExpectPass(
      FromClient(RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                  1300, offending, 20 + 4)),
      XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, Icmp6ErrorWithTruncatedQuotePasses) {
  AddVip6(RingOf(kV6BackendA));
  const Bytes offending = TcpPacket(TestNet::Vip6(), TestNet::Client6(),
                                    Tcp(443, 50063, kTcpAck, 100));
  ExpectPass(FromClient(RouterIcmp6Error(kIcmp6PacketTooBig, 0, 1280, offending,
                                         40 + 7)),
             XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, IcmpErrorQuotingIpv4OptionsPasses) {
  AddVip4(RingOf(kV4BackendA));
  Ipv4Fields f;
  f.src = TestNet::Vip4();
  f.dst = TestNet::Client4();
  f.options = {0x01, 0x01, 0x01, 0x00};
  const Bytes offending =
      BuildIpv4(f, BuildTcp(f.src, f.dst, Tcp(80, 40064, kTcpAck, 100)));
  ExpectPass(
      FromClient(RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                  1300, offending, 24 + 8)),
      XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, IcmpErrorTooBigToForwardDrops) {
  config_.mtu = 60;  // the 56-byte ICMP packet plus 20 does not fit
  ApplyConfig();
  AddVip4(RingOf(kV4BackendA));
  const Bytes offending = TcpPacket(TestNet::Vip4(), TestNet::Client4(),
                                    Tcp(80, 40065, kTcpAck, 100));
  ExpectDrop(
      FromClient(RouterIcmp4Error(kIcmpDestUnreachable, kIcmpCodeFragNeeded,
                                  1300, offending, 28)),
      XLB_CNT_DROP_TOO_BIG);
}

TEST_F(BalancerPacketTest, OtherIcmpTypeToVipPasses) {
  AddVip4(RingOf(kV4BackendA));
  // Timestamp request (type 13): neither an error nor an echo.
  ExpectPass(FromClient(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
                                BuildIcmpv4(13, 0, 0x00010001, Payload(12)))),
             XLB_CNT_PASS_NOT_VIP);
}

// ---------------------------------------------------------------------------
// Step 11: echo.

TEST_F(BalancerPacketTest, EchoRequestToIpv4VipIsAnswered) {
  xlb_vip_value v{};
  v.index = kEchoVipIndex;
  v.flags = XLB_VIP_F_ECHO;
  SetVip(TestNet::Vip4(), 0, kProtoIcmp, v);
  const Bytes frame = FromClient(
      BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
              BuildIcmpv4(kIcmpEchoRequest, 0, 0x4d2a0007, Payload(56)),
              {.tos = 0x00, .df = true, .ttl = 53, .id = 0x4242}));
  ExpectTx(frame, EchoReplyFrame(frame));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ECHO_REPLY), 1u);
}

TEST_F(BalancerPacketTest, EchoRequestToIpv6VipIsAnswered) {
  xlb_vip_value v{};
  v.index = kEchoVipIndex;
  v.flags = XLB_VIP_F_ECHO;
  SetVip(TestNet::Vip6(), 0, kProtoIcmpv6, v);
  const Bytes frame = FromClient(
      BuildIp(TestNet::Client6(), TestNet::Vip6(), kProtoIcmpv6,
              BuildIcmpv6(TestNet::Client6(), TestNet::Vip6(),
                          kIcmp6EchoRequest, 0, 0x1a2b0003, Payload(40)),
              {.tos = 0x00, .ttl = 61, .flow_label = 0x9abc}));
  ExpectTx(frame, EchoReplyFrame(frame));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ECHO_REPLY), 1u);
}

TEST_F(BalancerPacketTest, EchoRequestWithoutEchoEntryPasses) {
  AddVip4(RingOf(kV4BackendA));  // a TCP VIP on the address is not enough
  const Bytes frame = FromClient(
      BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoIcmp,
              BuildIcmpv4(kIcmpEchoRequest, 0, 0x00010001, Payload(16))));
  const RunResult r = Run(frame);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(SameBytes(r.frame, frame));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ECHO_REPLY), 0u);
}

TEST_F(BalancerPacketTest, Ipv6EchoRequestWithEntryLackingEchoFlagPasses) {
  xlb_vip_value v{};
  v.index = kEchoVipIndex;
  v.flags = 0;
  SetVip(TestNet::Vip6(), 0, kProtoIcmpv6, v);
  const Bytes frame = FromClient(
      BuildIp(TestNet::Client6(), TestNet::Vip6(), kProtoIcmpv6,
              BuildIcmpv6(TestNet::Client6(), TestNet::Vip6(),
                          kIcmp6EchoRequest, 0, 0x00010001, Payload(16))));
  const RunResult r = Run(frame);
  EXPECT_EQ(r.action, XDP_PASS);
  EXPECT_TRUE(SameBytes(r.frame, frame));
  EXPECT_EQ(Counter(XLB_CNT_ICMP_ECHO_REPLY), 0u);
}

}  // namespace
}  // namespace xlb::testing
