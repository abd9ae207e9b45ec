// Packet tests of xlb_balancer (docs/dataplane.md, "Balancer: packet path"):
// forwarding — VIP lookup, connection table, Maglev, encapsulation, counters.
// Every case builds its input and its expected output with the independent
// packet builder and compares the action and the whole frame byte for byte.
// Malformed input is in balancer_malformed_test.cc, ICMP in
// balancer_icmp_test.cc.
#include <linux/bpf.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

// ---------------------------------------------------------------------------
// Step 9: every encapsulation family.

TEST_F(BalancerPacketTest, TcpSynIpv4ToIpv4BackendIsIpipEncapsulated) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40000, 80, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_TX), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 1u);
}

TEST_F(BalancerPacketTest, TcpSynIpv6ToIpv6BackendIsIp6Encapsulated) {
  AddVip6(RingOf(kV6BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50000, 443, kTcpSyn));
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50000, 443, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendA));
  EXPECT_EQ(Counter(XLB_CNT_TX), 1u);
}

TEST_F(BalancerPacketTest, TcpSynIpv4ToIpv6BackendIsEncapsulatedInIpv6) {
  AddVip4(RingOf(kV6BackendB));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40001, 80, kTcpSyn));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40001, 80, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendB));
}

TEST_F(BalancerPacketTest, TcpSynIpv6ToIpv4BackendIsEncapsulatedInIpv4WithDf) {
  AddVip6(RingOf(kV4BackendB));
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50001, 443, kTcpSyn));
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50001, 443, kProtoTcp);
  const Bytes expected = Forwarded(ip, flow, kV4BackendB);
  // Inner IPv6 always gets DF on the outer IPv4 header.
  ASSERT_EQ(expected[kEthHeaderLen + 6] & 0x40, 0x40);
  ExpectTx(FromClient(ip), expected);
}

TEST_F(BalancerPacketTest, UdpIpv4IsForwardedAndRecordsItsFlow) {
  AddVip(TestNet::Vip4(), 53, kProtoUdp, kVipIndex, 0,
         Alternating(kV4BackendA, 2));
  const Bytes ip =
      UdpPacket(TestNet::Client4(), TestNet::Vip4(), 33333, 53, Payload(30));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 33333, 53, kProtoUdp);
  const uint32_t backend = Pick(flow, Alternating(kV4BackendA, 2));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, backend));
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
  ExpectConnTo(flow, backend);
}

TEST_F(BalancerPacketTest, UdpIpv6ToIpv6BackendIsForwarded) {
  AddVip(TestNet::Vip6(), 4789, kProtoUdp, kVipIndex, 0,
         Alternating(kV6BackendA, 2));
  const Bytes ip = UdpPacket(TestNet::Client6(), TestNet::Vip6(), 44444, 4789,
                             Payload(100), {.tos = 0, .flow_label = 0x12345});
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 44444, 4789, kProtoUdp);
  ExpectTx(FromClient(ip),
           Forwarded(ip, flow, Pick(flow, Alternating(kV6BackendA, 2))));
}

// ---------------------------------------------------------------------------
// Step 5: VIP lookup.

TEST_F(BalancerPacketTest, WildcardPortVipTakesAnyPort) {
  AddVip(TestNet::Vip4(), 0, kProtoUdp, kVipIndex, 0,
         Alternating(kV4BackendA, 2));
  const Bytes ip =
      UdpPacket(TestNet::Client4(), TestNet::Vip4(), 12345, 5353, Payload(12));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 12345, 5353, kProtoUdp);
  ExpectTx(FromClient(ip),
           Forwarded(ip, flow, Pick(flow, Alternating(kV4BackendA, 2))));
}

TEST_F(BalancerPacketTest, ExactPortVipWinsOverWildcard) {
  AddVip(TestNet::Vip4(), 80, kProtoTcp, 0, 0, RingOf(kV4BackendA));
  AddVip(TestNet::Vip4(), 0, kProtoTcp, 1, 0, RingOf(kV4BackendB));
  const Bytes to80 =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn));
  const Bytes to8080 =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 8080, kTcpSyn));
  ExpectTx(FromClient(to80),
           Forwarded(to80,
                     MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40000, 80,
                              kProtoTcp),
                     kV4BackendA));
  ExpectTx(FromClient(to8080),
           Forwarded(to8080,
                     MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40000, 8080,
                              kProtoTcp),
                     kV4BackendB));
}

