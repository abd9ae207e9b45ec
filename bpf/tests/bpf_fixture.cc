#include "bpf/tests/bpf_fixture.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>

#include "balancer.skel.h"
#include "decap.skel.h"
#include "healthcheck.skel.h"
#include "lb/testing/privilege.h"

namespace xlb::testing {
namespace {

// Room for everything a program may add (at most a 40-byte outer header).
constexpr size_t kOutputSlack = 64;

std::string Errno(int err) { return std::strerror(err < 0 ? -err : err); }

// One run of `frame`; the output goes to `out` (its size is the room given).
bpf_test_run_opts MakeRunOpts(const Bytes& frame, Bytes& out) {
  bpf_test_run_opts opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = 1;
  return opts;
}

}  // namespace

::testing::AssertionResult SameBytes(const Bytes& actual,
                                     const Bytes& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  size_t first = 0;
  while (first < actual.size() && first < expected.size() &&
         actual[first] == expected[first]) {
    ++first;
  }
  return ::testing::AssertionFailure()
         << "frames differ: actual " << actual.size() << " bytes, expected "
         << expected.size() << " bytes, first difference at offset " << first
         << "\nactual:\n"
         << HexDump(actual) << "\nexpected:\n"
         << HexDump(expected);
}

// ---- BpfProgramTest ----

void BpfProgramTest::TearDown() {
  if (destroy_) destroy_();
  destroy_ = nullptr;
  obj_ = nullptr;
  prog_fd_ = -1;
}

void BpfProgramTest::FindProgram(const char* name) {
  bpf_program* prog = bpf_object__find_program_by_name(obj_, name);
  ASSERT_NE(prog, nullptr) << "no program " << name << " in the object";
  prog_fd_ = bpf_program__fd(prog);
  ASSERT_GE(prog_fd_, 0) << "program " << name << " has no fd";
}

int BpfProgramTest::MapFd(const char* name) {
  bpf_map* map = obj_ ? bpf_object__find_map_by_name(obj_, name) : nullptr;
  if (map == nullptr) {
    ADD_FAILURE() << "no map named " << name << " in the object";
    return -1;
  }
  return bpf_map__fd(map);
}

void BpfProgramTest::UpdateElem(const char* map, const void* key,
                                const void* value) {
  const int err = bpf_map_update_elem(MapFd(map), key, value, BPF_ANY);
  ASSERT_EQ(err, 0) << "update of map " << map << ": " << Errno(errno);
}

bool BpfProgramTest::LookupElem(const char* map, const void* key, void* value) {
  return bpf_map_lookup_elem(MapFd(map), key, value) == 0;
}

std::vector<uint64_t> BpfProgramTest::SumPerCpuWords(const char* map,
                                                     uint32_t index,
                                                     size_t value_size) {
  const int ncpus = libbpf_num_possible_cpus();
  const size_t stride = (value_size + 7) / 8;  // per-CPU values are 8-aligned
  std::vector<uint64_t> raw(static_cast<size_t>(std::max(ncpus, 1)) * stride);
  std::vector<uint64_t> sum(value_size / 8, 0);
  if (ncpus <= 0) {
    ADD_FAILURE() << "libbpf_num_possible_cpus: " << Errno(ncpus);
    return sum;
  }
  if (bpf_map_lookup_elem(MapFd(map), &index, raw.data()) != 0) {
    ADD_FAILURE() << "lookup of " << map << "[" << index
                  << "]: " << Errno(errno);
    return sum;
  }
  for (int cpu = 0; cpu < ncpus; ++cpu) {
    for (size_t w = 0; w < sum.size(); ++w) sum[w] += raw[cpu * stride + w];
  }
  return sum;
}

RunResult BpfProgramTest::RunXdp(const Bytes& frame, uint32_t meta_len,
                                 bool fail_on_error) {
  RunResult result;
  Bytes out(std::max<size_t>(frame.size() + kOutputSlack, 256));
  xdp_md ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  ctx.data = meta_len;
  ctx.data_end = static_cast<uint32_t>(frame.size());
  bpf_test_run_opts opts = MakeRunOpts(frame, out);
  if (meta_len) {
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  const int err = bpf_prog_test_run_opts(prog_fd_, &opts);
  if (err != 0) {
    if (fail_on_error) {
      ADD_FAILURE() << "BPF_PROG_TEST_RUN (xdp): " << Errno(err);
    }
    result.error = err;
    return result;
  }
  out.resize(opts.data_size_out);
  if (meta_len) {
    // The output starts at the metadata; drop it.
    out.erase(out.begin(),
              out.begin() + std::min<size_t>(meta_len, out.size()));
  }
  result.action = static_cast<int>(opts.retval);
  result.frame = std::move(out);
  return result;
}

RunResult BpfProgramTest::RunTc(const Bytes& frame, uint32_t mark,
                                uint32_t* mark_out) {
  RunResult result;
  Bytes out(std::max<size_t>(frame.size() + kOutputSlack, 256));
  __sk_buff ctx_in;
  std::memset(&ctx_in, 0, sizeof(ctx_in));
  ctx_in.mark = mark;
  __sk_buff ctx_out;
  std::memset(&ctx_out, 0, sizeof(ctx_out));
  bpf_test_run_opts opts = MakeRunOpts(frame, out);
  opts.ctx_in = &ctx_in;
  opts.ctx_size_in = sizeof(ctx_in);
  opts.ctx_out = &ctx_out;
  opts.ctx_size_out = sizeof(ctx_out);
  const int err = bpf_prog_test_run_opts(prog_fd_, &opts);
  if (err != 0) {
    ADD_FAILURE() << "BPF_PROG_TEST_RUN (tc): " << Errno(err);
    result.error = err;
    return result;
  }
  out.resize(opts.data_size_out);
  result.action = static_cast<int>(opts.retval);
  result.frame = std::move(out);
  if (mark_out) *mark_out = ctx_out.mark;
  return result;
}

// ---- TestNet ----

xlb_config TestNet::DefaultConfig() {
  xlb_config c;
  std::memset(&c, 0, sizeof(c));
  const Mac iface = IfaceMac(), gateway = GatewayMac();
  std::copy(iface.begin(), iface.end(), c.iface_mac);
  std::copy(gateway.begin(), gateway.end(), c.gateway_mac);
  __be32 v4[4];
  LbSrc4().ToAbi(v4);
  c.src_v4 = v4[0];
  LbSrc6().ToAbi(c.src_v6);
  c.src_v4_prefix_len = 32;
  c.src_v6_prefix_len = 128;
  c.mtu = kMtu;
  c.hash_seed = kHashSeed;
  c.tcp_idle_timeout_ns = 0;
  c.udp_idle_timeout_ns = 0;
  return c;
}

Bytes EncapsulatedFrame(const xlb_config& config, const Bytes& inner,
                        const IpAddr& backend, uint32_t hash) {
  EncapParams p;
  std::copy(std::begin(config.gateway_mac), std::end(config.gateway_mac),
            p.gateway_mac.begin());
  std::copy(std::begin(config.iface_mac), std::end(config.iface_mac),
            p.iface_mac.begin());
  p.backend = backend;
  p.hash = hash;
  IpAddr base;
  base.family = backend.family;
  if (backend.family == 4) {
    std::memcpy(base.bytes.data(), &config.src_v4, 4);
    p.outer_src = OuterSourceV4(base, config.src_v4_prefix_len, hash);
  } else {
    std::memcpy(base.bytes.data(), config.src_v6, 16);
    p.outer_src = OuterSourceV6(base, config.src_v6_prefix_len, hash);
  }
  return EncapsulatedFrame(p, inner);
}

// ---- BalancerTest ----

void BalancerTest::SetUp() {
  RequirePrivilege();
  if (IsSkipped() || HasFatalFailure()) return;
  xlb_balancer* skel = xlb_balancer__open();
  ASSERT_NE(skel, nullptr) << "xlb_balancer__open: " << Errno(errno);
  destroy_ = [skel] { xlb_balancer__destroy(skel); };
  obj_ = skel->obj;
  bpf_map* conns = bpf_object__find_map_by_name(obj_, "conns");
  ASSERT_NE(conns, nullptr) << "no conns map";
  ASSERT_EQ(bpf_map__set_max_entries(conns, kTestConnCapacity), 0);
  skel->rodata->syn_limit_cpus = kSynLimitCpus;
  const int err = xlb_balancer__load(skel);
  ASSERT_EQ(err, 0) << "xlb_balancer__load: " << Errno(err);
  ASSERT_NO_FATAL_FAILURE(FindProgram("xlb_balancer"));
  ASSERT_NO_FATAL_FAILURE(SetConfig(TestNet::DefaultConfig()));
}

void BalancerTest::TearDown() {
  BpfProgramTest::TearDown();
  for (int fd : ring_fds_) close(fd);
  ring_fds_.clear();
}

void BalancerTest::SetConfig(const xlb_config& config) {
  const uint32_t zero = 0;
  UpdateElem("config", &zero, &config);
}

void BalancerTest::SetVip(const IpAddr& addr, uint16_t port, uint8_t proto,
                          const xlb_vip_value& value) {
  xlb_vip_key key;
  std::memset(&key, 0, sizeof(key));
  addr.ToAbi(key.addr);
  key.port = htons(port);
  key.proto = proto;
  key.family =
      static_cast<uint8_t>(addr.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6);
  UpdateElem("vips", &key, &value);
}

void BalancerTest::SetBackend(uint32_t index, const IpAddr& addr, uint8_t state,
                              uint32_t generation) {
  xlb_backend b;
  std::memset(&b, 0, sizeof(b));
  addr.ToAbi(b.addr);
  b.family =
      static_cast<uint8_t>(addr.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6);
  b.state = state;
  b.generation = generation;
  UpdateElem("backends", &index, &b);
}

void BalancerTest::SetRing(uint32_t vip_index,
                           const std::vector<uint32_t>& ring) {
  bpf_map_create_opts opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  opts.map_flags = BPF_F_INNER_MAP;
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_ring", 4, 4,
                                static_cast<uint32_t>(ring.size()), &opts);
  ASSERT_GE(fd, 0) << "creating a ring of " << ring.size() << ": "
                   << Errno(errno);
  ring_fds_.push_back(fd);
  for (uint32_t i = 0; i < ring.size(); ++i) {
    ASSERT_EQ(bpf_map_update_elem(fd, &i, &ring[i], BPF_ANY), 0)
        << "ring[" << i << "]: " << Errno(errno);
  }
  ASSERT_EQ(bpf_map_update_elem(MapFd("rings"), &vip_index, &fd, BPF_ANY), 0)
      << "rings[" << vip_index << "]: " << Errno(errno);
}

void BalancerTest::SetConn(const xlb_flow& flow, const xlb_conn& conn) {
  UpdateElem("conns", &flow, &conn);
}

std::optional<xlb_conn> BalancerTest::GetConn(const xlb_flow& flow) {
  xlb_conn conn;
  if (!LookupElem("conns", &flow, &conn)) return std::nullopt;
  return conn;
}

void BalancerTest::SetSynBucket(uint32_t vip_index,
                                const xlb_syn_bucket& bucket) {
  const int ncpus = libbpf_num_possible_cpus();
  ASSERT_GT(ncpus, 0) << "libbpf_num_possible_cpus: " << Errno(ncpus);
  std::vector<xlb_syn_bucket> all(ncpus, bucket);
  UpdateElem("syn_buckets", &vip_index, all.data());
}

std::vector<xlb_syn_bucket> BalancerTest::SynBuckets(uint32_t vip_index) {
  const int ncpus = libbpf_num_possible_cpus();
  std::vector<xlb_syn_bucket> all(std::max(ncpus, 1));
  if (!LookupElem("syn_buckets", &vip_index, all.data())) {
    ADD_FAILURE() << "lookup of syn_buckets[" << vip_index
                  << "]: " << Errno(errno);
  }
  return all;
}

uint64_t BalancerTest::Counter(xlb_counter counter) {
  return SumPerCpuU64("stats", counter);
}

xlb_vip_stats BalancerTest::VipStats(uint32_t vip_index) {
  static_assert(sizeof(xlb_vip_stats) % 8 == 0);
  const auto words =
      SumPerCpuWords("vip_stats", vip_index, sizeof(xlb_vip_stats));
  xlb_vip_stats s;
  std::memcpy(&s, words.data(), sizeof(s));
  return s;
}

xlb_backend_stats BalancerTest::BackendStats(uint32_t backend_index) {
  static_assert(sizeof(xlb_backend_stats) % 8 == 0);
  const auto words =
      SumPerCpuWords("backend_stats", backend_index, sizeof(xlb_backend_stats));
  xlb_backend_stats s;
  std::memcpy(&s, words.data(), sizeof(s));
  return s;
}

// ---- DecapTest ----

void DecapTest::SetUp() {
  RequirePrivilege();
  if (IsSkipped() || HasFatalFailure()) return;
  xlb_decap* skel = xlb_decap__open();
  ASSERT_NE(skel, nullptr) << "xlb_decap__open: " << Errno(errno);
  destroy_ = [skel] { xlb_decap__destroy(skel); };
  obj_ = skel->obj;
  const int err = xlb_decap__load(skel);
  ASSERT_EQ(err, 0) << "xlb_decap__load: " << Errno(err);
  ASSERT_NO_FATAL_FAILURE(FindProgram("xlb_decap"));
}

void DecapTest::AddLocalAddr(const IpAddr& addr) {
  xlb_local_addr key;
  std::memset(&key, 0, sizeof(key));
  addr.ToAbi(key.addr);
  key.family =
      static_cast<uint8_t>(addr.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6);
  const uint8_t one = 1;
  UpdateElem("local_addrs", &key, &one);
}

uint64_t DecapTest::Counter(xlb_decap_counter counter) {
  return SumPerCpuU64("decap_stats", counter);
}

// ---- HealthcheckTest ----

void HealthcheckTest::SetUp() {
  RequirePrivilege();
  if (IsSkipped() || HasFatalFailure()) return;
  xlb_healthcheck* skel = xlb_healthcheck__open();
  ASSERT_NE(skel, nullptr) << "xlb_healthcheck__open: " << Errno(errno);
  destroy_ = [skel] { xlb_healthcheck__destroy(skel); };
  obj_ = skel->obj;
  const int err = xlb_healthcheck__load(skel);
  ASSERT_EQ(err, 0) << "xlb_healthcheck__load: " << Errno(err);
  ASSERT_NO_FATAL_FAILURE(FindProgram("xlb_healthcheck"));
  ASSERT_NO_FATAL_FAILURE(SetConfig(TestNet::DefaultConfig()));
}

void HealthcheckTest::SetConfig(const xlb_config& config) {
  const uint32_t zero = 0;
  UpdateElem("config", &zero, &config);
}

void HealthcheckTest::SetBackend(uint32_t index, const IpAddr& addr,
                                 uint8_t state, uint32_t generation) {
  xlb_backend b;
  std::memset(&b, 0, sizeof(b));
  addr.ToAbi(b.addr);
  b.family =
      static_cast<uint8_t>(addr.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6);
  b.state = state;
  b.generation = generation;
  UpdateElem("backends", &index, &b);
}

uint64_t HealthcheckTest::Counter(xlb_hc_counter counter) {
  return SumPerCpuU64("hc_stats", counter);
}

}  // namespace xlb::testing
