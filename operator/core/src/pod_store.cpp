#include "crashdiag/core/pod_store.hpp"

namespace crashdiag::core {

void PodStore::put(Set& set, const PodRecord& record) {
  PackedPod packed = PackedPod::pack(record);
  auto it = set.find(packed.key());
  if (it == set.end()) {
    set.insert(std::move(packed));
    return;
  }
  // Set elements are const: take the node out, replace its record (same key, same bucket), put it
  // back. No allocation besides the new block.
  auto node = set.extract(it);
  node.value() = std::move(packed);
  set.insert(std::move(node));
}

std::optional<PodRecord> PodStore::upsert(const PodRecord& record) {
  std::optional<PodRecord> old;
  if (auto it = pods_.find(std::string_view(record.key())); it != pods_.end()) old = it->unpack();
  put(pods_, record);
  return old;
}

std::optional<PodRecord> PodStore::remove(std::string_view key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return std::nullopt;
  std::optional<PodRecord> old = it->unpack();
  pods_.erase(it);
  return old;
}

void PodStore::begin_snapshot() {
  staging_.clear();
  staging_active_ = true;
}

void PodStore::stage(const PodRecord& record) {
  put(staging_, record);
}

void PodStore::discard_snapshot() {
  Set().swap(staging_);  // give the table back, not only its nodes
  staging_active_ = false;
}

std::vector<PodRecord> PodStore::commit_snapshot(
    const std::function<void(const PodRecord* old, const PodRecord& now)>& on_change) {
  std::vector<PodRecord> vanished;
  for (const PackedPod& pod : pods_) {
    if (staging_.find(pod.key()) == staging_.end()) vanished.push_back(pod.unpack());
  }
  for (const PackedPod& pod : staging_) {
    auto it = pods_.find(pod.key());
    if (it != pods_.end() && it->resource_version() == pod.resource_version()) continue;
    if (it == pods_.end()) {
      on_change(nullptr, pod.unpack());
    } else {
      const PodRecord old = it->unpack();
      on_change(&old, pod.unpack());
    }
  }
  pods_.swap(staging_);
  Set().swap(staging_);
  staging_active_ = false;
  return vanished;
}

std::optional<PodRecord> PodStore::find(std::string_view key) const {
  auto it = pods_.find(key);
  if (it == pods_.end()) return std::nullopt;
  return it->unpack();
}

std::size_t PodStore::record_bytes() const {
  std::size_t n = 0;
  for (const PackedPod& pod : pods_) n += pod.size();
  return n;
}

}  // namespace crashdiag::core