TEST_F(BalancerPacketTest, OtherPortOfExactVipPasses) {
  AddVip4(RingOf(kV4BackendA));
  ExpectPass(FromClient(TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                                  Tcp(40000, 443, kTcpSyn))),
             XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, OtherProtocolToTcpVipPasses) {
  AddVip4(RingOf(kV4BackendA));
  ExpectPass(FromClient(UdpPacket(TestNet::Client4(), TestNet::Vip4(), 40000,
                                  80, Payload(8))),
             XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, Ipv6AddressSharingIpv4VipBytesIsNotAVip) {
  AddVip4(RingOf(kV4BackendA));
  // cb00:7101:: starts with the bytes of 203.0.113.1; the key's family
  // tells them apart.
  ExpectPass(FromClient(TcpPacket(TestNet::Client6(), IpAddr::V6("cb00:7101::"),
                                  Tcp(50000, 80, kTcpSyn))),
             XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, NonVipIpv4PassesUnchanged) {
  AddVip4(RingOf(kV4BackendA));
  ExpectPass(FromClient(TcpPacket(TestNet::Client4(), IpAddr::V4("203.0.113.2"),
                                  Tcp(40000, 80, kTcpSyn))),
             XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, NonVipIpv6PassesUnchanged) {
  AddVip6(RingOf(kV6BackendA));
  ExpectPass(
      FromClient(TcpPacket(TestNet::Client6(), IpAddr::V6("2001:db8:f::2"),
                           Tcp(50000, 443, kTcpSyn))),
      XLB_CNT_PASS_NOT_VIP);
}

TEST_F(BalancerPacketTest, ArpPassesUnchanged) {
  AddVip4(RingOf(kV4BackendA));
  ExpectPass(ArpRequestFrame(TestNet::ClientMac(), TestNet::Client4(),
                             TestNet::Vip4()),
             XLB_CNT_PASS_NON_IP);
}

TEST_F(BalancerPacketTest, VlanTaggedFramePassesUnchanged) {
  AddVip4(RingOf(kV4BackendA));
  Bytes tagged = {0x00, 0x64};  // VID 100, then the inner ethertype
  tagged.push_back(kEthTypeIpv4 >> 8);
  tagged.push_back(kEthTypeIpv4 & 0xff);
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn));
  tagged.insert(tagged.end(), ip.begin(), ip.end());
  ExpectPass(BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(), kEthTypeVlan,
                           tagged),
             XLB_CNT_PASS_NON_IP);
}

TEST_F(BalancerPacketTest, NonTcpUdpIcmpProtocolToVipAddressPasses) {
  AddVip4(RingOf(kV4BackendA));
  ExpectPass(FromClient(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoGre,
                                Payload(16))),
             XLB_CNT_PASS_NOT_VIP);
}

// ---------------------------------------------------------------------------
// Step 6: connection table.

TEST_F(BalancerPacketTest, SynWritesConnEntryWithBackendAndGeneration) {
  AddVip4(Alternating(kV4BackendA, 2));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40002, 80, kProtoTcp);
  const uint32_t backend = Pick(flow, Alternating(kV4BackendA, 2));
  const uint64_t before = MonotonicCoarseNs();
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40002, 80, kTcpSyn));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, backend));
  const uint64_t after = MonotonicCoarseNs();
  ExpectConnTo(flow, backend);
  const auto conn = GetConn(flow);
  ASSERT_TRUE(conn.has_value());
  // bpf_ktime_get_coarse_ns() may lag the fine clock by a tick.
  EXPECT_GE(conn->last_seen_ns + 1000000000ull, before);
  EXPECT_LE(conn->last_seen_ns, after);
  EXPECT_EQ(VipStats(kVipIndex).new_flows, 1u);
}

TEST_F(BalancerPacketTest, AckWithoutEntryIsPickedByMaglevAndRecorded) {
  AddVip4(Alternating(kV4BackendA, 2));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40003, 80, kProtoTcp);
  const uint32_t backend = Pick(flow, Alternating(kV4BackendA, 2));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40003, 80, kTcpAck, 20));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, backend));
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 0u);
  ExpectConnTo(flow, backend);
}

TEST_F(BalancerPacketTest, EstablishedFlowFollowsItsConnEntry) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40004, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40004, 80, kTcpAck | kTcpPsh, 50));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
  EXPECT_EQ(VipStats(kVipIndex).new_flows, 0u);
}

