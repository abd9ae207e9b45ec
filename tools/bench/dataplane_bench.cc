// dataplane_bench: the balancer's cost per packet, measured by the kernel
// with BPF_PROG_TEST_RUN, next to the cheapest forwarding program
// (xlb_tx_baseline: swap MACs, XDP_TX) measured in the same run.
//
//   dataplane_bench [--samples N] [--loads L] [--cpu C] [--variant NAME]
//                   [--scenario NAME]                          (root)
//
// Method (docs/benchmarks.md):
//   - every run is one BPF_PROG_TEST_RUN with repeat = 1 on a fresh copy of
//     the original frame (repeat > 1 would feed the program its own
//     encapsulated output), and its opts.duration (ns, measured by the
//     kernel around the program) is one sample;
//   - balancer and baseline runs alternate (ABBA), so drift hits both;
//   - each variant is loaded L times afresh (default 3), each load taking
//     an equal share of the samples: where the kernel places one load's
//     maps and code moves its cost by ±10-20 ns, and pooling loads
//     averages that out;
//   - every scenario checks that each balancer run returned the expected
//     action and advanced the expected counter once, so a mis-set-up
//     scenario cannot pass as a fast one.
// Output: one JSON object on stdout, for tools/bench/format.py.
//
// One program: its scenarios, variants and report stay together (~560
// lines).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "baseline.skel.h"
#include "bpf/tests/packet_builder.h"
#include "lb/dataplane/dataplane.h"
#include "lb/maglev/maglev.h"
#include "xlb_abi.h"

