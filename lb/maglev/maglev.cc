#include "lb/maglev/maglev.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <queue>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace xlb {
namespace {

// Roughly doubling primes; the last is XLB_MAX_RING_SIZE (bpf/xlb_abi.h).
constexpr uint32_t kRingSizes[] = {1021,  2039,   4093,   8191,   16381, 32749,
                                   65537, 131071, 262139, 524287, 655373};
constexpr uint32_t kMaxTableSize = kRingSizes[std::size(kRingSizes) - 1];

constexpr uint64_t kXxPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kXxPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kXxPrime3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kXxPrime4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kXxPrime5 = 0x27D4EB2F165667C5ULL;

constexpr uint64_t RotateLeft(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// Little-endian reads byte by byte: the hash must not depend on the host.
uint64_t Read64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t Read32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t XxRound(uint64_t acc, uint64_t input) {
  acc += input * kXxPrime2;
  acc = RotateLeft(acc, 31);
  return acc * kXxPrime1;
}

uint64_t XxMergeRound(uint64_t acc, uint64_t val) {
  acc ^= XxRound(0, val);
  return acc * kXxPrime1 + kXxPrime4;
}

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

// One backend's walk through its permutation of the table's slots.
struct Walker {
  uint32_t next = 0;  // the slot it tries at its next turn
  uint32_t skip = 1;
  uint32_t index = 0;
  uint32_t weight = 0;
  uint32_t quota = 0;         // entries it ends up holding
  uint32_t count = 0;         // entries it holds so far
  uint32_t inverse_skip = 0;  // skip^-1 mod M, computed when first needed
};

// Backends of one weight take their turns together, in key order.
struct WeightClass {
  uint32_t weight = 0;
  uint32_t round = 0;             // turns each member has had
  std::vector<uint32_t> members;  // walkers still below quota
};

// Does turn `round_a` of weight `weight_a` come before turn `round_b` of
// weight `weight_b`? Turn k of weight w falls at virtual time (2k + 1) / (2w);
// at equal times the larger weight goes first.
bool TurnIsEarlier(uint64_t round_a, uint32_t weight_a, uint64_t round_b,
                   uint32_t weight_b) {
  using Wide = unsigned __int128;
  const Wide time_a = Wide{2 * round_a + 1} * weight_b;
  const Wide time_b = Wide{2 * round_b + 1} * weight_a;
  if (time_a != time_b) return time_a < time_b;
  return weight_a > weight_b;
}

// Largest-remainder apportionment of `table_size` over the walkers' weights,
// then at least one entry for every walker (see the header).
void AssignQuotas(std::vector<Walker>& walkers, uint32_t table_size,
                  uint64_t weight_sum) {
  std::vector<uint64_t> remainder(walkers.size());
  uint64_t assigned = 0;
  for (size_t i = 0; i < walkers.size(); ++i) {
    const uint64_t exact = uint64_t{table_size} * walkers[i].weight;
    walkers[i].quota = static_cast<uint32_t>(exact / weight_sum);
    remainder[i] = exact % weight_sum;
    assigned += walkers[i].quota;
  }
  const size_t leftover = table_size - assigned;  // < walkers.size()
  if (leftover > 0) {
    std::vector<uint32_t> order(walkers.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    auto larger_remainder = [&](uint32_t a, uint32_t b) {
      if (remainder[a] != remainder[b]) return remainder[a] > remainder[b];
      return a < b;  // walkers are in key order
    };
    std::nth_element(order.begin(), order.begin() + (leftover - 1), order.end(),
                     larger_remainder);
    for (size_t i = 0; i < leftover; ++i) ++walkers[order[i]].quota;
  }

  // A walker with quota 0 takes one entry from the largest holder. There is
  // always one holding two or more: walkers.size() <= table_size.
  auto smaller_holder = [&](uint32_t a, uint32_t b) {
    if (walkers[a].quota != walkers[b].quota) {
      return walkers[a].quota < walkers[b].quota;
    }
    return a > b;
  };
  std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(smaller_holder)>
      holders(smaller_holder);
  bool any_empty = false;
  for (uint32_t i = 0; i < walkers.size(); ++i) {
    if (walkers[i].quota == 0) any_empty = true;
  }
  if (!any_empty) return;
  for (uint32_t i = 0; i < walkers.size(); ++i) {
    if (walkers[i].quota >= 2) holders.push(i);
  }
  for (Walker& w : walkers) {
    if (w.quota != 0) continue;
    const uint32_t donor = holders.top();
    holders.pop();
    --walkers[donor].quota;
    w.quota = 1;
    if (walkers[donor].quota >= 2) holders.push(donor);
  }
}

// Below this many free slots a walker finds its next free slot by checking
// each free slot's distance along its permutation instead of probing: probing
// costs about M / free probes, the check costs `free` steps. Tuned with
// lb/maglev/maglev_bench.cc; the result is the same either way.
constexpr uint32_t kFreeListThreshold = 256;

// Weight classes whose weights sum to at most this get their turn order
// precomputed for one unit of virtual time (it repeats every unit); others
// are ordered by a heap. Both give the same order.
constexpr uint64_t kMaxTurnPatternLength = 4096;

// Writes walkers into the table, one turn at a time.
class TableFiller {
 public:
  explicit TableFiller(std::vector<uint32_t>& table)
      : table_(table),
        table_size_(static_cast<uint32_t>(table.size())),
        reciprocal_(~uint64_t{0} / table_size_),
        taken_((table_size_ + 63) / 64, 0),
        free_count_(table_size_) {
    if (free_count_ <= kFreeListThreshold) CollectFreeSlots();
  }

  // Gives every member one entry: the first free slot on its permutation.
  // Drops members that reached their quota.
  void TakeTurns(std::vector<Walker>& walkers, WeightClass& wc) {
    // Locals, not members, in the hot loop, so the compiler need not reload
    // them after every store.
    const uint32_t size = table_size_;
    uint64_t* const taken = taken_.data();
    uint32_t* const table = table_.data();
    uint32_t* const members = wc.members.data();
    const size_t count = wc.members.size();
    size_t kept = 0;
    for (size_t i = 0; i < count; ++i) {
      const uint32_t id = members[i];
      Walker& w = walkers[id];
      const uint32_t skip = w.skip;
      uint32_t slot;
      if (free_count_ > kFreeListThreshold) {
        // Two slots per step, tested without a branch each: the loop exit
        // is unpredictable, so fewer, larger steps mispredict less often.
        slot = w.next;
        for (;;) {
          const uint32_t second = Advance(slot, skip, size);
          const bool first_free = !IsTaken(taken, slot);
          const bool second_free = !IsTaken(taken, second);
          if (first_free | second_free) {
            slot = first_free ? slot : second;
            break;
          }
          slot = Advance(second, skip, size);
        }
        MarkTaken(taken, slot);
        if (--free_count_ == kFreeListThreshold) CollectFreeSlots();
      } else {
        slot = ClaimFromFreeList(w);
      }
      w.next = Advance(slot, skip, size);
      table[slot] = w.index;
      if (++w.count < w.quota) members[kept++] = id;
    }
    wc.members.resize(kept);
    ++wc.round;
  }

 private:
  static bool IsTaken(const uint64_t* taken, uint32_t slot) {
    return (taken[slot / 64] >> (slot % 64)) & 1;
  }

  static void MarkTaken(uint64_t* taken, uint32_t slot) {
    taken[slot / 64] |= uint64_t{1} << (slot % 64);
  }

  static uint32_t Advance(uint32_t slot, uint32_t skip, uint32_t size) {
    slot += skip;  // both < size <= 2^20: no overflow
    return slot >= size ? slot - size : slot;
  }

  // x mod table_size for x < 2^64, by a precomputed reciprocal (Barrett).
  uint32_t Mod(uint64_t x) const {
    const uint64_t q = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(x) * reciprocal_) >> 64);
    uint64_t r = x - q * table_size_;
    if (r >= table_size_) r -= table_size_;
    return static_cast<uint32_t>(r);
  }

  void CollectFreeSlots() {
    free_slots_.reserve(free_count_);
    for (uint32_t slot = 0; slot < table_size_; ++slot) {
      if (!IsTaken(taken_.data(), slot)) free_slots_.push_back(slot);
    }
  }

  // The walker reaches free slot f after ((f - next) * skip^-1) mod M steps;
  // the one it reaches first is the slot probing would have found.
  uint32_t ClaimFromFreeList(Walker& w) {
    if (w.inverse_skip == 0) w.inverse_skip = InverseMod(w.skip);
    const uint32_t back = table_size_ - w.next;
    size_t best = 0;
    uint32_t best_steps = table_size_;
    for (size_t i = 0; i < free_slots_.size(); ++i) {
      const uint32_t distance = Advance(free_slots_[i], back, table_size_);
      const uint32_t steps = Mod(uint64_t{distance} * w.inverse_skip);
      if (steps < best_steps) {
        best_steps = steps;
        best = i;
      }
    }
    const uint32_t slot = free_slots_[best];
    free_slots_[best] = free_slots_.back();
    free_slots_.pop_back();
    MarkTaken(taken_.data(), slot);
    --free_count_;
    return slot;
  }

  // skip^-1 mod table_size (a prime), by the extended Euclidean algorithm.
  uint32_t InverseMod(uint32_t skip) const {
    int64_t r0 = table_size_, r1 = skip, t0 = 0, t1 = 1;
    while (r1 != 0) {
      const int64_t q = r0 / r1;
      std::tie(r0, r1) = std::make_pair(r1, r0 - q * r1);
      std::tie(t0, t1) = std::make_pair(t1, t0 - q * t1);
    }
    return static_cast<uint32_t>(t0 < 0 ? t0 + table_size_ : t0);
  }

  std::vector<uint32_t>& table_;
  const uint32_t table_size_;
  const uint64_t reciprocal_;
  std::vector<uint64_t> taken_;  // bitmap: stays in L1 at the default size
  uint32_t free_count_;
  std::vector<uint32_t> free_slots_;  // filled once free_count_ is small
};

// The order in which classes take turns within one unit of virtual time, or
// empty if that order is longer than kMaxTurnPatternLength.
std::vector<uint32_t> TurnPattern(const std::vector<WeightClass>& classes) {
  uint64_t length = 0;
  for (const WeightClass& wc : classes) length += wc.weight;
  if (length > kMaxTurnPatternLength) return {};
  struct Turn {
    uint32_t round;
    uint32_t weight;
    uint32_t class_id;
  };
  std::vector<Turn> turns;
  turns.reserve(length);
  for (uint32_t c = 0; c < classes.size(); ++c) {
    for (uint32_t k = 0; k < classes[c].weight; ++k) {
      turns.push_back({k, classes[c].weight, c});
    }
  }
  std::sort(turns.begin(), turns.end(), [](const Turn& a, const Turn& b) {
    return TurnIsEarlier(a.round, a.weight, b.round, b.weight);
  });
  std::vector<uint32_t> pattern;
  pattern.reserve(length);
  for (const Turn& t : turns) pattern.push_back(t.class_id);
  return pattern;
}

// Fills `table` by giving weight classes their turns in virtual-time order.
void Populate(std::vector<Walker>& walkers, std::vector<uint32_t>& table) {
  std::vector<uint32_t> by_weight(walkers.size());
  for (uint32_t i = 0; i < by_weight.size(); ++i) by_weight[i] = i;
  std::stable_sort(by_weight.begin(), by_weight.end(),
                   [&](uint32_t a, uint32_t b) {
                     return walkers[a].weight > walkers[b].weight;
                   });
  std::vector<WeightClass> classes;
  for (uint32_t i : by_weight) {
    if (classes.empty() || classes.back().weight != walkers[i].weight) {
      classes.push_back(WeightClass{.weight = walkers[i].weight});
    }
    classes.back().members.push_back(i);
  }

  TableFiller filler(table);
  size_t active = classes.size();
  const std::vector<uint32_t> pattern = TurnPattern(classes);
  if (!pattern.empty()) {
    while (active > 0) {
      for (uint32_t c : pattern) {
        WeightClass& wc = classes[c];
        if (wc.members.empty()) continue;
        filler.TakeTurns(walkers, wc);
        if (wc.members.empty()) --active;
      }
    }
    return;
  }

  auto later = [&](uint32_t a, uint32_t b) {
    return TurnIsEarlier(classes[b].round, classes[b].weight, classes[a].round,
                         classes[a].weight);
  };
  std::vector<uint32_t> heap_storage;
  heap_storage.reserve(classes.size());
  std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(later)> turns(
      later, std::move(heap_storage));
  for (uint32_t c = 0; c < classes.size(); ++c) turns.push(c);
  while (!turns.empty()) {
    const uint32_t c = turns.top();
    turns.pop();
    filler.TakeTurns(walkers, classes[c]);
    if (!classes[c].members.empty()) turns.push(c);
  }
}

}  // namespace