TEST_F(BalancerPacketTest,
       EstablishedIpv6FlowFollowsItsConnEntryAcrossFamilies) {
  AddVip6(RingOf(kV6BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50004, 443, kProtoTcp);
  SetConn(flow, Conn(kV4BackendA, Generation(kV4BackendA), 0));
  const Bytes ip = TcpPacket(TestNet::Client6(), TestNet::Vip6(),
                             Tcp(50004, 443, kTcpAck, 10));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
}

TEST_F(BalancerPacketTest, SynSkipsConnEntryAndReplacesIt) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40005, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40005, 80, kTcpSyn));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 0u);
  ExpectConnTo(flow, kV4BackendA);
}

TEST_F(BalancerPacketTest, DownBackendEntryIsReplacedByNewPick) {
  AddVip4(RingOf(kV4BackendA));
  SetBackend(kV4BackendB, BackendAddr(kV4BackendB), XLB_BACKEND_DOWN,
             Generation(kV4BackendB));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40006, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40006, 80, kTcpAck, 5));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_STALE), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 0u);
  ExpectConnTo(flow, kV4BackendA);
}

TEST_F(BalancerPacketTest, UnusedBackendEntryIsReplacedByNewPick) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40016, 80, kProtoTcp);
  SetConn(flow, Conn(kUnusedBackend, 0, 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40016, 80, kTcpAck, 5));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_STALE), 1u);
}

TEST_F(BalancerPacketTest, DrainingBackendKeepsEstablishedFlow) {
  AddVip4(RingOf(kV4BackendA));
  SetBackend(kV4BackendB, BackendAddr(kV4BackendB), XLB_BACKEND_DRAINING,
             Generation(kV4BackendB));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40007, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40007, 80, kTcpAck, 5));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
}

TEST_F(BalancerPacketTest, ReusedBackendIndexEntryIsReplacedByNewPick) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40008, 80, kProtoTcp);
  // Made for the index's previous holder.
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB) - 1, 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40008, 80, kTcpAck, 5));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_STALE), 1u);
  ExpectConnTo(flow, kV4BackendA);
}

TEST_F(BalancerPacketTest, IdleTcpEntryExpires) {
  config_.tcp_idle_timeout_ns = 1;
  ApplyConfig();
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40009, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40009, 80, kTcpAck, 5));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_STALE), 1u);
  const auto conn = GetConn(flow);
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(conn->backend, kV4BackendA);
}

TEST_F(BalancerPacketTest, IdleUdpEntryExpires) {
  config_.udp_idle_timeout_ns = 1;
  ApplyConfig();
  AddVip(TestNet::Vip4(), 53, kProtoUdp, kVipIndex, 0, RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 33000, 53, kProtoUdp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip =
      UdpPacket(TestNet::Client4(), TestNet::Vip4(), 33000, 53, Payload(9));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_STALE), 1u);
}

TEST_F(BalancerPacketTest, IdleTimeoutIsPerProtocolAndZeroMeansNever) {
  config_.tcp_idle_timeout_ns = 1;  // only TCP expires
  config_.udp_idle_timeout_ns = 0;
  ApplyConfig();
  AddVip(TestNet::Vip4(), 53, kProtoUdp, kVipIndex, 0, RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 33001, 53, kProtoUdp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip =
      UdpPacket(TestNet::Client4(), TestNet::Vip4(), 33001, 53, Payload(9));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
}

TEST_F(BalancerPacketTest, SynAckIsNotASynAndUsesConnEntry) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40010, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40010, 80, kTcpSyn | kTcpAck));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 0u);
}

TEST_F(BalancerPacketTest, ConnHitRefreshesLastSeen) {
  AddVip4(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40012, 80, kProtoTcp);
  SetConn(flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const uint64_t before = MonotonicCoarseNs();
  const Bytes ip = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                             Tcp(40012, 80, kTcpAck, 1));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
  const auto conn = GetConn(flow);
  ASSERT_TRUE(conn.has_value());
  EXPECT_EQ(conn->backend, kV4BackendB);
  // xlb_conn.last_seen_ns: "bpf_ktime_get_coarse_ns() of the last packet".
  EXPECT_GE(conn->last_seen_ns + 1000000000ull, before);
}

