// Maglev lookup tables (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4).
//
// A table of M entries (M prime) maps a flow hash to a backend index. Every
// host that builds a table from the same backends, weights and seed gets the
// same bytes, whatever order it was given the backends in and whatever xlb
// version it runs: a backend's place in the table depends only on XXH64 of its
// key, which lb/maglev/testdata/maglev_golden.txt pins.
//
// How the table is filled:
//   - Backends are sorted by key. Each one walks its own permutation of the
//     slots, offset = XXH64(key, 2*seed) % M and
//     skip = XXH64(key, 2*seed + 1) % (M - 1) + 1, and claims the next free
//     slot whenever it has a turn.
//   - Quotas are exact: M is apportioned over the weights by largest
//     remainder, so a backend holds floor(M*w/W) or ceil(M*w/W) entries
//     (W = sum of weights). Ties in the remainder go to the smaller key. The
//     one exception: a backend whose exact share is below one entry still
//     gets one, taken from the largest holders, so that every backend with
//     weight > 0 receives traffic.
//   - Turns are interleaved by weight (stride scheduling): a backend's k-th
//     turn falls at virtual time (k + 1/2) / w, ties going to the larger
//     weight, then to the smaller key. Every backend therefore runs through
//     its preference list at the same pace relative to its share, and with
//     equal weights this is the paper's round robin.
//
// What that buys (checked by lb/maglev/maglev_test.cc at M = 65537):
//   - Share: every backend holds floor(M*w/W) or ceil(M*w/W) entries, i.e.
//     within one entry of its ideal share, which is the best an integer table
//     can do. Relative to the ideal that is at most W/(M*w); with weights
//     1..10 and N <= 1000 the largest error measured is 0.75%.
//   - Disruption: removing one of N backends moves all of its entries and
//     changes at most 1% of M entries of the survivors (measured: 0.33%,
//     0.57% and 0.57% for N = 10, 100, 1000 with equal weights; 0.25%, 0.69%
//     and 0.79% with weights 1..10); adding it back restores the identical
//     table.
//   - Speed: about 0.9 ms for M = 65537, N = 1000 and 11 ms for M = 655373
//     on a 2-core VM (lb/maglev/maglev_bench.cc).
#ifndef XLB_LB_MAGLEV_MAGLEV_H_
#define XLB_LB_MAGLEV_MAGLEV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace xlb {

struct MaglevBackend {
  // Stable identity bytes: they decide the backend's place in every table,
  // so they must not change while the backend lives (the model passes the
  // family byte followed by the 16 address bytes).
  std::string key;
  // Relative share of the table; 0 means no entries.
  uint32_t weight = 1;
  // Value written into the table for this backend. Never 0: 0 is
  // XLB_NO_BACKEND.
  uint32_t index = 0;

  bool operator==(const MaglevBackend&) const = default;
};

// Ring sizes operators may configure, ascending primes. Each step roughly
// doubles; the largest equals XLB_MAX_RING_SIZE. Pick M of at least 100x the
// number of backends to keep shares and disruption within the bounds above.
absl::Span<const uint32_t> SupportedRingSizes();
inline constexpr uint32_t kDefaultRingSize = 65537;
bool IsSupportedRingSize(uint32_t size);

// Populates a table of `table_size` entries (a prime, at most the largest
// supported ring size). Deterministic in (set of backends, weights, seed): the
// same whatever order `backends` is given in.
// Entries are backend indexes; if no backend has weight > 0 every entry is 0
// (XLB_NO_BACKEND).
// InvalidArgument, naming the value, when: table_size is not prime or is too
// large, two backends share a key, a backend has index 0, the weights sum past
// UINT32_MAX, or more backends have weight > 0 than the table has entries.
absl::StatusOr<std::vector<uint32_t>> BuildMaglevTable(
    absl::Span<const MaglevBackend> backends, uint32_t table_size,
    uint32_t seed);

// XXH64 (the xxHash 64-bit algorithm, byte for byte): the hash that places
// backends in the table. Exposed so tests can pin it to reference values.
uint64_t XxHash64(absl::string_view data, uint64_t seed);

}  // namespace xlb

#endif  // XLB_LB_MAGLEV_MAGLEV_H_