namespace xlb::bench {
namespace {

using testing::Bytes;
using testing::IpAddr;

// ---- The benchmark's network (documentation ranges; frames never leave
// BPF_PROG_TEST_RUN) ----

const testing::Mac kClientMac = {0x02, 0, 0, 0, 0, 0x01};
const testing::Mac kLbMac = {0x02, 0, 0, 0, 0, 0x02};
const testing::Mac kGatewayMac = {0x02, 0, 0, 0, 0, 0xfe};
constexpr uint32_t kHashSeed = 0x5eed1234;
constexpr uint32_t kMtu = 1500;
constexpr uint32_t kRingSize = 65537;
constexpr uint32_t kBackendsPerFamily = 10;
constexpr uint32_t kMaxVips = 1024;
constexpr uint32_t kMaxConns = 1u << 20;
constexpr uint64_t kTcpIdleNs = 300ull * 1000000000ull;
constexpr uint64_t kUdpIdleNs = 30ull * 1000000000ull;

IpAddr Client4() { return IpAddr::V4("198.51.100.10"); }
IpAddr Client6() { return IpAddr::V6("2001:db8:c::10"); }
IpAddr Vip4() { return IpAddr::V4("203.0.113.1"); }
IpAddr Vip4To6() { return IpAddr::V4("203.0.113.2"); }  // IPv6 backends
IpAddr Vip6() { return IpAddr::V6("2001:db8:f::1"); }
IpAddr NotVip4() { return IpAddr::V4("203.0.113.99"); }
// TCP ports 81 and 82 of Vip4 carry SYN rate limits: one high enough that
// no SYN of the benchmark is dropped for it (the path pays for the bucket,
// not for a drop), and one whose buckets are kept empty (every SYN dropped).
constexpr uint16_t kLimitedPort = 81;
constexpr uint32_t kGenerousSynLimit = 100000000;
constexpr uint16_t kExhaustedPort = 82;
constexpr uint32_t kExhaustedVipIndex = 5;

// Backends 1..10 are IPv4 (192.0.2.101..), 11..20 IPv6 (2001:db8:b::1..).
uint32_t V4Backend(uint32_t i) { return 1 + i; }
uint32_t V6Backend(uint32_t i) { return 1 + kBackendsPerFamily + i; }
uint32_t Generation(uint32_t index) { return 1000 + index; }

uint64_t CoarseNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

absl::Status PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    return absl::InternalError(
        absl::StrCat("pin to CPU ", cpu, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

std::string MaglevKey(const IpAddr& addr) {
  std::string key(17, '\0');
  key[0] = static_cast<char>(addr.family);
  std::memcpy(key.data() + 1, addr.bytes.data(), 16);
  return key;
}

// ---- Setting up the data plane ----

struct Net {
  std::unique_ptr<Dataplane> dp;
  std::vector<uint32_t> ring4, ring6;  // Maglev tables of the two families
};

absl::Status AddVip(Net& net, const IpAddr& addr, uint16_t port, uint8_t proto,
                    uint32_t index, const std::vector<uint32_t>& ring,
                    uint32_t syn_rate_limit = 0) {
  xlb_vip_key key{};
  addr.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family = static_cast<uint8_t>(addr.family);
  xlb_vip_value value{.index = index,
                      .flags = 0,
                      .ring_size = static_cast<uint32_t>(ring.size()),
                      .syn_rate_limit = syn_rate_limit};
  if (auto s = net.dp->SetRing(index, ring); !s.ok()) return s;
  return net.dp->SetVip(key, value);
}

// Loads a fresh data plane with `num_vips` entries in the vips map: the four
// the scenarios use, and fillers (each with its own ring) up to num_vips.
absl::StatusOr<Net> SetUp(int num_vips) {
  DataplaneOptions options;
  options.limits.max_vips = kMaxVips;
  options.limits.max_conns = kMaxConns;
  auto dp = Dataplane::Load(options);
  if (!dp.ok()) return dp.status();
  Net net{.dp = std::move(*dp)};

  xlb_config cfg{};
  std::copy(kLbMac.begin(), kLbMac.end(), cfg.iface_mac);
  std::copy(kGatewayMac.begin(), kGatewayMac.end(), cfg.gateway_mac);
  __be32 v4[4];
  IpAddr::V4("192.0.2.0").ToAbi(v4);
  cfg.src_v4 = v4[0];
  IpAddr::V6("2001:db8:1b::").ToAbi(cfg.src_v6);
  cfg.src_v4_prefix_len = 24;  // outer sources drawn from a prefix
  cfg.src_v6_prefix_len = 112;
  cfg.mtu = kMtu;
  cfg.hash_seed = kHashSeed;
  cfg.tcp_idle_timeout_ns = kTcpIdleNs;
  cfg.udp_idle_timeout_ns = kUdpIdleNs;
  if (auto s = net.dp->SetConfig(cfg); !s.ok()) return s;

  std::vector<MaglevBackend> be4, be6;
  for (uint32_t i = 0; i < kBackendsPerFamily; ++i) {
    IpAddr a4 = IpAddr::V4(absl::StrCat("192.0.2.", 101 + i));
    IpAddr a6 = IpAddr::V6(absl::StrCat("2001:db8:b::", i + 1));
    for (auto [addr, index, list] :
         {std::tuple{a4, V4Backend(i), &be4}, {a6, V6Backend(i), &be6}}) {
      xlb_backend b{};
      addr.ToAbi(b.addr);
      b.family = static_cast<uint8_t>(addr.family);
      b.state = XLB_BACKEND_UP;
      b.generation = Generation(index);
      if (auto s = net.dp->SetBackend(index, b); !s.ok()) return s;
      list->push_back({.key = MaglevKey(addr), .weight = 1, .index = index});
    }
  }
  auto ring4 = BuildMaglevTable(be4, kRingSize, 0);
  auto ring6 = BuildMaglevTable(be6, kRingSize, 0);
  if (!ring4.ok()) return ring4.status();
  if (!ring6.ok()) return ring6.status();
  net.ring4 = std::move(*ring4);
  net.ring6 = std::move(*ring6);

  struct {
    IpAddr addr;
    uint16_t port;
    uint8_t proto;
    const std::vector<uint32_t>* ring;
    uint32_t syn_rate_limit;
  } vips[] = {
      {Vip4(), 80, testing::kProtoTcp, &net.ring4, 0},
      {Vip4(), 53, testing::kProtoUdp, &net.ring4, 0},
      {Vip6(), 443, testing::kProtoTcp, &net.ring6, 0},
      {Vip4To6(), 80, testing::kProtoTcp, &net.ring6, 0},
      {Vip4(), kLimitedPort, testing::kProtoTcp, &net.ring4, kGenerousSynLimit},
      {Vip4(), kExhaustedPort, testing::kProtoTcp, &net.ring4, 1}};
  uint32_t index = 0;
  for (const auto& v : vips) {
    if (auto s = AddVip(net, v.addr, v.port, v.proto, index++, *v.ring,
                        v.syn_rate_limit);
        !s.ok())
      return s;
  }
  for (; static_cast<int>(index) < num_vips; ++index) {
    // Fillers: 192.0.2.0/24 and 2001:db8:100::/64, alternating families.
    IpAddr addr = index % 2 ? IpAddr::V4(absl::StrCat("192.0.2.", index % 200))
                            : IpAddr::V6(absl::StrCat("2001:db8:100::", index));
    uint16_t port = static_cast<uint16_t>(1000 + index);
    if (auto s = AddVip(net, addr, port, testing::kProtoTcp, index,
                        addr.family == 4 ? net.ring4 : net.ring6);
        !s.ok())
      return s;
  }
  return net;
}

// Writes the connection entry Maglev gives `flow` of VIP `vip_index`, as
// the flow's first packet without SYN would.
absl::Status AddConn(Net& net, const xlb_flow& flow, uint32_t vip_index,
                     const std::vector<uint32_t>& ring) {
  const uint32_t hash = testing::FlowHash(flow, kHashSeed, true);
  const uint32_t slot = testing::RingSlot(hash, kRingSize);
  xlb_conn conn{.backend = ring[slot],
                .generation = Generation(ring[slot]),
                .vip_index = vip_index,
                .hash = hash,
                .last_seen_ns = CoarseNowNs()};
  if (bpf_map_update_elem(net.dp->conns_fd(), &flow, &conn, BPF_ANY) != 0)
    return absl::InternalError(absl::StrCat("conn entry: ", strerror(errno)));
  return absl::OkStatus();
}

// Inserts `count` made-up flows (keys no scenario uses) from the calling
// CPU with bpf_map_update_batch. `salt` keeps batches apart.
absl::Status FillConns(Net& net, uint32_t count, uint32_t salt) {
  constexpr uint32_t kBatch = 65536;
  std::vector<xlb_flow> keys(kBatch);
  std::vector<xlb_conn> values(kBatch);
  const uint64_t now = CoarseNowNs();
  for (uint32_t done = 0; done < count;) {
    uint32_t n = std::min(kBatch, count - done);
    for (uint32_t i = 0; i < n; ++i) {
      xlb_flow& f = keys[i];
      std::memset(&f, 0, sizeof(f));
      f.family = XLB_FAMILY_V6;
      f.proto = testing::kProtoTcp;
      f.src[0] = htonl(0x20010db8);
      f.src[1] = htonl(salt);
      f.src[3] = htonl(done + i);
      Vip6().ToAbi(f.dst);
      f.sport = htons(static_cast<uint16_t>(1024 + (done + i) % 60000));
      f.dport = htons(443);
      values[i] = {.backend = V6Backend(0),
                   .generation = Generation(V6Backend(0)),
                   .last_seen_ns = now};
    }
    uint32_t c = n;
    if (int ret = bpf_map_update_batch(net.dp->conns_fd(), keys.data(),
                                       values.data(), &c, nullptr))
      return absl::InternalError(absl::StrCat("fill conns: ", strerror(-ret)));
    done += n;
  }
  return absl::OkStatus();
}

// ---- Scenarios ----

struct Scenario {
  std::string name;
  std::vector<Bytes> frames;  // used in turn
  int action;
  xlb_counter counter;                    // advanced once by every run
  std::function<absl::Status()> prepare;  // right before measuring
  // Nonzero: instead of `frames`, every run sends a TCP ACK of a flow of
  // its own, from 198.51.100.<new_flows_from + i / 60000>.
  int new_flows_from = 0;
};

Bytes TcpFrame(const IpAddr& src, const IpAddr& dst, uint16_t sport,
               uint16_t dport, uint8_t flags, size_t payload = 0) {
  testing::TcpFields t;
  t.sport = sport;
  t.dport = dport;
  t.flags = flags;
  if (flags & testing::kTcpAck) t.ack = 0x0a0b0c0d;
  t.payload = Bytes(payload, 0x5a);
  return testing::EthernetFrame(kLbMac, kClientMac,
                                testing::TcpPacket(src, dst, t));
}

// The buckets of every CPU for `vip_index` empty and never refilled (their
// last refill in the future): every SYN of that VIP is dropped.
absl::Status ExhaustSynBuckets(Net& net, uint32_t vip_index, int num_cpus) {
  std::vector<xlb_syn_bucket> buckets(
      num_cpus, xlb_syn_bucket{.credit_ns = 0, .refilled_ns = ~0ull});
  if (bpf_map_update_elem(net.dp->syn_buckets_fd(), &vip_index, buckets.data(),
                          BPF_ANY) != 0)
    return absl::InternalError(absl::StrCat("syn bucket: ", strerror(errno)));
  return absl::OkStatus();
}

std::vector<Scenario> Scenarios(Net& net, int num_cpus) {
  using namespace testing;
  const uint8_t kAck = kTcpAck | kTcpPsh;
  auto conn = [&net](xlb_flow flow, uint32_t vip_index,
                     const std::vector<uint32_t>* ring) {
    return [&net, flow, vip_index, ring] {
      return AddConn(net, flow, vip_index, *ring);
    };
  };
  std::vector<Scenario> s;
  s.push_back({"ipv4_syn",
               {TcpFrame(Client4(), Vip4(), 40000, 80, kTcpSyn)},
               XDP_TX,
               XLB_CNT_CONN_SYN,
               nullptr});
  s.push_back({"ipv4_syn_rate_limited",
               {TcpFrame(Client4(), Vip4(), 40000, kLimitedPort, kTcpSyn)},
               XDP_TX,
               XLB_CNT_CONN_SYN,
               nullptr});
  s.push_back({"ipv4_syn_over_limit",
               {TcpFrame(Client4(), Vip4(), 40000, kExhaustedPort, kTcpSyn)},
               XDP_DROP,
               XLB_CNT_DROP_SYN_RATE_LIMIT,
               [&net, num_cpus] {
                 return ExhaustSynBuckets(net, kExhaustedVipIndex, num_cpus);
               }});
  s.push_back(
      {"ipv4_established",
       {TcpFrame(Client4(), Vip4(), 40001, 80, kAck)},
       XDP_TX,
       XLB_CNT_CONN_HIT,
       conn(MakeFlow(Client4(), Vip4(), 40001, 80, kProtoTcp), 0, &net.ring4)});
  s.push_back(
      {"udp_established",
       {EthernetFrame(
           kLbMac, kClientMac,
           UdpPacket(Client4(), Vip4(), 40002, 53, Bytes(32, 0x5a)))},
       XDP_TX,
       XLB_CNT_CONN_HIT,
       conn(MakeFlow(Client4(), Vip4(), 40002, 53, kProtoUdp), 1, &net.ring4)});
  s.push_back({"ipv6_established",
               {TcpFrame(Client6(), Vip6(), 40003, 443, kAck)},
               XDP_TX,
               XLB_CNT_CONN_HIT,
               conn(MakeFlow(Client6(), Vip6(), 40003, 443, kProtoTcp), 2,
                    &net.ring6)});
  s.push_back({"ipv4_in_ipv6_established",
               {TcpFrame(Client4(), Vip4To6(), 40004, 80, kAck)},
               XDP_TX,
               XLB_CNT_CONN_HIT,
               conn(MakeFlow(Client4(), Vip4To6(), 40004, 80, kProtoTcp), 3,
                    &net.ring6)});
  s.push_back({"non_vip_pass",
               {TcpFrame(Client4(), NotVip4(), 40005, 80, kAck)},
               XDP_PASS,
               XLB_CNT_PASS_NOT_VIP,
               nullptr});
  // 1500-byte IP packets (DF) that no longer fit after encapsulation.
  s.push_back(
      {"ipv4_frag_needed",
       {TcpFrame(Client4(), Vip4(), 40006, 80, kAck, 1460)},
       XDP_TX,
       XLB_CNT_ICMP_FRAG_NEEDED,
       conn(MakeFlow(Client4(), Vip4(), 40006, 80, kProtoTcp), 0, &net.ring4)});
  s.push_back({"ipv6_packet_too_big",
               {TcpFrame(Client6(), Vip6(), 40007, 443, kAck, 1440)},
               XDP_TX,
               XLB_CNT_ICMP6_TOO_BIG,
               conn(MakeFlow(Client6(), Vip6(), 40007, 443, kProtoTcp), 2,
                    &net.ring6)});
  // The ACK completing a handshake: no entry, so Maglev picks the backend
  // and the entry is written (into a table with room).
  s.push_back({.name = "ipv4_handshake_ack",
               .action = XDP_TX,
               .counter = XLB_CNT_CONN_MISS,
               .new_flows_from = 200});
  // The same while this CPU's share of the LRU table is full: every run
  // evicts.
  s.push_back({.name = "conn_miss_table_full",
               .action = XDP_TX,
               .counter = XLB_CNT_CONN_MISS,
               .prepare =
                   [&net, num_cpus] {
                     // With BPF_F_NO_COMMON_LRU each CPU owns max/num_cpus
                     // entries; fill ours (the thread is pinned) past that.
                     return FillConns(net, kMaxConns / num_cpus + 4096, 0xf111);
                   },
               .new_flows_from = 100});
  return s;
}

// A TCP ACK of a flow of its own for each of `n` runs.
std::vector<Bytes> NewFlowFrames(size_t n, int first_octet) {
  std::vector<Bytes> frames;
  frames.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    IpAddr src =
        IpAddr::V4(absl::StrCat("198.51.100.", first_octet + i / 60000));
    frames.push_back(TcpFrame(src, Vip4(),
                              static_cast<uint16_t>(1024 + i % 60000), 80,
                              testing::kTcpAck));
  }
  return frames;
}

// ---- Measuring ----

struct Run {
  uint32_t ns;
  int action;
};

Run RunOnce(int prog_fd, const Bytes& frame) {
  // A fresh copy of the original frame every run: the kernel copies
  // data_in into a new buffer, and data_out is not asked for.
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) return {0, -1};
  return {opts.duration, static_cast<int>(opts.retval)};
}

struct Percentiles {
  double median = 0, p90 = 0;
};

Percentiles Summarize(std::vector<uint32_t> v) {
  std::sort(v.begin(), v.end());
  return {static_cast<double>(v[v.size() / 2]),
          static_cast<double>(v[v.size() * 9 / 10])};
}

// One scenario's samples, pooled over the loads of its variant.
struct Samples {
  std::vector<uint32_t> balancer, baseline;
  size_t runs = 0, failed = 0, wrong_action = 0, counted = 0;
};

// Runs `warmup` + `samples` pairs of `sc`, adding the measured ones to
// `out`.
absl::Status Measure(Net& net, int baseline_fd, Scenario& sc, size_t samples,
                     size_t warmup, Samples& out) {
  if (sc.prepare)
    if (auto s = sc.prepare(); !s.ok()) return s;
  const std::vector<Bytes> frames =
      sc.new_flows_from ? NewFlowFrames(warmup + samples, sc.new_flows_from)
                        : sc.frames;
  auto before = net.dp->ReadCounters();
  if (!before.ok()) return before.status();
  const int bal_fd = net.dp->balancer_prog_fd();
  const size_t total = warmup + samples;
  for (size_t i = 0; i < total; ++i) {
    const Bytes& frame = frames[i % frames.size()];
    Run b, x;
    if (i % 2 == 0) {  // ABBA: alternate which program goes first
      x = RunOnce(bal_fd, frame);
      b = RunOnce(baseline_fd, frame);
    } else {
      b = RunOnce(baseline_fd, frame);
      x = RunOnce(bal_fd, frame);
    }
    if (x.action < 0 || b.action < 0) ++out.failed;
    if (x.action != sc.action) ++out.wrong_action;
    if (i >= warmup) {
      out.balancer.push_back(x.ns);
      out.baseline.push_back(b.ns);
    }
  }
  auto after = net.dp->ReadCounters();
  if (!after.ok()) return after.status();
  out.runs += total;
  out.counted += (*after)[sc.counter] - (*before)[sc.counter];
  return absl::OkStatus();
}

struct Result {
  std::string variant, scenario;
  size_t samples = 0;
  Percentiles balancer, baseline;
  std::string check = "ok";
};

Result Summarize(const std::string& variant, const std::string& scenario,
                 const Samples& s) {
  Result r{.variant = variant, .scenario = scenario};
  r.samples = s.balancer.size();
  r.balancer = Summarize(s.balancer);
  r.baseline = Summarize(s.baseline);
  if (s.failed)
    r.check = absl::StrCat(s.failed, " runs failed");
  else if (s.wrong_action)
    r.check = absl::StrCat(s.wrong_action, " runs returned another action");
  else if (s.counted != s.runs)
    r.check = absl::StrCat("counter advanced ", s.counted, " times in ", s.runs,
                           " runs");
  return r;
}

struct ProgInfo {
  uint32_t xlated_insns = 0, jited_bytes = 0, verified_insns = 0;
};

ProgInfo GetProgInfo(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return {};
  return {info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns};
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

struct Variant {
  std::string name;
  int vips;
  uint32_t prefill_conns;
};

int Main(int argc, char** argv) {
  size_t samples = 20000;
  size_t loads = 3;
  int cpu = 1;
  std::string only, only_scenario;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) {
      samples = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--loads" && i + 1 < argc) {
      loads = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--cpu" && i + 1 < argc) {
      cpu = std::atoi(argv[++i]);
    } else if (a == "--variant" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--scenario" && i + 1 < argc) {
      only_scenario = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: dataplane_bench [--samples N] [--loads L] [--cpu C] "
                   "[--variant 1vip|100vips|1000vips|1mconns] "
                   "[--scenario NAME]\n");
      return 2;
    }
  }
  if (loads < 1) loads = 1;
  if (samples < 10 * loads) samples = 10 * loads;
  // Per load: its share of the samples, after its own warm-up.
  const size_t share = samples / loads;
  const size_t warmup = std::max<size_t>(share / 10, 100);
  const int num_cpus = libbpf_num_possible_cpus();
  if (cpu >= num_cpus) cpu = num_cpus - 1;
  if (auto s = PinToCpu(cpu); !s.ok()) {
    std::fprintf(stderr, "dataplane_bench: %s\n", s.ToString().c_str());
    return 1;
  }