TEST_F(BalancerPacketTest, ConnEntriesAreKeyedByFamily) {
  // An IPv6 flow whose addresses and ports equal an IPv4 flow's first words
  // is a different flow.
  AddVip(IpAddr::V6("cb00:7101::"), 80, kProtoTcp, kVipIndex, 0,
         RingOf(kV4BackendA));
  xlb_flow v4flow = MakeFlow(IpAddr::V4("198.51.100.10"),
                             IpAddr::V4("203.0.113.1"), 40013, 80, kProtoTcp);
  SetConn(v4flow, Conn(kV4BackendB, Generation(kV4BackendB), 0));
  const IpAddr client = IpAddr::V6("c633:640a::");  // 198.51.100.10 as a word
  const Bytes ip =
      TcpPacket(client, IpAddr::V6("cb00:7101::"), Tcp(40013, 80, kTcpAck, 3));
  const xlb_flow flow =
      MakeFlow(client, IpAddr::V6("cb00:7101::"), 40013, 80, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
}

// ---------------------------------------------------------------------------
// Step 7: Maglev and the hash modes.

TEST_F(BalancerPacketTest, HashWithSourcePortSpreadsOneClientsFlows) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip4(ring);
  // Two source ports of one client whose slots name different backends.
  uint16_t first = 40000, second = 0;
  const uint32_t first_backend =
      Pick(MakeFlow(TestNet::Client4(), TestNet::Vip4(), first, 80, kProtoTcp),
           ring);
  for (uint16_t p = first + 1; p < first + 200; ++p) {
    if (Pick(MakeFlow(TestNet::Client4(), TestNet::Vip4(), p, 80, kProtoTcp),
             ring) != first_backend) {
      second = p;
      break;
    }
  }
  ASSERT_NE(second, 0) << "no source port reaching the other backend";
  for (uint16_t port : {first, second}) {
    const xlb_flow flow =
        MakeFlow(TestNet::Client4(), TestNet::Vip4(), port, 80, kProtoTcp);
    const Bytes ip =
        TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(port, 80, kTcpSyn));
    ExpectTx(FromClient(ip), Forwarded(ip, flow, Pick(flow, ring)));
  }
}

TEST_F(BalancerPacketTest, HashWithoutSourcePortKeepsOneClientOnOneSlot) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip4(ring, XLB_VIP_F_HASH_NO_SRC_PORT);
  // Ports that the with-source-port hash would send to different backends.
  const uint16_t first = 40000;
  uint16_t second = 0;
  const uint32_t first_backend =
      Pick(MakeFlow(TestNet::Client4(), TestNet::Vip4(), first, 80, kProtoTcp),
           ring);
  for (uint16_t p = first + 1; p < first + 200; ++p) {
    if (Pick(MakeFlow(TestNet::Client4(), TestNet::Vip4(), p, 80, kProtoTcp),
             ring) != first_backend) {
      second = p;
      break;
    }
  }
  ASSERT_NE(second, 0);
  const xlb_flow f1 =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), first, 80, kProtoTcp);
  const xlb_flow f2 =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), second, 80, kProtoTcp);
  ASSERT_EQ(RingSlot(Hash(f1, false), kRingSize),
            RingSlot(Hash(f2, false), kRingSize));
  const uint32_t backend = Pick(f1, ring, /*with_src_port=*/false);
  for (uint16_t port : {first, second}) {
    const Bytes ip =
        TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(port, 80, kTcpSyn));
    const xlb_flow flow =
        MakeFlow(TestNet::Client4(), TestNet::Vip4(), port, 80, kProtoTcp);
    ExpectTx(FromClient(ip),
             Forwarded(ip, flow, backend, /*with_src_port=*/false));
  }
}

TEST_F(BalancerPacketTest, HashWithoutSourcePortIpv6ToIpv6Backends) {
  const auto ring = Alternating(kV6BackendA, 2);
  AddVip6(ring, XLB_VIP_F_HASH_NO_SRC_PORT);
  for (uint16_t port : {50010, 50011, 50012}) {
    const xlb_flow flow =
        MakeFlow(TestNet::Client6(), TestNet::Vip6(), port, 443, kProtoTcp);
    const Bytes ip =
        TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(port, 443, kTcpSyn));
    ExpectTx(FromClient(ip), Forwarded(ip, flow, Pick(flow, ring, false),
                                       /*with_src_port=*/false));
  }
}

TEST_F(BalancerPacketTest, NoRingDropsAsNoBackend) {
  xlb_vip_value v{};
  v.index = kVipIndex;
  v.ring_size = kRingSize;
  SetVip(TestNet::Vip4(), 80, kProtoTcp, v);
  ExpectDrop(FromClient(TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                                  Tcp(40000, 80, kTcpSyn))),
             XLB_CNT_DROP_NO_BACKEND);
  EXPECT_EQ(VipStats(kVipIndex).no_backend_drops, 1u);
}

