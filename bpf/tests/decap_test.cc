// Packet tests of xlb_decap (docs/dataplane.md, "Decap (backend)").
#include <linux/bpf.h>

#include <cstdint>

#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

Mac BackendMac() { return MacFromString("02:00:00:00:01:11"); }
Mac RouterMac() { return MacFromString("02:00:00:00:01:fe"); }
IpAddr Local4() { return IpAddr::V4("192.0.2.11"); }
IpAddr Local6() { return IpAddr::V6("2001:db8:b::13"); }
IpAddr Other4() { return IpAddr::V4("192.0.2.12"); }
IpAddr Other6() { return IpAddr::V6("2001:db8:b::14"); }

Bytes Payload(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(0x40 + i);
  return b;
}

// What a client sent to the VIP: the packet inside the tunnel.
Bytes Inner4() {
  TcpFields t;
  t.sport = 40000;
  t.dport = 80;
  t.flags = kTcpAck | kTcpPsh;
  t.ack = 99;
  t.payload = Payload(33);
  return TcpPacket(TestNet::Client4(), TestNet::Vip4(), t, {.tos = 0x48});
}
Bytes Inner6() {
  TcpFields t;
  t.sport = 50000;
  t.dport = 443;
  t.flags = kTcpSyn;
  return TcpPacket(TestNet::Client6(), TestNet::Vip6(), t,
                   {.tos = 0x48, .flow_label = 0x1f00d});
}

// The balancer's outer header (values per step 9, but any valid header must
// do here).
Bytes Outer(const IpAddr& dst, const Bytes& inner) {
  const bool inner_v6 = inner[0] >> 4 == 6;
  const uint8_t proto = inner_v6 ? kProtoIpv6 : kProtoIpip;
  if (dst.family == 4) {
    return BuildIp(TestNet::LbSrc4(), dst, proto, inner,
                   {.tos = 0x48, .df = true, .ttl = 63, .id = 0});
  }
  return BuildIp(TestNet::LbSrc6(), dst, proto, inner,
                 {.tos = 0x48, .ttl = 63, .flow_label = 0x12345});
}

Bytes ToBackend(const Bytes& ip) {
  return EthernetFrame(BackendMac(), RouterMac(), ip);
}
// Same Ethernet addresses, the inner family's ethertype, the inner packet.
Bytes Decapsulated(const Bytes& inner) {
  return EthernetFrame(BackendMac(), RouterMac(), inner);
}

class DecapPacketTest : public DecapTest {
 protected:
  void SetUp() override {
    DecapTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(AddLocalAddr(Local4()));
    ASSERT_NO_FATAL_FAILURE(AddLocalAddr(Local6()));
  }

  void ExpectDecapsulated(const Bytes& in, const Bytes& expected) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_PASS);
    EXPECT_TRUE(SameBytes(r.frame, expected));
    EXPECT_EQ(Counter(XLB_DECAP_CNT_RX), 1u);
    EXPECT_EQ(Counter(XLB_DECAP_CNT_DECAPSULATED), 1u);
  }
  void ExpectUntouched(const Bytes& in) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_PASS);
    EXPECT_TRUE(SameBytes(r.frame, in));
    EXPECT_EQ(Counter(XLB_DECAP_CNT_PASS), 1u);
    EXPECT_EQ(Counter(XLB_DECAP_CNT_DECAPSULATED), 0u);
  }
  void ExpectDropped(const Bytes& in) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_DROP);
    EXPECT_EQ(Counter(XLB_DECAP_CNT_DROP_MALFORMED), 1u);
    EXPECT_EQ(Counter(XLB_DECAP_CNT_DECAPSULATED), 0u);
  }
};

TEST_F(DecapPacketTest, Ipv4InIpv4IsDecapsulated) {
  ExpectDecapsulated(ToBackend(Outer(Local4(), Inner4())),
                     Decapsulated(Inner4()));
}

TEST_F(DecapPacketTest, Ipv6InIpv6IsDecapsulated) {
  ExpectDecapsulated(ToBackend(Outer(Local6(), Inner6())),
                     Decapsulated(Inner6()));
}

TEST_F(DecapPacketTest, Ipv4InIpv6IsDecapsulated) {
  ExpectDecapsulated(ToBackend(Outer(Local6(), Inner4())),
                     Decapsulated(Inner4()));
}

TEST_F(DecapPacketTest, Ipv6InIpv4IsDecapsulated) {
  ExpectDecapsulated(ToBackend(Outer(Local4(), Inner6())),
                     Decapsulated(Inner6()));
}

