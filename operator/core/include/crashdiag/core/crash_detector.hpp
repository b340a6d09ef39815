// Turns pod updates into crash signals (pure). A signal is raised once per new failure of a
// container: a restartCount that grew, a lastState.terminated.finishedAt that is new, or a
// waiting reason that marks a failure appearing. Failures of containers whose pod is being
// deleted are not signals (the kubelet kills them on purpose, exit 137/143 included).
//
// Signals are then deduplicated per workload, container and failure signature, so a 100-replica
// Deployment crash-looping one way yields one diagnosis; later occurrences only count.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core {

struct CrashSignal {
  std::string namespace_;
  std::string pod;
  std::string pod_uid;
  std::string container;
  bool init = false;
  std::string reason;  // CrashLoopBackOff, OOMKilled, Error, ImagePullBackOff, ...
  int exit_code = 0;   // of the failure's termination, if any
  int restart_count = 0;
  std::string workload;                   // "ReplicaSet/web-7d9f" (controller owner), or "Pod/<name>" for bare pods
  std::string signature;                  // reason|terminated reason|exit code: what "failing the same way" means
  bool has_previous_termination = false;  // previous logs exist only then
  [[nodiscard]] std::string dedupe_key() const {
    return namespace_ + "/" + workload + "/" + container + "/" + signature;
  }
};

// Compares the old and new record of one pod. `old` is null for a pod seen for the first time
// (initial list or ADDED): then any current failure is a signal.
[[nodiscard]] std::vector<CrashSignal> detect_crashes(const PodRecord* old, const PodRecord& now);

// Waiting reasons the kubelet uses for failures (pkg/kubelet/images/types.go,
// pkg/kubelet/kuberuntime/kuberuntime_container.go, pkg/kubelet/container/sync_result.go).
[[nodiscard]] bool is_failure_waiting_reason(std::string_view reason);

enum class DedupeDecision { kDiagnose, kCountOnly };

// Remembers which (workload, container, signature) keys were diagnosed.
class CrashDeduper {
 public:
  [[nodiscard]] DedupeDecision observe(const CrashSignal& signal);
  [[nodiscard]] std::uint64_t occurrences(const std::string& key) const;
  void forget(const std::string& key) { seen_.erase(key); }
  [[nodiscard]] std::size_t size() const { return seen_.size(); }

 private:
  std::map<std::string, std::uint64_t> seen_;
};

}  // namespace crashdiag::core
