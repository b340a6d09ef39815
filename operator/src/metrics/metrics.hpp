// The daemon's Prometheus metrics (prometheus-cpp core, text exposition format 0.0.4).
// Every label is bounded: categories, kubelet reasons, verbs, resources, HTTP codes, publish
// objects. Never a pod name or UID: a crash-looping fleet would otherwise mint a series per pod.
// prometheus-cpp's metrics and families are internally synchronized, so every method may be called
// from any thread; this class keeps no other mutable state. No method throws: a metrics failure
// must never take the daemon down.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crashdiag/core/work_queue.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace crashdiag::metrics {

// The Content-Type of serialize()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The kubelet's container waiting/terminated reasons crash_signal() keeps; anything else is "other".
[[nodiscard]] std::span<const std::string_view> known_crash_reasons();
// The watch_restart() reasons; anything else is counted as "error".
[[nodiscard]] std::span<const std::string_view> watch_restart_reasons();
// The objects the publisher writes: rca, rca_status, annotation, event.
[[nodiscard]] std::span<const std::string_view> publish_objects();
// The results of a POST to Alertmanager: success (2xx), rejected (4xx but 429: the content was
// refused), error (no answer, 5xx, 429).
[[nodiscard]] std::span<const std::string_view> alertmanager_post_results();

class Metrics {
 public:
  // `categories`: the classifier's closed vocabulary (crashdiag::categories()); `version`: the
  // build's version for crashdiag_build_info.
  explicit Metrics(std::vector<std::string> categories, std::string version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  Metrics(Metrics&&) = delete;
  Metrics& operator=(Metrics&&) = delete;

  // crashdiag_active_rcas{namespace,category,consequence}: the caller owns the count and sets it.
  // consequence="true" counts RCAs linked to the RCA of a failing dependency (status.causedBy):
  // the shipped alerts page on the cause only.
  void set_active_rcas(const std::string& ns, const std::string& category, bool consequence, double n) noexcept;
  // crashdiag_spec_findings{namespace,finding}: workloads whose spec shows a problem before any
  // failure (data_not_persisted: a datastore's data off its claim); the caller owns the count.
  void set_spec_findings(const std::string& ns, const std::string& finding, double n) noexcept;
  // crashdiag_diagnoses_total{category}; a category outside the constructor's list is "other".
  void diagnosis(const std::string& category) noexcept;
  // crashdiag_crash_signals_total{reason}; a reason outside known_crash_reasons() is "other".
  void crash_signal(const std::string& reason) noexcept;
  // crashdiag_classification_duration_seconds.
  void classification_duration(double seconds) noexcept;
  // crashdiag_api_requests_total{verb,resource,code} and crashdiag_api_request_duration_seconds
  // {verb,resource}. `verb`: lowercase get/list/watch/post/patch/put/delete; code 0 = transport
  // error, labelled code="error".
  void api_request(std::string_view verb, std::string_view resource, int code, double seconds) noexcept;
  // crashdiag_watch_restarts_total{resource,reason}; reason one of watch_restart_reasons().
  void watch_restart(const std::string& resource, const std::string& reason) noexcept;
  // crashdiag_publish_writes_total{object}, crashdiag_publish_skipped_total{object} (nothing
  // changed, so no write), crashdiag_publish_failures_total{object,code} (code 0 = "error").
  void publish_write(const std::string& object) noexcept;
  void publish_skipped(const std::string& object) noexcept;
  void publish_failure(const std::string& object, int code) noexcept;
  // crashdiag_leader: 1 while this replica holds the lease.
  void set_leader(bool leader) noexcept;
  // crashdiag_watched_pods: pods in the watch cache.
  void set_watched_pods(double n) noexcept;
  // crashdiag_watch_last_event_timestamp_seconds{resource}: the wall time (Unix seconds) of the last
  // event a watch delivered, bookmarks included, so a silent watch shows as a growing age.
  void watch_event(const std::string& resource, double unix_seconds) noexcept;
  // crashdiag_rules_loaded: rules in effect. crashdiag_rules_reloads_total{result=success|failure}
  // and crashdiag_rules_last_reload_successful (1/0), as Prometheus' own
  // prometheus_config_last_reload_successful: a failed reload keeps the last good rule set.
  void set_rules_loaded(double n) noexcept;
  void rules_reload(bool success) noexcept;
  // crashdiag_alertmanager_posts_total{result}: POSTs of alerts to --alertmanager-url, by result
  // (alertmanager_post_results(): success, rejected, error); anything else is counted as "error".
  void alertmanager_post(std::string_view result) noexcept;

  // client-go's work queue families for the queue called `name` (the `name` label, as
  // k8s.io/component-base/metrics/prometheus/workqueue registers them): workqueue_depth,
  // workqueue_adds_total, workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
  // workqueue_retries_total, workqueue_unfinished_work_seconds and
  // workqueue_longest_running_processor_seconds. The returned sink is given to the
  // core::WorkQueue; it lives as long as this object (the same one for the same name). The two
  // unfinished-work gauges are computed at each serialize() with `clock`, which must read the
  // time the queue is given (default: core::steady_now, the process's monotonic clock). nullptr if the
  // series could not be created (logged).
  [[nodiscard]] core::WorkQueueMetrics* work_queue(const std::string& name,
                                                   std::function<core::TimePoint()> clock = {}) noexcept;

  // The text exposition format; empty if collection failed.
  [[nodiscard]] std::string serialize() const noexcept;

 private:
  [[nodiscard]] const std::string& bounded_category(const std::string& category) const;

  std::vector<std::string> categories_;
  std::unique_ptr<prometheus::Registry> registry_;
  // References into registry_, which owns the families for its whole life.
  prometheus::Family<prometheus::Gauge>& active_rcas_;
  prometheus::Family<prometheus::Gauge>& spec_findings_;
  prometheus::Family<prometheus::Counter>& diagnoses_;
  prometheus::Family<prometheus::Counter>& crash_signals_;
  prometheus::Histogram& classification_duration_;
  prometheus::Family<prometheus::Counter>& api_requests_;
  prometheus::Family<prometheus::Histogram>& api_request_duration_;
  prometheus::Family<prometheus::Counter>& watch_restarts_;
  prometheus::Family<prometheus::Counter>& publish_failures_;
  prometheus::Family<prometheus::Counter>& publish_writes_;
  prometheus::Family<prometheus::Counter>& publish_skipped_;
  prometheus::Gauge& leader_;
  prometheus::Gauge& watched_pods_;
  prometheus::Family<prometheus::Gauge>& watch_last_event_;
  prometheus::Gauge& rules_loaded_;
  prometheus::Family<prometheus::Counter>& rules_reloads_;
  prometheus::Gauge& rules_last_reload_successful_;
  prometheus::Family<prometheus::Counter>& alertmanager_posts_;
  prometheus::Family<prometheus::Gauge>& workqueue_depth_;
  prometheus::Family<prometheus::Counter>& workqueue_adds_;
  prometheus::Family<prometheus::Histogram>& workqueue_queue_duration_;
  prometheus::Family<prometheus::Histogram>& workqueue_work_duration_;
  prometheus::Family<prometheus::Counter>& workqueue_retries_;
  prometheus::Family<prometheus::Gauge>& workqueue_unfinished_work_;
  prometheus::Family<prometheus::Gauge>& workqueue_longest_running_;
  class WorkQueueSink;
  mutable std::mutex work_queues_mutex_;
  std::vector<std::unique_ptr<WorkQueueSink>> work_queues_;  // guarded by work_queues_mutex_
};

}  // namespace crashdiag::metrics
