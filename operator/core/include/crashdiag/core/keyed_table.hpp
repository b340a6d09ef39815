// An open-addressing hash table of records that carry their own key (PackedPod: "namespace/name"
// is its first field). std::unordered_set puts every element in its own 16-byte node, which
// glibc rounds to a 32-byte chunk, plus an 8-byte bucket: 40 bytes per pod before the record, a
// fifth of what the pod store costs at 150,000 pods (issue 14 item 1). Here a slot is the record
// itself (one pointer), probed linearly, at most 3/4 full: 11-21 bytes per record.
//
// T is movable, default-constructs to an empty slot (`empty()` true) and has `key()` returning a
// string_view. Deletion shifts the following run back (Knuth's algorithm R, TAOCP 6.4), so there
// are no tombstones and lookups never slow down with churn.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace crashdiag::core {

template <typename T>
class KeyedTable {
 public:
  [[nodiscard]] const T* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(key);; i = (i + 1) & mask()) {
      const T& slot = slots_[i];
      if (slot.empty()) return nullptr;
      if (slot.key() == key) return &slot;
    }
  }

  // Inserts, or replaces the record with the same key. True when the key was new.
  bool put(T value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    const std::string_view key = value.key();
    for (std::size_t i = home(key);; i = (i + 1) & mask()) {
      T& slot = slots_[i];
      if (slot.empty()) {
        slot = std::move(value);
        ++size_;
        return true;
      }
      if (slot.key() == key) {
        slot = std::move(value);
        return false;
      }
    }
  }

  // Removes the record with `key`; the empty T when there was none.
  T take(std::string_view key) {
    if (slots_.empty()) return T{};
    std::size_t i = home(key);
    for (;; i = (i + 1) & mask()) {
      if (slots_[i].empty()) return T{};
      if (slots_[i].key() == key) break;
    }
    T out = std::move(slots_[i]);
    slots_[i] = T{};
    --size_;
    // Move back every following record of the run whose home is not in (i, j]: it could no longer
    // be reached past the hole.
    for (std::size_t j = (i + 1) & mask(); !slots_[j].empty(); j = (j + 1) & mask()) {
      const std::size_t k = home(slots_[j].key());
      const bool reachable = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (reachable) continue;
      slots_[i] = std::move(slots_[j]);
      slots_[j] = T{};
      i = j;
    }
    return out;
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const T& slot : slots_) {
      if (!slot.empty()) f(slot);
    }
  }

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return slots_.size(); }
  void clear() {
    std::vector<T>().swap(slots_);
    size_ = 0;
  }
  void swap(KeyedTable& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(size_, other.size_);
  }

 private:
  [[nodiscard]] std::size_t mask() const { return slots_.size() - 1; }
  [[nodiscard]] std::size_t home(std::string_view key) const { return std::hash<std::string_view>{}(key)&mask(); }

  void grow() {
    std::vector<T> old(slots_.empty() ? 16 : slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (T& slot : old) {
      if (!slot.empty()) put(std::move(slot));
    }
  }

  std::vector<T> slots_;  // a power of two in size, or empty
  std::size_t size_ = 0;
};

}  // namespace crashdiag::core
