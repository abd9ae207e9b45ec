#include "lb/dataplane/dataplane.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <filesystem>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lb/base/unique_fd.h"
#include "lb/testing/netns.h"
#include "lb/testing/privilege.h"

namespace xlb {
namespace {

using ::xlb::testing::ScopedNetns;

DataplaneOptions SmallOptions(std::string pin_dir = "") {
  DataplaneOptions options;
  options.limits.max_vips = 8;
  options.limits.max_backends = 16;
  options.limits.max_conns = 4096;
  options.pin_dir = std::move(pin_dir);
  return options;
}

xlb_vip_key V4Vip(uint32_t addr_host_order, uint16_t port) {
  xlb_vip_key key = {};
  key.addr[0] = htonl(addr_host_order);
  key.port = htons(port);
  key.proto = IPPROTO_TCP;
  key.family = XLB_FAMILY_V4;
  return key;
}

class DataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    pin_dir_ = absl::StrCat("/sys/fs/bpf/xlb-test-", getpid());
  }
  void TearDown() override {
    if (!pin_dir_.empty()) std::filesystem::remove_all(pin_dir_);
  }
  std::string pin_dir_;
};

TEST_F(DataplaneTest, RingIsSwappedWholeAndReadBack) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok()) << dp.status();
  std::vector<uint32_t> ring(65537);
  std::iota(ring.begin(), ring.end(), 1);
  ASSERT_TRUE((*dp)->SetRing(3, ring).ok());
  auto read = (*dp)->GetRing(3);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, ring);

  std::vector<uint32_t> small = {7, 8, 9, 10, 11, 12, 13};
  ASSERT_TRUE((*dp)->SetRing(3, small).ok());
  EXPECT_EQ(*(*dp)->GetRing(3), small);

  ASSERT_TRUE((*dp)->DeleteRing(3).ok());
  EXPECT_EQ((*dp)->GetRing(3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*dp)->DeleteRing(3).ok()) << "deleting twice is harmless";
}

// The id of the ring map VIP index `vip_index` points at, through the
// pinned array of maps.
uint32_t RingMapId(const std::string& pin_dir, uint32_t vip_index) {
  UniqueFd rings(bpf_obj_get((pin_dir + "/rings").c_str()));
  uint32_t id = 0;
  if (!rings.valid() ||
      bpf_map_lookup_elem(rings.get(), &vip_index, &id) != 0) {
    return 0;
  }
  return id;
}

TEST_F(DataplaneTest, RingIsUpdatedInPlaceSlotBySlot) {
  auto dp = Dataplane::Load(SmallOptions(pin_dir_));
  ASSERT_TRUE(dp.ok()) << dp.status();
  std::vector<uint32_t> held(65537);
  std::iota(held.begin(), held.end(), 1);
  ASSERT_TRUE((*dp)->SetRing(3, held).ok());
  const uint32_t id = RingMapId(pin_dir_, 3);
  ASSERT_NE(id, 0u);

  std::vector<uint32_t> ring = held;
  for (size_t slot = 0; slot < ring.size(); slot += 97) ring[slot] = 5;
  ASSERT_TRUE((*dp)->UpdateRing(3, held, ring).ok());
  EXPECT_EQ(*(*dp)->GetRing(3), ring);
  EXPECT_EQ(RingMapId(pin_dir_, 3), id) << "the same map, not a new one";

  // Only the slots where `held` and `ring` differ are written: a slot that
  // `held` misreports keeps what the map has.
  std::vector<uint32_t> wrong_held = ring, next = ring;
  wrong_held[1] = next[1] = 9;
  ASSERT_TRUE((*dp)->UpdateRing(3, wrong_held, next).ok());
  EXPECT_EQ(*(*dp)->GetRing(3), ring);

  // Another size, or no ring at all, is refused and changes nothing.
  std::vector<uint32_t> small = {7, 8, 9};
  EXPECT_EQ((*dp)->UpdateRing(3, small, small).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*(*dp)->GetRing(3), ring);
  EXPECT_EQ((*dp)->UpdateRing(4, held, ring).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*dp)->GetRing(4).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DataplaneTest, DeleteConnsRemovesOnlyTheGivenVipsEntries) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok()) << dp.status();
  for (uint32_t i = 0; i < 600; ++i) {  // more than one batch per VIP
    xlb_flow flow = {};
    flow.src[0] = htonl(0xcb007100 + i);
    flow.dport = htons(80);
    flow.family = XLB_FAMILY_V4;
    xlb_conn conn = {.backend = 1, .vip_index = i % 3};
    ASSERT_EQ(bpf_map_update_elem((*dp)->conns_fd(), &flow, &conn, BPF_ANY), 0);
  }
  ASSERT_TRUE((*dp)->DeleteConns({0, 2}).ok());
  auto left = (*dp)->CountConns();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, 200u);
  xlb_flow key, next;
  const void* prev = nullptr;
  while (bpf_map_get_next_key((*dp)->conns_fd(), prev, &next) == 0) {
    xlb_conn conn;
    ASSERT_EQ(bpf_map_lookup_elem((*dp)->conns_fd(), &next, &conn), 0);
    EXPECT_EQ(conn.vip_index, 1u);
    key = next;
    prev = &key;
  }
}

