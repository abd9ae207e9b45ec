// Longer than most files (~600 lines) on purpose: loading, pinning,
// attaching and map access share the skeletons' lifetime and error paths.
#include "lb/dataplane/dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "balancer.skel.h"
#include "healthcheck.skel.h"
#include "lb/base/private_dir.h"

namespace xlb {
namespace {

constexpr uint32_t kBpffsMagic = 0xcafe4a11;
// xlb's TC filter: fixed handle and priority, so a restart replaces it.
constexpr uint32_t kTcHandle = 0x584c;
constexpr uint32_t kTcPriority = 0x584c;
constexpr char kXdpLinkPin[] = "link_xdp";

static_assert(sizeof(xlb_vip_key) == 20);
static_assert(sizeof(xlb_vip_value) == 16);
static_assert(sizeof(xlb_backend) == 24);
static_assert(sizeof(xlb_flow) == 40);
static_assert(sizeof(xlb_conn) == 24);
static_assert(sizeof(xlb_config) == 64);
static_assert(sizeof(xlb_vip_stats) == 48);
static_assert(sizeof(xlb_syn_bucket) == 16);
static_assert(sizeof(xlb_backend_stats) == 16);
static_assert(sizeof(xlb_local_addr) == 20);

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case E2BIG:
    case ENOSPC:
    case ENOMEM:
      return absl::StatusCode::kResourceExhausted;
    case EINVAL:
      return absl::StatusCode::kInvalidArgument;
    case EPERM:
    case EACCES:
      return absl::StatusCode::kPermissionDenied;
    case EEXIST:
    case EBUSY:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

// libbpf returns -errno; the message names the operation and the object.
absl::Status BpfError(int ret, absl::string_view what) {
  int err = ret < 0 ? -ret : errno;
  return absl::Status(CodeForErrno(err),
                      absl::StrCat(what, ": ", std::strerror(err)));
}

uint32_t ProgId(int prog_fd) {
  bpf_prog_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len)) return 0;
  return info.id;
}

absl::StatusOr<int> InterfaceIndex(const std::string& ifname) {
  unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0)
    return absl::NotFoundError(
        absl::StrCat("interface ", ifname, " does not exist"));
  return static_cast<int>(index);
}

}  // namespace

