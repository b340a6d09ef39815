// From a diagnosis or a repeat to the writes (issue 13 item 1: the publish stage's entry). The
// RCA tracker (core/rca.hpp, pure) decides what changed; the publisher (publish/publisher.cpp)
// writes it; the active-RCA gauge follows the tracker. still_failing() is what the periodic
// resolve check asks of the pod store before an RCA is resolved.

#include "crashdiag/model/failure.hpp"
#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

void Daemon::record(const core::CrashSignal& s, const core::RcaTarget& target, const ContainerDiagnosis* diagnosis) {
  const core::RcaUpdate update = tracker_.record(make_occurrence(s, target, wall_now()), diagnosis, options_.instance);
  publisher_->submit(update);
  if (update.change == core::RcaChange::kReopened) link_waiting_dependents(update.name);
  if (update.change != core::RcaChange::kUnchanged && update.change != core::RcaChange::kRepeated)
    update_active_gauge();
}

void Daemon::update_active_gauge() {
  if (options_.metrics == nullptr) return;
  auto counts = tracker_.active_counts();
  // Series that drop to zero stay at zero rather than vanish: a vanished series reads as
  // "no data" in alerts, zero reads as "resolved".
  for (const auto& key : gauge_series_) {
    if (counts.count(key) == 0) options_.metrics->set_active_rcas(key.namespace_, key.category, key.consequence, 0);
  }
  for (const auto& [key, n] : counts) {
    options_.metrics->set_active_rcas(key.namespace_, key.category, key.consequence, n);
    gauge_series_.insert(key);
  }
}

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