TEST_F(BalancerPacketTest, EmptyRingSlotDropsAsNoBackend) {
  AddVip4(RingOf(XLB_NO_BACKEND));
  ExpectDrop(FromClient(TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                                  Tcp(40000, 80, kTcpSyn))),
             XLB_CNT_DROP_NO_BACKEND);
  EXPECT_EQ(VipStats(kVipIndex).no_backend_drops, 1u);
}

TEST_F(BalancerPacketTest, RingNamingUnusedBackendDrops) {
  AddVip4(RingOf(kUnusedBackend));
  ExpectDrop(FromClient(TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                                  Tcp(40000, 80, kTcpSyn))),
             XLB_CNT_DROP_BAD_BACKEND);
}

TEST_F(BalancerPacketTest, RingIsAuthoritativeEvenForDownBackend) {
  SetBackend(kV4BackendB, BackendAddr(kV4BackendB), XLB_BACKEND_DOWN,
             Generation(kV4BackendB));
  AddVip4(RingOf(kV4BackendB));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40011, 80, kTcpSyn));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40011, 80, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendB));
}

// ---------------------------------------------------------------------------
// Step 9 details: outer source, DSCP/ECN, DF, Ethernet padding.

TEST_F(BalancerPacketTest, OuterIpv4SourceIsDrawnFromPrefix) {
  std::memcpy(&config_.src_v4, IpAddr::V4("192.0.2.128").bytes.data(), 4);
  config_.src_v4_prefix_len = 25;
  ApplyConfig();
  AddVip4(RingOf(kV4BackendA));
  for (uint16_t port : {40020, 40021}) {
    const xlb_flow flow =
        MakeFlow(TestNet::Client4(), TestNet::Vip4(), port, 80, kProtoTcp);
    const Bytes ip =
        TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(port, 80, kTcpSyn));
    const Bytes expected = Forwarded(ip, flow, kV4BackendA);
    // The prefix stays: 192.0.2.128/25.
    ASSERT_EQ(expected[kEthHeaderLen + 12 + 3] & 0x80, 0x80);
    ExpectTx(FromClient(ip), expected);
  }
}

TEST_F(BalancerPacketTest, OuterIpv4SourceFromZeroLengthPrefixIsAllHash) {
  config_.src_v4_prefix_len = 0;
  ApplyConfig();
  AddVip6(RingOf(kV4BackendA));
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50022, 443, kProtoTcp);
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50022, 443, kTcpSyn));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
}

TEST_F(BalancerPacketTest, OuterIpv6SourceIsDrawnFromPrefix) {
  IpAddr::V6("2001:db8:1b::").ToAbi(config_.src_v6);
  config_.src_v6_prefix_len = 100;  // the low 28 bits vary
  ApplyConfig();
  AddVip6(RingOf(kV6BackendA));
  for (uint16_t port : {50020, 50021}) {
    const xlb_flow flow =
        MakeFlow(TestNet::Client6(), TestNet::Vip6(), port, 443, kProtoTcp);
    const Bytes ip =
        TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(port, 443, kTcpSyn));
    ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendA));
  }
}

TEST_F(BalancerPacketTest, OuterIpv6SourceVariesAtMost32Bits) {
  IpAddr::V6("2001:db8:1b:0:1:2:3:4").ToAbi(config_.src_v6);
  config_.src_v6_prefix_len = 64;  // treated as 96: only the last word varies
  ApplyConfig();
  AddVip4(RingOf(kV6BackendB));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40022, 80, kProtoTcp);
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40022, 80, kTcpSyn));
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendB));
}

TEST_F(BalancerPacketTest, DscpAndEcnCopiedAndDfClearFollowsInnerIpv4) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40030, 80, kTcpSyn),
                {.tos = 0xb9, .df = false});
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40030, 80, kProtoTcp);
  const Bytes expected = Forwarded(ip, flow, kV4BackendA);
  ASSERT_EQ(expected[kEthHeaderLen + 1], 0xb9);
  ASSERT_EQ(expected[kEthHeaderLen + 6], 0x00);
  ExpectTx(FromClient(ip), expected);
}

TEST_F(BalancerPacketTest, TrafficClassCopiedFromIpv6ToIpv6Outer) {
  AddVip6(RingOf(kV6BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50030, 443, kTcpSyn),
                {.tos = 0x2e, .flow_label = 0xabcde});
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50030, 443, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV6BackendA));
}

