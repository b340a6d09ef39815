// The detection stage (issue 13 item 1): each change of a pod's record, from a watch event or a
// relist, is compared with the record before it (core::detect_crashes, pure) and every new
// failure goes to the queue (queue/diagnosis_queue.cpp). A pod that runs unready produces no
// further events, so its --unready-after deadline is kept here and looked at when due.

#include "crashdiag/model/failure.hpp"
#include "daemon.hpp"

namespace crashdiag::daemon {

core::DetectOptions Daemon::detect_options(bool deadline_check) const {
  core::DetectOptions o;
  o.unready.now_unix = std::chrono::duration_cast<std::chrono::seconds>(wall_now().since_origin()).count();
  o.unready.unready_after_seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.unready_after).count();
  o.deadline_check = deadline_check;
  return o;
}

void Daemon::detect(const core::PodRecord* old, const core::PodRecord& now, const std::string& pod_json) {
  const core::DetectOptions o = detect_options();
  // The list's commit calls this before its records are in the store, so enqueue() cannot look
  // the pod up yet: the pod at hand decides.
  if (now.ignored) {
    if (!core::detect_crashes(old, now, o).empty()) ++ignored_;
    return;
  }
  for (const auto& s : core::detect_crashes(old, now, o)) enqueue(s, pod_json);
  look_at_spec(now, pod_json);
  // A pod that runs unready produces no further watch events while it stays so: look at it again
  // when it has been unready for --unready-after.
  if (auto due = core::unready_deadline(now, o.unready.unready_after_seconds); due && *due > *o.unready.now_unix) {
    const bool earliest = unready_deadlines_.empty() || *due < unready_deadlines_.begin()->first;
    unready_deadlines_.emplace(*due, now.key());
    if (earliest) loop_wake_->cancel();  // run() sleeps until the earliest deadline
  }
}

void Daemon::check_unready_deadlines() {
  const core::DetectOptions o = detect_options(/*deadline_check=*/true);
  while (!unready_deadlines_.empty() && unready_deadlines_.begin()->first <= *o.unready.now_unix) {
    const auto [due, key] = *unready_deadlines_.begin();
    unready_deadlines_.erase(unready_deadlines_.begin());
    const std::optional<core::PodRecord> pod = pods_.find(key);
    // Gone, Ready again, or unready since another time (a new deadline was scheduled for that).
    if (!pod || core::unready_deadline(*pod, o.unready.unready_after_seconds) != due) continue;
    for (const auto& s : core::detect_crashes(&*pod, *pod, o)) enqueue(s, "");
  }
}

// The resolve check (daemon.cpp run()) asks this before an RCA is resolved.
bool Daemon::still_failing(const core::RcaState& rca) const {
  // A database that initialised itself empty has not recovered by running: the same pod (same
  // uid, same spec) loses its data again at its next restart. Active until that pod is replaced,
  // which is what fixing the workload's volumeMounts does (a StatefulSet pod keeps its name, not
  // its uid).
  if (const Hypothesis* top = rca.top(); top != nullptr && top->category == "data_reinitialized") {
    for (const auto& p : rca.pods) {
      const std::optional<core::PodRecord> rec = pods_.find(rca.target.namespace_ + "/" + p.name);
      if (rec && !rec->deleting && rec->uid == p.uid) return true;
    }
    return false;
  }
  for (const auto& p : rca.pods) {
    const std::optional<core::PodRecord> rec = pods_.find(rca.target.namespace_ + "/" + p.name);
    if (!rec || rec->deleting) continue;
    for (const auto& c : rec->containers) {
      if (c.name != rca.target.container || c.init != rca.target.init) continue;
      // Waiting in a failure reason (back-off between restarts, image pull retries) is still
      // failing even though no new termination arrives (CrashLoopBackOff waits up to 5 min).
      if (crashdiag::is_failure_waiting_reason(c.waiting_reason)) return true;
    }
  }
  return false;
}

}  // namespace crashdiag::daemon
