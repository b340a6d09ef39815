#include "crashdiag/core/pod_store.hpp"

namespace crashdiag::core {

std::optional<PodRecord> PodStore::upsert(const PodRecord& record) {
  PackedPod packed = PackedPod::pack(record);
  std::optional<PodRecord> old;
  if (const PackedPod* found = pods_.find(packed.key()); found != nullptr) old = found->unpack();
  pods_.put(std::move(packed));
  return old;
}

std::optional<PodRecord> PodStore::remove(std::string_view key) {
  PackedPod old = pods_.take(key);
  if (old.empty()) return std::nullopt;
  return old.unpack();
}

void PodStore::begin_snapshot() {
  staging_.clear();
  staging_active_ = true;
}

void PodStore::stage(const PodRecord& record) {
  staging_.put(PackedPod::pack(record));
}

void PodStore::unstage(std::string_view key) {
  (void)staging_.take(key);
}

void PodStore::discard_snapshot() {
  staging_.clear();
  staging_active_ = false;
}

std::vector<PodRecord> PodStore::commit_snapshot(
    const std::function<void(const PodRecord* old, const PodRecord& now)>& on_change) {
  std::vector<PodRecord> vanished;
  pods_.for_each([&](const PackedPod& pod) {
    if (staging_.find(pod.key()) == nullptr) vanished.push_back(pod.unpack());
  });
  staging_.for_each([&](const PackedPod& pod) {
    const PackedPod* before = pods_.find(pod.key());
    if (before == nullptr) {
      on_change(nullptr, pod.unpack());
    } else if (before->resource_version() != pod.resource_version()) {
      const PodRecord old = before->unpack();
      on_change(&old, pod.unpack());
    }
  });
  pods_.swap(staging_);
  staging_.clear();
  staging_active_ = false;
  return vanished;
}

std::optional<PodRecord> PodStore::find(std::string_view key) const {
  const PackedPod* found = pods_.find(key);
  if (found == nullptr) return std::nullopt;
  return found->unpack();
}

}  // namespace crashdiag::core
