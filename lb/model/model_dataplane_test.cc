// End to end: a configuration applied through the model to the real BPF
// maps, packets run through the balancer with BPF_PROG_TEST_RUN, and each
// must reach the backend the model predicts.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lb/dataplane/dataplane.h"
#include "lb/model/model.h"
#include "lb/testing/privilege.h"

namespace xlb {
namespace {

constexpr uint32_t kHashSeed = 0x1234abcd;
constexpr size_t kOuterDstOffset = ETH_HLEN + 16;  // outer IPv4 daddr

IpAddress Ip(absl::string_view text) { return *IpAddress::Parse(text); }

// An Ethernet + IPv4 + TCP SYN (or UDP) frame of `flow`, 40 payload bytes.
std::vector<uint8_t> Frame(const xlb_flow& flow) {
  const size_t l4 = flow.proto == IPPROTO_TCP ? sizeof(tcphdr) : sizeof(udphdr);
  std::vector<uint8_t> frame(ETH_HLEN + sizeof(iphdr) + l4 + 40, 0);
  ethhdr eth{};
  std::memset(eth.h_dest, 0x02, ETH_ALEN);
  std::memset(eth.h_source, 0x04, ETH_ALEN);
  eth.h_proto = htons(ETH_P_IP);
  std::memcpy(frame.data(), &eth, sizeof(eth));
  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.ttl = 64;
  ip.tot_len = htons(frame.size() - ETH_HLEN);
  ip.frag_off = htons(0x4000);  // DF
  ip.protocol = flow.proto;
  ip.saddr = flow.src[0];
  ip.daddr = flow.dst[0];
  std::memcpy(frame.data() + ETH_HLEN, &ip, sizeof(ip));
  uint8_t* l4_start = frame.data() + ETH_HLEN + sizeof(iphdr);
  if (flow.proto == IPPROTO_TCP) {
    tcphdr tcp{};
    tcp.source = flow.sport;
    tcp.dest = flow.dport;
    tcp.doff = 5;
    tcp.syn = 1;
    std::memcpy(l4_start, &tcp, sizeof(tcp));
  } else {
    udphdr udp{};
    udp.source = flow.sport;
    udp.dest = flow.dport;
    udp.len = htons(l4 + 40);
    std::memcpy(l4_start, &udp, sizeof(udp));
  }
  return frame;
}

class ModelDataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    xlb::testing::RequirePrivilege();
    if (IsSkipped() || HasFatalFailure()) return;
    DataplaneOptions options;
    options.limits.max_vips = 8;
    options.limits.max_backends = 32;
    options.limits.max_conns = 4096;
    auto dataplane = Dataplane::Load(options);
    ASSERT_TRUE(dataplane.ok()) << dataplane.status();
    dataplane_ = *std::move(dataplane);
    xlb_config config{};
    __be32 src_v4[4] = {};
    std::memset(config.iface_mac, 0x02, sizeof(config.iface_mac));
    std::memset(config.gateway_mac, 0x06, sizeof(config.gateway_mac));
    Ip("192.0.2.250").ToAbi(src_v4);
    config.src_v4 = src_v4[0];
    config.src_v4_prefix_len = 32;
    config.mtu = 1500;
    config.hash_seed = kHashSeed;
    ASSERT_TRUE(dataplane_->SetConfig(config).ok());
    auto balancer = Balancer::Create(dataplane_.get());
    ASSERT_TRUE(balancer.ok()) << balancer.status();
    balancer_ = *std::move(balancer);
  }

  // Runs `flow` through the balancer: the outer destination it was sent to,
  // or nullopt when it was not transmitted.
  std::optional<IpAddress> Forward(const xlb_flow& flow) {
    std::vector<uint8_t> in = Frame(flow);
    std::vector<uint8_t> out(in.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = in.data();
    opts.data_size_in = static_cast<uint32_t>(in.size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<uint32_t>(out.size());
    EXPECT_EQ(bpf_prog_test_run_opts(dataplane_->balancer_prog_fd(), &opts), 0);
    if (opts.retval != XDP_TX) return std::nullopt;
    __be32 addr[4] = {};
    std::memcpy(&addr[0], out.data() + kOuterDstOffset, 4);
    return IpAddress::FromAbi(XLB_FAMILY_V4, addr);
  }

  std::unique_ptr<Dataplane> dataplane_;
  std::unique_ptr<Balancer> balancer_;
};

xlb_flow Flow(absl::string_view src, uint16_t sport, absl::string_view dst,
              uint16_t dport, uint8_t proto) {
  xlb_flow flow{};
  flow.family = XLB_FAMILY_V4;
  flow.proto = proto;
  Ip(src).ToAbi(flow.src);
  Ip(dst).ToAbi(flow.dst);
  flow.sport = htons(sport);
  flow.dport = htons(dport);
  return flow;
}

TEST_F(ModelDataplaneTest, PacketsReachTheBackendTheModelPredicts) {
  const VipKey web{.address = Ip("192.0.2.1"), .port = 80};
  const VipKey dns{
      .address = Ip("192.0.2.2"), .port = 0, .protocol = Protocol::kUdp};
  BackendConfig drained{.address = Ip("198.51.100.4"), .drained = true};
  ChangeSet changes{
      .ops = {
          CreateVipOp{VipConfig{
              .key = web,
              .backends = {{.address = Ip("198.51.100.1")},
                           {.address = Ip("198.51.100.2"), .weight = 3},
                           {.address = Ip("198.51.100.3")},
                           drained}}},
          CreateVipOp{
              VipConfig{.key = dns,
                        .settings = {.hash_mode = HashMode::kNoSourcePort,
                                     .ring_size = 1021},
                        .backends = {{.address = Ip("198.51.100.3")},
                                     {.address = Ip("198.51.100.5")}}}},
      }};
  ASSERT_TRUE(balancer_->Apply(changes).ok());

  std::set<IpAddress> reached;
  for (int i = 0; i < 200; ++i) {
    const std::string client = absl::StrCat("203.0.113.", i % 250 + 1);
    for (const xlb_flow& flow :
         {Flow(client, 10000 + i, "192.0.2.1", 80, IPPROTO_TCP),
          Flow(client, 20000 + i, "192.0.2.2", 5353, IPPROTO_UDP)}) {
      auto predicted = balancer_->PredictBackend(flow, kHashSeed);
      ASSERT_TRUE(predicted.ok() && predicted->has_value());
      std::optional<IpAddress> sent_to = Forward(flow);
      ASSERT_TRUE(sent_to.has_value()) << "flow " << i << " not forwarded";
      EXPECT_EQ(*sent_to, (*predicted)->address) << "flow " << i;
      reached.insert(*sent_to);
    }
  }
  EXPECT_EQ(reached.size(), 4u);  // every backend but the drained one
  EXPECT_FALSE(reached.contains(Ip("198.51.100.4")));

  // After a change the data plane follows the model's new ring.
  ASSERT_TRUE(
      balancer_
          ->Apply(ChangeSet{.ops = {RemoveBackendOp{web, Ip("198.51.100.2")}}})
          .ok());
  for (int i = 0; i < 50; ++i) {
    xlb_flow flow =
        Flow("203.0.113.9", 30000 + i, "192.0.2.1", 80, IPPROTO_TCP);
    auto predicted = balancer_->PredictBackend(flow, kHashSeed);
    ASSERT_TRUE(predicted.ok() && predicted->has_value());
    EXPECT_NE((*predicted)->address, Ip("198.51.100.2"));
    EXPECT_EQ(Forward(flow), (*predicted)->address);
  }
}

}  // namespace
}  // namespace xlb