TEST_F(BalancerPacketTest, TrafficClassCopiedFromIpv6ToIpv4Outer) {
  AddVip6(RingOf(kV4BackendA));
  const Bytes ip = TcpPacket(TestNet::Client6(), TestNet::Vip6(),
                             Tcp(50031, 443, kTcpSyn), {.tos = 0x8b});
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50031, 443, kProtoTcp);
  ExpectTx(FromClient(ip), Forwarded(ip, flow, kV4BackendA));
}

TEST_F(BalancerPacketTest, EthernetPaddingAfterShortIpv4IsStripped) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40040, 80, kTcpSyn));
  Bytes frame = FromClient(ip);
  frame.resize(60, 0);  // minimum Ethernet frame: 6 bytes of padding
  ASSERT_EQ(frame.size(), kEthHeaderLen + ip.size() + 6);
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40040, 80, kProtoTcp);
  ExpectTx(frame, Forwarded(ip, flow, kV4BackendA));
  EXPECT_EQ(BackendStats(kV4BackendA).bytes, ip.size());
}

TEST_F(BalancerPacketTest, TrailingBytesAfterIpv6PacketAreStripped) {
  AddVip6(RingOf(kV4BackendA));
  const Bytes ip =
      TcpPacket(TestNet::Client6(), TestNet::Vip6(), Tcp(50040, 443, kTcpSyn));
  Bytes frame = FromClient(ip);
  frame.insert(frame.end(), {0xde, 0xad, 0xbe, 0xef});
  const xlb_flow flow =
      MakeFlow(TestNet::Client6(), TestNet::Vip6(), 50040, 443, kProtoTcp);
  ExpectTx(frame, Forwarded(ip, flow, kV4BackendA));
}

// ---------------------------------------------------------------------------
// Counters.

TEST_F(BalancerPacketTest, ForwardedPacketsCountPerVipAndPerBackend) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes syn =
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40070, 80, kTcpSyn));
  const Bytes data = TcpPacket(TestNet::Client4(), TestNet::Vip4(),
                               Tcp(40070, 80, kTcpAck | kTcpPsh, 100));
  const xlb_flow flow =
      MakeFlow(TestNet::Client4(), TestNet::Vip4(), 40070, 80, kProtoTcp);
  ExpectTx(FromClient(syn), Forwarded(syn, flow, kV4BackendA));
  ExpectTx(FromClient(data), Forwarded(data, flow, kV4BackendA));

  EXPECT_EQ(Counter(XLB_CNT_RX), 2u);
  EXPECT_EQ(Counter(XLB_CNT_TX), 2u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
  const xlb_vip_stats vip = VipStats(kVipIndex);
  EXPECT_EQ(vip.packets, 2u);
  EXPECT_EQ(vip.bytes, syn.size() + data.size());
  EXPECT_EQ(vip.new_flows, 1u);
  EXPECT_EQ(vip.no_backend_drops, 0u);
  const xlb_backend_stats backend = BackendStats(kV4BackendA);
  EXPECT_EQ(backend.packets, 2u);
  EXPECT_EQ(backend.bytes, syn.size() + data.size());
  EXPECT_EQ(BackendStats(kV4BackendB).packets, 0u);
}

TEST_F(BalancerPacketTest, PassedAndDroppedPacketsCountOnlyTheirReason) {
  AddVip4(RingOf(kV4BackendA));
  const Bytes other = FromClient(TcpPacket(
      TestNet::Client4(), IpAddr::V4("203.0.113.3"), Tcp(1, 2, kTcpSyn)));
  EXPECT_EQ(Run(other).action, XDP_PASS);
  Bytes bad = FromClient(
      TcpPacket(TestNet::Client4(), TestNet::Vip4(), Tcp(40000, 80, kTcpSyn)));
  bad.resize(kEthHeaderLen + 10);
  EXPECT_EQ(Run(bad).action, XDP_DROP);
  EXPECT_EQ(Counter(XLB_CNT_RX), 2u);
  EXPECT_EQ(Counter(XLB_CNT_PASS_NOT_VIP), 1u);
  EXPECT_EQ(Counter(XLB_CNT_DROP_MALFORMED), 1u);
  EXPECT_EQ(Counter(XLB_CNT_TX), 0u);
  EXPECT_EQ(VipStats(kVipIndex).packets, 0u);
  EXPECT_EQ(BackendStats(kV4BackendA).packets, 0u);
}

}  // namespace
}  // namespace xlb::testing
