// The hand-off from detection to the diagnosis workers (issue 13 item 1: the queue stage). A
// detected failure is filtered (another shard's, silenced, already counted, diagnosed recently),
// keyed by its dedupe key and added to core::WorkQueue (client-go's workqueue rules,
// core/work_queue.hpp) after the evidence delay; the workers take keys as they become due. No
// timer polls: the delayer sleeps until the queue's next due time, idle workers until work.

#include <algorithm>
#include <boost/asio/steady_timer.hpp>

#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "metrics.hpp"
#include "no_throw.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;

void Daemon::enqueue(const core::CrashSignal& signal, std::string pod_json, bool count) {
  if (!core::owns(options_.shard, signal.namespace_)) return;  // another shard's: not counted here either
  // A pod a list shows again (after a restart of crashdiag, a take-over, a relist) with a failure
  // an RCA already holds: nothing happened since.
  if (signal.first_sight && tracker_.counted(signal.pod_uid, signal.restart_count)) return;
  // The cluster owner's silence, for every way a failure is found (a watch event, the initial
  // list, a relist, a new leader's walk of its store, an unready deadline): the pod's own
  // annotation and --exclude-namespaces are known here; the workload's and the namespace's
  // annotations are read before diagnosing (silenced()).
  const std::optional<core::PodRecord> pod = pods_.find(signal.namespace_ + "/" + signal.pod);
  if ((pod && pod->ignored) || std::find(options_.exclude_namespaces.begin(), options_.exclude_namespaces.end(),
                                         signal.namespace_) != options_.exclude_namespaces.end()) {
    ++ignored_;
    return;
  }
  if (count) {
    if (options_.on_signal) options_.on_signal(signal);
    ++signals_;
    if (options_.metrics != nullptr) options_.metrics->crash_signal(signal.reason);
  }
  if (!leading_) return;  // followers only keep their pod store warm
  // Fast path: a failure already diagnosed recently only counts. No evidence, no queue.
  if (auto workload = cached_workload(signal)) {
    const core::RcaTarget target = make_target(signal, *workload);
    if (!tracker_.needs_diagnosis(target, wall_now())) {
      record(signal, target, nullptr);
      return;
    }
  }
  // One diagnosis per failure at a time: replicas failing the same way while it waits out the
  // delay, is queued or is gathered wait for it, then only count.
  const std::string key = signal.dedupe_key();
  const core::TimePoint now = queue_now();
  if (queue_.tracked(key)) {
    jobs_[key].push_back(Job{signal, ""});  // the pod JSON is not needed to count
    // Being diagnosed: the key is marked and handed out again when its worker is done
    // (client-go's queue.go Add and Done), to one worker, never to two at once. Waiting or
    // queued: these jobs go with it.
    if (queue_.processing(key)) queue_.add(key, now);
    return;
  }
  jobs_[key].push_back(Job{signal, std::move(pod_json)});
  if (options_.evidence_delay.count() > 0) {
    const std::optional<core::TimePoint> earliest = queue_.next_due();
    queue_.add_after(key, options_.evidence_delay, now);
    if (queue_.next_due() != earliest) delay_wake_->cancel();  // the delayer sleeps until the earliest
    return;
  }
  queue_.add(key, now);
  work_ready_->cancel();
}

asio::awaitable<void> Daemon::delayer() {
  // client-go's waiting loop (delaying_queue.go), on one timer armed to the queue's next due time.
  while (!stopping_) {
    queue_.advance(queue_now());
    if (queue_.len() > 0) work_ready_->cancel();
    const std::optional<core::TimePoint> due = queue_.next_due();
    // The wait is a difference of two readings of the injected clock, so a test clock and the
    // real one arm the timer the same way.
    if (due) {
      delay_wake_->expires_after(
          std::chrono::duration_cast<asio::steady_timer::duration>(std::max(*due - queue_now(), core::Duration{0})));
    } else {
      delay_wake_->expires_at(asio::steady_timer::time_point::max());
    }
    co_await delay_wake_->async_wait(kNoThrow);  // due, cancelled by enqueue() or by stop()
  }
}

asio::awaitable<void> Daemon::worker() {
  while (!stopping_) {
    const std::optional<std::string> key = queue_.get(queue_now());
    if (!key) {
      co_await work_ready_->async_wait(kNoThrow);  // cancelled by enqueue(), the delayer, stop()
      continue;
    }
    // get() moves due keys into the queue too: more than this one may have become ready.
    if (queue_.len() > 0) work_ready_->cancel();
    // The key's jobs: the failure diagnosed first, then the replicas that failed the same way
    // meanwhile, which only count once it is recorded. Jobs arriving from now on wait for done().
    std::vector<Job> jobs;
    if (auto node = jobs_.extract(*key)) jobs = std::move(node.mapped());
    for (Job& job : jobs) {
      if (stopping_ || !leading_) break;  // losing leadership forgets what is queued
      co_await diagnose(std::move(job));
    }
    // controller-runtime's reconcileHandler on success: the key's failures are forgotten, then
    // done() hands it out again if it was added while diagnosed.
    queue_.forget(*key);
    queue_.done(*key, queue_now());
  }
}

}  // namespace crashdiag::daemon
