// Packet tests of xlb_balancer (docs/dataplane.md, "Balancer: packet path"):
// forwarding — VIP lookup, connection table, Maglev, encapsulation, counters.
// Each table row is one packet and its test case (balancer_test_fixture.h);
// the tests after the tables send several packets or search for a flow.
// Malformed input is in balancer_malformed_test.cc, ICMP in
// balancer_icmp_test.cc.
#include <linux/bpf.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "bpf/tests/balancer_test_fixture.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {
namespace {

// Step 9: every encapsulation family.
std::vector<BalancerRow> EncapsulationRows() {
  return {
      {.description = "TcpSynIpv4ToIpv4BackendIsIpipEncapsulated",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40000, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "TcpSynIpv6ToIpv6BackendIsIp6Encapsulated",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = Tcp6(50000, 443, kTcpSyn),
       .action = XDP_TX,
       .to = kV6BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "TcpSynIpv4ToIpv6BackendIsEncapsulatedInIpv6",
       .vips = {VipTcp4(RingOf(kV6BackendB))},
       .in = Tcp4(40001, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV6BackendB,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      // Inner IPv6 always gets DF on the outer IPv4 header.
      {.description = "TcpSynIpv6ToIpv4BackendIsEncapsulatedInIpv4WithDf",
       .vips = {VipTcp6(RingOf(kV4BackendB))},
       .in = Tcp6(50001, 443, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .out_bytes = {{kEthHeaderLen + 6, 0x40, 0x40}}},
      {.description = "UdpIpv4IsForwardedAndRecordsItsFlow",
       .vips = {{TestNet::Vip4(), 53, kProtoUdp, Alternating(kV4BackendA, 2)}},
       .in = Udp4(33333, 53, 30),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX},
       .entry_after = kRingChoice},
      {.description = "UdpIpv6ToIpv6BackendIsForwarded",
       .vips = {{TestNet::Vip6(), 4789, kProtoUdp,
                 Alternating(kV6BackendA, 2)}},
       .in = Udp6(44444, 4789, 100, {.tos = 0, .flow_label = 0x12345}),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX}},
  };
}
INSTANTIATE_TEST_SUITE_P(Encapsulation, BalancerTable,
                         ::testing::ValuesIn(EncapsulationRows()), RowName);

// An IPv4 TCP SYN to the VIP behind an 802.1Q tag (VID 100).
Bytes VlanTaggedFrame() {
  Bytes tagged = {0x00, 0x64, kEthTypeIpv4 >> 8, kEthTypeIpv4 & 0xff};
  const Bytes ip = Tcp4(40000, 80, kTcpSyn).ip;
  tagged.insert(tagged.end(), ip.begin(), ip.end());
  return BuildEthernet(TestNet::LbMac(), TestNet::ClientMac(), kEthTypeVlan,
                       tagged);
}

// Step 5: VIP lookup.
std::vector<BalancerRow> VipLookupRows() {
  const std::vector<Vip> exact_and_wildcard = {
      {TestNet::Vip4(), 80, kProtoTcp, RingOf(kV4BackendA), 0, 0},
      {TestNet::Vip4(), 0, kProtoTcp, RingOf(kV4BackendB), 0, 1}};
  return {
      {.description = "WildcardPortVipTakesAnyPort",
       .vips = {{TestNet::Vip4(), 0, kProtoUdp, Alternating(kV4BackendA, 2)}},
       .in = Udp4(12345, 5353, 12),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX}},
      {.description = "ExactPortVipWinsOverWildcard",
       .vips = exact_and_wildcard,
       .in = Tcp4(40000, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "ExactPortVipLeavesOtherPortsToWildcard",
       .vips = exact_and_wildcard,
       .in = Tcp4(40000, 8080, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "OtherPortOfExactVipPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40000, 443, kTcpSyn),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "OtherProtocolToTcpVipPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Udp4(40000, 80, 8),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      // cb00:7101:: starts with the bytes of 203.0.113.1; the key's family
      // tells them apart.
      {.description = "Ipv6AddressSharingIpv4VipBytesIsNotAVip",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = ClientTcp(TestNet::Client6(), IpAddr::V6("cb00:7101::"),
                       Tcp(50000, 80, kTcpSyn)),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "NonVipIpv4PassesUnchanged",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = ClientTcp(TestNet::Client4(), IpAddr::V4("203.0.113.2"),
                       Tcp(40000, 80, kTcpSyn)),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "NonVipIpv6PassesUnchanged",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = ClientTcp(TestNet::Client6(), IpAddr::V6("2001:db8:f::2"),
                       Tcp(50000, 443, kTcpSyn)),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
      {.description = "ArpPassesUnchanged",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = RawFrame(ArpRequestFrame(TestNet::ClientMac(), TestNet::Client4(),
                                      TestNet::Vip4())),
       .counts = {XLB_CNT_PASS_NON_IP}},
      {.description = "VlanTaggedFramePassesUnchanged",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = RawFrame(VlanTaggedFrame()),
       .counts = {XLB_CNT_PASS_NON_IP}},
      {.description = "NonTcpUdpIcmpProtocolToVipAddressPasses",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = ClientIp(BuildIp(TestNet::Client4(), TestNet::Vip4(), kProtoGre,
                              Payload(16))),
       .counts = {XLB_CNT_PASS_NOT_VIP}},
  };
}
INSTANTIATE_TEST_SUITE_P(VipLookup, BalancerTable,
                         ::testing::ValuesIn(VipLookupRows()), RowName);

// Steps 5-7: the connection table.
std::vector<BalancerRow> ConnTableRows() {
  const Vip udp53 = {TestNet::Vip4(), 53, kProtoUdp, RingOf(kV4BackendA)};
  return {
      // Entries are written when the handshake completes, not by SYNs.
      {.description = "SynIsForwardedByTheRingWithoutAnEntry",
       .vips = {VipTcp4(Alternating(kV4BackendA, 2))},
       .in = Tcp4(40002, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .entry_after = kNoEntry,
       .new_flows = 0,
       .syns = 1},
      {.description = "AckWithoutEntryIsPickedByMaglevAndRecorded",
       .vips = {VipTcp4(Alternating(kV4BackendA, 2))},
       .in = Tcp4(40003, 80, kTcpAck, 20),
       .action = XDP_TX,
       .to = kRingChoice,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX},
       .entry_after = kRingChoice,
       .entry_seen_now = true,
       .new_flows = 1,
       .syns = 0},
      {.description = "EstablishedFlowFollowsItsConnEntry",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40004, 80, kTcpAck | kTcpPsh, 50),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX},
       .new_flows = 0},
      {.description = "EstablishedIpv6FlowFollowsItsConnEntryAcrossFamilies",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .entry = CurrentEntry(kV4BackendA),
       .in = Tcp6(50004, 443, kTcpAck, 10),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX}},
      // A reused 5-tuple: the earlier connection's entry would send this
      // one's ACK to another backend than its SYN.
      {.description = "SynDeletesAnEntryNamingAnotherBackend",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40005, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .entry_after = kNoEntry},
      {.description = "SynKeepsAnEntryNamingItsRingBackend",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendA),
       .in = Tcp4(40015, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .entry_after = kV4BackendA},
      {.description = "DownBackendEntryIsReplacedByNewPick",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .states = {{kV4BackendB, XLB_BACKEND_DOWN}},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40006, 80, kTcpAck, 5),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_STALE, XLB_CNT_TX},
       .entry_after = kV4BackendA},
      {.description = "UnusedBackendEntryIsReplacedByNewPick",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = Entry{kUnusedBackend, 0},
       .in = Tcp4(40016, 80, kTcpAck, 5),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_STALE, XLB_CNT_TX}},
      {.description = "DrainingBackendKeepsEstablishedFlow",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .states = {{kV4BackendB, XLB_BACKEND_DRAINING}},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40007, 80, kTcpAck, 5),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX}},
      // The entry was made for the index's previous holder.
      {.description = "ReusedBackendIndexEntryIsReplacedByNewPick",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = Entry{kV4BackendB, Generation(kV4BackendB) - 1},
       .in = Tcp4(40008, 80, kTcpAck, 5),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_STALE, XLB_CNT_TX},
       .entry_after = kV4BackendA},
      {.description = "IdleTcpEntryExpires",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .config = [](xlb_config& c) { c.tcp_idle_timeout_ns = 1; },
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40009, 80, kTcpAck, 5),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_STALE, XLB_CNT_TX},
       .entry_after = kV4BackendA},
      {.description = "IdleUdpEntryExpires",
       .vips = {udp53},
       .config = [](xlb_config& c) { c.udp_idle_timeout_ns = 1; },
       .entry = CurrentEntry(kV4BackendB),
       .in = Udp4(33000, 53, 9),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_STALE, XLB_CNT_TX}},
      // Only TCP entries expire; 0 means never.
      {.description = "IdleTimeoutIsPerProtocolAndZeroMeansNever",
       .vips = {udp53},
       .config =
           [](xlb_config& c) {
             c.tcp_idle_timeout_ns = 1;
             c.udp_idle_timeout_ns = 0;
           },
       .entry = CurrentEntry(kV4BackendB),
       .in = Udp4(33001, 53, 9),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX}},
      {.description = "SynAckIsNotASynAndUsesConnEntry",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40010, 80, kTcpSyn | kTcpAck),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX}},
      // xlb_conn.last_seen_ns: "bpf_ktime_get_coarse_ns() of the last
      // packet".
      {.description = "ConnHitRefreshesLastSeen",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .entry = CurrentEntry(kV4BackendB),
       .in = Tcp4(40012, 80, kTcpAck, 1),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_HIT, XLB_CNT_TX},
       .entry_after = kV4BackendB,
       .entry_seen_now = true},
  };
}
INSTANTIATE_TEST_SUITE_P(ConnTable, BalancerTable,
                         ::testing::ValuesIn(ConnTableRows()), RowName);

