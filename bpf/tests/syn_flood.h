// A SYN flood against established flows, through BPF_PROG_TEST_RUN: does
// it evict their connection entries, and do they still reach their
// backends after a ring change (when only their entries keep them there)?
//
//   1. `established` flows each send a packet without SYN (what completes a
//      handshake), spread over the CPUs: each writes its entry, and its
//      backend is noted.
//   2. `syns` SYNs from as many distinct spoofed sources (address, port),
//      spread over the CPUs, go to the same VIP.
//   3. The entries of the established flows that are left are counted.
//   4. The ring changes: a new backend takes every (backends+1)-th slot, as
//      Maglev gives a new backend about 1/(N+1) of the slots.
//   5. Every established flow sends another packet; it must reach the
//      backend noted in step 1.
//
// Used by the privileged test bpf_syn_flood_test (a size that fits CI) and
// by tools/bench/syn_flood (full size, for BENCHMARKS.md).
#ifndef XLB_BPF_TESTS_SYN_FLOOD_H_
#define XLB_BPF_TESTS_SYN_FLOOD_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "xlb_abi.h"

namespace xlb::testing {

struct SynFloodOptions {
  uint32_t established = 100000;
  uint64_t syns = 10000000;
  // The connection table's size, as xlbd's --max-conns.
  uint32_t conn_capacity = XLB_DEFAULT_MAX_CONNS;
  uint32_t backends = 10;
};

struct SynFloodResult {
  uint32_t established = 0;  // flows whose entry was written in step 1
  uint32_t evicted = 0;      // of those, entries gone after the flood
  // Established flows whose ring slot the change moved: they reach their
  // backend only through their entry.
  uint32_t moved_by_ring_change = 0;
  // Established flows whose packet after the ring change went to another
  // backend than before the flood.
  uint32_t misrouted = 0;
  uint64_t syns_forwarded = 0;  // SYNs the balancer sent to a backend
  double flood_seconds = 0;     // wall time of step 2
};

// Loads a fresh balancer (its own maps, nothing pinned) and runs the steps.
// Needs root and BPF.
absl::StatusOr<SynFloodResult> RunSynFlood(const SynFloodOptions& options);

}  // namespace xlb::testing

#endif  // XLB_BPF_TESTS_SYN_FLOOD_H_
