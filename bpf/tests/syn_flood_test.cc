// A spoofed SYN flood evicts no established flow's connection entry, and
// those flows keep their backends across a ring change (bpf/tests/
// syn_flood.h). CI runs it at 10^6 SYNs over 10^5 flows; tools/bench/run
// at 10^7 (tools/bench/syn_flood).
#include "bpf/tests/syn_flood.h"

#include "gtest/gtest.h"
#include "lb/testing/privilege.h"

namespace xlb::testing {
namespace {

TEST(SynFloodTest, SpoofedSynsEvictNoEstablishedFlow) {
  RequirePrivilege();
  if (IsSkipped() || HasFatalFailure()) return;
  const SynFloodOptions options{.established = 100000, .syns = 1000000};
  absl::StatusOr<SynFloodResult> r = RunSynFlood(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->established, options.established);
  EXPECT_EQ(r->syns_forwarded, options.syns);
  EXPECT_EQ(r->evicted, 0u);
  // About 1/11 of the flows depend on their entries after the change.
  EXPECT_GT(r->moved_by_ring_change, options.established / 20);
  EXPECT_EQ(r->misrouted, 0u);
}

}  // namespace
}  // namespace xlb::testing
