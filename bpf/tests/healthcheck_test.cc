// Packet tests of xlb_healthcheck (docs/dataplane.md, "Health-probe
// encapsulation"): a marked probe leaves encapsulated exactly as the
// balancer's step 9 would send it.
#include <linux/pkt_cls.h>

#include <cstdint>
#include <cstring>

#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;

constexpr uint32_t kV4Backend = 1;
constexpr uint32_t kV6Backend = 3;
constexpr uint32_t kUnusedBackend = 9;

IpAddr V4BackendAddr() { return IpAddr::V4("192.0.2.11"); }
IpAddr V6BackendAddr() { return IpAddr::V6("2001:db8:b::13"); }
Mac NeighbourMac() { return MacFromString("02:00:00:00:00:77"); }

// Accepts either "continue" verdict: the spec names none for packets that
// go on their way.
auto Continues() { return AnyOf(Eq(TC_ACT_OK), Eq(TC_ACT_UNSPEC)); }

class HealthcheckPacketTest : public HealthcheckTest {
 protected:
  void SetUp() override {
    HealthcheckTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    config_ = TestNet::DefaultConfig();
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(kV4Backend, V4BackendAddr(), XLB_BACKEND_UP, 5));
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(kV6Backend, V6BackendAddr(), XLB_BACKEND_DOWN, 6));
  }

  // The probe as the LB host's stack emits it: from the LB's own address to
  // the VIP, Ethernet towards some neighbour.
  static Bytes Probe(const IpAddr& src, const IpAddr& dst, const TcpFields& t,
                     const IpParams& params = {}) {
    return TcpPacket(src, dst, t, params);
  }
  static Bytes Egress(const Bytes& ip) {
    return EthernetFrame(NeighbourMac(), TestNet::LbMac(), ip);
  }

  // Step 9 applied to the probe (hash over its own 5-tuple, with source port).
  Bytes Encapsulated(const Bytes& ip, const xlb_flow& flow,
                     const IpAddr& backend) const {
    const uint32_t hash = FlowHash(flow, config_.hash_seed, true);
    EncapParams p;
    p.gateway_mac = TestNet::GatewayMac();
    p.iface_mac = TestNet::IfaceMac();
    p.backend = backend;
    p.hash = hash;
    IpAddr base;
    if (backend.family == 4) {
      base.family = 4;
      std::memcpy(base.bytes.data(), &config_.src_v4, 4);
      p.outer_src = OuterSourceV4(base, config_.src_v4_prefix_len, hash);
    } else {
      base.family = 6;
      std::memcpy(base.bytes.data(), config_.src_v6, 16);
      p.outer_src = OuterSourceV6(base, config_.src_v6_prefix_len, hash);
    }
    return EncapsulatedFrame(p, ip);
  }

  xlb_config config_{};
};

TEST_F(HealthcheckPacketTest, MarkedProbeToIpv4BackendIsEncapsulated) {
  TcpFields t;
  t.sport = 45000;
  t.dport = 80;
  t.flags = kTcpSyn;
  const Bytes ip = Probe(TestNet::LbSrc4(), TestNet::Vip4(), t);
  const xlb_flow flow =
      MakeFlow(TestNet::LbSrc4(), TestNet::Vip4(), 45000, 80, kProtoTcp);
  uint32_t mark_out = 0xdeadbeef;
  const RunResult r = Run(Egress(ip), XLB_HC_MARK_TAG | kV4Backend, &mark_out);
  EXPECT_THAT(r.action, Continues());
  EXPECT_TRUE(SameBytes(r.frame, Encapsulated(ip, flow, V4BackendAddr())));
  EXPECT_EQ(mark_out, 0u) << "the mark must be cleared";
  EXPECT_EQ(Counter(XLB_HC_CNT_ENCAPSULATED), 1u);
}

