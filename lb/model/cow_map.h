// Containers whose copies are cheap, for the balancer model's states: a
// change set works on a copy of the whole state, and must cost what it
// changes, not what the state holds.
//
// CowMap keeps its entries in kShards shards chosen by hash, each an ordered
// map shared by the copies until one of them writes to it (copy on write):
// a copy costs kShards pointer copies, a write copies at most the one shard
// it lands in, and two copies are compared shard by shard, skipping the
// shards they still share. Iteration is in no particular order.
//
// IndexBitmap is a set of small integers as bits, with a fast search for
// the lowest absent one.
//
// Neither is thread-safe. CowMap decides that a shard is shared from its
// use count: copies of a map may be read by other threads while one writer
// writes its own copy, but two copies must never be written concurrently.
#ifndef XLB_LB_MODEL_COW_MAP_H_
#define XLB_LB_MODEL_COW_MAP_H_

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/hash/hash.h"

namespace xlb {

template <class K, class V>
class CowMap {
 public:
  static constexpr size_t kShards = 256;

  const V* Find(const K& key) const {
    const std::shared_ptr<Shard>& shard = shards_[ShardOf(key)];
    if (shard == nullptr) return nullptr;
    auto it = shard->find(key);
    return it == shard->end() ? nullptr : &it->second;
  }
  bool contains(const K& key) const { return Find(key) != nullptr; }
  size_t size() const { return size_; }

  // The entry for `key`, to write; value-initialized when absent.
  V& operator[](const K& key) {
    auto [it, added] = Writable(key).try_emplace(key);
    size_ += added;
    return it->second;
  }
  void Erase(const K& key) {
    if (contains(key)) {
      Writable(key).erase(key);
      --size_;
    }
  }

  // f(key, value) for every entry.
  template <class F>
  void ForEach(F&& f) const {
    for (const std::shared_ptr<Shard>& shard : shards_) {
      if (shard == nullptr) continue;
      for (const auto& [key, value] : *shard) f(key, value);
    }
  }

  // f(key, value in a or null, value in b or null) for every key whose
  // entry differs between `a` and `b`.
  template <class F>
  friend void ForEachDifference(const CowMap& a, const CowMap& b, F&& f) {
    static const Shard kEmpty;
    for (size_t i = 0; i < kShards; ++i) {
      if (a.shards_[i] == b.shards_[i]) continue;
      const Shard& x = a.shards_[i] != nullptr ? *a.shards_[i] : kEmpty;
      const Shard& y = b.shards_[i] != nullptr ? *b.shards_[i] : kEmpty;
      auto p = x.begin(), q = y.begin();
      while (p != x.end() || q != y.end()) {
        if (q == y.end() || (p != x.end() && p->first < q->first)) {
          f(p->first, &p->second, nullptr);
          ++p;
        } else if (p == x.end() || q->first < p->first) {
          f(q->first, nullptr, &q->second);
          ++q;
        } else {
          if (!(p->second == q->second)) f(p->first, &p->second, &q->second);
          ++p;
          ++q;
        }
      }
    }
  }

 private:
  using Shard = std::map<K, V>;

  static size_t ShardOf(const K& key) { return absl::Hash<K>{}(key) % kShards; }

  Shard& Writable(const K& key) {
    std::shared_ptr<Shard>& shard = shards_[ShardOf(key)];
    if (shard == nullptr) {
      shard = std::make_shared<Shard>();
    } else if (shard.use_count() > 1) {
      shard = std::make_shared<Shard>(*shard);
    }
    return *shard;
  }

  std::array<std::shared_ptr<Shard>, kShards> shards_;
  size_t size_ = 0;
};

class IndexBitmap {
 public:
  IndexBitmap() = default;
  explicit IndexBitmap(uint32_t size) : size_(size), words_((size + 63) / 64) {}

  uint32_t size() const { return size_; }
  bool contains(uint32_t i) const {
    return i < size_ && (words_[i / 64] >> (i % 64) & 1) != 0;
  }
  void insert(uint32_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  void erase(uint32_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }

  // The lowest index >= `from` that is absent; size() when there is none.
  uint32_t FirstAbsent(uint32_t from) const {
    for (uint32_t w = from / 64; w < words_.size(); ++w) {
      uint64_t absent = ~words_[w];
      if (w == from / 64) absent &= ~uint64_t{0} << (from % 64);
      if (absent != 0) {
        const uint32_t i =
            w * 64 + static_cast<uint32_t>(std::countr_zero(absent));
        return i < size_ ? i : size_;
      }
    }
    return size_;
  }

 private:
  uint32_t size_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace xlb

#endif  // XLB_LB_MODEL_COW_MAP_H_
