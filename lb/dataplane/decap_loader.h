// Loads the backend-side decapsulation program (bpf/decap.bpf.c) onto an
// interface. Attached through netlink, so it stays after the loader exits;
// running Attach again replaces it atomically with the new address set.
#ifndef XLB_LB_DATAPLANE_DECAP_LOADER_H_
#define XLB_LB_DATAPLANE_DECAP_LOADER_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lb/base/ip_address.h"
#include "xlb_abi.h"

namespace xlb {

// Decapsulates tunnel packets addressed to one of `local_addresses` arriving
// on `ifname`; everything else passes untouched. With no local address it
// passes everything: the lab uses that on a veth peer, since veth delivers
// XDP_TX frames promptly only to a peer that has an XDP program.
absl::Status AttachDecap(const std::string& ifname,
                         const std::vector<IpAddress>& local_addresses,
                         bool generic);
absl::Status DetachDecap(const std::string& ifname);

using DecapCounters = std::array<uint64_t, XLB_DECAP_CNT_MAX>;
// Counters of the decap program attached to `ifname`, summed over CPUs.
absl::StatusOr<DecapCounters> ReadDecapCounters(const std::string& ifname);

}  // namespace xlb

#endif  // XLB_LB_DATAPLANE_DECAP_LOADER_H_
