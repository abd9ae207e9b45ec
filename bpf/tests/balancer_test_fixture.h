// The fixture shared by the xlb_balancer packet tests (balancer_*test.cc): a
// loaded balancer with four backends, and the table row those tests are
// written in. A row is one packet through the program: the maps it meets,
// the frame, the action, the frame that comes out (built by the packet
// builder from docs/dataplane.md, never by the program) and every counter.
// The table test BalancerTable.Row runs a row; each file instantiates it
// with its table, so each row is its own test case.
#ifndef XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_
#define XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_

#include <linux/bpf.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

namespace xlb::testing {

constexpr uint32_t kRingSize = 13;
constexpr uint32_t kVipIndex = 0;
constexpr uint32_t kEchoVipIndex = 5;

// Backend indexes and their addresses; generations differ from the indexes
// so a mix-up shows.
constexpr uint32_t kV4BackendA = 1;
constexpr uint32_t kV4BackendB = 2;
constexpr uint32_t kV6BackendA = 3;
constexpr uint32_t kV6BackendB = 4;
constexpr uint32_t kUnusedBackend = 7;

inline IpAddr BackendAddr(uint32_t index) {
  switch (index) {
    case kV4BackendA:
      return IpAddr::V4("192.0.2.11");
    case kV4BackendB:
      return IpAddr::V4("192.0.2.12");
    case kV6BackendA:
      return IpAddr::V6("2001:db8:b::13");
    default:
      return IpAddr::V6("2001:db8:b::14");
  }
}
inline uint32_t Generation(uint32_t index) { return 100 + index * 7; }

inline IpAddr Router4() { return IpAddr::V4("198.51.100.254"); }
inline IpAddr Router6() { return IpAddr::V6("2001:db8:c::fe"); }

inline uint64_t MonotonicCoarseNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

inline Bytes Payload(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

inline TcpFields Tcp(uint16_t sport, uint16_t dport, uint8_t flags,
                     size_t payload = 0) {
  TcpFields t;
  t.sport = sport;
  t.dport = dport;
  t.flags = flags;
  if (flags & kTcpAck) t.ack = 0x0a0b0c0d;
  t.payload = Payload(payload);
  return t;
}

inline std::vector<uint32_t> RingOf(uint32_t backend) {
  return std::vector<uint32_t>(kRingSize, backend);
}
// ring[i] = first + i % n: neighbouring slots name different backends.
inline std::vector<uint32_t> Alternating(uint32_t first, uint32_t n) {
  std::vector<uint32_t> ring(kRingSize);
  for (uint32_t i = 0; i < kRingSize; ++i) ring[i] = first + i % n;
  return ring;
}

// ---- Rows ----

// A VIP entry and its ring.
struct Vip {
  IpAddr addr;
  uint16_t port = 0;  // 0: every port
  uint8_t proto = kProtoTcp;
  std::vector<uint32_t> ring;  // empty: the VIP has none (echo entries)
  uint32_t flags = 0;
  uint32_t index = kVipIndex;
  // The entry gives ring.size() as its ring size, but no ring is installed.
  bool ring_missing = false;
  uint32_t syn_rate_limit = 0;
};
// The usual VIPs: TCP port 80 on the IPv4 VIP, 443 on the IPv6 one.
inline Vip VipTcp4(std::vector<uint32_t> ring, uint32_t flags = 0) {
  return {TestNet::Vip4(), 80, kProtoTcp, std::move(ring), flags};
}
inline Vip VipTcp6(std::vector<uint32_t> ring, uint32_t flags = 0) {
  return {TestNet::Vip6(), 443, kProtoTcp, std::move(ring), flags};
}
// The IPv4 TCP VIP admitting `limit` SYNs per second.
inline Vip VipTcp4Limited(std::vector<uint32_t> ring, uint32_t limit) {
  Vip vip = VipTcp4(std::move(ring));
  vip.syn_rate_limit = limit;
  return vip;
}

// SYN rate limits: what one SYN costs each CPU's bucket (BalancerTest loads
// the program with kSynLimitCpus CPUs sharing a limit), and a refill time
// that no clock reading passes, so a bucket set with it gains no credit
// while a test runs.
inline constexpr uint64_t SynCostNs(uint32_t limit) {
  return uint64_t{kSynLimitCpus} * 1000000000ull / limit;
}
inline constexpr uint64_t kClockFrozen = ~0ull;
// An echo entry (port 0, ICMP or ICMPv6, no ring).
inline Vip EchoVip(const IpAddr& addr, uint32_t flags = XLB_VIP_F_ECHO) {
  return {.addr = addr,
          .proto = addr.family == 4 ? kProtoIcmp : kProtoIcmpv6,
          .flags = flags,
          .index = kEchoVipIndex};
}

// A connection entry for the row's flow, written as the flow's first packet
// would have (VIP index kVipIndex, five-tuple hash), last seen at time 0.
struct Entry {
  uint32_t backend;
  uint32_t generation;
};
inline Entry CurrentEntry(uint32_t backend) {
  return {backend, Generation(backend)};
}

// The frame the balancer receives, the IP packet in it, and the flow it
// belongs to (for an ICMP error: the quoted packet's, turned around).
struct Input {
  Bytes frame;
  Bytes ip;
  xlb_flow flow{};
};

inline Bytes FromClient(const Bytes& ip) {
  return EthernetFrame(TestNet::LbMac(), TestNet::ClientMac(), ip);
}
// An IP packet from the client; its flow is set only where a row needs it.
inline Input ClientIp(Bytes ip, const xlb_flow& flow = {}) {
  return {FromClient(ip), std::move(ip), flow};
}
// A frame as it is (non-IP, truncated): nothing to forward.
inline Input RawFrame(Bytes frame) { return {std::move(frame), {}, {}}; }

inline Input ClientTcp(const IpAddr& src, const IpAddr& dst, const TcpFields& t,
                       const IpParams& params = {}) {
  return ClientIp(TcpPacket(src, dst, t, params),
                  MakeFlow(src, dst, t.sport, t.dport, kProtoTcp));
}
inline Input ClientUdp(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                       uint16_t dport, size_t payload,
                       const IpParams& params = {}) {
  return ClientIp(UdpPacket(src, dst, sport, dport, Payload(payload), params),
                  MakeFlow(src, dst, sport, dport, kProtoUdp));
}
// The usual client to the usual VIP of each family.
inline Input Tcp4(uint16_t sport, uint16_t dport, uint8_t flags,
                  size_t payload = 0, const IpParams& params = {}) {
  return ClientTcp(TestNet::Client4(), TestNet::Vip4(),
                   Tcp(sport, dport, flags, payload), params);
}
inline Input Tcp6(uint16_t sport, uint16_t dport, uint8_t flags,
                  size_t payload = 0, const IpParams& params = {}) {
  return ClientTcp(TestNet::Client6(), TestNet::Vip6(),
                   Tcp(sport, dport, flags, payload), params);
}
inline Input Udp4(uint16_t sport, uint16_t dport, size_t payload,
                  const IpParams& params = {}) {
  return ClientUdp(TestNet::Client4(), TestNet::Vip4(), sport, dport, payload,
                   params);
}
inline Input Udp6(uint16_t sport, uint16_t dport, size_t payload,
                  const IpParams& params = {}) {
  return ClientUdp(TestNet::Client6(), TestNet::Vip6(), sport, dport, payload,
                   params);
}
// The first `len` bytes of `b`.
inline Bytes Truncated(Bytes b, size_t len) {
  b.resize(len);
  return b;
}
// `in` with bytes after its IP packet (Ethernet padding, trailers).
inline Input WithTrailer(Input in, const Bytes& trailer) {
  in.frame.insert(in.frame.end(), trailer.begin(), trailer.end());
  return in;
}

// The answers the balancer itself sends (step 8, step 11), built from the
// received frame.
using Answer = std::function<Bytes(const Bytes& request)>;
inline Answer FragNeeded(uint16_t mtu) {
  return [mtu](const Bytes& request) { return FragNeededFrame(request, mtu); };
}
inline Answer PacketTooBig(uint32_t mtu) {
  return
      [mtu](const Bytes& request) { return PacketTooBigFrame(request, mtu); };
}

// `to`, `entry_after`: the backend the first VIP's ring gives the flow.
inline constexpr uint32_t kRingChoice = 0xffffffffu;
// `entry_after`: the flow has no connection entry.
inline constexpr uint32_t kNoEntry = XLB_NO_BACKEND;

// A byte of the output frame spelled out: frame[offset] & mask == value.
struct ByteAt {
  size_t offset;
  uint8_t mask;
  uint8_t value;
};

struct BalancerRow {
  std::string description;  // CamelCase: the test case's name

  // The maps, on top of the fixture's (four backends up, default config).
  std::vector<Vip> vips;
  void (*config)(xlb_config&) = nullptr;  // changes to the default config
  std::vector<std::pair<uint32_t, uint8_t>> states;  // {backend, XLB_BACKEND_*}
  std::optional<Entry> entry;

  Input in;

  // What must follow.
  int action = XDP_PASS;
  // XDP_TX: forwarded (step 9) to this backend (or kRingChoice), or, with
  // `answer`, answered by the balancer. XDP_PASS: the frame unchanged.
  uint32_t to = XLB_NO_BACKEND;
  Answer answer;
  // The counters the packet bumps besides XLB_CNT_RX; all others stay 0.
  std::vector<xlb_counter> counts;
  std::vector<ByteAt> out_bytes;
  size_t out_size = 0;  // 0: not checked beyond the whole-frame comparison
  size_t ip_size = 0;   // the input's IP packet length; 0: not checked
  // The flow's entry afterwards: its backend (generation current).
  std::optional<uint32_t> entry_after;
  bool entry_seen_now = false;  // its last_seen_ns is this run's
  // kVipIndex's statistics.
  std::optional<uint64_t> new_flows;
  std::optional<uint64_t> no_backend_drops;
  std::optional<uint64_t> syns;
  std::optional<uint64_t> syn_limit_drops;
  // kVipIndex's SYN bucket: set on every CPU before the run; afterwards the
  // credit of the CPU that ran the packet, and whether it was refilled now.
  std::optional<xlb_syn_bucket> bucket;
  std::optional<uint64_t> credit_after;
  bool refilled_now = false;
};

// Test names come from the description; a failure prints only that.
inline void PrintTo(const BalancerRow& row, std::ostream* os) {
  *os << row.description;
}
inline std::string RowName(const ::testing::TestParamInfo<BalancerRow>& info) {
  return info.param.description;
}

class BalancerPacketTest : public BalancerTest {
 protected:
  void SetUp() override;

  // Sets up the row's maps, runs its frame and checks all that must follow.
  void Check(const BalancerRow& row);

  void AddVip(const Vip& vip);

  uint32_t Hash(const xlb_flow& flow, bool with_src_port = true) const {
    return FlowHash(flow, config_.hash_seed, with_src_port);
  }
  uint32_t Pick(const xlb_flow& flow, const std::vector<uint32_t>& ring,
                bool with_src_port = true) const {
    return ring[RingSlot(Hash(flow, with_src_port),
                         static_cast<uint32_t>(ring.size()))];
  }

  // Step 9: `inner` (a whole IP packet) encapsulated to `backend`.
  Bytes Forwarded(const Bytes& inner, const xlb_flow& flow, uint32_t backend,
                  bool with_src_port = true) const {
    return EncapsulatedFrame(config_, inner, BackendAddr(backend),
                             Hash(flow, with_src_port));
  }

  void ExpectTx(const Bytes& in, const Bytes& expected) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_TX);
    EXPECT_TRUE(SameBytes(r.frame, expected));
  }

