// How a balancer table row is set up, run and checked, and the table test
// every balancer_*test.cc instantiates (see balancer_test_fixture.h).
#include "bpf/tests/balancer_test_fixture.h"

#include <algorithm>
#include <cstdint>

namespace xlb::testing {

void BalancerPacketTest::SetUp() {
  BalancerTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  config_ = TestNet::DefaultConfig();
  for (uint32_t i : {kV4BackendA, kV4BackendB, kV6BackendA, kV6BackendB}) {
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(i, BackendAddr(i), XLB_BACKEND_UP, Generation(i)));
  }
}

void BalancerPacketTest::AddVip(const Vip& vip) {
  xlb_vip_value v{};
  v.index = vip.index;
  v.flags = vip.flags;
  v.ring_size = static_cast<uint32_t>(vip.ring.size());
  v.syn_rate_limit = vip.syn_rate_limit;
  ASSERT_NO_FATAL_FAILURE(SetVip(vip.addr, vip.port, vip.proto, v));
  if (!vip.ring.empty() && !vip.ring_missing) {
    ASSERT_NO_FATAL_FAILURE(SetRing(vip.index, vip.ring));
  }
}

void BalancerPacketTest::Check(const BalancerRow& row) {
  ASSERT_NO_FATAL_FAILURE(SetUpMaps(row));
  if (row.ip_size != 0) {
    ASSERT_EQ(row.in.ip.size(), row.ip_size);
  }
  const uint64_t before = MonotonicCoarseNs();
  const RunResult r = Run(row.in.frame);
  const uint64_t after = MonotonicCoarseNs();
  EXPECT_EQ(r.action, row.action);
  CheckFrame(row, r.frame);
  CheckCounters(row);
  CheckEntry(row, before, after);
  CheckBucket(row, before, after);
}

void BalancerPacketTest::SetUpMaps(const BalancerRow& row) {
  if (row.config) {
    row.config(config_);
    ASSERT_NO_FATAL_FAILURE(SetConfig(config_));
  }
  for (const auto& [backend, state] : row.states) {
    ASSERT_NO_FATAL_FAILURE(
        SetBackend(backend, BackendAddr(backend), state, Generation(backend)));
  }
  for (const Vip& vip : row.vips) ASSERT_NO_FATAL_FAILURE(AddVip(vip));
  if (row.entry) {
    ASSERT_NO_FATAL_FAILURE(SetConn(row.in.flow, *row.entry));
  }
  if (row.bucket) {
    ASSERT_NO_FATAL_FAILURE(SetSynBucket(kVipIndex, *row.bucket));
  }
}

bool BalancerPacketTest::WithSrcPort(const BalancerRow& row) {
  return row.vips.empty() ||
         !(row.vips.front().flags & XLB_VIP_F_HASH_NO_SRC_PORT);
}

uint32_t BalancerPacketTest::Resolve(const BalancerRow& row,
                                     uint32_t backend) const {
  if (backend != kRingChoice) return backend;
  EXPECT_FALSE(row.vips.empty()) << "kRingChoice needs a VIP's ring";
  return row.vips.empty()
             ? XLB_NO_BACKEND
             : Pick(row.in.flow, row.vips.front().ring, WithSrcPort(row));
}

void BalancerPacketTest::CheckFrame(const BalancerRow& row, const Bytes& out) {
  if (row.action == XDP_PASS) {
    EXPECT_TRUE(SameBytes(out, row.in.frame));
  }
  if (row.answer) {
    EXPECT_TRUE(SameBytes(out, row.answer(row.in.frame)));
  }
  if (Forwards(row)) {
    EXPECT_TRUE(
        SameBytes(out, Forwarded(row.in.ip, row.in.flow, Resolve(row, row.to),
                                 WithSrcPort(row))));
  }
  if (row.out_size != 0) {
    EXPECT_EQ(out.size(), row.out_size);
  }
  for (const ByteAt& b : row.out_bytes) {
    ASSERT_LT(b.offset, out.size());
    EXPECT_EQ(out[b.offset] & b.mask, b.value) << "output byte " << b.offset;
  }
}

void BalancerPacketTest::CheckCounters(const BalancerRow& row) {
  for (uint32_t c = 0; c < XLB_CNT_MAX; ++c) {
    const auto counter = static_cast<xlb_counter>(c);
    const bool bumped =
        counter == XLB_CNT_RX || std::find(row.counts.begin(), row.counts.end(),
                                           counter) != row.counts.end();
    EXPECT_EQ(Counter(counter), bumped ? 1u : 0u) << "counter " << c;
  }
  if (Forwards(row)) {
    const xlb_backend_stats stats = BackendStats(Resolve(row, row.to));
    EXPECT_EQ(stats.packets, 1u);
    EXPECT_EQ(stats.bytes, row.in.ip.size());
  }
  if (row.new_flows) {
    EXPECT_EQ(VipStats(kVipIndex).new_flows, *row.new_flows);
  }
  if (row.no_backend_drops) {
    EXPECT_EQ(VipStats(kVipIndex).no_backend_drops, *row.no_backend_drops);
  }
  if (row.syns) {
    EXPECT_EQ(VipStats(kVipIndex).syns, *row.syns);
  }
  if (row.syn_limit_drops) {
    EXPECT_EQ(VipStats(kVipIndex).syn_limit_drops, *row.syn_limit_drops);
  }
}

void BalancerPacketTest::CheckEntry(const BalancerRow& row, uint64_t before,
                                    uint64_t after) {
  if (row.entry_after == kNoEntry) {
    EXPECT_FALSE(GetConn(row.in.flow).has_value());
  } else if (row.entry_after) {
    ASSERT_NO_FATAL_FAILURE(
        ExpectConnTo(row.in.flow, Resolve(row, *row.entry_after)));
  }
  if (row.entry_seen_now) {
    const auto conn = GetConn(row.in.flow);
    ASSERT_TRUE(conn.has_value());
    // bpf_ktime_get_coarse_ns() may lag the fine clock by a tick.
    EXPECT_GE(conn->last_seen_ns + 1000000000ull, before);
    EXPECT_LE(conn->last_seen_ns, after);
  }
}

void BalancerPacketTest::CheckBucket(const BalancerRow& row, uint64_t before,
                                     uint64_t after) {
  if (!row.bucket) return;
  // The run changed at most the bucket of the CPU it ran on.
  xlb_syn_bucket ran = *row.bucket;
  int changed = 0;
  for (const xlb_syn_bucket& b : SynBuckets(kVipIndex)) {
    if (b.credit_ns == row.bucket->credit_ns &&
        b.refilled_ns == row.bucket->refilled_ns) {
      continue;
    }
    ran = b;
    ++changed;
  }
  EXPECT_LE(changed, 1) << "buckets of several CPUs changed";
  if (row.credit_after) {
    EXPECT_EQ(ran.credit_ns, *row.credit_after);
  }
  if (row.refilled_now) {
    EXPECT_GE(ran.refilled_ns + 1000000000ull, before);
    EXPECT_LE(ran.refilled_ns, after);
  } else {
    EXPECT_EQ(ran.refilled_ns, row.bucket->refilled_ns);
  }
}

TEST_P(BalancerTable, Row) { Check(GetParam()); }

}  // namespace xlb::testing
