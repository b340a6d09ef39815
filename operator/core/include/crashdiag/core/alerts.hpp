// RootCauseAnalyses as Alertmanager alerts (pure): what is posted to Alertmanager's v2 API for an
// RCA, and when. Nothing here performs I/O or reads a clock; publish/alert_sink.cpp posts the
// batches this plans and reports back how each went.
//
// The Alertmanager behaviour this relies on (api/v2/openapi.yaml `postableAlerts`, api/v2/api.go
// postAlertsHandler, provider/mem, types.Alert.Merge):
// - An alert is identified by its label set alone (its fingerprint). Posting the same labels
//   again updates that alert; different labels are a different alert. So when an RCA's labels
//   change (a Changed cause has another category and severity), the old label set must be
//   resolved explicitly, or it keeps firing until its endsAt.
// - `endsAt` in the future: the alert fires until then unless it is posted again (re-sent).
//   `endsAt` in the past or now: the alert is resolved. Without `endsAt` Alertmanager would apply
//   its own `resolve_timeout` (5m by default) and treat the alert as timing out; we always send
//   `endsAt`, so resolve_timeout never applies to these alerts.
// - `startsAt` must not be after `endsAt` (types.Alert.Validate); empty label values are dropped.
// - A POST answered 400 still stored every valid alert of the batch ("best effort").
// - GET /api/v2/alerts lists only alerts whose endsAt has not passed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/core/rca.hpp"
#include "crashdiag/core/time.hpp"

