// Packet tests of xlb_healthcheck (docs/dataplane.md, "Health-probe
// encapsulation"): a marked probe leaves encapsulated exactly as the
// balancer's step 9 would send it. A table of probes, each row its own test
// case.
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

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

// A probe as the LB host's stack emits it (from the LB's own address to the
// VIP, Ethernet towards some neighbour), and its flow.
struct Probe {
  Bytes ip;
  xlb_flow flow;
};
Probe TcpProbe(const IpAddr& src, const IpAddr& dst, const TcpFields& t,
               const IpParams& params = {}) {
  return {TcpPacket(src, dst, t, params),
          MakeFlow(src, dst, t.sport, t.dport, kProtoTcp)};
}
Bytes Egress(const Bytes& ip) {
  return EthernetFrame(NeighbourMac(), TestNet::LbMac(), ip);
}

// One probe through xlb_healthcheck with a mark.
struct ProbeRow {
  std::string description;                // CamelCase: the test case's name
  void (*config)(xlb_config&) = nullptr;  // changes to the default config
  Probe probe;
  uint32_t mark = 0;

  // What must follow.
  bool shot = false;  // TC_ACT_SHOT; otherwise the packet goes on
  // Goes on encapsulated (step 9, hash over the probe's own 5-tuple with
  // the source port) to this backend; otherwise unchanged.
  std::optional<IpAddr> to;
  std::optional<uint32_t> mark_after;
  std::vector<xlb_hc_counter> counts;  // bumped once; all others stay 0
};
void PrintTo(const ProbeRow& row, std::ostream* os) { *os << row.description; }

std::vector<ProbeRow> Rows() {
  return {
      {.description = "MarkedProbeToIpv4BackendIsEncapsulated",
       .probe = TcpProbe(TestNet::LbSrc4(), TestNet::Vip4(),
                         {.sport = 45000, .dport = 80, .flags = kTcpSyn}),
       .mark = XLB_HC_MARK_TAG | kV4Backend,
       .to = V4BackendAddr(),
       .mark_after = 0,  // the mark must be cleared
       .counts = {XLB_HC_CNT_ENCAPSULATED}},
      // A DOWN backend is still probed (that is how it comes back up); the
      // outer source comes from a prefix, so the hash shows in it and the
      // flow label.
      {.description = "MarkedProbeToIpv6BackendIsEncapsulated",
       .config =
           [](xlb_config& c) {
             IpAddr::V6("2001:db8:1b::").ToAbi(c.src_v6);
             c.src_v6_prefix_len = 112;
           },
       .probe = TcpProbe(
           TestNet::LbSrc6(), TestNet::Vip6(),
           {.sport = 46000,
            .dport = 443,
            .flags = kTcpAck | kTcpPsh,
            .payload = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/',
                        '1', '.', '1', '\r', '\n', '\r', '\n'}},
           {.tos = 0x10}),
       .mark = XLB_HC_MARK_TAG | kV6Backend,
       .to = V6BackendAddr(),
       .mark_after = 0,
       .counts = {XLB_HC_CNT_ENCAPSULATED}},
      {.description = "MarkedIpv4ProbeToIpv6BackendIsEncapsulated",
       .probe = TcpProbe(TestNet::LbSrc4(), TestNet::Vip4(),
                         {.sport = 45001, .dport = 80, .flags = kTcpSyn}),
       .mark = XLB_HC_MARK_TAG | kV6Backend,
       .to = V6BackendAddr(),
       .mark_after = 0,
       .counts = {XLB_HC_CNT_ENCAPSULATED}},
      {.description = "UnmarkedPacketIsUntouched",
       .probe = TcpProbe(TestNet::LbSrc4(), TestNet::Vip4(), {}),
       .mark = 0,
       .mark_after = 0},
      // Index 1, but not our tag: someone else's mark must survive.
      {.description = "PacketWithAnotherMarkIsUntouched",
       .probe = TcpProbe(TestNet::LbSrc6(), TestNet::Vip6(), {}),
       .mark = 0x12000001,
       .mark_after = 0x12000001},
      {.description = "MarkNamingUnusedBackendIsShot",
       .probe = TcpProbe(TestNet::LbSrc4(), TestNet::Vip4(), {}),
       .mark = XLB_HC_MARK_TAG | kUnusedBackend,
       .shot = true,
       .counts = {XLB_HC_CNT_DROP_UNKNOWN_BACKEND}},
  };
}

class HealthcheckTable : public HealthcheckTest,
                         public ::testing::WithParamInterface<ProbeRow> {
 protected:
  void SetUp() override {
    HealthcheckTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(kV4Backend, V4BackendAddr(), XLB_BACKEND_UP, 5));
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(kV6Backend, V6BackendAddr(), XLB_BACKEND_DOWN, 6));
  }
};

TEST_P(HealthcheckTable, Row) {
  const ProbeRow& row = GetParam();
  xlb_config config = TestNet::DefaultConfig();
  if (row.config) {
    row.config(config);
    ASSERT_NO_FATAL_FAILURE(SetConfig(config));
  }
  const Bytes frame = Egress(row.probe.ip);
  uint32_t mark_out = ~row.mark;  // so that an unwritten mark shows
  const RunResult r = Run(frame, row.mark, &mark_out);
  if (row.shot) {
    EXPECT_EQ(r.action, TC_ACT_SHOT);
  } else {
    EXPECT_THAT(r.action, Continues());
    const Bytes expected =
        row.to ? EncapsulatedFrame(
                     config, row.probe.ip, *row.to,
                     FlowHash(row.probe.flow, config.hash_seed, true))
               : frame;
    EXPECT_TRUE(SameBytes(r.frame, expected));
  }
  if (row.mark_after) {
    EXPECT_EQ(mark_out, *row.mark_after);
  }
  for (uint32_t c = 0; c < XLB_HC_CNT_MAX; ++c) {
    const auto counter = static_cast<xlb_hc_counter>(c);
    const bool bumped = std::find(row.counts.begin(), row.counts.end(),
                                  counter) != row.counts.end();
    EXPECT_EQ(Counter(counter), bumped ? 1u : 0u) << "counter " << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Healthcheck, HealthcheckTable,
                         ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<ProbeRow>& info) {
                           return info.param.description;
                         });

}  // namespace
}  // namespace xlb::testing
