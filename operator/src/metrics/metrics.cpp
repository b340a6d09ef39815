#include "metrics.hpp"

#include "crashdiag/model/failure.hpp"
#include "log.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <sstream>

namespace crashdiag::metrics {

namespace {

using prometheus::Histogram;

// Crash signals are labelled by the reasons the kubelet writes into a container's waiting or
// terminated state, from the one list the failure definition keeps (crashdiag/model/failure.hpp).
// A runtime may invent others; those are counted as "other" so a misbehaving runtime cannot grow
// the series count.
constexpr std::string_view kOther = "other";

// Why a watch was restarted: the server closed the stream, 410 Gone (resourceVersion too old),
// a transport error, no bytes within the idle timeout, or a non-200 response.
constexpr std::array<std::string_view, 5> kWatchReasons = {"closed", "expired", "error", "idle", "http"};
constexpr std::array<std::string_view, 2> kWatchedResources = {"pods", "events"};
constexpr std::array<std::string_view, 4> kPublishObjects = {"rca", "rca_status", "annotation", "event"};
constexpr std::array<std::string_view, 3> kAlertmanagerResults = {"success", "rejected", "error"};

// Classification is regex and analyzer work on a bounded log tail: microseconds to tens of ms.
Histogram::BucketBoundaries classification_buckets() {
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 1e-1};
}

// client-go's rest_client_request_duration_seconds buckets, so dashboards compare like with like.
Histogram::BucketBoundaries api_buckets() {
  return {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60};
}

// client-go's workqueue latency buckets: metrics.ExponentialBuckets(10e-9, 10, 10), 10 ns to 10 s
// (k8s.io/component-base/metrics/prometheus/workqueue/metrics.go).
Histogram::BucketBoundaries workqueue_buckets() {
  return {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
}

double seconds_of(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}

// An HTTP status as a label value; 0 (no response) and anything that is not a status are "error".
std::string code_label(int code) {
  return code >= 100 && code <= 599 ? std::to_string(code) : "error";
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

template <typename Builder>
auto& family(Builder builder, const std::string& name, const std::string& help, prometheus::Registry& registry) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

// One work queue's series. The queue reports from the daemon's thread; serialize() may run on
// another, so what the unfinished-work gauges are computed from is kept under a mutex. The
// counters, gauges and histograms are prometheus-cpp's, synchronized themselves.
class Metrics::WorkQueueSink final : public core::WorkQueueMetrics {
 public:
  WorkQueueSink(std::string name, prometheus::Gauge& depth, prometheus::Counter& adds, prometheus::Histogram& queued,
                prometheus::Histogram& worked, prometheus::Counter& retries, prometheus::Gauge& unfinished,
                prometheus::Gauge& longest, std::function<core::TimePoint()> clock)
      : name_(std::move(name)),
        depth_(depth),
        adds_(adds),
        queued_(queued),
        worked_(worked),
        retries_(retries),
        unfinished_(unfinished),
        longest_(longest),
        clock_(std::move(clock)) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  void add() override { adds_.Increment(); }
  void depth(std::size_t n) override { depth_.Set(static_cast<double>(n)); }
  void queued(core::Duration waited) override { queued_.Observe(seconds_of(waited)); }
  void worked(core::Duration took) override { worked_.Observe(seconds_of(took)); }
  void retry() override { retries_.Increment(); }
  void processing(std::size_t count, core::TimePoint oldest_start, core::Duration start_sum) override {
    const std::lock_guard lock(mutex_);
    count_ = count;
    oldest_ = oldest_start;
    sum_ = start_sum;
  }
  // metrics.go updateUnfinishedWork, at the scrape's time instead of every 500 ms.
  void refresh() {
    const core::TimePoint now = clock_();
    const std::lock_guard lock(mutex_);
    const auto n = static_cast<core::Duration::rep>(count_);
    unfinished_.Set(count_ == 0 ? 0.0 : seconds_of(core::Duration(n * now.count()) - sum_));
    longest_.Set(count_ == 0 ? 0.0 : seconds_of(now - oldest_));
  }

 private:
  std::string name_;
  prometheus::Gauge& depth_;
  prometheus::Counter& adds_;
  prometheus::Histogram& queued_;
  prometheus::Histogram& worked_;
  prometheus::Counter& retries_;
  prometheus::Gauge& unfinished_;
  prometheus::Gauge& longest_;
  std::function<core::TimePoint()> clock_;
  std::mutex mutex_;
  std::size_t count_ = 0;
  core::TimePoint oldest_{0};
  core::Duration sum_{0};
};

std::span<const std::string_view> known_crash_reasons() {
  return known_failure_reasons();
}
std::span<const std::string_view> watch_restart_reasons() {
  return kWatchReasons;
}
std::span<const std::string_view> publish_objects() {
  return kPublishObjects;
}
std::span<const std::string_view> alertmanager_post_results() {
  return kAlertmanagerResults;
}

// Series that exist from the start read 0 before anything happened, so rate() and absent-series
// alerts work from the first scrape instead of from the first event. Not pre-created, because
// their label values are not known in advance:
// - crashdiag_active_rcas{namespace,...}: namespaces are discovered at run time; the caller sets
//   each (namespace, category, consequence) it has seen, including back to 0.
// - crashdiag_spec_findings{namespace,finding}: likewise, set by the caller from its first finding.
// - crashdiag_api_requests_total / _duration_seconds: the (verb, resource) pairs depend on what
//   the daemon does, and the code set is open; a code series appears with its first response.
// - crashdiag_publish_failures_total{code}: likewise keyed by the code that failed.
Metrics::Metrics(std::vector<std::string> categories, std::string version)
    : categories_(std::move(categories)),
      registry_(std::make_unique<prometheus::Registry>()),
      active_rcas_(family(prometheus::BuildGauge(), "crashdiag_active_rcas",
                          "RootCauseAnalyses currently open, by namespace, root-cause category and whether each is the "
                          "consequence of another (a failing dependency).",
                          *registry_)),
      spec_findings_(family(prometheus::BuildGauge(), "crashdiag_spec_findings",
                            "Workloads whose spec shows a problem before any failure, by namespace and finding "
                            "(data_not_persisted: a datastore's data directory is not on its claim).",
                            *registry_)),
      diagnoses_(family(prometheus::BuildCounter(), "crashdiag_diagnoses_total",
                        "Container failures diagnosed, by the leading hypothesis' category.", *registry_)),
      crash_signals_(family(prometheus::BuildCounter(), "crashdiag_crash_signals_total",
                            "Container failures detected, by kubelet reason (other: a reason not known).", *registry_)),
      classification_duration_(family(prometheus::BuildHistogram(), "crashdiag_classification_duration_seconds",
                                      "Time to classify one container's evidence.", *registry_)
                                   .Add({}, classification_buckets())),
      api_requests_(family(prometheus::BuildCounter(), "crashdiag_api_requests_total",
                           "Kubernetes API requests by verb, resource and HTTP code (error: no response).",
                           *registry_)),
      api_request_duration_(family(prometheus::BuildHistogram(), "crashdiag_api_request_duration_seconds",
                                   "Kubernetes API request latency by verb and resource (watch: time to the "
                                   "response header).",
                                   *registry_)),
      watch_restarts_(family(prometheus::BuildCounter(), "crashdiag_watch_restarts_total",
                             "Watches restarted, by resource and reason (closed, expired, error, idle, http).",
                             *registry_)),
      publish_failures_(family(prometheus::BuildCounter(), "crashdiag_publish_failures_total",
                               "Failed writes to the API server, by object and HTTP code (error: no response).",
                               *registry_)),
      publish_writes_(family(prometheus::BuildCounter(), "crashdiag_publish_writes_total",
                             "Successful writes to the API server, by object.", *registry_)),
      publish_skipped_(family(prometheus::BuildCounter(), "crashdiag_publish_skipped_total",
                              "Writes skipped because the object already had the content, by object.", *registry_)),
      leader_(family(prometheus::BuildGauge(), "crashdiag_leader",
                     "1 while this replica holds the leader lease and publishes, else 0.", *registry_)
                  .Add({})),
      watched_pods_(
          family(prometheus::BuildGauge(), "crashdiag_watched_pods", "Pods in the watch cache.", *registry_).Add({})),
      watch_last_event_(family(prometheus::BuildGauge(), "crashdiag_watch_last_event_timestamp_seconds",
                               "Unix time of the last event (bookmarks included) each watch delivered.", *registry_)),
      rules_loaded_(family(prometheus::BuildGauge(), "crashdiag_rules_loaded",
                           "Classification rules in effect (built-in packs plus --rules-dir).", *registry_)
                        .Add({})),
      rules_reloads_(family(prometheus::BuildCounter(), "crashdiag_rules_reloads_total",
                            "Reloads of --rules-dir after its files changed, by result (success, failure).",
                            *registry_)),
      rules_last_reload_successful_(family(prometheus::BuildGauge(), "crashdiag_rules_last_reload_successful",
                                           "1 if the last reload of --rules-dir succeeded (or none was needed), "
                                           "0 if the rules in effect are older than the files.",
                                           *registry_)
                                        .Add({})),
      alertmanager_posts_(family(prometheus::BuildCounter(), "crashdiag_alertmanager_posts_total",
                                 "POSTs of alerts to --alertmanager-url, by result (success, rejected: a 4xx "
                                 "answer, error: no answer, 5xx or 429).",
                                 *registry_)),
      // client-go's names and help texts (k8s.io/component-base/metrics/prometheus/workqueue),
      // so the dashboards and alerts written for controllers work unchanged. No series until a
      // queue is named (work_queue()).
      workqueue_depth_(family(prometheus::BuildGauge(), "workqueue_depth", "Current depth of workqueue", *registry_)),
      workqueue_adds_(family(prometheus::BuildCounter(), "workqueue_adds_total",
                             "Total number of adds handled by workqueue", *registry_)),
      workqueue_queue_duration_(family(prometheus::BuildHistogram(), "workqueue_queue_duration_seconds",
                                       "How long in seconds an item stays in workqueue before being requested.",
                                       *registry_)),
      workqueue_work_duration_(family(prometheus::BuildHistogram(), "workqueue_work_duration_seconds",
                                      "How long in seconds processing an item from workqueue takes.", *registry_)),
      workqueue_retries_(family(prometheus::BuildCounter(), "workqueue_retries_total",
                                "Total number of retries handled by workqueue", *registry_)),
      workqueue_unfinished_work_(family(prometheus::BuildGauge(), "workqueue_unfinished_work_seconds",
                                        "How many seconds of work has done that is in progress and hasn't been "
                                        "observed by work_duration. Large values indicate stuck threads. One can "
                                        "deduce the number of stuck threads by observing the rate at which this "
                                        "increases.",
                                        *registry_)),
      workqueue_longest_running_(family(prometheus::BuildGauge(), "workqueue_longest_running_processor_seconds",
                                        "How many seconds has the longest running processor for workqueue been "
                                        "running.",
                                        *registry_)) {
  family(prometheus::BuildGauge(), "crashdiag_build_info", "The running build; the value is always 1.", *registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
  for (const std::string& c : categories_) diagnoses_.Add({{"category", c}});
  for (std::string_view r : known_failure_reasons()) crash_signals_.Add({{"reason", std::string(r)}});
  crash_signals_.Add({{"reason", std::string(kOther)}});
  for (std::string_view res : kWatchedResources) {
    for (std::string_view r : kWatchReasons)
      watch_restarts_.Add({{"resource", std::string(res)}, {"reason", std::string(r)}});
  }
  for (std::string_view o : kPublishObjects) {
    publish_writes_.Add({{"object", std::string(o)}});
    publish_skipped_.Add({{"object", std::string(o)}});
  }
  leader_.Set(0);
  // No watch_last_event_ series until a watch delivers: a zero would read as "stalled since 1970".
  rules_reloads_.Add({{"result", "success"}});
  rules_reloads_.Add({{"result", "failure"}});
  rules_last_reload_successful_.Set(1);
  // Present (at 0) even without --alertmanager-url: one metric set for every configuration.
  for (std::string_view r : kAlertmanagerResults) alertmanager_posts_.Add({{"result", std::string(r)}});
}

Metrics::~Metrics() = default;

const std::string& Metrics::bounded_category(const std::string& category) const {
  static const std::string kOtherCategory(kOther);
  return std::find(categories_.begin(), categories_.end(), category) != categories_.end() ? category : kOtherCategory;
}

// A sample that cannot be recorded (allocation failure, prometheus-cpp's label checks) is dropped
// and logged, not thrown: losing a sample is better than losing the daemon. The first few drops
// are logged, then every 1000th, so a broken label does not flood the log. prometheus-cpp and the
// standard library throw only std::exception; anything else reaching this noexcept function is a
// bug and terminates rather than being swallowed.
void dropped(std::string_view where, std::string_view why) noexcept {
  static std::atomic<std::uint64_t> drops{0};
  const std::uint64_t n = ++drops;
  if (n <= 5 || n % 1000 == 0) {
    daemon::log(daemon::LogLevel::kWarn, "metric sample dropped",
                {{"where", std::string(where)}, {"error", std::string(why)}, {"dropped", std::to_string(n)}});
  }
}

template <typename F>
void sample(std::string_view where, F&& record) noexcept {
  try {
    record();
  } catch (const std::exception& e) {
    dropped(where, e.what());
  }
}

void Metrics::set_spec_findings(const std::string& ns, const std::string& finding, double n) noexcept {
  sample("set_spec_findings", [&] { spec_findings_.Add({{"namespace", ns}, {"finding", finding}}).Set(n); });
}

void Metrics::set_active_rcas(const std::string& ns, const std::string& category, bool consequence, double n) noexcept {
  sample("set_active_rcas", [&] {
    active_rcas_
        .Add({{"namespace", ns},
              {"category", bounded_category(category)},
              {"consequence", consequence ? "true" : "false"}})
        .Set(n);
  });
}

void Metrics::diagnosis(const std::string& category) noexcept {
  sample("diagnosis", [&] { diagnoses_.Add({{"category", bounded_category(category)}}).Increment(); });
}

void Metrics::crash_signal(const std::string& reason) noexcept {
  sample("crash_signal", [&] {
    const auto reasons = known_failure_reasons();
    const bool known = std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
    crash_signals_.Add({{"reason", known ? reason : std::string(kOther)}}).Increment();
  });
}

void Metrics::classification_duration(double seconds) noexcept {
  sample("classification_duration", [&] { classification_duration_.Observe(seconds); });
}

void Metrics::api_request(std::string_view verb, std::string_view resource, int code, double seconds) noexcept {
  sample("api_request", [&] {
    std::string v = lowercase(verb);
    std::string r(resource);
    api_requests_.Add({{"verb", v}, {"resource", r}, {"code", code_label(code)}}).Increment();
    api_request_duration_.Add({{"verb", std::move(v)}, {"resource", std::move(r)}}, api_buckets()).Observe(seconds);
  });
}

void Metrics::watch_restart(const std::string& resource, const std::string& reason) noexcept {
  sample("watch_restart", [&] {
    const bool known = std::find(kWatchReasons.begin(), kWatchReasons.end(), reason) != kWatchReasons.end();
    watch_restarts_.Add({{"resource", resource}, {"reason", known ? reason : std::string("error")}}).Increment();
  });
}

void Metrics::publish_write(const std::string& object) noexcept {
  sample("publish_write", [&] { publish_writes_.Add({{"object", object}}).Increment(); });
}

void Metrics::publish_skipped(const std::string& object) noexcept {
  sample("publish_skipped", [&] { publish_skipped_.Add({{"object", object}}).Increment(); });
}

void Metrics::publish_failure(const std::string& object, int code) noexcept {
  sample("publish_failure", [&] {
    publish_failures_.Add({{"object", object}, {"code", code_label(code)}}).Increment();
  });
}

void Metrics::set_leader(bool leader) noexcept {
  leader_.Set(leader ? 1 : 0);
}

void Metrics::set_watched_pods(double n) noexcept {
  watched_pods_.Set(n);
}

void Metrics::watch_event(const std::string& resource, double unix_seconds) noexcept {
  sample("watch_event", [&] { watch_last_event_.Add({{"resource", resource}}).Set(unix_seconds); });
}

void Metrics::set_rules_loaded(double n) noexcept {
  rules_loaded_.Set(n);
}

void Metrics::rules_reload(bool success) noexcept {
  sample("rules_reload", [&] {
    rules_reloads_.Add({{"result", success ? "success" : "failure"}}).Increment();
    rules_last_reload_successful_.Set(success ? 1 : 0);
  });
}

void Metrics::alertmanager_post(std::string_view result) noexcept {
  sample("alertmanager_post", [&] {
    const bool known =
        std::find(kAlertmanagerResults.begin(), kAlertmanagerResults.end(), result) != kAlertmanagerResults.end();
    alertmanager_posts_.Add({{"result", std::string(known ? result : "error")}}).Increment();
  });
}

core::WorkQueueMetrics* Metrics::work_queue(const std::string& name, std::function<core::TimePoint()> clock) noexcept {
  WorkQueueSink* out = nullptr;
  sample("work_queue", [&] {
    const std::lock_guard lock(work_queues_mutex_);
    for (const auto& q : work_queues_) {
      if (q->name() == name) {
        out = q.get();
        return;
      }
    }
    const prometheus::Labels labels{{"name", name}};
    if (!clock) clock = &core::steady_now;
    work_queues_.push_back(std::make_unique<WorkQueueSink>(
        name, workqueue_depth_.Add(labels), workqueue_adds_.Add(labels),
        workqueue_queue_duration_.Add(labels, workqueue_buckets()),
        workqueue_work_duration_.Add(labels, workqueue_buckets()), workqueue_retries_.Add(labels),
        workqueue_unfinished_work_.Add(labels), workqueue_longest_running_.Add(labels), std::move(clock)));
    out = work_queues_.back().get();
  });
  return out;
}

std::string Metrics::serialize() const noexcept {
  std::string text;
  sample("serialize", [&] {
    {
      const std::lock_guard lock(work_queues_mutex_);
      for (const auto& q : work_queues_) q->refresh();
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    text = out.str();
  });
  return text;  // empty when it failed: /metrics answers with no samples rather than dying
}

}  // namespace crashdiag::metrics