// Status reports the kernel's own memory figure: a preallocated map's
// whole size from the start, and every inner ring map under "rings".
TEST_F(DataplaneTest, MapMemoryIsWhatTheKernelCharges) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok()) << dp.status();
  auto before = (*dp)->ReadMapMemory();
  ASSERT_TRUE(before.ok()) << before.status();
  std::map<std::string, MapMemory> by_name;
  for (const MapMemory& m : *before) by_name[m.name] = m;
  for (const char* name : {"vips", "rings", "backends", "conns", "config",
                           "stats", "vip_stats", "backend_stats", "hc_stats"}) {
    ASSERT_TRUE(by_name.contains(name)) << name;
    EXPECT_GT(by_name[name].bytes, 0u) << name;
  }
  const MapMemory& conns = by_name["conns"];
  EXPECT_EQ(conns.max_entries, SmallOptions().limits.max_conns);
  EXPECT_GE(conns.bytes,
            uint64_t{conns.max_entries} * (sizeof(xlb_flow) + sizeof(xlb_conn)))
      << "an empty LRU table is preallocated whole";

  std::vector<uint32_t> ring(65537, 1);
  ASSERT_TRUE((*dp)->SetRing(3, ring).ok());
  auto after = (*dp)->ReadMapMemory();
  ASSERT_TRUE(after.ok()) << after.status();
  for (const MapMemory& m : *after) {
    if (m.name == "rings") {
      EXPECT_GE(m.bytes, by_name["rings"].bytes + ring.size() * 4);
    } else {
      EXPECT_EQ(m.bytes, by_name[m.name].bytes) << m.name;
    }
  }
}

TEST_F(DataplaneTest, RingLargerThanLimitIsRefused) {
  DataplaneOptions options = SmallOptions();
  options.limits.max_ring_size = 13;
  auto dp = Dataplane::Load(options);
  ASSERT_TRUE(dp.ok()) << dp.status();
  std::vector<uint32_t> ring(17, 1);
  EXPECT_EQ((*dp)->SetRing(0, ring).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DataplaneTest, VipsAndBackendsRoundTrip) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok()) << dp.status();
  xlb_vip_value value = {.index = 2, .flags = XLB_VIP_F_ECHO, .ring_size = 13};
  ASSERT_TRUE((*dp)->SetVip(V4Vip(0xc0000201, 80), value).ok());
  auto vips = (*dp)->ListVips();
  ASSERT_TRUE(vips.ok());
  ASSERT_EQ(vips->size(), 1u);
  EXPECT_EQ((*vips)[0].second.index, 2u);
  EXPECT_EQ((*vips)[0].second.ring_size, 13u);
  EXPECT_TRUE((*dp)->DeleteVip(V4Vip(0xc0000201, 80)).ok());
  EXPECT_EQ((*dp)->DeleteVip(V4Vip(0xc0000201, 80)).code(),
            absl::StatusCode::kNotFound);

  xlb_backend be = {
      .family = XLB_FAMILY_V4, .state = XLB_BACKEND_UP, .generation = 5};
  be.addr[0] = htonl(0xc6336401);
  ASSERT_TRUE((*dp)->SetBackend(4, be).ok());
  auto read = (*dp)->GetBackend(4);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->generation, 5u);
  EXPECT_EQ(read->addr[0], be.addr[0]);
  EXPECT_EQ((*dp)->SetBackend(16, be).code(), absl::StatusCode::kOutOfRange)
      << "index beyond max_backends";
}

