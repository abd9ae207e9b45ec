#include "bpf/tests/syn_flood.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "balancer.skel.h"
#include "bpf/tests/bpf_fixture.h"
#include "bpf/tests/packet_builder.h"

namespace xlb::testing {
namespace {

constexpr uint32_t kRingSize = 65537;
constexpr uint16_t kVipPort = 80;
constexpr uint32_t kVipIndex = 0;
constexpr uint32_t kPortsPerAddress = 64512;  // source ports 1024..65535
// Offsets in an Ethernet + IPv4 (no options) + TCP frame.
constexpr size_t kSrcAddrOffset = kEthHeaderLen + 12;
constexpr size_t kSrcPortOffset = kEthHeaderLen + 20;
constexpr size_t kOuterDstOffset = kEthHeaderLen + 16;  // after encapsulation

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

IpAddr BackendAddr(uint32_t index) {
  return IpAddr::V4(absl::StrCat("192.0.2.", 100 + index));
}

// Established flow k: 198.51.100.0/24, every port of one address in turn.
IpAddr EstablishedSource(uint32_t k) {
  return IpAddr::V4(absl::StrCat("198.51.100.", k % 256));
}
uint16_t EstablishedPort(uint32_t k) {
  return static_cast<uint16_t>(1024 + k / 256);
}

// A frame of the VIP's TCP traffic from `src`:`sport` with `flags`.
Bytes Frame(const IpAddr& src, uint16_t sport, uint8_t flags) {
  TcpFields t;
  t.sport = sport;
  t.dport = kVipPort;
  t.flags = flags;
  if (flags & kTcpAck) t.ack = 1;
  return EthernetFrame(TestNet::LbMac(), TestNet::ClientMac(),
                       TcpPacket(src, TestNet::Vip4(), t));
}

// Rewrites the source of `frame` in place (the balancer does not verify
// checksums, so they are left as they are).
void SetSource(Bytes& frame, const uint8_t addr[4], uint16_t port) {
  std::memcpy(frame.data() + kSrcAddrOffset, addr, 4);
  frame[kSrcPortOffset] = static_cast<uint8_t>(port >> 8);
  frame[kSrcPortOffset + 1] = static_cast<uint8_t>(port);
}

// The CPUs this process may run on, and a guard that restores its
// affinity.
class CpuPinning {
 public:
  CpuPinning() {
    CPU_ZERO(&original_);
    sched_getaffinity(0, sizeof(original_), &original_);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &original_)) cpus_.push_back(cpu);
    }
  }
  ~CpuPinning() { sched_setaffinity(0, sizeof(original_), &original_); }
  const std::vector<int>& cpus() const { return cpus_; }
  absl::Status PinTo(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      return Errno(absl::StrCat("pin to CPU ", cpu));
    }
    return absl::OkStatus();
  }

 private:
  cpu_set_t original_;
  std::vector<int> cpus_;
};

class Flood {
 public:
  explicit Flood(const SynFloodOptions& options) : options_(options) {}
  ~Flood() {
    if (skel_ != nullptr) xlb_balancer__destroy(skel_);
    if (ring_fd_ >= 0) close(ring_fd_);
  }

  absl::StatusOr<SynFloodResult> Run() {
    if (options_.backends == 0 || options_.established == 0 ||
        options_.established > 256 * kPortsPerAddress ||
        options_.syns > 512ull * kPortsPerAddress) {
      return absl::InvalidArgumentError(absl::StrCat(
          "syn flood: ", options_.established, " established flows, ",
          options_.syns, " SYNs, ", options_.backends, " backends"));
    }
    if (absl::Status s = Load(); !s.ok()) return s;
    if (absl::Status s = Establish(); !s.ok()) return s;
    if (absl::Status s = SendSyns(); !s.ok()) return s;
    CountEntries();
    if (absl::Status s = ChangeRing(); !s.ok()) return s;
    if (absl::Status s = CheckFlows(); !s.ok()) return s;
    return result_;
  }

