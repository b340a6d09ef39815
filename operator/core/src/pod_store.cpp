#include "crashdiag/core/pod_store.hpp"

namespace crashdiag::core {

std::optional<PodRecord> PodStore::upsert(PodRecord record) {
  std::string key = record.key();
  auto it = pods_.find(key);
  if (it == pods_.end()) {
    pods_.emplace(std::move(key), std::move(record));
    return std::nullopt;
  }
  std::optional<PodRecord> old = std::move(it->second);
  it->second = std::move(record);
  return old;
}

std::optional<PodRecord> PodStore::remove(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return std::nullopt;
  std::optional<PodRecord> old = std::move(it->second);
  pods_.erase(it);
  return old;
}

void PodStore::begin_snapshot() {
  staging_.clear();
  staging_active_ = true;
}

void PodStore::stage(PodRecord record) {
  std::string key = record.key();
  staging_.insert_or_assign(std::move(key), std::move(record));
}

void PodStore::discard_snapshot() {
  staging_.clear();
  staging_active_ = false;
}

std::vector<PodRecord> PodStore::commit_snapshot(
    const std::function<void(const PodRecord* old, const PodRecord& now)>& on_change) {
  std::vector<PodRecord> vanished;
  for (auto& [key, record] : pods_) {
    if (staging_.find(key) == staging_.end()) vanished.push_back(std::move(record));
  }
  for (const auto& [key, record] : staging_) {
    auto it = pods_.find(key);
    const PodRecord* old = it == pods_.end() ? nullptr : &it->second;
    if (old == nullptr || old->resource_version != record.resource_version) on_change(old, record);
  }
  pods_.swap(staging_);
  staging_.clear();
  staging_active_ = false;
  return vanished;
}

const PodRecord* PodStore::find(const std::string& key) const {
  auto it = pods_.find(key);
  return it == pods_.end() ? nullptr : &it->second;
}

}  // namespace crashdiag::core