absl::Span<const uint32_t> SupportedRingSizes() { return kRingSizes; }

bool IsSupportedRingSize(uint32_t size) {
  return std::binary_search(std::begin(kRingSizes), std::end(kRingSizes), size);
}

uint64_t XxHash64(absl::string_view data, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char* const end = p + data.size();
  uint64_t h;
  if (data.size() >= 32) {
    uint64_t v1 = seed + kXxPrime1 + kXxPrime2;
    uint64_t v2 = seed + kXxPrime2;
    uint64_t v3 = seed;
    uint64_t v4 = seed - kXxPrime1;
    for (; end - p >= 32; p += 32) {
      v1 = XxRound(v1, Read64(p));
      v2 = XxRound(v2, Read64(p + 8));
      v3 = XxRound(v3, Read64(p + 16));
      v4 = XxRound(v4, Read64(p + 24));
    }
    h = RotateLeft(v1, 1) + RotateLeft(v2, 7) + RotateLeft(v3, 12) +
        RotateLeft(v4, 18);
    h = XxMergeRound(h, v1);
    h = XxMergeRound(h, v2);
    h = XxMergeRound(h, v3);
    h = XxMergeRound(h, v4);
  } else {
    h = seed + kXxPrime5;
  }
  h += data.size();
  for (; end - p >= 8; p += 8) {
    h ^= XxRound(0, Read64(p));
    h = RotateLeft(h, 27) * kXxPrime1 + kXxPrime4;
  }
  if (end - p >= 4) {
    h ^= uint64_t{Read32(p)} * kXxPrime1;
    h = RotateLeft(h, 23) * kXxPrime2 + kXxPrime3;
    p += 4;
  }
  for (; p < end; ++p) {
    h ^= *p * kXxPrime5;
    h = RotateLeft(h, 11) * kXxPrime1;
  }
  h ^= h >> 33;
  h *= kXxPrime2;
  h ^= h >> 29;
  h *= kXxPrime3;
  h ^= h >> 32;
  return h;
}

