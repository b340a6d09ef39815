// From a diagnosis or a repeat to the writes (issue 13 item 1: the publish stage's entry). The
// RCA tracker (core/rca.hpp, pure) decides what changed; the publisher (publish/publisher.cpp)
// writes it; the active-RCA gauge follows the tracker. A deleted workload's (or bare pod's) RCAs
// are forgotten here too, as the garbage collector deletes the objects.

#include <cstdio>

#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace {

void log_diagnosis(const DiagnosisRecord& r) {
  const Hypothesis& top = r.diagnosis.hypotheses.front();
  char conf[16];
  std::snprintf(conf, sizeof conf, "%.2f", top.confidence);
  log(LogLevel::kInfo, "diagnosis",
      {{"namespace", r.signal.namespace_},
       {"workload", r.workload},
       {"pod", r.signal.pod},
       {"container", r.signal.container},
       {"reason", r.signal.reason},
       {"category", top.category},
       {"confidence", conf},
       {"summary", top.summary},
       {"rule", top.rule_id},
       {"rca", r.rca},
       {"change", std::string(core::to_string(r.change))}});
}

}  // namespace

void Daemon::record(const core::CrashSignal& s, const core::RcaTarget& target, const ContainerDiagnosis* diagnosis) {
  const core::RcaUpdate update = tracker_.record(make_occurrence(s, target, wall_now()), diagnosis, options_.instance);
  wake_resolve_check();
  publisher_->submit(update);
  if (update.change == core::RcaChange::kReopened) link_waiting_dependents(update.name);
  if (update.change != core::RcaChange::kUnchanged && update.change != core::RcaChange::kRepeated)
    update_active_gauge();
}

// run() does not schedule the resolve check while no RCA is Active; a record that makes one
// Active wakes it to do so.
void Daemon::wake_resolve_check() {
  if (!resolve_scheduled_ && leading_ && loop_wake_) loop_wake_->cancel();
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

// A diagnosis of a new or changed cause: the tracker's verdict goes to the publisher, the
// dependency link is made or waits, and the diagnosis is logged and reported.
void Daemon::record_diagnosis(const core::CrashSignal& s, const core::RcaTarget& target, ContainerDiagnosis diagnosis,
                              const std::optional<DependencyState>& dependency) {
  const core::RcaUpdate update = tracker_.record(make_occurrence(s, target, wall_now()), &diagnosis, options_.instance);
  wake_resolve_check();
  link_dependency(update.name, dependency, update.change);
  publisher_->submit(update);
  link_waiting_dependents(update.name);
  update_active_gauge();
  DiagnosisRecord rec;
  rec.signal = s;
  rec.workload = target.workload.display();
  rec.diagnosis = std::move(diagnosis);
  rec.rca = update.name;
  rec.change = update.change;
  const core::RcaState* state = tracker_.find(update.name);
  rec.occurrences = state != nullptr ? state->occurrences : 1;
  ++diagnoses_;
  log_diagnosis(rec);
  if (options_.on_diagnosis) options_.on_diagnosis(rec);
}

void Daemon::workload_deleted(const std::string& kind, const core::MetaRecord& rec) {
  if (kind == "Namespace") return;  // the publisher closes namespaces (Publisher::close_namespace)
  // The spec look is keyed by the pod's direct owner (detect/spec_findings.cpp): a ReplicaSet or
  // Job, or the StatefulSet or DaemonSet itself.
  spec_findings_.forget(rec.namespace_ + "/" + kind + "/" + rec.name);
  // ReplicaSets are not workloads an RCA names; a Job a CronJob controls is named by its
  // CronJob, whose RCA outlives the Job.
  if (kind == "ReplicaSet" || (kind == "Job" && rec.controller)) return;
  if (spec_findings_.counted_in(rec.namespace_)) {
    spec_findings_.record(rec.namespace_, kind + "/" + rec.name, {});  // a deleted workload leaves the gauge
    update_findings_gauge();
  }
  forget_rcas(tracker_.forget_workload(rec.namespace_, kind, rec.name, rec.uid));
}

// A pod without a controller is its own workload (RcaTarget "Pod/name").
void Daemon::bare_pod_deleted(const core::PodRecord& pod) {
  if (!pod.owner_kind.empty()) return;
  forget_rcas(tracker_.forget_workload(pod.namespace_, "Pod", pod.name, pod.uid));
}

void Daemon::forget_rcas(const std::vector<std::string>& names) {
  if (names.empty()) return;
  for (const std::string& name : names) {
    for (const core::RcaUpdate& u : tracker_.unlink_dependents(name)) publisher_->submit(u);
  }
  publisher_->forget(names);
  update_active_gauge();
}

}  // namespace crashdiag::daemon