absl::Status CheckBpffs(const std::string& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0)
    return absl::NotFoundError(
        absl::StrCat("pin directory ", dir, ": ", std::strerror(errno)));
  if (static_cast<uint32_t>(fs.f_type) != kBpffsMagic)
    return absl::FailedPreconditionError(absl::StrCat(
        "pin directory ", dir,
        " is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Dataplane>> Dataplane::Load(
    const DataplaneOptions& options) {
  const DataplaneLimits& l = options.limits;
  if (l.max_vips == 0 || l.max_backends < 2 || l.max_conns == 0 ||
      l.max_ring_size == 0 || l.max_ring_size > XLB_MAX_RING_SIZE)
    return absl::InvalidArgumentError(absl::StrCat(
        "data-plane sizes: vips ", l.max_vips, ", backends ", l.max_backends,
        ", conns ", l.max_conns, ", ring size ", l.max_ring_size,
        " (need vips >= 1, backends >= 2, conns >= 1, ring size <= ",
        XLB_MAX_RING_SIZE, ")"));
  if (!options.pin_dir.empty()) {
    // Whoever can write the directory can delete the pins: owner only.
    if (auto s =
            PreparePrivateDirectory(options.pin_dir, 0700, "pin directory");
        !s.ok())
      return s;
    if (auto s = CheckBpffs(options.pin_dir); !s.ok()) return s;
  }

  xlb_balancer* bal = xlb_balancer__open();
  if (!bal) return BpfError(-errno, "open balancer object");
  std::unique_ptr<Dataplane> dp(
      new Dataplane(options, bal, /*healthcheck=*/nullptr));

  struct {
    bpf_map* map;
    uint32_t size;
  } sizes[] = {
      {bal->maps.vips, l.max_vips},
      {bal->maps.rings, l.max_vips},
      {bal->maps.vip_stats, l.max_vips},
      {bal->maps.syn_buckets, l.max_vips},
      {bal->maps.backends, l.max_backends},
      {bal->maps.backend_stats, l.max_backends},
      {bal->maps.conns, l.max_conns},
  };
  for (auto& [map, size] : sizes) {
    if (int ret = bpf_map__set_max_entries(map, size))
      return BpfError(ret, absl::StrCat("size map ", bpf_map__name(map)));
  }
  bpf_map* pinned[] = {
      bal->maps.vips,      bal->maps.rings,         bal->maps.backends,
      bal->maps.conns,     bal->maps.config,        bal->maps.stats,
      bal->maps.vip_stats, bal->maps.backend_stats, bal->maps.syn_buckets};
  if (!options.pin_dir.empty()) {
    for (bpf_map* map : pinned) {
      std::string path = dp->PinPath(bpf_map__name(map));
      if (int ret = bpf_map__set_pin_path(map, path.c_str()))
        return BpfError(ret, absl::StrCat("pin path ", path));
    }
  }
  // Each CPU admits its share of a VIP's SYN rate limit; receive queues
  // are spread over the CPUs online.
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  bal->rodata->syn_limit_cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  if (int ret = xlb_balancer__load(bal))
    return BpfError(
        ret, absl::StrCat("load balancer program (a pinned map whose "
                          "layout differs is refused: see `xlbd --remove`)"));

  xlb_healthcheck* hc = xlb_healthcheck__open();
  if (!hc) return BpfError(-errno, "open health-probe object");
  dp->healthcheck_ = hc;
  // The probe program reads the balancer's own backends and config.
  if (int ret =
          bpf_map__reuse_fd(hc->maps.backends, bpf_map__fd(bal->maps.backends)))
    return BpfError(ret, "share backends map with health-probe program");
  if (int ret =
          bpf_map__reuse_fd(hc->maps.config, bpf_map__fd(bal->maps.config)))
    return BpfError(ret, "share config map with health-probe program");
  if (!options.pin_dir.empty()) {
    std::string path = dp->PinPath("hc_stats");
    if (int ret = bpf_map__set_pin_path(hc->maps.hc_stats, path.c_str()))
      return BpfError(ret, absl::StrCat("pin path ", path));
  }
  if (int ret = xlb_healthcheck__load(hc))
    return BpfError(ret, "load health-probe program");
  return dp;
}

Dataplane::Dataplane(DataplaneOptions options, xlb_balancer* balancer,
                     xlb_healthcheck* healthcheck)
    : options_(std::move(options)),
      limits_(options_.limits),
      balancer_(balancer),
      healthcheck_(healthcheck),
      num_cpus_(libbpf_num_possible_cpus()) {}

Dataplane::~Dataplane() {
  xlb_healthcheck__destroy(healthcheck_);
  xlb_balancer__destroy(balancer_);
}

std::string Dataplane::PinPath(const std::string& name) const {
  return absl::StrCat(options_.pin_dir, "/", name);
}

int Dataplane::balancer_prog_fd() const {
  return bpf_program__fd(balancer_->progs.xlb_balancer);
}
int Dataplane::healthcheck_prog_fd() const {
  return bpf_program__fd(healthcheck_->progs.xlb_healthcheck);
}
int Dataplane::conns_fd() const { return bpf_map__fd(balancer_->maps.conns); }
int Dataplane::syn_buckets_fd() const {
  return bpf_map__fd(balancer_->maps.syn_buckets);
}
uint32_t Dataplane::balancer_prog_id() const {
  return ProgId(balancer_prog_fd());
}
uint32_t Dataplane::healthcheck_prog_id() const {
  return ProgId(healthcheck_prog_fd());
}

absl::Status Dataplane::AttachXdp(const std::string& ifname, XdpMode mode) {
  absl::StatusOr<int> ifindex = InterfaceIndex(ifname);
  if (!ifindex.ok()) return ifindex.status();

  std::string link_pin = PinPath(kXdpLinkPin);
  if (!options_.pin_dir.empty()) {
    UniqueFd link(bpf_obj_get(link_pin.c_str()));
    bpf_link_info info = {};
    uint32_t len = sizeof(info);
    if (link.valid() && bpf_obj_get_info_by_fd(link.get(), &info, &len) == 0 &&
        info.xdp.ifindex == 0) {
      // Its interface was deleted: the link is defunct, start afresh.
      unlink(link_pin.c_str());
      link.reset();
    }
    if (link.valid()) {
      if (static_cast<int>(info.xdp.ifindex) != *ifindex)
        return absl::FailedPreconditionError(
            absl::StrCat("pinned XDP link ", link_pin,
                         " is attached to interface index ", info.xdp.ifindex,
                         ", not ", ifname, "; remove the data plane first"));
      // Upgrade in place: the new program replaces the old one atomically.
      if (int ret = bpf_link_update(link.get(), balancer_prog_fd(), nullptr))
        return BpfError(ret, absl::StrCat("replace XDP program on ", ifname));
      xdp_link_ = std::move(link);
      return absl::OkStatus();
    }
  }

  bpf_xdp_query_opts query = {.sz = sizeof(query)};
  if (int ret = bpf_xdp_query(*ifindex, 0, &query))
    return BpfError(ret, absl::StrCat("query XDP on ", ifname));
  if (query.prog_id || query.drv_prog_id || query.skb_prog_id)
    return absl::FailedPreconditionError(absl::StrCat(
        "interface ", ifname, " already has XDP program id ",
        query.prog_id
            ? query.prog_id
            : (query.drv_prog_id ? query.drv_prog_id : query.skb_prog_id),
        "; detach it first (ip link set dev ", ifname, " xdp off)"));

  LIBBPF_OPTS(bpf_link_create_opts, link_opts);
  link_opts.flags =
      mode == XdpMode::kGeneric ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  UniqueFd link(
      bpf_link_create(balancer_prog_fd(), *ifindex, BPF_XDP, &link_opts));
  if (!link.valid())
    return BpfError(
        -errno, absl::StrCat("attach XDP (",
                             mode == XdpMode::kGeneric ? "generic" : "native",
                             ") to ", ifname));
  if (!options_.pin_dir.empty()) {
    if (int ret = bpf_obj_pin(link.get(), link_pin.c_str()))
      return BpfError(ret, absl::StrCat("pin XDP link ", link_pin));
  }
  xdp_link_ = std::move(link);
  return absl::OkStatus();
}

absl::Status Dataplane::AttachHealthcheck(const std::string& ifname) {
  absl::StatusOr<int> ifindex = InterfaceIndex(ifname);
  if (!ifindex.ok()) return ifindex.status();
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = *ifindex,
              .attach_point = BPF_TC_EGRESS);
  int ret = bpf_tc_hook_create(&hook);
  if (ret && ret != -EEXIST)
    return BpfError(ret, absl::StrCat("create clsact qdisc on ", ifname));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = healthcheck_prog_fd(),
              .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
              .priority = kTcPriority);
  if ((ret = bpf_tc_attach(&hook, &opts)))
    return BpfError(ret, absl::StrCat("attach TC egress on ", ifname));
  return absl::OkStatus();
}

