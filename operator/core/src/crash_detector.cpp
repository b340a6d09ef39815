#include "crashdiag/core/crash_detector.hpp"

#include <algorithm>

#include "crashdiag/model/failure.hpp"
#include "crashdiag/model/rfc3339.hpp"

namespace crashdiag::core {

namespace {

const ContainerRecord* find(const PodRecord* pod, const ContainerRecord& c) {
  if (pod == nullptr) return nullptr;
  for (const auto& o : pod->containers) {
    if (o.name == c.name && o.init == c.init) return &o;
  }
  return nullptr;
}

std::optional<TerminationFacts> facts(const std::optional<TerminationRecord>& t) {
  if (!t) return std::nullopt;
  return TerminationFacts{t->exit_code, t->reason};
}

ContainerFacts facts(const ContainerRecord& c) {
  ContainerFacts f;
  f.init = c.init;
  f.sidecar = c.sidecar;
  f.waiting_reason = c.waiting_reason;
  f.running = c.running;
  f.ready = c.ready;
  f.restart_count = c.restart_count;
  f.terminated = facts(c.terminated);
  f.last_terminated = facts(c.last_terminated);
  return f;
}

FailureContext context_of(const PodRecord& pod, const DetectOptions& options) {
  return failure_context(pod.restart_policy, pod.not_ready_since, options.unready);
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

CrashSignal make_signal(const PodRecord& now, const ContainerRecord& c) {
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
  return s;
}

}  // namespace

std::vector<CrashSignal> detect_crashes(const PodRecord* old, const PodRecord& now, const DetectOptions& options) {
  std::vector<CrashSignal> out;
  if (now.deleting) return out;  // a pod being deleted is stopped on purpose, not crashing
  const FailureContext ctx = context_of(now, options);
  for (const ContainerRecord& c : now.containers) {
    const ContainerRecord* before = find(old, c);
    const ContainerFacts f = facts(c);
    const FailureKind kind = failure_of(f, ctx);

    // A datastore that restarted and runs again may have started on an empty data directory
    // (an image VOLUME masking the claim, data outside every mount): nothing crashes, the data
    // is gone. Only a restart this process saw happen counts (not first sight: an old restart
    // of a pod listed at start-up is long past), and only while the new instance runs, since
    // its own log is what shows the re-initialisation. Raised beside any crash signal of the
    // same restart: that one explains why it restarted, this one what the restart cost.
    if (before != nullptr && c.datastore_pvc && c.running && c.restart_count > before->restart_count) {
      CrashSignal s = make_signal(now, c);
      s.reason = std::string(kRestartedReason);
      s.signature = std::string(kRestartedReason);
      s.current_log = true;
      out.push_back(std::move(s));
    }
    if (kind == FailureKind::kNone) continue;

    if (kind == FailureKind::kUnready) {
      // Once per period of unreadiness: when the deadline passes (the daemon re-checks then), or
      // on first sight of a pod already past it.
      const FailureKind before_kind = before != nullptr && old != nullptr
                                          ? failure_of(facts(*before), context_of(*old, options))
                                          : FailureKind::kNone;
      const bool same_period = old != nullptr && old->not_ready_since == now.not_ready_since;
      if (before_kind == FailureKind::kUnready && same_period && options.deadline_check == false) continue;
      CrashSignal s = make_signal(now, c);
      s.reason = std::string(kUnreadyReason);
      s.signature = std::string(kUnreadyReason);
      s.first_sight = before == nullptr;
      out.push_back(std::move(s));
      continue;
    }

    // The newest failed termination visible in this record, if any.
    const TerminationRecord* term = nullptr;
    if (c.terminated && termination_failed(*f.terminated, f, now.restart_policy)) {
      term = &*c.terminated;
    } else if (c.last_terminated && termination_failed(*f.last_terminated, f, now.restart_policy)) {
      term = &*c.last_terminated;
    }
    const bool waiting_failure = kind == FailureKind::kWaiting;

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

    CrashSignal s = make_signal(now, c);
    const std::string term_reason = term != nullptr ? term->reason : "";
    s.exit_code = term != nullptr ? term->exit_code : 0;
    s.reason = waiting_failure ? c.waiting_reason : term_reason;
    s.first_sight = before == nullptr;
    s.signature = failure_signature(term, c.waiting_reason);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<std::int64_t> unready_deadline(const PodRecord& pod, std::int64_t unready_after_seconds) {
  if (pod.deleting) return std::nullopt;
  const auto since = parse_rfc3339_seconds(pod.not_ready_since);
  if (!since) return std::nullopt;
  const bool running_unready = std::any_of(pod.containers.begin(), pod.containers.end(),
                                           [](const ContainerRecord& c) { return c.running && !c.ready; });
  if (!running_unready) return std::nullopt;
  return *since + unready_after_seconds;
}

}  // namespace crashdiag::core
