// GoogleTest fixtures that load one xlb BPF program from its generated
// skeleton, fill its maps, run frames through it with BPF_PROG_TEST_RUN and
// read its per-CPU counters. One fresh object (fresh maps) per test.
#ifndef XLB_BPF_TESTS_BPF_FIXTURE_H_
#define XLB_BPF_TESTS_BPF_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "bpf/tests/packet_builder.h"
#include "gtest/gtest.h"
#include "xlb_abi.h"

struct bpf_object;

namespace xlb::testing {

struct RunResult {
  int action = -1;  // the program's return value; -1 if the run failed
  Bytes frame;      // the frame after the program
  int error = 0;    // BPF_PROG_TEST_RUN's error (negative errno), 0 if it ran
};

// Passes when `actual` equals `expected` byte for byte; otherwise explains
// where they differ with both hex dumps.
::testing::AssertionResult SameBytes(const Bytes& actual,
                                     const Bytes& expected);

class BpfProgramTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // The loaded object's map by name; fails the test if absent (-1).
  int MapFd(const char* name);
  void UpdateElem(const char* map, const void* key, const void* value);
  // False when the key is absent.
  bool LookupElem(const char* map, const void* key, void* value);
  // Sums a per-CPU array element of 64-bit words over every possible CPU.
  std::vector<uint64_t> SumPerCpuWords(const char* map, uint32_t index,
                                       size_t value_size);
  uint64_t SumPerCpuU64(const char* map, uint32_t index) {
    return SumPerCpuWords(map, index, sizeof(uint64_t))[0];
  }

  // Runs an XDP frame. With meta_len > 0 the first meta_len bytes of `frame`
  // are passed as XDP metadata, so the packet itself may be shorter than the
  // 14 bytes BPF_PROG_TEST_RUN otherwise insists on (kernels that check the
  // packet, not the buffer, refuse it: pass fail_on_error = false and look
  // at RunResult::error).
  RunResult RunXdp(const Bytes& frame, uint32_t meta_len = 0,
                   bool fail_on_error = true);
  // Runs a TC frame with skb->mark = mark; the mark afterwards in *mark_out.
  RunResult RunTc(const Bytes& frame, uint32_t mark,
                  uint32_t* mark_out = nullptr);

  // Set by the derived fixture's SetUp.
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  std::function<void()> destroy_;
  void FindProgram(const char* name);
};

// Addresses, MACs and config shared by the balancer and health-check tests.
struct TestNet {
  static Mac ClientMac() { return MacFromString("02:00:00:00:00:01"); }
  static Mac LbMac() { return MacFromString("02:00:00:00:00:02"); }
  // Deliberately different from LbMac: the outer source MAC must come from
  // config, not from the received frame.
  static Mac IfaceMac() { return MacFromString("02:00:00:00:00:0a"); }
  static Mac GatewayMac() { return MacFromString("02:00:00:00:00:fe"); }
  static IpAddr Client4() { return IpAddr::V4("198.51.100.10"); }
  static IpAddr Client6() { return IpAddr::V6("2001:db8:c::10"); }
  static IpAddr Vip4() { return IpAddr::V4("203.0.113.1"); }
  static IpAddr Vip6() { return IpAddr::V6("2001:db8:f::1"); }
  static IpAddr LbSrc4() { return IpAddr::V4("192.0.2.1"); }
  static IpAddr LbSrc6() { return IpAddr::V6("2001:db8:1b::1"); }
  static constexpr uint32_t kHashSeed = 0x5eed1234;
  static constexpr uint32_t kMtu = 1500;
  // config with exact outer sources (/32, /128), MTU 1500, no idle timeouts.
  static xlb_config DefaultConfig();
};

// The CPUs BalancerTest loads the balancer with as sharing a VIP's SYN rate
// limit (the loader sets the CPUs online).
inline constexpr uint32_t kSynLimitCpus = 4;

// Step 9 as `config` asks for it: `inner` (a whole IP packet) encapsulated
// to `backend`, the outer source drawn from the config's prefix with `hash`.
Bytes EncapsulatedFrame(const xlb_config& config, const Bytes& inner,
                        const IpAddr& backend, uint32_t hash);

class BalancerTest : public BpfProgramTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  void SetConfig(const xlb_config& config);
  void SetVip(const IpAddr& addr, uint16_t port, uint8_t proto,
              const xlb_vip_value& value);
  void SetBackend(uint32_t index, const IpAddr& addr, uint8_t state,
                  uint32_t generation);
  // Builds a new inner ring array and swaps it in for vip_index.
  void SetRing(uint32_t vip_index, const std::vector<uint32_t>& ring);
  void SetConn(const xlb_flow& flow, const xlb_conn& conn);
  std::optional<xlb_conn> GetConn(const xlb_flow& flow);

  // Sets every CPU's bucket of `vip_index` to `bucket`.
  void SetSynBucket(uint32_t vip_index, const xlb_syn_bucket& bucket);
  // Every CPU's bucket of `vip_index`.
  std::vector<xlb_syn_bucket> SynBuckets(uint32_t vip_index);

  uint64_t Counter(xlb_counter counter);
  xlb_vip_stats VipStats(uint32_t vip_index);
  xlb_backend_stats BackendStats(uint32_t backend_index);

  RunResult Run(const Bytes& frame, uint32_t meta_len = 0,
                bool fail_on_error = true) {
    return RunXdp(frame, meta_len, fail_on_error);
  }

  // Small enough to load fast; the tests hold a handful of flows.
  static constexpr uint32_t kTestConnCapacity = 4096;

 private:
  std::vector<int> ring_fds_;
};

class DecapTest : public BpfProgramTest {
 protected:
  void SetUp() override;
  void AddLocalAddr(const IpAddr& addr);
  uint64_t Counter(xlb_decap_counter counter);
  RunResult Run(const Bytes& frame) { return RunXdp(frame); }
};

class HealthcheckTest : public BpfProgramTest {
 protected:
  void SetUp() override;
  void SetConfig(const xlb_config& config);
  void SetBackend(uint32_t index, const IpAddr& addr, uint8_t state,
                  uint32_t generation);
  uint64_t Counter(xlb_hc_counter counter);
  RunResult Run(const Bytes& frame, uint32_t mark,
                uint32_t* mark_out = nullptr) {
    return RunTc(frame, mark, mark_out);
  }
};

}  // namespace xlb::testing

#endif  // XLB_BPF_TESTS_BPF_FIXTURE_H_