// Step 6: the per-VIP SYN rate limit. Buckets are set with a frozen clock
// unless a row is about refilling, so what a row admits does not depend on
// how long it runs.
std::vector<BalancerRow> SynRateLimitRows() {
  constexpr uint32_t kLimit = 1000;
  const uint64_t cost = SynCostNs(kLimit);
  return {
      {.description = "SynWithinTheLimitIsForwardedAndPaysOneSyn",
       .vips = {VipTcp4Limited(RingOf(kV4BackendA), kLimit)},
       .in = Tcp4(40100, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .syns = 1,
       .syn_limit_drops = 0,
       .bucket =
           xlb_syn_bucket{.credit_ns = 3 * cost, .refilled_ns = kClockFrozen},
       .credit_after = 2 * cost},
      {.description = "SynAboveTheLimitIsDroppedAndCounted",
       .vips = {VipTcp4Limited(RingOf(kV4BackendA), kLimit)},
       .in = Tcp4(40101, 80, kTcpSyn),
       .action = XDP_DROP,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_DROP_SYN_RATE_LIMIT},
       .entry_after = kNoEntry,
       .syns = 1,
       .syn_limit_drops = 1,
       .bucket =
           xlb_syn_bucket{.credit_ns = cost - 1, .refilled_ns = kClockFrozen},
       .credit_after = cost - 1},
      // Limit 0: the bucket is neither read nor written. It has been idle
      // since boot, so any use of it (even one costing nothing) would
      // refill it to one second and stamp it now.
      {.description = "SynOfAVipWithoutLimitLeavesItsBucketAlone",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40102, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .syns = 1,
       .syn_limit_drops = 0,
       .bucket = xlb_syn_bucket{.credit_ns = 0, .refilled_ns = 0},
       .credit_after = 0},
      {.description = "PacketWithoutSynIgnoresTheLimit",
       .vips = {VipTcp4Limited(RingOf(kV4BackendA), kLimit)},
       .in = Tcp4(40103, 80, kTcpAck),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX},
       .entry_after = kV4BackendA,
       .syns = 0,
       .bucket = xlb_syn_bucket{.credit_ns = 0, .refilled_ns = kClockFrozen},
       .credit_after = 0},
      // Idle since boot: the bucket holds one second of credit, whatever
      // the time since.
      {.description = "IdleBucketRefillsToOneSecond",
       .vips = {VipTcp4Limited(RingOf(kV4BackendA), kLimit)},
       .in = Tcp4(40104, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .bucket = xlb_syn_bucket{.credit_ns = 0, .refilled_ns = 0},
       .credit_after = 1000000000ull - cost,
       .refilled_now = true},
      // One SYN costs each CPU more than a second here: the bucket holds
      // exactly one.
      {.description = "BucketHoldsAtLeastOneSyn",
       .vips = {VipTcp4Limited(RingOf(kV4BackendA), 2)},
       .in = Tcp4(40105, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .bucket = xlb_syn_bucket{.credit_ns = 0, .refilled_ns = 0},
       .credit_after = 0,
       .refilled_now = true},
  };
}
INSTANTIATE_TEST_SUITE_P(SynRateLimit, BalancerTable,
                         ::testing::ValuesIn(SynRateLimitRows()), RowName);

// `row` once for each source port, its input built by `in`: the port ends
// each copy's name.
std::vector<BalancerRow> PerSourcePort(const BalancerRow& row,
                                       Input (*in)(uint16_t port),
                                       std::initializer_list<uint16_t> ports) {
  std::vector<BalancerRow> rows;
  for (uint16_t port : ports) {
    rows.push_back(row);
    rows.back().description += "FromPort" + std::to_string(port);
    rows.back().in = in(port);
  }
  return rows;
}

Input Syn4(uint16_t port) { return Tcp4(port, 80, kTcpSyn); }
Input Syn6(uint16_t port) { return Tcp6(port, 443, kTcpSyn); }

// Step 7: Maglev and the hash modes.
std::vector<BalancerRow> MaglevRows() {
  // Each port's flow goes where its source-port-free hash points.
  std::vector<BalancerRow> rows =
      PerSourcePort({.description = "HashWithoutSourcePortIpv6ToIpv6Backends",
                     .vips = {VipTcp6(Alternating(kV6BackendA, 2),
                                      XLB_VIP_F_HASH_NO_SRC_PORT)},
                     .action = XDP_TX,
                     .to = kRingChoice,
                     .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
                    Syn6, {50010, 50011, 50012});
  const std::vector<BalancerRow> drops = {
      // The VIP names a ring that is not there.
      {.description = "NoRingDropsAsNoBackend",
       .vips = {{TestNet::Vip4(), 80, kProtoTcp, RingOf(kV4BackendA), 0,
                 kVipIndex, /*ring_missing=*/true}},
       .in = Tcp4(40000, 80, kTcpSyn),
       .action = XDP_DROP,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_DROP_NO_BACKEND},
       .no_backend_drops = 1},
      {.description = "EmptyRingSlotDropsAsNoBackend",
       .vips = {VipTcp4(RingOf(XLB_NO_BACKEND))},
       .in = Tcp4(40000, 80, kTcpSyn),
       .action = XDP_DROP,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_DROP_NO_BACKEND},
       .no_backend_drops = 1},
      {.description = "RingNamingUnusedBackendDrops",
       .vips = {VipTcp4(RingOf(kUnusedBackend))},
       .in = Tcp4(40000, 80, kTcpSyn),
       .action = XDP_DROP,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_DROP_BAD_BACKEND}},
      {.description = "RingIsAuthoritativeEvenForDownBackend",
       .vips = {VipTcp4(RingOf(kV4BackendB))},
       .states = {{kV4BackendB, XLB_BACKEND_DOWN}},
       .in = Tcp4(40011, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendB,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
  };
  rows.insert(rows.end(), drops.begin(), drops.end());
  return rows;
}
INSTANTIATE_TEST_SUITE_P(Maglev, BalancerTable,
                         ::testing::ValuesIn(MaglevRows()), RowName);

void SourceV4Slash25(xlb_config& c) {
  std::memcpy(&c.src_v4, IpAddr::V4("192.0.2.128").bytes.data(), 4);
  c.src_v4_prefix_len = 25;
}
void SourceV6Slash100(xlb_config& c) {
  IpAddr::V6("2001:db8:1b::").ToAbi(c.src_v6);
  c.src_v6_prefix_len = 100;  // the low 28 bits vary
}

// Step 9 details: outer source, DSCP/ECN, DF, Ethernet padding.
std::vector<BalancerRow> OuterHeaderRows() {
  std::vector<BalancerRow> rows =
      PerSourcePort({.description = "OuterIpv4SourceIsDrawnFromPrefix",
                     .vips = {VipTcp4(RingOf(kV4BackendA))},
                     .config = SourceV4Slash25,
                     .action = XDP_TX,
                     .to = kV4BackendA,
                     .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
                     // The prefix stays: 192.0.2.128/25.
                     .out_bytes = {{kEthHeaderLen + 12 + 3, 0x80, 0x80}}},
                    Syn4, {40020, 40021});
  const std::vector<BalancerRow> v6 =
      PerSourcePort({.description = "OuterIpv6SourceIsDrawnFromPrefix",
                     .vips = {VipTcp6(RingOf(kV6BackendA))},
                     .config = SourceV6Slash100,
                     .action = XDP_TX,
                     .to = kV6BackendA,
                     .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
                    Syn6, {50020, 50021});
  rows.insert(rows.end(), v6.begin(), v6.end());
  const std::vector<BalancerRow> others = {
      {.description = "OuterIpv4SourceFromZeroLengthPrefixIsAllHash",
       .vips = {VipTcp6(RingOf(kV4BackendA))},
       .config = [](xlb_config& c) { c.src_v4_prefix_len = 0; },
       .in = Tcp6(50022, 443, kTcpSyn),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      // A /64 is treated as a /96: only the last word varies.
      {.description = "OuterIpv6SourceVariesAtMost32Bits",
       .vips = {VipTcp4(RingOf(kV6BackendB))},
       .config =
           [](xlb_config& c) {
             IpAddr::V6("2001:db8:1b:0:1:2:3:4").ToAbi(c.src_v6);
             c.src_v6_prefix_len = 64;
           },
       .in = Tcp4(40022, 80, kTcpSyn),
       .action = XDP_TX,
       .to = kV6BackendB,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "DscpAndEcnCopiedAndDfClearFollowsInnerIpv4",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = Tcp4(40030, 80, kTcpSyn, 0, {.tos = 0xb9, .df = false}),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .out_bytes = {{kEthHeaderLen + 1, 0xff, 0xb9},
                     {kEthHeaderLen + 6, 0xff, 0x00}}},
      {.description = "TrafficClassCopiedFromIpv6ToIpv6Outer",
       .vips = {VipTcp6(RingOf(kV6BackendA))},
       .in = Tcp6(50030, 443, kTcpSyn, 0, {.tos = 0x2e, .flow_label = 0xabcde}),
       .action = XDP_TX,
       .to = kV6BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      {.description = "TrafficClassCopiedFromIpv6ToIpv4Outer",
       .vips = {VipTcp6(RingOf(kV4BackendA))},
       .in = Tcp6(50031, 443, kTcpSyn, 0, {.tos = 0x8b}),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
      // A 40-byte packet in a minimum (60-byte) Ethernet frame: 6 bytes of
      // padding, which must not be forwarded or counted.
      {.description = "EthernetPaddingAfterShortIpv4IsStripped",
       .vips = {VipTcp4(RingOf(kV4BackendA))},
       .in = WithTrailer(Tcp4(40040, 80, kTcpSyn), Bytes(6, 0)),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX},
       .ip_size = 40},
      {.description = "TrailingBytesAfterIpv6PacketAreStripped",
       .vips = {VipTcp6(RingOf(kV4BackendA))},
       .in = WithTrailer(Tcp6(50040, 443, kTcpSyn), {0xde, 0xad, 0xbe, 0xef}),
       .action = XDP_TX,
       .to = kV4BackendA,
       .counts = {XLB_CNT_CONN_SYN, XLB_CNT_TX}},
  };
  rows.insert(rows.end(), others.begin(), others.end());
  return rows;
}
INSTANTIATE_TEST_SUITE_P(OuterHeader, BalancerTable,
                         ::testing::ValuesIn(OuterHeaderRows()), RowName);

// ---------------------------------------------------------------------------
// More than one packet, or more than the row's flow.

TEST_F(BalancerPacketTest, ConnEntriesAreKeyedByFamily) {
  // An IPv6 flow whose addresses and ports equal an IPv4 flow's first words
  // is a different flow: the IPv4 flow's entry does not serve it.
  SetConn(MakeFlow(IpAddr::V4("198.51.100.10"), IpAddr::V4("203.0.113.1"),
                   40013, 80, kProtoTcp),
          CurrentEntry(kV4BackendB));
  Check({.description = "Ipv6FlowMissesIpv4Entry",
         .vips = {{IpAddr::V6("cb00:7101::"), 80, kProtoTcp,
                   RingOf(kV4BackendA)}},
         // 198.51.100.10 as a word.
         .in = ClientTcp(IpAddr::V6("c633:640a::"), IpAddr::V6("cb00:7101::"),
                         Tcp(40013, 80, kTcpAck, 3)),
         .action = XDP_TX,
         .to = kV4BackendA,
         .counts = {XLB_CNT_CONN_MISS, XLB_CNT_TX}});
}

// A source port above `first` whose flow the ring sends elsewhere than
// `first`'s (hashing with the source port); 0 if none in 200.
uint16_t PortToAnotherBackend(uint16_t first, const std::vector<uint32_t>& ring,
                              uint32_t seed) {
  auto pick = [&](uint16_t port) {
    const xlb_flow flow =
        MakeFlow(TestNet::Client4(), TestNet::Vip4(), port, 80, kProtoTcp);
    return ring[RingSlot(FlowHash(flow, seed, true), kRingSize)];
  };
  for (uint16_t p = first + 1; p < first + 200; ++p) {
    if (pick(p) != pick(first)) return p;
  }
  return 0;
}

TEST_F(BalancerPacketTest, HashWithSourcePortSpreadsOneClientsFlows) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip(VipTcp4(ring));
  // Two source ports of one client whose slots name different backends.
  const uint16_t first = 40000;
  const uint16_t second = PortToAnotherBackend(first, ring, config_.hash_seed);
  ASSERT_NE(second, 0) << "no source port reaching the other backend";
  for (uint16_t port : {first, second}) {
    const Input in = Tcp4(port, 80, kTcpSyn);
    ExpectTx(in.frame, Forwarded(in.ip, in.flow, Pick(in.flow, ring)));
  }
}

TEST_F(BalancerPacketTest, HashWithoutSourcePortKeepsOneClientOnOneSlot) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip(VipTcp4(ring, XLB_VIP_F_HASH_NO_SRC_PORT));
  // Ports that the with-source-port hash would send to different backends.
  const uint16_t first = 40000;
  const uint16_t second = PortToAnotherBackend(first, ring, config_.hash_seed);
  ASSERT_NE(second, 0);
  const xlb_flow f1 = Tcp4(first, 80, kTcpSyn).flow;
  const xlb_flow f2 = Tcp4(second, 80, kTcpSyn).flow;
  ASSERT_EQ(RingSlot(Hash(f1, false), kRingSize),
            RingSlot(Hash(f2, false), kRingSize));
  const uint32_t backend = Pick(f1, ring, /*with_src_port=*/false);
  for (uint16_t port : {first, second}) {
    const Input in = Tcp4(port, 80, kTcpSyn);
    ExpectTx(in.frame,
             Forwarded(in.ip, in.flow, backend, /*with_src_port=*/false));
  }
}

TEST_F(BalancerPacketTest, HandshakeWritesTheEntryOnceAtItsAck) {
  const auto ring = Alternating(kV4BackendA, 2);
  AddVip(VipTcp4(ring));
  const Input syn = Tcp4(40060, 80, kTcpSyn);
  const Input ack = Tcp4(40060, 80, kTcpAck);
  const Input data = Tcp4(40060, 80, kTcpAck | kTcpPsh, 100);
  const uint32_t backend = Pick(syn.flow, ring);

  ExpectTx(syn.frame, Forwarded(syn.ip, syn.flow, backend));
  EXPECT_FALSE(GetConn(syn.flow).has_value());
  ExpectTx(ack.frame, Forwarded(ack.ip, ack.flow, backend));
  ExpectConnTo(ack.flow, backend);
  ExpectTx(data.frame, Forwarded(data.ip, data.flow, backend));

  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
  const xlb_vip_stats vip = VipStats(kVipIndex);
  EXPECT_EQ(vip.syns, 1u);
  EXPECT_EQ(vip.new_flows, 1u);
}

// docs/dataplane.md: a ring change between a SYN and its ACK sends the ACK
// where the new ring points (the backend that got the SYN never sees it).
TEST_F(BalancerPacketTest, RingChangeBetweenSynAndAckSendsAckByTheNewRing) {
  AddVip(VipTcp4(RingOf(kV4BackendA)));
  const Input syn = Tcp4(40061, 80, kTcpSyn);
  const Input ack = Tcp4(40061, 80, kTcpAck);
  ExpectTx(syn.frame, Forwarded(syn.ip, syn.flow, kV4BackendA));
  SetRing(kVipIndex, RingOf(kV4BackendB));
  ExpectTx(ack.frame, Forwarded(ack.ip, ack.flow, kV4BackendB));
  ExpectConnTo(ack.flow, kV4BackendB);
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
}

// Once the ACK has written the entry, a ring change no longer moves the
// flow.
TEST_F(BalancerPacketTest, RingChangeAfterTheAckKeepsTheFlow) {
  AddVip(VipTcp4(RingOf(kV4BackendA)));
  const Input syn = Tcp4(40062, 80, kTcpSyn);
  const Input ack = Tcp4(40062, 80, kTcpAck);
  const Input data = Tcp4(40062, 80, kTcpAck | kTcpPsh, 10);
  ExpectTx(syn.frame, Forwarded(syn.ip, syn.flow, kV4BackendA));
  ExpectTx(ack.frame, Forwarded(ack.ip, ack.flow, kV4BackendA));
  SetRing(kVipIndex, RingOf(kV4BackendB));
  ExpectTx(data.frame, Forwarded(data.ip, data.flow, kV4BackendA));
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
}

TEST_F(BalancerPacketTest, RateLimitDropsExactlyTheExcess) {
  constexpr uint32_t kLimit = 1000;
  AddVip(VipTcp4Limited(RingOf(kV4BackendA), kLimit));
  // Credit for three SYNs on every CPU, and no refill while the test runs.
  SetSynBucket(kVipIndex, {.credit_ns = 3 * SynCostNs(kLimit),
                           .refilled_ns = kClockFrozen});
  int forwarded = 0, dropped = 0;
  for (uint16_t port = 40110; port < 40118; ++port) {
    const Input syn = Tcp4(port, 80, kTcpSyn);
    const RunResult r = Run(syn.frame);
    if (r.action == XDP_TX) {
      EXPECT_TRUE(SameBytes(r.frame, Forwarded(syn.ip, syn.flow, kV4BackendA)));
      ++forwarded;
    } else {
      EXPECT_EQ(r.action, XDP_DROP);
      EXPECT_TRUE(SameBytes(r.frame, syn.frame))
          << "a dropped SYN is unchanged";
      ++dropped;
    }
  }
  EXPECT_EQ(forwarded, 3);
  EXPECT_EQ(dropped, 5);
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 8u);
  EXPECT_EQ(Counter(XLB_CNT_TX), 3u);
  EXPECT_EQ(Counter(XLB_CNT_DROP_SYN_RATE_LIMIT), 5u);
  const xlb_vip_stats vip = VipStats(kVipIndex);
  EXPECT_EQ(vip.syns, 8u);
  EXPECT_EQ(vip.syn_limit_drops, 5u);
  EXPECT_EQ(vip.packets, 3u);
  EXPECT_EQ(vip.new_flows, 0u);
}

TEST_F(BalancerPacketTest, ForwardedPacketsCountPerVipAndPerBackend) {
  AddVip(VipTcp4(RingOf(kV4BackendA)));
  const Input syn = Tcp4(40070, 80, kTcpSyn);
  const Input data = Tcp4(40070, 80, kTcpAck | kTcpPsh, 100);
  const Input more = Tcp4(40070, 80, kTcpAck | kTcpPsh, 10);
  ExpectTx(syn.frame, Forwarded(syn.ip, syn.flow, kV4BackendA));
  ExpectTx(data.frame, Forwarded(data.ip, data.flow, kV4BackendA));
  ExpectTx(more.frame, Forwarded(more.ip, more.flow, kV4BackendA));

  EXPECT_EQ(Counter(XLB_CNT_RX), 3u);
  EXPECT_EQ(Counter(XLB_CNT_TX), 3u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_SYN), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_MISS), 1u);
  EXPECT_EQ(Counter(XLB_CNT_CONN_HIT), 1u);
  const xlb_vip_stats vip = VipStats(kVipIndex);
  const uint64_t bytes = syn.ip.size() + data.ip.size() + more.ip.size();
  EXPECT_EQ(vip.packets, 3u);
  EXPECT_EQ(vip.bytes, bytes);
  EXPECT_EQ(vip.new_flows, 1u);
  EXPECT_EQ(vip.syns, 1u);
  EXPECT_EQ(vip.no_backend_drops, 0u);
  EXPECT_EQ(vip.syn_limit_drops, 0u);
  const xlb_backend_stats backend = BackendStats(kV4BackendA);
  EXPECT_EQ(backend.packets, 3u);
  EXPECT_EQ(backend.bytes, bytes);
  EXPECT_EQ(BackendStats(kV4BackendB).packets, 0u);
}

TEST_F(BalancerPacketTest, PassedAndDroppedPacketsCountOnlyTheirReason) {
  AddVip(VipTcp4(RingOf(kV4BackendA)));
  const Input other = ClientTcp(TestNet::Client4(), IpAddr::V4("203.0.113.3"),
                                Tcp(1, 2, kTcpSyn));
  EXPECT_EQ(Run(other.frame).action, XDP_PASS);
  const Bytes bad =
      Truncated(Tcp4(40000, 80, kTcpSyn).frame, kEthHeaderLen + 10);
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
