// The model's limits and its all-or-nothing writes: a change set that fails
// at any map write leaves the maps and the model as they were.
#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/dataplane/in_memory_maps.h"
#include "lb/model/model.h"
#include "lb/model/testing/model_testing.h"

namespace xlb {
namespace {

using ::xlb::testing::Backend;
using ::xlb::testing::Ip;
using ::xlb::testing::Key;
using ::xlb::testing::ModelSnapshot;
using ::xlb::testing::Ops;
using ::xlb::testing::Snapshot;
using ::xlb::testing::Vip;

using ::testing::HasSubstr;

// The maps' VIP entries and rings, leaving out backend entries (whose
// generations differ legitimately between runs).
InMemoryMaps::Contents VipsAndRings(const InMemoryMaps& maps) {
  InMemoryMaps::Contents contents = maps.contents();
  contents.backends.clear();
  return contents;
}

const VipKey kWeb = Key("192.0.2.1", 80);
const VipKey kWeb6 = Key("2001:db8::1", 443);
const VipKey kOld = Key("192.0.2.3", 80);
const VipKey kNew = Key("192.0.2.4", 0);

// Three VIPs sharing backends, one with a health check and echo replies.
ChangeSet InitialConfig() {
  VipSettings checked{.echo_reply = true, .health_check = HealthCheckSpec{}};
  return Ops({
      CreateVipOp{VipConfig{
          .key = kWeb,
          .settings = {.echo_reply = true},
          .backends = {Backend("198.51.100.1"), Backend("198.51.100.2"),
                       Backend("198.51.100.3")}}},
      CreateVipOp{VipConfig{
          .key = kWeb6,
          .settings = checked,
          .backends = {Backend("2001:db8:1::1"), Backend("2001:db8:1::2")}}},
      SetHealthOp{kWeb6, Ip("2001:db8:1::1"), true},
      CreateVipOp{VipConfig{
          .key = kOld,
          .settings = {.ring_size = 1021},
          .backends = {Backend("198.51.100.3"), Backend("198.51.100.4")}}},
  });
}

// Touches every kind of write: new and freed backends and VIPs, a ring-size
// move, drains, health, echo entries, an emptied ring.
ChangeSet BigChange() {
  return Ops({
      DeleteVipOp{kOld},
      CreateVipOp{VipConfig{
          .key = kNew,
          .backends = {Backend("203.0.113.1"), Backend("198.51.100.1", 4)}}},
      UpdateVipOp{kWeb, VipSettings{.ring_size = 2039}},
      AddBackendOp{kWeb, Backend("203.0.113.2")},
      RemoveBackendOp{kWeb, Ip("198.51.100.2")},
      SetDrainOp{kWeb, Ip("198.51.100.3"), true},
      SetWeightOp{kWeb, Ip("198.51.100.1"), 7},
      SetHealthOp{kWeb6, Ip("2001:db8:1::1"), false},
  });
}

TEST(BalancerRollbackTest, EveryFailedWriteLeavesMapsAndModelUnchanged) {
  InMemoryMaps reference_maps;
  auto reference = *Balancer::Create(&reference_maps);
  ASSERT_TRUE(reference->Apply(InitialConfig()).ok());
  const uint64_t setup_writes = reference_maps.write_count();
  ASSERT_TRUE(reference->Apply(BigChange()).ok());
  const uint64_t change_writes = reference_maps.write_count() - setup_writes;
  ASSERT_GE(change_writes, 12u);

  for (uint64_t k = 1; k <= change_writes; ++k) {
    SCOPED_TRACE(absl::StrCat("failing write ", k, " of ", change_writes));
    InMemoryMaps maps;
    auto balancer = *Balancer::Create(&maps);
    ASSERT_TRUE(balancer->Apply(InitialConfig()).ok());
    const InMemoryMaps::Contents maps_before = maps.contents();
    const ModelSnapshot model_before = Snapshot(*balancer);

    maps.FailWrite(maps.write_count() + k);
    absl::Status status = balancer->Apply(BigChange());
    EXPECT_TRUE(absl::IsUnavailable(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("nothing applied"));
    EXPECT_TRUE(maps.contents() == maps_before);
    EXPECT_EQ(Snapshot(*balancer), model_before);

    // The same change then goes through and lands where it would have.
    ASSERT_TRUE(balancer->Apply(BigChange()).ok());
    EXPECT_TRUE(VipsAndRings(maps) == VipsAndRings(reference_maps));
    EXPECT_EQ(Snapshot(*balancer).config, Snapshot(*reference).config);
  }
}

TEST(BalancerRollbackTest, FailedRollbackRewritesMapsBeforeNextChange) {
  InMemoryMaps maps;
  auto balancer = *Balancer::Create(&maps);
  ASSERT_TRUE(balancer->Apply(InitialConfig()).ok());
  const InMemoryMaps::Contents before = maps.contents();
  const InMemoryMaps::Contents vips_and_rings_before = VipsAndRings(maps);
  // Write 5 fails, then so does the first undo.
  maps.FailWrite(maps.write_count() + 5);
  maps.FailWrite(maps.write_count() + 6);
  absl::Status status = balancer->Apply(BigChange());
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_FALSE(maps.contents() == before);

  ASSERT_TRUE(balancer->Apply(ChangeSet{}).ok());
  EXPECT_TRUE(VipsAndRings(maps) == vips_and_rings_before);
  for (const BackendStatus& backend : balancer->ListBackendStatus()) {
    const xlb_backend& entry = maps.contents().backends.at(backend.index);
    EXPECT_EQ(entry.generation, backend.generation);
    EXPECT_EQ(entry.state, static_cast<uint8_t>(backend.state));
  }
}

TEST(BalancerLimitsTest, TooManyVipsIsResourceExhausted) {
  InMemoryMaps maps(DataplaneLimits{.max_vips = 2});
  auto balancer = *Balancer::Create(&maps);
  ASSERT_TRUE(balancer
                  ->Apply(Ops({CreateVipOp{VipConfig{.key = kWeb}},
                               CreateVipOp{VipConfig{.key = kOld}}}))
                  .ok());
  absl::Status status =
      balancer->Apply(Ops({CreateVipOp{VipConfig{.key = kNew}}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("max_vips is 2"));
  // An echo entry takes a vips map entry too.
  status = balancer->Apply(
      Ops({UpdateVipOp{kWeb, VipSettings{.echo_reply = true}}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  // Moving to a new ring size needs a spare VIP index.
  status =
      balancer->Apply(Ops({UpdateVipOp{kWeb, VipSettings{.ring_size = 1021}}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("spare"));
}

TEST(BalancerLimitsTest, TooManyBackendsIsResourceExhausted) {
  InMemoryMaps maps(DataplaneLimits{.max_backends = 3});  // indexes 1 and 2
  auto balancer = *Balancer::Create(&maps);
  ASSERT_TRUE(balancer
                  ->Apply(Ops({CreateVipOp{
                      VipConfig{.key = kWeb,
                                .backends = {Backend("198.51.100.1"),
                                             Backend("198.51.100.2")}}}}))
                  .ok());
  absl::Status status =
      balancer->Apply(Ops({AddBackendOp{kWeb, Backend("198.51.100.3")}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("3 distinct backend addresses"));
  // A freed index becomes usable from the next change set on.
  status = balancer->Apply(Ops({RemoveBackendOp{kWeb, Ip("198.51.100.1")},
                                AddBackendOp{kWeb, Backend("198.51.100.3")}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  ASSERT_TRUE(
      balancer->Apply(Ops({RemoveBackendOp{kWeb, Ip("198.51.100.1")}})).ok());
  EXPECT_TRUE(
      balancer->Apply(Ops({AddBackendOp{kWeb, Backend("198.51.100.3")}})).ok());
}

TEST(BalancerLimitsTest, RingLargerThanTheDataPlaneAllowsIsResourceExhausted) {
  InMemoryMaps maps(DataplaneLimits{.max_ring_size = 65537});
  auto balancer = *Balancer::Create(&maps);
  absl::Status status = balancer->Apply(Ops({CreateVipOp{
      VipConfig{.key = kWeb, .settings = {.ring_size = 131071}}}}));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_EQ(status.message(),
            "ops[0].vip.settings.ring_size: 131071 exceeds the data plane's "
            "max_ring_size 65537");
}

TEST(BalancerLimitsTest, GenerationsSurviveAgentRestart) {
  InMemoryMaps maps;
  uint32_t index = 0, generation = 0;
  {
    auto first = *Balancer::Create(&maps);
    ASSERT_TRUE(first
                    ->Apply(Ops({CreateVipOp{VipConfig{
                        .key = kWeb, .backends = {Backend("198.51.100.1")}}}}))
                    .ok());
    BackendStatus status = *first->GetBackendStatus(Ip("198.51.100.1"));
    index = status.index;
    generation = status.generation;
  }
  auto second = *Balancer::Create(&maps);
  ASSERT_TRUE(second
                  ->Apply(Ops({ReplaceVipOp{VipConfig{
                      .key = kWeb, .backends = {Backend("198.51.100.9")}}}}))
                  .ok());
  // The old holder's entry is still live while this change set is written,
  // so its index is not reused within it...
  EXPECT_NE(second->GetBackendStatus(Ip("198.51.100.9"))->index, index);
  // ...but by the next one, with a fresh generation.
  ASSERT_TRUE(second
                  ->Apply(Ops({AddBackendOp{
                      .vip = kWeb, .backend = Backend("198.51.100.10")}}))
                  .ok());
  BackendStatus status = *second->GetBackendStatus(Ip("198.51.100.10"));
  EXPECT_EQ(status.index, index);
  EXPECT_GT(status.generation, generation);
}

}  // namespace
}  // namespace xlb
