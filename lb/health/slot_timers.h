// One timer per slot (a target's next probe start, or its probe's
// deadline) in a binary min-heap that moves or cancels any slot's timer in
// place. Setting a timer replaces the slot's previous one, so the heap
// holds at most one entry per target and nothing stale piles up: at 10,000
// targets a probe costs two sift operations on a 10,000-entry array.
#ifndef XLB_LB_HEALTH_SLOT_TIMERS_H_
#define XLB_LB_HEALTH_SLOT_TIMERS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xlb::health {

class SlotTimers {
 public:
  // Arms `slot`'s timer for `when_ns`, replacing any it had.
  void Set(uint32_t slot, int64_t when_ns);
  // Disarms `slot`'s timer, if armed.
  void Cancel(uint32_t slot);
  void Clear();

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest timer's time; requires !empty().
  int64_t next_ns() const { return heap_.front().when_ns; }
  // Disarms the earliest timer and returns its slot; requires !empty().
  uint32_t PopNext();

 private:
  struct Entry {
    int64_t when_ns;
    uint32_t slot;
  };
  static constexpr uint32_t kAbsent = ~uint32_t{0};

  void Place(size_t index, Entry entry);
  void RemoveAt(size_t index);
  void SiftUp(size_t index, Entry entry);
  void SiftDown(size_t index, Entry entry);

  std::vector<Entry> heap_;
  std::vector<uint32_t> index_of_;  // by slot: position in heap_ or kAbsent
};

}  // namespace xlb::health

#endif  // XLB_LB_HEALTH_SLOT_TIMERS_H_
