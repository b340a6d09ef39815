// The set of pods the daemon knows, keyed by namespace/name. A relist fills a staging map and
// swaps it in only when the last page arrived, so readers never see half a list; the swap
// reports which pods disappeared while the watch was down (client-go's Replace semantics,
// tools/cache/delta_fifo.go: deletions synthesised for objects missing from the new list).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashdiag/core/keyed_table.hpp"
#include "crashdiag/core/packed_pod.hpp"
#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core {

// Records are kept packed (packed_pod.hpp: about a tenth of a PodRecord's heap) and unpacked when
// looked at, so every accessor hands out a PodRecord by value.
class PodStore {
 public:
  // Watch events. Returns the previous record (if any) so the crash detector can compare.
  std::optional<PodRecord> upsert(const PodRecord& record);
  std::optional<PodRecord> remove(std::string_view key);

  void begin_snapshot();
  void stage(const PodRecord& record);
  // A streaming list's DELETED before its end bookmark: the pod is not in the snapshot.
  void unstage(std::string_view key);
  void discard_snapshot();
  // Swaps the staged snapshot in. Calls on_change(old, new) for every pod that is new or
  // changed (a different resourceVersion), and returns the pods that vanished.
  std::vector<PodRecord> commit_snapshot(
      const std::function<void(const PodRecord* old, const PodRecord& now)>& on_change);

  [[nodiscard]] std::optional<PodRecord> find(std::string_view key) const;
  void for_each(const std::function<void(const PodRecord&)>& f) const {
    pods_.for_each([&](const PackedPod& pod) { f(pod.unpack()); });
  }
  [[nodiscard]] std::size_t size() const { return pods_.size(); }
  [[nodiscard]] bool snapshot_in_progress() const { return staging_active_; }

 private:
  // Keyed by the record itself ("namespace/name" is its first field): no key string per pod, and
  // no node per pod either (keyed_table.hpp).
  KeyedTable<PackedPod> pods_;
  KeyedTable<PackedPod> staging_;
  bool staging_active_ = false;
};

}  // namespace crashdiag::core