absl::StatusOr<std::vector<uint32_t>> BuildMaglevTable(
    absl::Span<const MaglevBackend> backends, uint32_t table_size,
    uint32_t seed) {
  if (!IsPrime(table_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("table_size ", table_size, " is not prime"));
  }
  if (table_size > kMaxTableSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table_size ", table_size, " exceeds the largest supported ring size ",
        kMaxTableSize));
  }

  // Key order makes the table independent of the order given.
  std::vector<const MaglevBackend*> sorted(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) sorted[i] = &backends[i];
  std::sort(sorted.begin(), sorted.end(),
            [](const MaglevBackend* a, const MaglevBackend* b) {
              return a->key < b->key;
            });

  uint64_t weight_sum = 0;
  size_t weighted = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const MaglevBackend& b = *sorted[i];
    if (b.index == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend key ", absl::BytesToHexString(b.key),
                       " has index 0, which is reserved for XLB_NO_BACKEND"));
    }
    if (i > 0 && sorted[i - 1]->key == b.key) {
      return absl::InvalidArgumentError(absl::StrCat(
          "duplicate backend key ", absl::BytesToHexString(b.key)));
    }
    weight_sum += b.weight;
    if (weight_sum > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sum of backend weights exceeds ",
          std::numeric_limits<uint32_t>::max(), " at backend key ",
          absl::BytesToHexString(b.key), " (weight ", b.weight, ")"));
    }
    if (b.weight > 0) ++weighted;
  }
  if (weighted > table_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        weighted, " backends have weight > 0, more than table_size ",
        table_size));
  }

  std::vector<uint32_t> table(table_size, 0);
  if (weighted == 0) return table;

  // Two independent hashes: offset and skip use seeds 2*seed and 2*seed + 1.
  const uint64_t offset_seed = uint64_t{seed} * 2;
  const uint64_t skip_seed = offset_seed + 1;
  std::vector<Walker> walkers;
  walkers.reserve(weighted);
  for (const MaglevBackend* b : sorted) {
    if (b->weight == 0) continue;
    Walker w;
    w.next = static_cast<uint32_t>(XxHash64(b->key, offset_seed) % table_size);
    w.skip =
        static_cast<uint32_t>(XxHash64(b->key, skip_seed) % (table_size - 1)) +
        1;
    w.index = b->index;
    w.weight = b->weight;
    walkers.push_back(w);
  }
  AssignQuotas(walkers, table_size, weight_sum);
  Populate(walkers, table);
  return table;
}

}  // namespace xlb
