#include "lb/health/slot_timers.h"

namespace xlb::health {

void SlotTimers::Set(uint32_t slot, int64_t when_ns) {
  if (slot >= index_of_.size()) index_of_.resize(slot + 1, kAbsent);
  const uint32_t index = index_of_[slot];
  if (index == kAbsent) {
    heap_.push_back({});
    SiftUp(heap_.size() - 1, Entry{when_ns, slot});
  } else if (when_ns < heap_[index].when_ns) {
    SiftUp(index, Entry{when_ns, slot});
  } else {
    SiftDown(index, Entry{when_ns, slot});
  }
}

void SlotTimers::Cancel(uint32_t slot) {
  if (slot < index_of_.size() && index_of_[slot] != kAbsent) {
    RemoveAt(index_of_[slot]);
  }
}

void SlotTimers::Clear() {
  heap_.clear();
  index_of_.clear();
}

uint32_t SlotTimers::PopNext() {
  const uint32_t slot = heap_.front().slot;
  RemoveAt(0);
  return slot;
}

void SlotTimers::Place(size_t index, Entry entry) {
  heap_[index] = entry;
  index_of_[entry.slot] = static_cast<uint32_t>(index);
}

void SlotTimers::RemoveAt(size_t index) {
  index_of_[heap_[index].slot] = kAbsent;
  const Entry last = heap_.back();
  heap_.pop_back();
  if (index == heap_.size()) return;
  // The last entry takes the hole and moves whichever way it must.
  if (index > 0 && last.when_ns < heap_[(index - 1) / 2].when_ns) {
    SiftUp(index, last);
  } else {
    SiftDown(index, last);
  }
}

void SlotTimers::SiftUp(size_t index, Entry entry) {
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (heap_[parent].when_ns <= entry.when_ns) break;
    Place(index, heap_[parent]);
    index = parent;
  }
  Place(index, entry);
}

void SlotTimers::SiftDown(size_t index, Entry entry) {
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].when_ns < heap_[child].when_ns) {
      ++child;
    }
    if (entry.when_ns <= heap_[child].when_ns) break;
    Place(index, heap_[child]);
    index = child;
  }
  Place(index, entry);
}

}  // namespace xlb::health
