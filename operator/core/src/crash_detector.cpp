#include "crashdiag/core/crash_detector.hpp"

#include <array>

namespace crashdiag::core {

bool is_failure_waiting_reason(std::string_view reason) {
  static constexpr std::array<std::string_view, 10> kReasons = {
      "CrashLoopBackOff",  "RunContainerError", "CreateContainerError", "CreateContainerConfigError",
      "ImagePullBackOff",  "ErrImagePull",      "InvalidImageName",     "ErrImageNeverPull",
      "PreStartHookError", "PostStartHookError"};
  for (auto r : kReasons) {
    if (r == reason) return true;
  }
  return false;
}

namespace {

const ContainerRecord* find(const PodRecord* pod, const ContainerRecord& c) {
  if (pod == nullptr) return nullptr;
  for (const auto& o : pod->containers) {
    if (o.name == c.name && o.init == c.init) return &o;
  }
  return nullptr;
}

bool failed(const TerminationRecord& t, const PodRecord& pod, const ContainerRecord& c) {
  if (t.exit_code != 0 || t.reason == "OOMKilled" || t.reason == "Error" || t.reason == "StartError" ||
      t.reason == "ContainerCannotRun") {
    return true;
  }
  // Exit 0 is a failure only for a main container the kubelet restarts anyway (restartPolicy
  // Always: Deployments, StatefulSets, DaemonSets). Init containers and Jobs exiting 0 succeed.
  return !c.init && pod.restart_policy == "Always";
}

// What "failing the same way" means. For crashes the termination tells failures apart (exit 1
// versus OOMKilled are different diagnoses of one Deployment); the waiting reason does not, since
// the kubelet shows the same termination first as a plain terminated state and then under
// CrashLoopBackOff (pkg/kubelet/kuberuntime/kuberuntime_manager.go). Image and config errors have
// no termination, and the kubelet alternates ErrImagePull and ImagePullBackOff for one failure
// (pkg/kubelet/images/image_manager.go), so both are one signature.
std::string failure_signature(const TerminationRecord* term, const std::string& waiting_reason) {
  if (term != nullptr) return (term->reason.empty() ? "Exit" : term->reason) + ":" + std::to_string(term->exit_code);
  if (waiting_reason == "ErrImagePull" || waiting_reason == "ImagePullBackOff") return "ImagePull";
  return waiting_reason;
}

std::string workload_of(const PodRecord& pod) {
  if (!pod.owner_kind.empty()) return pod.owner_kind + "/" + pod.owner_name;
  return "Pod/" + pod.name;
}

}  // namespace

std::vector<CrashSignal> detect_crashes(const PodRecord* old, const PodRecord& now) {
  std::vector<CrashSignal> out;
  if (now.deleting) return out;  // a pod being deleted is stopped on purpose, not crashing
  for (const ContainerRecord& c : now.containers) {
    const ContainerRecord* before = find(old, c);
    // What is the newest failure visible in this record?
    const TerminationRecord* term = nullptr;
    if (c.terminated && failed(*c.terminated, now, c)) {
      term = &*c.terminated;
    } else if (c.last_terminated && failed(*c.last_terminated, now, c)) {
      term = &*c.last_terminated;
    }
    const bool waiting_failure = is_failure_waiting_reason(c.waiting_reason);
    if (term == nullptr && !waiting_failure) continue;

    bool is_new = false;
    if (before == nullptr) {
      is_new = true;  // first sight of a failing container (initial list, ADDED)
    } else if (c.restart_count > before->restart_count) {
      is_new = true;  // the kubelet restarted it again
    } else if (term != nullptr) {
      const TerminationRecord* before_term = c.terminated
                                                 ? (before->terminated ? &*before->terminated : nullptr)
                                                 : (before->last_terminated ? &*before->last_terminated : nullptr);
      is_new = before_term == nullptr || before_term->finished_at != term->finished_at;
    } else if (waiting_failure && before->waiting_reason != c.waiting_reason &&
               !is_failure_waiting_reason(before->waiting_reason)) {
      is_new = true;  // e.g. ContainerCreating -> CreateContainerConfigError
    }
    if (!is_new) continue;

    CrashSignal s;
    s.namespace_ = now.namespace_;
    s.pod = now.name;
    s.pod_uid = now.uid;
    s.container = c.name;
    s.init = c.init;
    s.restart_count = c.restart_count;
    s.workload = workload_of(now);
    s.workload_uid = now.owner_kind.empty() ? now.uid : now.owner_uid;
    s.has_previous_termination = c.last_terminated.has_value();
    const std::string term_reason = term != nullptr ? term->reason : "";
    s.exit_code = term != nullptr ? term->exit_code : 0;
    s.reason = waiting_failure ? c.waiting_reason : term_reason;
    s.first_sight = before == nullptr;
    s.signature = failure_signature(term, c.waiting_reason);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace crashdiag::core
