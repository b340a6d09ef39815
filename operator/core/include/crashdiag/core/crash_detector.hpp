// Turns pod updates into crash signals (pure). A signal is raised once per new failure of a
// container: a restartCount that grew, a lastState.terminated.finishedAt that is new, or a
// waiting reason that marks a failure appearing. One more, that is not a failure: a datastore
// container with a PersistentVolumeClaim whose restartCount grew while it runs again gets a
// `Restarted` signal of its own (its new log may show its data re-initialised: issue 15, item 3).
// Failures of containers whose pod is being deleted are not signals (the kubelet kills them on
// purpose, exit 137/143 included).
//
// Signals are then grouped per workload, container and failure signature by the RcaTracker
// (rca.hpp), so a 100-replica Deployment crash-looping one way yields one diagnosis; later
// occurrences only count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/model/failure.hpp"

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
  std::string workload_uid;               // that owner's uid (the pod's own for bare pods)
  std::string signature;                  // "Error:1", "OOMKilled:137", "ImagePull": what "failing the same way" means
  bool has_previous_termination = false;  // previous logs exist only then
  bool first_sight = false;               // the pod was not known before (initial list, ADDED, relist)
  // A datastore with a claim that restarted and runs again (signature "Restarted"): not a failure
  // by itself, a reason to read the running container's own log, which shows whether the new
  // instance initialised an empty database. Diagnosed only to publish data_reinitialized.
  bool current_log = false;
  [[nodiscard]] std::string dedupe_key() const {
    return namespace_ + "/" + workload + "/" + container + "/" + signature;
  }
};

struct DetectOptions {
  // Now and --unready-after; without a now, unreadiness is not judged (only crashes and failure
  // waits are).
  UnreadyPolicy unready;
  // The daemon's re-check at a pod's unready deadline: report it even though the record did not
  // change since the last look.
  bool deadline_check = false;
};

// Compares the old and new record of one pod. `old` is null for a pod seen for the first time
// (initial list or ADDED): then any current failure is a signal. "Failing" is the one definition
// of crashdiag/model/failure.hpp, shared with `crashdiag explain`.
[[nodiscard]] std::vector<CrashSignal> detect_crashes(const PodRecord* old, const PodRecord& now,
                                                      const DetectOptions& options = {});

// When a pod whose containers run but are not Ready becomes failing (its Ready condition's
// transition plus unready_after), so the daemon can look again then; nullopt if it is not unready.
[[nodiscard]] std::optional<std::int64_t> unready_deadline(const PodRecord& pod, std::int64_t unready_after_seconds);

}  // namespace crashdiag::core
