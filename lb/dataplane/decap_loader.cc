#include "lb/dataplane/decap_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "decap.skel.h"
#include "lb/base/unique_fd.h"

namespace xlb {
namespace {

absl::Status Errno(int ret, absl::string_view what) {
  int err = ret < 0 ? -ret : errno;
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

absl::StatusOr<int> IfIndex(const std::string& ifname) {
  unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0)
    return absl::NotFoundError(
        absl::StrCat("interface ", ifname, " does not exist"));
  return static_cast<int>(index);
}

// The id of the XDP program on `ifindex` (0: none) and its name.
absl::StatusOr<std::pair<uint32_t, std::string>> AttachedProgram(int ifindex) {
  bpf_xdp_query_opts query = {.sz = sizeof(query)};
  if (int ret = bpf_xdp_query(ifindex, 0, &query))
    return Errno(ret, "query XDP program");
  if (query.prog_id == 0) return std::make_pair(0u, std::string());
  UniqueFd fd(bpf_prog_get_fd_by_id(query.prog_id));
  if (!fd.valid()) return Errno(-errno, "open attached XDP program");
  bpf_prog_info info = {};
  uint32_t len = sizeof(info);
  if (int ret = bpf_obj_get_info_by_fd(fd.get(), &info, &len))
    return Errno(ret, "inspect attached XDP program");
  return std::make_pair(query.prog_id, std::string(info.name));
}

struct SkeletonDeleter {
  void operator()(xlb_decap* skel) const { xlb_decap__destroy(skel); }
};

}  // namespace

absl::Status AttachDecap(const std::string& ifname,
                         const std::vector<IpAddress>& local_addresses,
                         bool generic) {
  absl::StatusOr<int> ifindex = IfIndex(ifname);
  if (!ifindex.ok()) return ifindex.status();
  auto attached = AttachedProgram(*ifindex);
  if (!attached.ok()) return attached.status();
  if (attached->first != 0 && attached->second != "xlb_decap")
    return absl::FailedPreconditionError(
        absl::StrCat("interface ", ifname, " already has XDP program id ",
                     attached->first, " (", attached->second, ")"));

  std::unique_ptr<xlb_decap, SkeletonDeleter> skel(xlb_decap__open_and_load());
  if (!skel) return Errno(-errno, "load decap program");
  int addrs_fd = bpf_map__fd(skel->maps.local_addrs);
  for (const IpAddress& address : local_addresses) {
    xlb_local_addr key = {};
    key.family = address.family();
    address.ToAbi(key.addr);
    uint8_t one = 1;
    if (int ret = bpf_map_update_elem(addrs_fd, &key, &one, BPF_ANY))
      return Errno(ret, absl::StrCat("add local address ", address.ToString()));
  }
  // Flags without XDP_FLAGS_UPDATE_IF_NOEXIST: replaces our earlier program.
  uint32_t flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  if (int ret = bpf_xdp_attach(*ifindex, bpf_program__fd(skel->progs.xlb_decap),
                               flags, nullptr))
    return Errno(ret, absl::StrCat("attach decap program to ", ifname));
  return absl::OkStatus();
}

absl::Status DetachDecap(const std::string& ifname) {
  absl::StatusOr<int> ifindex = IfIndex(ifname);
  if (!ifindex.ok()) return ifindex.status();
  auto attached = AttachedProgram(*ifindex);
  if (!attached.ok()) return attached.status();
  if (attached->first == 0) return absl::OkStatus();
  if (attached->second != "xlb_decap")
    return absl::FailedPreconditionError(
        absl::StrCat("the XDP program on ", ifname, " is ", attached->second,
                     ", not xlb_decap; leaving it"));
  for (uint32_t mode : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    bpf_xdp_detach(*ifindex, mode, nullptr);
  }
  return absl::OkStatus();
}

absl::StatusOr<DecapCounters> ReadDecapCounters(const std::string& ifname) {
  absl::StatusOr<int> ifindex = IfIndex(ifname);
  if (!ifindex.ok()) return ifindex.status();
  auto attached = AttachedProgram(*ifindex);
  if (!attached.ok()) return attached.status();
  if (attached->second != "xlb_decap")
    return absl::NotFoundError(absl::StrCat("no decap program on ", ifname));
  UniqueFd prog(bpf_prog_get_fd_by_id(attached->first));
  uint32_t map_ids[8] = {};
  bpf_prog_info info = {};
  info.nr_map_ids = 8;
  info.map_ids = reinterpret_cast<uint64_t>(map_ids);
  uint32_t len = sizeof(info);
  if (!prog.valid() || bpf_obj_get_info_by_fd(prog.get(), &info, &len))
    return Errno(-errno, "inspect decap program");
  for (uint32_t i = 0; i < info.nr_map_ids && i < 8; ++i) {
    UniqueFd map(bpf_map_get_fd_by_id(map_ids[i]));
    bpf_map_info map_info = {};
    uint32_t map_len = sizeof(map_info);
    if (!map.valid() || bpf_obj_get_info_by_fd(map.get(), &map_info, &map_len))
      continue;
    if (std::string(map_info.name) != "decap_stats") continue;
    DecapCounters counters = {};
    std::vector<uint64_t> per_cpu(libbpf_num_possible_cpus());
    for (uint32_t c = 0; c < XLB_DECAP_CNT_MAX; ++c) {
      if (int ret = bpf_map_lookup_elem(map.get(), &c, per_cpu.data()))
        return Errno(ret, "read decap_stats");
      for (uint64_t v : per_cpu) counters[c] += v;
    }
    return counters;
  }
  return absl::NotFoundError("decap program has no decap_stats map");
}

}  // namespace xlb
