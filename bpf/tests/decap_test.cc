// Packet tests of xlb_decap (docs/dataplane.md, "Decap (backend)"): a table
// of frames, each with the frame that must come out and its counter; each
// row is its own test case.
#include <linux/bpf.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

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

// One frame through xlb_decap: what comes out and the counter it bumps
// besides RX (every other counter stays 0).
struct DecapRow {
  std::string description;  // CamelCase: the test case's name
  Bytes in;
  int action;
  Bytes out;  // XDP_PASS: the frame after the program
  xlb_decap_counter reason;
};
void PrintTo(const DecapRow& row, std::ostream* os) { *os << row.description; }

DecapRow Decapsulates(std::string description, Bytes in, const Bytes& inner) {
  return {std::move(description), std::move(in), XDP_PASS, Decapsulated(inner),
          XLB_DECAP_CNT_DECAPSULATED};
}
DecapRow LeavesUntouched(std::string description, Bytes in) {
  Bytes out = in;
  return {std::move(description), std::move(in), XDP_PASS, std::move(out),
          XLB_DECAP_CNT_PASS};
}
DecapRow Drops(std::string description, Bytes in) {
  return {std::move(description),
          std::move(in),
          XDP_DROP,
          {},
          XLB_DECAP_CNT_DROP_MALFORMED};
}

Bytes WithTrailer(Bytes frame, const Bytes& trailer) {
  frame.insert(frame.end(), trailer.begin(), trailer.end());
  return frame;
}
Bytes Truncated(Bytes b, size_t len) {
  b.resize(len);
  return b;
}

std::vector<DecapRow> Rows() {
  return {
      Decapsulates("Ipv4InIpv4IsDecapsulated",
                   ToBackend(Outer(Local4(), Inner4())), Inner4()),
      Decapsulates("Ipv6InIpv6IsDecapsulated",
                   ToBackend(Outer(Local6(), Inner6())), Inner6()),
      Decapsulates("Ipv4InIpv6IsDecapsulated",
                   ToBackend(Outer(Local6(), Inner4())), Inner4()),
      Decapsulates("Ipv6InIpv4IsDecapsulated",
                   ToBackend(Outer(Local4(), Inner6())), Inner6()),
      Decapsulates("TrailingBytesAfterOuterIpv4AreCut",
                   WithTrailer(ToBackend(Outer(Local4(), Inner4())),
                               {0, 0, 0, 0, 0, 0, 0}),
                   Inner4()),
      Decapsulates(
          "TrailingBytesAfterOuterIpv6AreCut",
          WithTrailer(ToBackend(Outer(Local6(), Inner4())), {0xaa, 0xbb, 0xcc}),
          Inner4()),

      LeavesUntouched("TunnelPacketForAnotherIpv4HostPassesUnchanged",
                      ToBackend(Outer(Other4(), Inner4()))),
      LeavesUntouched("TunnelPacketForAnotherIpv6HostPassesUnchanged",
                      ToBackend(Outer(Other6(), Inner6()))),
      LeavesUntouched(
          "NonTunnelPacketToLocalAddressPassesUnchanged",
          ToBackend(TcpPacket(TestNet::Client4(), Local4(), {.dport = 22}))),
      LeavesUntouched("NonTunnelIpv6PacketToLocalAddressPassesUnchanged",
                      ToBackend(UdpPacket(TestNet::Client6(), Local6(), 5000,
                                          53, Payload(20)))),
      LeavesUntouched(
          "ArpPassesUnchanged",
          ArpRequestFrame(RouterMac(), TestNet::LbSrc4(), Local4())),
      LeavesUntouched("OuterIpv4FragmentPassesUnchanged",
                      ToBackend(BuildIpv4({.src = TestNet::LbSrc4(),
                                           .dst = Local4(),
                                           .df = false,
                                           .mf = true,
                                           .protocol = kProtoIpip},
                                          Inner4()))),
      LeavesUntouched("OuterIpv4WithOptionsPassesUnchanged",
                      ToBackend(BuildIpv4({.src = TestNet::LbSrc4(),
                                           .dst = Local4(),
                                           .protocol = kProtoIpip,
                                           .options = {0x01, 0x01, 0x01, 0x00}},
                                          Inner4()))),

      Drops("TruncatedInnerIpv4HeaderDrops",
            ToBackend(BuildIp(TestNet::LbSrc4(), Local4(), kProtoIpip,
                              Truncated(Inner4(), 12)))),
      Drops("TruncatedInnerIpv6HeaderDrops",
            ToBackend(BuildIp(TestNet::LbSrc6(), Local6(), kProtoIpv6,
                              Truncated(Inner6(), 30)))),
      // Protocol 4 promises IPv4; this carries IPv6.
      Drops("WrongInnerVersionForProtocol4Drops",
            ToBackend(
                BuildIp(TestNet::LbSrc4(), Local4(), kProtoIpip, Inner6()))),
      // Next header 41 promises IPv6; this carries IPv4 (and is 40+ bytes
      // long).
      Drops("WrongInnerVersionForNextHeader41Drops",
            ToBackend(
                BuildIp(TestNet::LbSrc6(), Local6(), kProtoIpv6, Inner4()))),
      Drops("OuterIpv4LengthBeyondFrameDrops",
            ToBackend(BuildIpv4({.src = TestNet::LbSrc4(),
                                 .dst = Local4(),
                                 .protocol = kProtoIpip,
                                 .total_length = static_cast<uint16_t>(
                                     kIpv4HeaderLen + Inner4().size() + 1)},
                                Inner4()))),
      Drops("OuterIpv6LengthBeyondFrameDrops",
            ToBackend(BuildIpv6(
                {.src = TestNet::LbSrc6(),
                 .dst = Local6(),
                 .next_header = kProtoIpv6,
                 .payload_length = static_cast<uint16_t>(Inner6().size() + 1)},
                Inner6()))),
  };
}

class DecapTable : public DecapTest,
                   public ::testing::WithParamInterface<DecapRow> {
 protected:
  void SetUp() override {
    DecapTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(AddLocalAddr(Local4()));
    ASSERT_NO_FATAL_FAILURE(AddLocalAddr(Local6()));
  }
};

TEST_P(DecapTable, Row) {
  const DecapRow& row = GetParam();
  const RunResult r = Run(row.in);
  EXPECT_EQ(r.action, row.action);
  if (row.action == XDP_PASS) {
    EXPECT_TRUE(SameBytes(r.frame, row.out));
  }
  for (uint32_t c = 0; c < XLB_DECAP_CNT_MAX; ++c) {
    const auto counter = static_cast<xlb_decap_counter>(c);
    const bool bumped = counter == XLB_DECAP_CNT_RX || counter == row.reason;
    EXPECT_EQ(Counter(counter), bumped ? 1u : 0u) << "counter " << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Decap, DecapTable, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<DecapRow>& info) {
                           return info.param.description;
                         });

}  // namespace
}  // namespace xlb::testing