TEST_F(DataplaneTest, FullVipMapIsResourceExhausted) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok()) << dp.status();
  for (uint32_t i = 0; i < 8; ++i)
    ASSERT_TRUE((*dp)->SetVip(V4Vip(0xc0000201 + i, 80), {.index = i}).ok());
  EXPECT_EQ((*dp)->SetVip(V4Vip(0xc0000250, 80), {.index = 0}).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(DataplaneTest, PinnedMapsAreReusedByTheNextLoad) {
  {
    auto dp = Dataplane::Load(SmallOptions(pin_dir_));
    ASSERT_TRUE(dp.ok()) << dp.status();
    ASSERT_TRUE((*dp)->SetRing(1, std::vector<uint32_t>{4, 5, 6}).ok());
    xlb_config config = {.mtu = 1500, .hash_seed = 77};
    ASSERT_TRUE((*dp)->SetConfig(config).ok());
  }
  auto again = Dataplane::Load(SmallOptions(pin_dir_));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->GetRing(1), (std::vector<uint32_t>{4, 5, 6}));
  EXPECT_EQ((*again)->GetConfig()->hash_seed, 77u);
}

TEST_F(DataplaneTest, PinnedMapsWithOtherSizesAreRefused) {
  ASSERT_TRUE(Dataplane::Load(SmallOptions(pin_dir_)).ok());
  DataplaneOptions bigger = SmallOptions(pin_dir_);
  bigger.limits.max_vips = 16;
  auto dp = Dataplane::Load(bigger);
  EXPECT_FALSE(dp.ok());
}

TEST_F(DataplaneTest, PinDirectoryOffBpffsIsRefused) {
  std::string dir = absl::StrCat("/tmp/xlb-not-bpffs-", getpid());
  auto dp = Dataplane::Load(SmallOptions(dir));
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(dp.ok());
  EXPECT_EQ(dp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(dp.status().message().find("not on a BPF filesystem"),
            std::string::npos);
}

TEST_F(DataplaneTest, MissingInterfaceIsNotFound) {
  auto dp = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(dp.ok());
  absl::Status s = (*dp)->AttachXdp("xlb-no-such0", XdpMode::kNative);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("xlb-no-such0"), std::string::npos);
}

TEST_F(DataplaneTest, AttachPinsLinkAndRestartUpgradesInPlace) {
  ScopedNetns ns;
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(ns.Exec("ip link add xa type veth peer name xb"));
  ASSERT_TRUE(ns.Exec("ip link set xa up"));
  ScopedNetns::Enter enter(ns);

  uint32_t first_prog = 0;
  {
    auto dp = Dataplane::Load(SmallOptions(pin_dir_));
    ASSERT_TRUE(dp.ok()) << dp.status();
    ASSERT_TRUE((*dp)->AttachXdp("xa", XdpMode::kNative).ok());
    ASSERT_TRUE((*dp)->AttachHealthcheck("xa").ok());
    first_prog = (*dp)->balancer_prog_id();
  }
  // The agent is gone; the link pin keeps the balancer on the interface.
  bpf_xdp_query_opts query = {.sz = sizeof(query)};
  ASSERT_EQ(bpf_xdp_query(if_nametoindex("xa"), 0, &query), 0);
  EXPECT_EQ(query.prog_id, first_prog);

  auto dp = Dataplane::Load(SmallOptions(pin_dir_));
  ASSERT_TRUE(dp.ok()) << dp.status();
  ASSERT_TRUE((*dp)->AttachXdp("xa", XdpMode::kNative).ok());
  ASSERT_TRUE((*dp)->AttachHealthcheck("xa").ok());
  ASSERT_EQ(bpf_xdp_query(if_nametoindex("xa"), 0, &query), 0);
  EXPECT_EQ(query.prog_id, (*dp)->balancer_prog_id());
  EXPECT_NE(query.prog_id, first_prog);

  ASSERT_TRUE(Dataplane::Remove(pin_dir_, "xa").ok());
  dp->reset();
  ASSERT_EQ(bpf_xdp_query(if_nametoindex("xa"), 0, &query), 0);
  EXPECT_EQ(query.prog_id, 0u);
  EXPECT_FALSE(std::filesystem::exists(pin_dir_));
}

TEST_F(DataplaneTest, InterfaceWithAnotherXdpProgramIsRefused) {
  ScopedNetns ns;
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(ns.Exec("ip link add xa type veth peer name xb"));
  ScopedNetns::Enter enter(ns);
  auto other = Dataplane::Load(SmallOptions());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->AttachXdp("xa", XdpMode::kNative).ok());

  auto dp = Dataplane::Load(SmallOptions(pin_dir_));
  ASSERT_TRUE(dp.ok());
  absl::Status s = (*dp)->AttachXdp("xa", XdpMode::kNative);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("already has XDP program"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace xlb