  xlb_baseline* baseline = xlb_baseline__open_and_load();
  if (!baseline) {
    std::fprintf(stderr, "dataplane_bench: load baseline: %s (run as root)\n",
                 std::strerror(errno));
    return 1;
  }
  const int baseline_fd = bpf_program__fd(baseline->progs.xlb_tx_baseline);

  const Variant variants[] = {{"1vip", 1, 0},
                              {"100vips", 100, 0},
                              {"1000vips", 1000, 0},
                              {"1mconns", 1, 1000000}};
  std::vector<Result> results;
  ProgInfo bal_info;
  for (const Variant& v : variants) {
    if (!only.empty() && only != v.name) continue;
    std::vector<std::string> names;
    std::map<std::string, Samples> pooled;
    for (size_t load = 0; load < loads; ++load) {
      std::fprintf(stderr, "dataplane_bench: %s, load %zu of %zu ...\n",
                   v.name.c_str(), load + 1, loads);
      auto net = SetUp(v.vips);
      if (!net.ok()) {
        std::fprintf(stderr, "dataplane_bench: set up %s: %s\n", v.name.c_str(),
                     net.status().ToString().c_str());
        return 1;
      }
      bal_info = GetProgInfo(net->dp->balancer_prog_fd());
      if (v.prefill_conns) {
        // Spread over the CPUs' LRU lists as real traffic would.
        for (int c = 0; c < num_cpus; ++c) {
          absl::Status s = PinToCpu(c);
          if (s.ok())
            s = FillConns(*net, v.prefill_conns / num_cpus, 0x1000 + c);
          if (!s.ok()) {
            std::fprintf(stderr, "dataplane_bench: %s\n", s.ToString().c_str());
            return 1;
          }
        }
        (void)PinToCpu(cpu);
      }
      std::vector<Scenario> scenarios = Scenarios(*net, num_cpus);
      for (Scenario& sc : scenarios) {
        if (!only_scenario.empty() && only_scenario != sc.name) continue;
        if (load == 0) names.push_back(sc.name);
        if (auto s =
                Measure(*net, baseline_fd, sc, share, warmup, pooled[sc.name]);
            !s.ok()) {
          std::fprintf(stderr, "dataplane_bench: %s/%s: %s\n", v.name.c_str(),
                       sc.name.c_str(), s.ToString().c_str());
          return 1;
        }
      }
    }
    for (const std::string& name : names) {
      results.push_back(Summarize(v.name, name, pooled[name]));
    }
  }
  ProgInfo base_info = GetProgInfo(baseline_fd);
  xlb_baseline__destroy(baseline);