TEST_F(DecapPacketTest, TrailingBytesAfterOuterIpv4AreCut) {
  Bytes frame = ToBackend(Outer(Local4(), Inner4()));
  frame.insert(frame.end(), {0, 0, 0, 0, 0, 0, 0});
  ExpectDecapsulated(frame, Decapsulated(Inner4()));
}

TEST_F(DecapPacketTest, TrailingBytesAfterOuterIpv6AreCut) {
  Bytes frame = ToBackend(Outer(Local6(), Inner4()));
  frame.insert(frame.end(), {0xaa, 0xbb, 0xcc});
  ExpectDecapsulated(frame, Decapsulated(Inner4()));
}

TEST_F(DecapPacketTest, TunnelPacketForAnotherIpv4HostPassesUnchanged) {
  ExpectUntouched(ToBackend(Outer(Other4(), Inner4())));
}

TEST_F(DecapPacketTest, TunnelPacketForAnotherIpv6HostPassesUnchanged) {
  ExpectUntouched(ToBackend(Outer(Other6(), Inner6())));
}

TEST_F(DecapPacketTest, NonTunnelPacketToLocalAddressPassesUnchanged) {
  TcpFields t;
  t.dport = 22;
  ExpectUntouched(ToBackend(TcpPacket(TestNet::Client4(), Local4(), t)));
}

TEST_F(DecapPacketTest, NonTunnelIpv6PacketToLocalAddressPassesUnchanged) {
  ExpectUntouched(ToBackend(
      UdpPacket(TestNet::Client6(), Local6(), 5000, 53, Payload(20))));
}

TEST_F(DecapPacketTest, ArpPassesUnchanged) {
  ExpectUntouched(ArpRequestFrame(RouterMac(), TestNet::LbSrc4(), Local4()));
}

TEST_F(DecapPacketTest, OuterIpv4FragmentPassesUnchanged) {
  Ipv4Fields f;
  f.src = TestNet::LbSrc4();
  f.dst = Local4();
  f.protocol = kProtoIpip;
  f.df = false;
  f.mf = true;
  ExpectUntouched(ToBackend(BuildIpv4(f, Inner4())));
}

TEST_F(DecapPacketTest, OuterIpv4WithOptionsPassesUnchanged) {
  Ipv4Fields f;
  f.src = TestNet::LbSrc4();
  f.dst = Local4();
  f.protocol = kProtoIpip;
  f.options = {0x01, 0x01, 0x01, 0x00};
  ExpectUntouched(ToBackend(BuildIpv4(f, Inner4())));
}

TEST_F(DecapPacketTest, TruncatedInnerIpv4HeaderDrops) {
  Bytes inner = Inner4();
  inner.resize(12);
  ExpectDropped(
      ToBackend(BuildIp(TestNet::LbSrc4(), Local4(), kProtoIpip, inner)));
}

TEST_F(DecapPacketTest, TruncatedInnerIpv6HeaderDrops) {
  Bytes inner = Inner6();
  inner.resize(30);
  ExpectDropped(
      ToBackend(BuildIp(TestNet::LbSrc6(), Local6(), kProtoIpv6, inner)));
}

TEST_F(DecapPacketTest, WrongInnerVersionForProtocol4Drops) {
  // Protocol 4 promises IPv4; this carries IPv6.
  ExpectDropped(
      ToBackend(BuildIp(TestNet::LbSrc4(), Local4(), kProtoIpip, Inner6())));
}

TEST_F(DecapPacketTest, WrongInnerVersionForNextHeader41Drops) {
  // Next header 41 promises IPv6; this carries IPv4 (and is 40+ bytes long).
  ExpectDropped(
      ToBackend(BuildIp(TestNet::LbSrc6(), Local6(), kProtoIpv6, Inner4())));
}

TEST_F(DecapPacketTest, OuterIpv4LengthBeyondFrameDrops) {
  Ipv4Fields f;
  f.src = TestNet::LbSrc4();
  f.dst = Local4();
  f.protocol = kProtoIpip;
  f.total_length = static_cast<uint16_t>(kIpv4HeaderLen + Inner4().size() + 1);
  ExpectDropped(ToBackend(BuildIpv4(f, Inner4())));
}

TEST_F(DecapPacketTest, OuterIpv6LengthBeyondFrameDrops) {
  Ipv6Fields f;
  f.src = TestNet::LbSrc6();
  f.dst = Local6();
  f.next_header = kProtoIpv6;
  f.payload_length = static_cast<uint16_t>(Inner6().size() + 1);
  ExpectDropped(ToBackend(BuildIpv6(f, Inner6())));
}

}  // namespace
}  // namespace xlb::testing