  // Writes a connection entry as the flow's first packet would have: with
  // the VIP index (kVipIndex) and the five-tuple flow hash.
  void SetConn(const xlb_flow& flow, const Entry& entry) {
    xlb_conn conn{};
    conn.backend = entry.backend;
    conn.generation = entry.generation;
    conn.vip_index = kVipIndex;
    conn.hash = Hash(flow, /*with_src_port=*/true);
    BalancerTest::SetConn(flow, conn);
  }

  // The flow's connection entry names `backend` with its current generation.
  void ExpectConnTo(const xlb_flow& flow, uint32_t backend) {
    const auto conn = GetConn(flow);
    ASSERT_TRUE(conn.has_value()) << "no conns entry for the flow";
    EXPECT_EQ(conn->backend, backend);
    EXPECT_EQ(conn->generation, Generation(backend));
  }

  xlb_config config_{};

 private:
  // Check's steps.
  void SetUpMaps(const BalancerRow& row);
  void CheckFrame(const BalancerRow& row, const Bytes& out);
  void CheckCounters(const BalancerRow& row);
  void CheckEntry(const BalancerRow& row, uint64_t before, uint64_t after);
  void CheckBucket(const BalancerRow& row, uint64_t before, uint64_t after);
  static bool Forwards(const BalancerRow& row) {
    return row.action == XDP_TX && !row.answer;
  }
  static bool WithSrcPort(const BalancerRow& row);
  // `backend`, or for kRingChoice the backend the row's first VIP's ring
  // gives its flow.
  uint32_t Resolve(const BalancerRow& row, uint32_t backend) const;
};

class BalancerTable : public BalancerPacketTest,
                      public ::testing::WithParamInterface<BalancerRow> {};

}  // namespace xlb::testing

#endif  // XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_