 private:
  absl::Status Load() {
    skel_ = xlb_balancer__open();
    if (skel_ == nullptr) return Errno("open balancer");
    if (bpf_map__set_max_entries(skel_->maps.conns, options_.conn_capacity)) {
      return Errno("size conns");
    }
    skel_->rodata->syn_limit_cpus =
        static_cast<uint32_t>(pinning_.cpus().size());
    if (int err = xlb_balancer__load(skel_)) {
      errno = -err;
      return Errno("load balancer");
    }
    prog_fd_ = bpf_program__fd(skel_->progs.xlb_balancer);
    const uint32_t zero = 0;
    const xlb_config config = TestNet::DefaultConfig();
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.config), &zero, &config,
                            BPF_ANY)) {
      return Errno("write config");
    }
    // Backends 1..N, and N+1 for the ring change.
    for (uint32_t i = 1; i <= options_.backends + 1; ++i) {
      xlb_backend b{};
      BackendAddr(i).ToAbi(b.addr);
      b.family = XLB_FAMILY_V4;
      b.state = XLB_BACKEND_UP;
      b.generation = 1;
      if (bpf_map_update_elem(bpf_map__fd(skel_->maps.backends), &i, &b,
                              BPF_ANY)) {
        return Errno("write backend");
      }
    }
    ring_before_.resize(kRingSize);
    ring_after_.resize(kRingSize);
    for (uint32_t slot = 0; slot < kRingSize; ++slot) {
      ring_before_[slot] = 1 + slot % options_.backends;
      ring_after_[slot] = slot % (options_.backends + 1) == 0
                              ? options_.backends + 1
                              : ring_before_[slot];
    }
    LIBBPF_OPTS(bpf_map_create_opts, create, .map_flags = BPF_F_INNER_MAP);
    ring_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flood_ring", 4, 4, kRingSize,
                              &create);
    if (ring_fd_ < 0) return Errno("create ring");
    if (absl::Status s = WriteRing(ring_before_); !s.ok()) return s;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.rings), &kVipIndex,
                            &ring_fd_, BPF_ANY)) {
      return Errno("install ring");
    }
    xlb_vip_key key{};
    TestNet::Vip4().ToAbi(key.addr);
    key.port = htons(kVipPort);
    key.proto = kProtoTcp;
    key.family = XLB_FAMILY_V4;
    xlb_vip_value value{};
    value.index = kVipIndex;
    value.ring_size = kRingSize;
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.vips), &key, &value,
                            BPF_ANY)) {
      return Errno("write VIP");
    }
    return absl::OkStatus();
  }

  absl::Status WriteRing(const std::vector<uint32_t>& ring) {
    std::vector<uint32_t> slots(kRingSize);
    std::iota(slots.begin(), slots.end(), 0);
    uint32_t count = kRingSize;
    if (bpf_map_update_batch(ring_fd_, slots.data(), ring.data(), &count,
                             nullptr)) {
      return Errno("write ring");
    }
    return absl::OkStatus();
  }

  // Runs `frame`; with `backend`, the backend it was sent to (0 if it was
  // not forwarded).
  absl::StatusOr<int> RunFrame(const Bytes& frame, uint32_t* backend) {
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()),
                .repeat = 1);
    if (backend != nullptr) {
      opts.data_out = out;
      opts.data_size_out = sizeof(out);
    }
    if (bpf_prog_test_run_opts(prog_fd_, &opts) != 0) {
      return Errno("BPF_PROG_TEST_RUN");
    }
    if (backend != nullptr) {
      *backend = 0;
      if (opts.retval == XDP_TX && opts.data_size_out >= kOuterDstOffset + 4) {
        *backend = out[kOuterDstOffset + 3] - 100u;
      }
    }
    return static_cast<int>(opts.retval);
  }

  // Runs `per_flow(k)` for k in [0, n), each CPU taking a contiguous share.
  template <typename F>
  absl::Status OnEveryCpu(uint64_t n, F per_flow) {
    const std::vector<int>& cpus = pinning_.cpus();
    for (size_t c = 0; c < cpus.size(); ++c) {
      if (absl::Status s = pinning_.PinTo(cpus[c]); !s.ok()) return s;
      const uint64_t first = n * c / cpus.size();
      const uint64_t last = n * (c + 1) / cpus.size();
      for (uint64_t k = first; k < last; ++k) {
        if (absl::Status s = per_flow(k); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Establish() {
    backend_of_.assign(options_.established, 0);
    Bytes ack = Frame(EstablishedSource(0), 0, kTcpAck);
    return OnEveryCpu(options_.established, [&](uint64_t k) -> absl::Status {
      SetSource(ack, EstablishedSource(k).bytes.data(), EstablishedPort(k));
      absl::StatusOr<int> action = RunFrame(ack, &backend_of_[k]);
      if (!action.ok()) return action.status();
      if (*action != XDP_TX) {
        return absl::InternalError(
            absl::StrCat("established flow ", k, ": action ", *action));
      }
      ++result_.established;
      return absl::OkStatus();
    });
  }

  absl::Status SendSyns() {
    Bytes syn = Frame(IpAddr::V4("192.0.2.0"), 0, kTcpSyn);
    const auto start = std::chrono::steady_clock::now();
    absl::Status status =
        OnEveryCpu(options_.syns, [&](uint64_t j) -> absl::Status {
          // 192.0.2.0/24 and 203.0.113.0/24, every port of each in turn.
          const uint32_t host = j % 512;
          const uint8_t low = static_cast<uint8_t>(host % 256);
          const uint8_t test_net_1[4] = {192, 0, 2, low};
          const uint8_t test_net_3[4] = {203, 0, 113, low};
          SetSource(syn, host < 256 ? test_net_1 : test_net_3,
                    static_cast<uint16_t>(1024 + (j / 512) % kPortsPerAddress));
          absl::StatusOr<int> action = RunFrame(syn, nullptr);
          if (!action.ok()) return action.status();
          result_.syns_forwarded += *action == XDP_TX;
          return absl::OkStatus();
        });
    result_.flood_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return status;
  }

  xlb_flow FlowOf(uint32_t k) const {
    return MakeFlow(EstablishedSource(k), TestNet::Vip4(), EstablishedPort(k),
                    kVipPort, kProtoTcp);
  }

  void CountEntries() {
    const int conns = bpf_map__fd(skel_->maps.conns);
    for (uint32_t k = 0; k < options_.established; ++k) {
      const xlb_flow flow = FlowOf(k);
      xlb_conn conn;
      if (bpf_map_lookup_elem(conns, &flow, &conn) != 0) ++result_.evicted;
    }
  }

  absl::Status ChangeRing() { return WriteRing(ring_after_); }

  absl::Status CheckFlows() {
    const uint32_t seed = TestNet::DefaultConfig().hash_seed;
    Bytes data = Frame(EstablishedSource(0), 0, kTcpAck | kTcpPsh);
    return OnEveryCpu(options_.established, [&](uint64_t k) -> absl::Status {
      const uint32_t slot =
          RingSlot(FlowHash(FlowOf(k), seed, true), kRingSize);
      result_.moved_by_ring_change += ring_after_[slot] != ring_before_[slot];
      SetSource(data, EstablishedSource(k).bytes.data(), EstablishedPort(k));
      uint32_t backend = 0;
      absl::StatusOr<int> action = RunFrame(data, &backend);
      if (!action.ok()) return action.status();
      result_.misrouted += backend != backend_of_[k];
      return absl::OkStatus();
    });
  }

  const SynFloodOptions options_;
  CpuPinning pinning_;
  xlb_balancer* skel_ = nullptr;
  int prog_fd_ = -1;
  int ring_fd_ = -1;
  std::vector<uint32_t> ring_before_, ring_after_;
  std::vector<uint32_t> backend_of_;  // per established flow
  SynFloodResult result_;
};

}  // namespace

absl::StatusOr<SynFloodResult> RunSynFlood(const SynFloodOptions& options) {
  return Flood(options).Run();
}

}  // namespace xlb::testing