absl::Status Dataplane::Remove(const std::string& pin_dir,
                               const std::string& ifname) {
  if (absl::StatusOr<int> ifindex = InterfaceIndex(ifname); ifindex.ok()) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = *ifindex,
                .attach_point = BPF_TC_EGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle,
                .priority = kTcPriority);
    int ret = bpf_tc_detach(&hook, &opts);
    if (ret && ret != -ENOENT && ret != -EINVAL)
      return BpfError(ret, absl::StrCat("detach TC egress on ", ifname));
  }
  std::string link_pin = absl::StrCat(pin_dir, "/", kXdpLinkPin);
  UniqueFd link(bpf_obj_get(link_pin.c_str()));
  if (link.valid()) {
    if (int ret = bpf_link_detach(link.get()))
      return BpfError(ret, absl::StrCat("detach XDP link ", link_pin));
  }
  std::error_code ec;
  if (!std::filesystem::exists(pin_dir, ec)) return absl::OkStatus();
  for (const auto& entry : std::filesystem::directory_iterator(pin_dir, ec))
    std::filesystem::remove(entry.path(), ec);
  std::filesystem::remove(pin_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("remove pins in ", pin_dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status Dataplane::SetConfig(const xlb_config& config) {
  uint32_t zero = 0;
  if (int ret = bpf_map_update_elem(bpf_map__fd(balancer_->maps.config), &zero,
                                    &config, BPF_ANY))
    return BpfError(ret, "write config map");
  return absl::OkStatus();
}

absl::StatusOr<xlb_config> Dataplane::GetConfig() {
  uint32_t zero = 0;
  xlb_config config;
  if (int ret = bpf_map_lookup_elem(bpf_map__fd(balancer_->maps.config), &zero,
                                    &config))
    return BpfError(ret, "read config map");
  return config;
}

template <typename T>
absl::StatusOr<T> Dataplane::ReadPerCpu(int fd, uint32_t index,
                                        const char* map) {
  std::vector<T> per_cpu(num_cpus_);
  if (int ret = bpf_map_lookup_elem(fd, &index, per_cpu.data()))
    return BpfError(ret, absl::StrCat("read ", map, "[", index, "]"));
  T sum = {};
  for (const T& v : per_cpu) {
    if constexpr (std::is_same_v<T, uint64_t>) {
      sum += v;
    } else {
      // Counter structs are all __u64 fields.
      auto* out = reinterpret_cast<uint64_t*>(&sum);
      const auto* in = reinterpret_cast<const uint64_t*>(&v);
      for (size_t i = 0; i < sizeof(T) / sizeof(uint64_t); ++i) out[i] += in[i];
    }
  }
  return sum;
}

absl::StatusOr<StatCounters> Dataplane::ReadCounters() {
  StatCounters counters = {};
  int fd = bpf_map__fd(balancer_->maps.stats);
  for (uint32_t i = 0; i < XLB_CNT_MAX; ++i) {
    absl::StatusOr<uint64_t> v = ReadPerCpu<uint64_t>(fd, i, "stats");
    if (!v.ok()) return v.status();
    counters[i] = *v;
  }
  return counters;
}

absl::StatusOr<xlb_vip_stats> Dataplane::ReadVipStats(uint32_t vip_index) {
  return ReadPerCpu<xlb_vip_stats>(bpf_map__fd(balancer_->maps.vip_stats),
                                   vip_index, "vip_stats");
}

absl::StatusOr<xlb_backend_stats> Dataplane::ReadBackendStats(
    uint32_t backend_index) {
  return ReadPerCpu<xlb_backend_stats>(
      bpf_map__fd(balancer_->maps.backend_stats), backend_index,
      "backend_stats");
}

absl::StatusOr<uint32_t> Dataplane::CountConns() {
  int fd = conns_fd();
  xlb_flow key, next;
  uint32_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    ++n;
    key = next;
    prev = &key;
  }
  return n;
}

namespace {

// The memory the kernel charges for the map behind `fd` (its fdinfo
// "memlock" line: what the kernel reports as the map's memory usage).
absl::StatusOr<uint64_t> KernelMapBytes(int fd, absl::string_view name) {
  std::ifstream fdinfo(absl::StrCat("/proc/self/fdinfo/", fd));
  std::string line;
  while (std::getline(fdinfo, line)) {
    uint64_t bytes = 0;
    if (std::sscanf(line.c_str(), "memlock: %lu", &bytes) == 1) return bytes;
  }
  return absl::InternalError(
      absl::StrCat("map ", name, ": no memlock figure in fdinfo of fd ", fd));
}

}  // namespace

absl::Status Dataplane::SetBackend(uint32_t index, const xlb_backend& backend) {
  if (index == XLB_NO_BACKEND || index >= limits_.max_backends)
    return absl::OutOfRangeError(absl::StrCat(
        "backend index ", index, " outside 1..", limits_.max_backends - 1));
  if (int ret = bpf_map_update_elem(bpf_map__fd(balancer_->maps.backends),
                                    &index, &backend, BPF_ANY))
    return BpfError(ret, absl::StrCat("write backends[", index, "]"));
  return absl::OkStatus();
}

absl::StatusOr<xlb_backend> Dataplane::GetBackend(uint32_t index) {
  xlb_backend backend;
  if (int ret = bpf_map_lookup_elem(bpf_map__fd(balancer_->maps.backends),
                                    &index, &backend))
    return BpfError(ret, absl::StrCat("read backends[", index, "]"));
  return backend;
}

absl::Status Dataplane::SetVip(const xlb_vip_key& key,
                               const xlb_vip_value& value) {
  if (int ret = bpf_map_update_elem(bpf_map__fd(balancer_->maps.vips), &key,
                                    &value, BPF_ANY))
    return BpfError(ret, absl::StrCat("write vips (index ", value.index, ")"));
  return absl::OkStatus();
}

absl::Status Dataplane::DeleteVip(const xlb_vip_key& key) {
  if (int ret = bpf_map_delete_elem(bpf_map__fd(balancer_->maps.vips), &key))
    return BpfError(ret, "delete from vips");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<xlb_vip_key, xlb_vip_value>>>
Dataplane::ListVips() {
  int fd = bpf_map__fd(balancer_->maps.vips);
  std::vector<std::pair<xlb_vip_key, xlb_vip_value>> out;
  xlb_vip_key key, next;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    xlb_vip_value value;
    if (bpf_map_lookup_elem(fd, &next, &value) == 0)
      out.emplace_back(next, value);
    key = next;
    prev = &key;
  }
  return out;
}

namespace {

// The ring map `vip_index` points at in the array of maps `rings`.
struct RingMap {
  UniqueFd fd;
  uint32_t id = 0;
  uint32_t entries = 0;
};

absl::StatusOr<RingMap> OpenRing(int rings, uint32_t vip_index) {
  RingMap ring;
  if (int ret = bpf_map_lookup_elem(rings, &vip_index, &ring.id))
    return BpfError(ret, absl::StrCat("ring for VIP index ", vip_index));
  ring.fd.reset(bpf_map_get_fd_by_id(ring.id));
  if (!ring.fd.valid())
    return BpfError(-errno, absl::StrCat("open ring map id ", ring.id));
  bpf_map_info info = {};
  uint32_t len = sizeof(info);
  if (int ret = bpf_obj_get_info_by_fd(ring.fd.get(), &info, &len))
    return BpfError(ret, absl::StrCat("inspect ring map id ", ring.id));
  ring.entries = info.max_entries;
  return ring;
}

}  // namespace

absl::Status Dataplane::SetRing(uint32_t vip_index,
                                absl::Span<const uint32_t> ring) {
  if (ring.empty() || ring.size() > limits_.max_ring_size)
    return absl::InvalidArgumentError(
        absl::StrCat("ring of ", ring.size(), " entries for VIP index ",
                     vip_index, " (limit ", limits_.max_ring_size, ")"));
  LIBBPF_OPTS(bpf_map_create_opts, create, .map_flags = BPF_F_INNER_MAP);
  UniqueFd inner(bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_ring",
                                sizeof(uint32_t), sizeof(uint32_t), ring.size(),
                                &create));
  if (!inner.valid())
    return BpfError(-errno,
                    absl::StrCat("create ring for VIP index ", vip_index));
  std::vector<uint32_t> keys(ring.size());
  std::iota(keys.begin(), keys.end(), 0);
  uint32_t count = ring.size();
  if (int ret = bpf_map_update_batch(inner.get(), keys.data(), ring.data(),
                                     &count, nullptr))
    return BpfError(ret, absl::StrCat("fill ring for VIP index ", vip_index));
  int inner_fd = inner.get();
  if (int ret = bpf_map_update_elem(bpf_map__fd(balancer_->maps.rings),
                                    &vip_index, &inner_fd, BPF_ANY))
    return BpfError(ret,
                    absl::StrCat("swap in ring for VIP index ", vip_index));
  return absl::OkStatus();
}

