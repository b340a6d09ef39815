// The diagnosis stage (issue 13 item 1): a worker's job from the queue becomes an RCA. It names
// the failure's workload (evidence/owners.cpp) and drops it when silenced, gathers the evidence
// once per new or changed cause (evidence/evidence_gatherer.hpp), runs the classifiers and resolves the
// dependency a diagnosis names (diagnose/dependencies.cpp); publish/rca_record.cpp records it.

#include <chrono>

#include "crashdiag/classifiers/dependency.hpp"
#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "no_throw.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;

namespace {

void log_restart_checked(const core::CrashSignal& s, const std::string& category) {
  log(LogLevel::kDebug, "restart looked at: no re-initialisation",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"best", category}});
}

}  // namespace

asio::awaitable<void> Daemon::diagnose(Job job) {
  // At start-up, until the owner index has its first lists (or they failed, or owner_sync_wait
  // passed): else every failure found by the first pod list would cost the GETs it saves.
  if (owner_watches_unsettled_ > 0) co_await owners_settled_->async_wait(kNoThrow);
  const core::CrashSignal& s = job.signal;
  const std::size_t slash = s.workload.find('/');
  std::string owner_kind = s.workload.substr(0, slash);
  std::string owner_name = s.workload.substr(slash + 1);
  std::string ns = s.namespace_;
  std::string owner_uid = s.workload_uid;
  const core::WorkloadRef workload = co_await top_level_workload(
      std::move(ns), std::move(owner_kind), std::move(owner_name), std::move(owner_uid), s.pod, job.pod_json);
  if (!leading_) co_return;
  if (co_await silenced(s.namespace_, workload)) {
    ++ignored_;
    co_return;
  }
  if (!leading_) co_return;
  const core::RcaTarget target = make_target(s, workload);
  if (!tracker_.needs_diagnosis(target, wall_now())) {
    record(s, target, nullptr);  // diagnosed meanwhile (a replica of the same failure)
    co_return;
  }
  std::string pod_json = std::move(job.pod_json);  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  std::string rca = core::rca_name(target);        // named: GCC 12 PR 99576
  std::optional<Evidence> ev = co_await evidence_->gather(s, std::move(pod_json), std::move(rca));
  if (!ev) co_return;  // the pod could not be read: logged, and the next failure tries again
  co_await classify_and_record(s, target, std::move(*ev));
}

asio::awaitable<void> Daemon::classify_and_record(core::CrashSignal s, core::RcaTarget target, Evidence ev) {
  const auto started = std::chrono::steady_clock::now();
  const std::shared_ptr<const Classifier> classifier = classifiers_.get();  // held across a reload
  ContainerDiagnosis diagnosis = classifier->diagnose(ev);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  if (!leading_ || diagnosis.hypotheses.empty()) co_return;  // lost leadership while gathering
  // A Restarted signal is a look at a healthy restart, not a failure: only a re-initialisation is
  // worth an RCA. Nothing is recorded otherwise, so the next restart is looked at again.
  if (s.current_log && diagnosis.hypotheses.front().category != "data_reinitialized") {
    log_restart_checked(s, diagnosis.hypotheses.front().category);
    co_return;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->classification_duration(took.count());
    options_.metrics->diagnosis(diagnosis.hypotheses.front().category);
  }
  // A failure on a dependency: the Service it names and the workload behind it. One list, only
  // when the RCA is new or its cause is looked at again (needs_diagnosis), not per restart.
  std::optional<DependencyState> dependency;
  if (options_.link_dependencies) {
    const auto deps = dependencies_of(ev, diagnosis.hypotheses.front());
    if (!deps.empty()) {
      DependencyRef ref = deps.front();  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      dependency = co_await resolve_dependency(std::move(ref));
      if (!leading_) co_return;
      bool has_rca = false;
      for (const auto& w : dependency->workloads) {
        has_rca = has_rca || tracker_.active_for_workload(dependency->ref.namespace_, w.kind, w.name) != nullptr;
      }
      note_dependency(*dependency, diagnosis, has_rca);
    }
  }
  record_diagnosis(s, target, std::move(diagnosis), dependency);
}
}  // namespace crashdiag::daemon