  std::printf(
      "{\n  \"cpu\": %d,\n  \"samples\": %zu,\n  \"loads\": %zu,\n"
      "  \"warmup\": %zu,\n",
      cpu, share * loads, loads, warmup);
  std::printf(
      "  \"balancer_prog\": {\"xlated_insns\": %u, \"jited_bytes\": %u, "
      "\"verified_insns\": %u},\n",
      bal_info.xlated_insns, bal_info.jited_bytes, bal_info.verified_insns);
  std::printf(
      "  \"baseline_prog\": {\"xlated_insns\": %u, \"jited_bytes\": %u, "
      "\"verified_insns\": %u},\n",
      base_info.xlated_insns, base_info.jited_bytes, base_info.verified_insns);
  std::printf("  \"results\": [\n");
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf(
        "    {\"variant\": %s, \"scenario\": %s, \"samples\": %zu, "
        "\"median_ns\": %.0f, \"p90_ns\": %.0f, \"baseline_median_ns\": %.0f, "
        "\"baseline_p90_ns\": %.0f, \"check\": %s}%s\n",
        JsonString(r.variant).c_str(), JsonString(r.scenario).c_str(),
        r.samples, r.balancer.median, r.balancer.p90, r.baseline.median,
        r.baseline.p90, JsonString(r.check).c_str(),
        i + 1 < results.size() ? "," : "");
  }
  std::printf("  ]\n}\n");
  return 0;
}

}  // namespace
}  // namespace xlb::bench

int main(int argc, char** argv) { return xlb::bench::Main(argc, argv); }