absl::Status Dataplane::UpdateRing(uint32_t vip_index,
                                   absl::Span<const uint32_t> held,
                                   absl::Span<const uint32_t> ring) {
  absl::StatusOr<RingMap> current =
      OpenRing(bpf_map__fd(balancer_->maps.rings), vip_index);
  if (!current.ok()) return current.status();
  if (held.size() != ring.size() || current->entries != ring.size())
    return absl::InvalidArgumentError(
        absl::StrCat("ring of ", ring.size(), " entries over one of ",
                     current->entries, " for VIP index ", vip_index));
  std::vector<uint32_t> slots, backends;
  for (uint32_t slot = 0; slot < ring.size(); ++slot) {
    if (held[slot] == ring[slot]) continue;
    slots.push_back(slot);
    backends.push_back(ring[slot]);
  }
  uint32_t count = slots.size();
  if (count == 0) return absl::OkStatus();
  if (int ret = bpf_map_update_batch(current->fd.get(), slots.data(),
                                     backends.data(), &count, nullptr))
    return BpfError(ret, absl::StrCat("update ring for VIP index ", vip_index));
  return absl::OkStatus();
}

absl::Status Dataplane::DeleteRing(uint32_t vip_index) {
  int ret = bpf_map_delete_elem(bpf_map__fd(balancer_->maps.rings), &vip_index);
  if (ret && ret != -ENOENT)
    return BpfError(ret, absl::StrCat("delete ring for VIP index ", vip_index));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint32_t>> Dataplane::GetRing(uint32_t vip_index) {
  absl::StatusOr<RingMap> inner =
      OpenRing(bpf_map__fd(balancer_->maps.rings), vip_index);
  if (!inner.ok()) return inner.status();
  std::vector<uint32_t> keys(inner->entries), ring(inner->entries);
  uint32_t count = inner->entries;
  uint32_t out_batch = 0;
  int ret = bpf_map_lookup_batch(inner->fd.get(), nullptr, &out_batch,
                                 keys.data(), ring.data(), &count, nullptr);
  if ((ret && ret != -ENOENT) || count != inner->entries)
    return BpfError(ret ? ret : -EIO,
                    absl::StrCat("read ring map id ", inner->id));
  return ring;
}

absl::StatusOr<std::vector<MapMemory>> Dataplane::ReadMapMemory() {
  std::vector<MapMemory> out;
  bpf_map* maps[] = {balancer_->maps.vips,        balancer_->maps.rings,
                     balancer_->maps.backends,    balancer_->maps.conns,
                     balancer_->maps.config,      balancer_->maps.stats,
                     balancer_->maps.vip_stats,   balancer_->maps.backend_stats,
                     balancer_->maps.syn_buckets, healthcheck_->maps.hc_stats};
  for (bpf_map* map : maps) {
    MapMemory m{.name = bpf_map__name(map),
                .max_entries = bpf_map__max_entries(map)};
    absl::StatusOr<uint64_t> bytes = KernelMapBytes(bpf_map__fd(map), m.name);
    if (!bytes.ok()) return bytes.status();
    m.bytes = *bytes;
    out.push_back(std::move(m));
  }
  // The outer rings map holds only ids; the tables are its inner maps.
  const int rings = bpf_map__fd(balancer_->maps.rings);
  for (uint32_t vip = 0; vip < limits_.max_vips; ++vip) {
    absl::StatusOr<RingMap> ring = OpenRing(rings, vip);
    if (!ring.ok()) {
      if (absl::IsNotFound(ring.status())) continue;
      return ring.status();
    }
    absl::StatusOr<uint64_t> bytes = KernelMapBytes(ring->fd.get(), "ring");
    if (!bytes.ok()) return bytes.status();
    out[1].bytes += *bytes;
  }
  return out;
}

absl::Status Dataplane::DeleteConns(const std::set<uint32_t>& vip_indexes) {
  if (vip_indexes.empty()) return absl::OkStatus();
  // Walk the table in batches (one syscall per batch, not per entry), then
  // delete what belongs to the given VIPs.
  constexpr uint32_t kBatch = 4096;
  const int fd = conns_fd();
  std::vector<xlb_flow> keys(kBatch), doomed;
  std::vector<xlb_conn> values(kBatch);
  xlb_flow in_batch, out_batch;
  bool first = true;
  while (true) {
    uint32_t count = kBatch;
    int ret = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch,
                                   keys.data(), values.data(), &count, nullptr);
    if (ret && ret != -ENOENT) return BpfError(ret, "walk conns");
    for (uint32_t i = 0; i < count; ++i) {
      if (vip_indexes.contains(values[i].vip_index)) doomed.push_back(keys[i]);
    }
    if (ret == -ENOENT) break;
    in_batch = out_batch;
    first = false;
  }
  for (const xlb_flow& key : doomed) {
    int ret = bpf_map_delete_elem(fd, &key);
    if (ret && ret != -ENOENT) return BpfError(ret, "delete from conns");
  }
  return absl::OkStatus();
}

}  // namespace xlb