namespace crashdiag::core {

inline constexpr std::string_view kAlertName = "CrashdiagRootCause";

struct AlertOptions {
  // A firing alert is posted again this often (--alertmanager-resend-interval) ...
  Duration resend_interval{60'000};
  // ... with endsAt this many intervals ahead: two re-sends can be lost (Alertmanager restarting,
  // a leader handover) before the alert resolves by itself, and an alert whose sender died
  // resolves within this many intervals instead of firing forever.
  int validity_intervals = 3;
  // A failed POST (no answer, 5xx, 429) is retried after retry_base, doubling up to retry_cap.
  Duration retry_base{1'000};
  Duration retry_cap{30'000};
  std::size_t max_batch = 64;  // alerts per POST
  // Bounds, in bytes, cut at UTF-8 character boundaries.
  std::size_t max_label_bytes = 256;
  std::size_t max_summary_bytes = 1024;
  std::size_t max_fix_bytes = 4096;
};

struct Alert {
  std::map<std::string, std::string> labels;  // the alert's identity in Alertmanager
  std::map<std::string, std::string> annotations;
  WallTime starts_at{0};
  WallTime ends_at{0};
  [[nodiscard]] bool resolved(WallTime now) const { return ends_at <= now; }
};

// One postableAlert of Alertmanager's v2 API: labels, annotations, startsAt, endsAt (RFC 3339).
[[nodiscard]] nlohmann::json to_json(const Alert& alert);

// "critical" for the categories that page (the list of CrashdiagRootCausePage in
// manifests/prometheus/prometheusrule.yaml, reasons in docs/operations.md), "warning" for the rest.
[[nodiscard]] std::string_view alert_severity(std::string_view category);
[[nodiscard]] std::span<const std::string_view> paging_categories();

// The RCA at the root of `state`'s cause chain, following RcaState::caused_by through `lookup`
// (at most 8 links; a cycle or a missing link stops there). `state`'s own name when it has no cause.
[[nodiscard]] std::string alert_incident(const RcaState& state,
                                         const std::function<const RcaState*(const std::string&)>& lookup);

// The alert for an RCA at `now`. Active: firing since the Active phase began, endsAt `now` plus
// validity_intervals × resend_interval. Resolved: startsAt the start of the last Active phase,
// endsAt `now`. Labels: alertname, namespace, workload ("Deployment/web"), container, category,
// severity, crashdiag_rca (the RCA's name), crashdiag_incident (alert_incident: what an inhibit
// rule compares) and, only when the RCA has a cause, caused_by. Annotations: summary, fix, rca,
// describe (the kubectl command that shows the evidence).
[[nodiscard]] Alert build_alert(const RcaState& state, std::string_view incident, const AlertOptions& options,
                                WallTime now);

// One alert of a batch: `current` is the RCA's alert as it is now; otherwise it resolves a label
// set posted earlier for the RCA that its current labels replace.
struct PlannedAlert {
  std::string rca;
  Alert alert;
  bool current = true;
  bool firing = true;
};

struct AlertBatch {
  std::uint64_t epoch = 0;
  std::vector<PlannedAlert> alerts;
  std::map<std::string, std::uint64_t> versions;  // RCA -> its version when planned
  [[nodiscard]] bool empty() const { return alerts.empty(); }
};

// Decides what to post and when, from the RCAs' state. Per RCA it remembers the alert Alertmanager
// last accepted and when to look again (re-send, or retry after a failure). RCAs are looked at
// when touched (Identified, Changed, Reopened, Resolved, or taken over) and when their re-send or
// retry is due; every batch is built from the RCA as it is then, so a retry sends the latest.
class AlertPlanner {
 public:
  explicit AlertPlanner(AlertOptions options = {}) : options_(options) {}

  // The RCA changed in a way Alertmanager must hear about now (a failure in back-off keeps its
  // retry time: the retry sends the latest state anyway).
  void touch(const std::string& rca);
  // Every Active RCA (after taking over: the previous leader's alerts are re-sent from here on).
  void touch_active(const RcaTracker& tracker);

  // What is due at `now`, at most about max_batch alerts; empty when nothing is. The RCAs in it
  // are in flight until delivered() or failed(). Two readings of one instant: the schedule (re-sends,
  // retries) runs on the monotonic clock, so a step of the wall clock neither holds a re-send back
  // nor fires every one at once; what Alertmanager is told (startsAt, endsAt) is wall time, the
  // only time it knows.
  [[nodiscard]] AlertBatch next(const RcaTracker& tracker, TimePoint now, WallTime wall);
  // Alertmanager answered 2xx, or 4xx (it refused this content: sending it again before the next
  // re-send cannot help; a 400 still stored the valid alerts of the batch).
  void delivered(const AlertBatch& batch, TimePoint now);
  // No answer, 5xx or 429: each RCA in the batch is retried with exponential back-off.
  void failed(const AlertBatch& batch, TimePoint now);

  // The earliest time something is due (for the sender's timer); nullopt: nothing until touched.
  [[nodiscard]] std::optional<TimePoint> next_due() const;
  // Leadership lost: forget everything; batches in flight no longer count.
  void reset();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] const AlertOptions& options() const { return options_; }
  // The alert Alertmanager last accepted for this RCA, if it is firing there.
  [[nodiscard]] const Alert* posted(const std::string& rca) const;

 private:
  struct Entry {
    std::optional<Alert> posted;  // firing in Alertmanager as far as we know
    TimePoint due{0};             // monotonic: when to look at this RCA again
    std::uint64_t version = 0;
    int failures = 0;
    bool in_flight = false;
  };
  [[nodiscard]] Duration backoff(int failures) const;

  AlertOptions options_;
  std::map<std::string, Entry> entries_;
  std::uint64_t epoch_ = 0;
};

// --alertmanager-url: http:// or https://, a host (IPv6 in brackets), an optional port and an
// optional path prefix (Alertmanager behind --web.route-prefix or a proxy path).
struct AlertmanagerUrl {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path_prefix;  // "" or "/alertmanager": no trailing slash
  [[nodiscard]] std::string alerts_path() const { return path_prefix + "/api/v2/alerts"; }
  [[nodiscard]] std::string display() const;
};

enum class AlertmanagerUrlError { kScheme, kNoHost, kBadPort, kBadIpv6, kQueryOrFragment };
[[nodiscard]] std::string_view describe(AlertmanagerUrlError error);
[[nodiscard]] tl::expected<AlertmanagerUrl, AlertmanagerUrlError> parse_alertmanager_url(std::string_view url);

}  // namespace crashdiag::core