TEST_F(HealthcheckPacketTest, MarkedProbeToIpv6BackendIsEncapsulated) {
  // A DOWN backend is still probed (that is how it comes back up); the outer
  // source comes from a prefix, so the hash shows in it and the flow label.
  IpAddr::V6("2001:db8:1b::").ToAbi(config_.src_v6);
  config_.src_v6_prefix_len = 112;
  ASSERT_NO_FATAL_FAILURE(SetConfig(config_));
  TcpFields t;
  t.sport = 46000;
  t.dport = 443;
  t.flags = kTcpAck | kTcpPsh;
  t.payload = {'G', 'E', 'T', ' ', '/', ' ',  'H',  'T',  'T',
               'P', '/', '1', '.', '1', '\r', '\n', '\r', '\n'};
  const Bytes ip = Probe(TestNet::LbSrc6(), TestNet::Vip6(), t, {.tos = 0x10});
  const xlb_flow flow =
      MakeFlow(TestNet::LbSrc6(), TestNet::Vip6(), 46000, 443, kProtoTcp);
  uint32_t mark_out = 0xdeadbeef;
  const RunResult r = Run(Egress(ip), XLB_HC_MARK_TAG | kV6Backend, &mark_out);
  EXPECT_THAT(r.action, Continues());
  EXPECT_TRUE(SameBytes(r.frame, Encapsulated(ip, flow, V6BackendAddr())));
  EXPECT_EQ(mark_out, 0u);
  EXPECT_EQ(Counter(XLB_HC_CNT_ENCAPSULATED), 1u);
}

TEST_F(HealthcheckPacketTest, MarkedIpv4ProbeToIpv6BackendIsEncapsulated) {
  TcpFields t;
  t.sport = 45001;
  t.dport = 80;
  t.flags = kTcpSyn;
  const Bytes ip = Probe(TestNet::LbSrc4(), TestNet::Vip4(), t);
  const xlb_flow flow =
      MakeFlow(TestNet::LbSrc4(), TestNet::Vip4(), 45001, 80, kProtoTcp);
  const RunResult r = Run(Egress(ip), XLB_HC_MARK_TAG | kV6Backend);
  EXPECT_THAT(r.action, Continues());
  EXPECT_TRUE(SameBytes(r.frame, Encapsulated(ip, flow, V6BackendAddr())));
}

TEST_F(HealthcheckPacketTest, UnmarkedPacketIsUntouched) {
  TcpFields t;
  const Bytes frame = Egress(Probe(TestNet::LbSrc4(), TestNet::Vip4(), t));
  uint32_t mark_out = 0xdeadbeef;
  const RunResult r = Run(frame, 0, &mark_out);
  EXPECT_THAT(r.action, Continues());
  EXPECT_TRUE(SameBytes(r.frame, frame));
  EXPECT_EQ(mark_out, 0u);
  EXPECT_EQ(Counter(XLB_HC_CNT_ENCAPSULATED), 0u);
}

TEST_F(HealthcheckPacketTest, PacketWithAnotherMarkIsUntouched) {
  TcpFields t;
  const Bytes frame = Egress(Probe(TestNet::LbSrc6(), TestNet::Vip6(), t));
  const uint32_t mark = 0x12000001;  // index 1, but not our tag
  uint32_t mark_out = 0;
  const RunResult r = Run(frame, mark, &mark_out);
  EXPECT_THAT(r.action, Continues());
  EXPECT_TRUE(SameBytes(r.frame, frame));
  EXPECT_EQ(mark_out, mark) << "someone else's mark must survive";
  EXPECT_EQ(Counter(XLB_HC_CNT_ENCAPSULATED), 0u);
}

TEST_F(HealthcheckPacketTest, MarkNamingUnusedBackendIsShot) {
  TcpFields t;
  const Bytes frame = Egress(Probe(TestNet::LbSrc4(), TestNet::Vip4(), t));
  const RunResult r = Run(frame, XLB_HC_MARK_TAG | kUnusedBackend);
  EXPECT_EQ(r.action, TC_ACT_SHOT);
  EXPECT_EQ(Counter(XLB_HC_CNT_DROP_UNKNOWN_BACKEND), 1u);
  EXPECT_EQ(Counter(XLB_HC_CNT_ENCAPSULATED), 0u);
}

}  // namespace
}  // namespace xlb::testing
