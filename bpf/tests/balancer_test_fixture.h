// The fixture shared by the xlb_balancer packet tests (balancer_*test.cc):
// a loaded balancer with four backends, helpers to add VIPs and rings, and
// the expected forwarded frame computed from docs/dataplane.md step 9.
#ifndef XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_
#define XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_

#include <linux/bpf.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
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

class BalancerPacketTest : public BalancerTest {
 protected:
  void SetUp() override {
    BalancerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    config_ = TestNet::DefaultConfig();
    for (uint32_t i : {kV4BackendA, kV4BackendB, kV6BackendA, kV6BackendB}) {
      ASSERT_NO_FATAL_FAILURE(
          SetBackend(i, BackendAddr(i), XLB_BACKEND_UP, Generation(i)));
    }
  }

  void ApplyConfig() { ASSERT_NO_FATAL_FAILURE(SetConfig(config_)); }

  // A VIP and its ring (ring_size in the VIP follows the ring).
  void AddVip(const IpAddr& vip, uint16_t port, uint8_t proto, uint32_t index,
              uint32_t flags, const std::vector<uint32_t>& ring) {
    xlb_vip_value v{};
    v.index = index;
    v.flags = flags;
    v.ring_size = static_cast<uint32_t>(ring.size());
    ASSERT_NO_FATAL_FAILURE(SetVip(vip, port, proto, v));
    ASSERT_NO_FATAL_FAILURE(SetRing(index, ring));
  }
  // The usual VIPs: TCP port 80 on the IPv4 VIP, 443 on the IPv6 one.
  void AddVip4(const std::vector<uint32_t>& ring, uint32_t flags = 0) {
    AddVip(TestNet::Vip4(), 80, kProtoTcp, kVipIndex, flags, ring);
  }
  void AddVip6(const std::vector<uint32_t>& ring, uint32_t flags = 0) {
    AddVip(TestNet::Vip6(), 443, kProtoTcp, kVipIndex, flags, ring);
  }

  static std::vector<uint32_t> RingOf(uint32_t backend) {
    return std::vector<uint32_t>(kRingSize, backend);
  }
  // ring[i] = first + i % n: neighbouring slots name different backends.
  static std::vector<uint32_t> Alternating(uint32_t first, uint32_t n) {
    std::vector<uint32_t> ring(kRingSize);
    for (uint32_t i = 0; i < kRingSize; ++i) ring[i] = first + i % n;
    return ring;
  }

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
    const uint32_t hash = Hash(flow, with_src_port);
    const IpAddr dst = BackendAddr(backend);
    EncapParams p;
    p.gateway_mac = TestNet::GatewayMac();
    p.iface_mac = TestNet::IfaceMac();
    p.backend = dst;
    p.hash = hash;
    if (dst.family == 4) {
      IpAddr base;
      base.family = 4;
      std::memcpy(base.bytes.data(), &config_.src_v4, 4);
      p.outer_src = OuterSourceV4(base, config_.src_v4_prefix_len, hash);
    } else {
      IpAddr base;
      base.family = 6;
      std::memcpy(base.bytes.data(), config_.src_v6, 16);
      p.outer_src = OuterSourceV6(base, config_.src_v6_prefix_len, hash);
    }
    return EncapsulatedFrame(p, inner);
  }

  static Bytes FromClient(const Bytes& ip_packet) {
    return EthernetFrame(TestNet::LbMac(), TestNet::ClientMac(), ip_packet);
  }

  void ExpectTx(const Bytes& in, const Bytes& expected) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_TX);
    EXPECT_TRUE(SameBytes(r.frame, expected));
  }
  void ExpectPass(const Bytes& in, xlb_counter reason) {
    const RunResult r = Run(in);
    EXPECT_EQ(r.action, XDP_PASS);
    EXPECT_TRUE(SameBytes(r.frame, in));
    EXPECT_EQ(Counter(XLB_CNT_RX), 1u);
    EXPECT_EQ(Counter(reason), 1u);
    EXPECT_EQ(Counter(XLB_CNT_TX), 0u);
  }
  void ExpectDrop(const Bytes& in, xlb_counter reason, uint32_t meta_len = 0) {
    const RunResult r = Run(in, meta_len);
    EXPECT_EQ(r.action, XDP_DROP);
    EXPECT_EQ(Counter(XLB_CNT_RX), 1u);
    EXPECT_EQ(Counter(reason), 1u);
    EXPECT_EQ(Counter(XLB_CNT_TX), 0u);
  }

  // Writes a connection entry as the flow's first packet would have: with
  // the VIP index (kVipIndex) and the five-tuple flow hash.
  void SetConn(const xlb_flow& flow, xlb_conn conn) {
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

  xlb_conn Conn(uint32_t backend, uint32_t generation, uint64_t last_seen_ns) {
    xlb_conn c{};
    c.backend = backend;
    c.generation = generation;
    c.last_seen_ns = last_seen_ns;
    return c;
  }

  xlb_config config_{};
};

}  // namespace xlb::testing

#endif  // XLB_BPF_TESTS_BALANCER_TEST_FIXTURE_H_
