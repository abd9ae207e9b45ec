// syn_flood: the SYN flood of bpf/tests/syn_flood.h at full size, for
// BENCHMARKS.md: how many established flows' entries 10^7 spoofed SYNs
// evict, and how many flows miss their backend after a ring change.
//
//   syn_flood [--established N] [--syns N] [--conns N]        (root)
//
// Output: one JSON object on stdout, for tools/bench/format.py. Exit status
// 1 if the run failed, 3 if an entry was evicted or a flow misrouted.
#include "bpf/tests/syn_flood.h"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  xlb::testing::SynFloodOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--established" && i + 1 < argc) {
      options.established = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--syns" && i + 1 < argc) {
      options.syns = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--conns" && i + 1 < argc) {
      options.conn_capacity = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: syn_flood [--established N] [--syns N] "
                   "[--conns N]\n");
      return 2;
    }
  }
  absl::StatusOr<xlb::testing::SynFloodResult> r =
      xlb::testing::RunSynFlood(options);
  if (!r.ok()) {
    std::fprintf(stderr, "syn_flood: %s (run as root)\n",
                 r.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "{\"established\": %u, \"syns\": %llu, \"conn_capacity\": %u, "
      "\"evicted\": %u, \"moved_by_ring_change\": %u, \"misrouted\": %u, "
      "\"syns_forwarded\": %llu, \"flood_seconds\": %.1f}\n",
      r->established, static_cast<unsigned long long>(options.syns),
      options.conn_capacity, r->evicted, r->moved_by_ring_change, r->misrouted,
      static_cast<unsigned long long>(r->syns_forwarded), r->flood_seconds);
  return r->evicted == 0 && r->misrouted == 0 ? 0 : 3;
}
