// The set of pods the daemon knows, keyed by namespace/name. A relist fills a staging map and
// swaps it in only when the last page arrived, so readers never see half a list; the swap
// reports which pods disappeared while the watch was down (client-go's Replace semantics,
// tools/cache/delta_fifo.go: deletions synthesised for objects missing from the new list).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core {

class PodStore {
 public:
  using Map = std::unordered_map<std::string, PodRecord>;

  // Watch events. Returns the previous record (if any) so the crash detector can compare.
  std::optional<PodRecord> upsert(PodRecord record);
  std::optional<PodRecord> remove(const std::string& key);

  void begin_snapshot();
  void stage(PodRecord record);
  void discard_snapshot();
  // Swaps the staged snapshot in. Calls on_change(old, new) for every pod that is new or
  // changed, and returns the pods that vanished.
  std::vector<PodRecord> commit_snapshot(
      const std::function<void(const PodRecord* old, const PodRecord& now)>& on_change);

  [[nodiscard]] const PodRecord* find(const std::string& key) const;
  void for_each(const std::function<void(const PodRecord&)>& f) const {
    for (const auto& [key, pod] : pods_) f(pod);
  }
  [[nodiscard]] std::size_t size() const { return pods_.size(); }
  [[nodiscard]] bool snapshot_in_progress() const { return staging_active_; }

 private:
  Map pods_;
  Map staging_;
  bool staging_active_ = false;
};

}  // namespace crashdiag::core
