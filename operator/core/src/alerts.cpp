#include "crashdiag/core/alerts.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

#include "crashdiag/model/utf8.hpp"

namespace crashdiag::core {

using nlohmann::json;

namespace {

// The categories that page: CrashdiagRootCausePage's `category=~` list in
// manifests/prometheus/prometheusrule.yaml (a test compares the two), with the reasons in
// docs/operations.md "Severity by category". The alert's severity label uses the same split and
// the same values as those rules, so one Alertmanager route serves both.
constexpr std::array<std::string_view, 9> kPagingCategories = {"oom_killed",
                                                               "image_pull",
                                                               "disk_full",
                                                               "dns_resolution_failure",
                                                               "tls_certificate_error",
                                                               "db_connection_refused",
                                                               "db_auth_failed",
                                                               "liveness_probe_failure",
                                                               "data_reinitialized"};

constexpr std::size_t kMaxCauseLinks = 8;

std::string cut(std::string_view s, std::size_t max_bytes) {
  return std::string(utf8_prefix(s, max_bytes));
}

// When the Active phase that a Resolved RCA just left began: its last Identified or Reopened
// entry, else (pruned from the bounded history) when it was first seen.
WallTime last_active_start(const RcaState& s) {
  for (auto it = s.history.rbegin(); it != s.history.rend(); ++it) {
    if (it->change == "Identified" || it->change == "Reopened") return it->time;
  }
  return s.first_seen;
}

// The alert as posted, resolved at `now`: same labels (the identity Alertmanager knows), endsAt now
// but never before startsAt (types.Alert.Validate rejects that).
Alert resolved_copy(const Alert& posted, WallTime now) {
  Alert out = posted;
  out.ends_at = std::max(now, posted.starts_at);
  return out;
}

}  // namespace

json to_json(const Alert& alert) {
  json labels = json::object();
  for (const auto& [k, v] : alert.labels) labels[k] = v;
  json annotations = json::object();
  for (const auto& [k, v] : alert.annotations) annotations[k] = v;
  // Millisecond precision: an endsAt of "now" truncated to whole seconds could fall before a
  // startsAt in the same second that carried its fraction.
  return json{{"labels", std::move(labels)},
              {"annotations", std::move(annotations)},
              {"startsAt", format_micro_time(alert.starts_at)},
              {"endsAt", format_micro_time(alert.ends_at)}};
}

std::span<const std::string_view> paging_categories() {
  return kPagingCategories;
}

std::string_view alert_severity(std::string_view category) {
  return std::find(kPagingCategories.begin(), kPagingCategories.end(), category) != kPagingCategories.end() ? "critical"
                                                                                                            : "warning";
}

std::string alert_incident(const RcaState& state, const std::function<const RcaState*(const std::string&)>& lookup) {
  std::string root = state.name;
  std::set<std::string> seen{state.name};
  const RcaState* at = &state;
  for (std::size_t links = 0; links < kMaxCauseLinks && !at->caused_by.empty(); ++links) {
    if (!seen.insert(at->caused_by).second) break;  // a cycle: stop where it closes
    root = at->caused_by;
    at = lookup ? lookup(root) : nullptr;
    if (at == nullptr) break;  // the cause is not known here: it is still the root we can name
  }
  return root;
}

Alert build_alert(const RcaState& s, std::string_view incident, const AlertOptions& o, WallTime now) {
  Alert a;
  const Hypothesis* top = s.top();
  const std::string category = top != nullptr && !top->category.empty() ? top->category : "unknown";
  auto label = [&](const char* name, std::string_view value) {
    if (!value.empty()) a.labels[name] = cut(value, o.max_label_bytes);
  };
  label("alertname", kAlertName);
  label("namespace", s.target.namespace_);
  label("workload", s.target.workload.display());
  label("container", s.target.container);
  label("category", category);
  label("severity", alert_severity(category));
  label("crashdiag_rca", s.name);
  label("crashdiag_incident", incident.empty() ? std::string_view(s.name) : incident);
  label("caused_by", s.caused_by);  // absent, not empty, while the RCA has no cause link

  const std::string summary = top != nullptr && !top->summary.empty() ? top->summary : s.diagnosis.state;
  a.annotations["summary"] = cut(category + ": " + summary, o.max_summary_bytes);
  if (top != nullptr && !top->remediation.empty()) a.annotations["fix"] = cut(top->remediation, o.max_fix_bytes);
  a.annotations["rca"] = s.name;
  a.annotations["describe"] = "kubectl describe rca -n " + s.target.namespace_ + " " + s.name;

  if (s.active) {
    a.starts_at = std::min(s.phase_since, now);
    a.ends_at = now + o.resend_interval * o.validity_intervals;
  } else {
    a.starts_at = std::min(last_active_start(s), now);
    a.ends_at = now;
  }
  return a;
}

void AlertPlanner::touch(const std::string& rca) {
  Entry& e = entries_[rca];
  ++e.version;
  if (e.failures == 0) e.due = TimePoint{0};
}

void AlertPlanner::touch_active(const RcaTracker& tracker) {
  for (const auto& [name, state] : tracker.all()) {
    if (state.active) touch(name);
  }
}

AlertBatch AlertPlanner::next(const RcaTracker& tracker, TimePoint now, WallTime wall) {
  AlertBatch batch;
  batch.epoch = epoch_;
  const auto lookup = [&tracker](const std::string& name) { return tracker.find(name); };
  for (auto it = entries_.begin(); it != entries_.end() && batch.alerts.size() < options_.max_batch;) {
    Entry& e = it->second;
    if (e.in_flight || e.due > now) {
      ++it;
      continue;
    }
    const RcaState* state = tracker.find(it->first);
    // Resolved before Alertmanager ever heard of it, or gone from the tracker unheard of: nothing
    // to say.
    if (!e.posted && (state == nullptr || !state->active)) {
      it = entries_.erase(it);
      continue;
    }
    if (state == nullptr || !state->active) {
      // Resolved, or forgotten with its deleted workload (RcaTracker::forget_workload): the
      // alert Alertmanager has ends now rather than at its endsAt.
      // Resolve exactly the label set Alertmanager has (its identity), with the startsAt it has.
      batch.alerts.push_back(PlannedAlert{it->first, resolved_copy(*e.posted, wall), true, false});
    } else {
      Alert alert = build_alert(*state, alert_incident(*state, lookup), options_, wall);
      const bool retire = e.posted && e.posted->labels != alert.labels;
      if (retire && batch.alerts.size() + 2 > options_.max_batch && !batch.alerts.empty()) break;  // next batch
      if (retire) {
        // Another label set is another alert to Alertmanager: end the one it has.
        batch.alerts.push_back(PlannedAlert{it->first, resolved_copy(*e.posted, wall), false, false});
      }
      batch.alerts.push_back(PlannedAlert{it->first, std::move(alert), true, true});
    }
    batch.versions[it->first] = e.version;
    e.in_flight = true;
    ++it;
  }
  return batch;
}

void AlertPlanner::delivered(const AlertBatch& batch, TimePoint now) {
  if (batch.epoch != epoch_) return;
  for (const PlannedAlert& p : batch.alerts) {
    if (!p.current) continue;
    auto it = entries_.find(p.rca);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.in_flight = false;
    e.failures = 0;
    const auto v = batch.versions.find(p.rca);
    const bool changed_since = v == batch.versions.end() || v->second != e.version;
    if (p.firing) {
      e.posted = p.alert;
      e.due = changed_since ? TimePoint{0} : now + options_.resend_interval;
    } else if (changed_since) {
      e.posted.reset();  // resolved in Alertmanager; touched again meanwhile (reopened): look now
      e.due = TimePoint{0};
    } else {
      entries_.erase(it);  // resolved, and stays so until touched again
    }
  }
}

void AlertPlanner::failed(const AlertBatch& batch, TimePoint now) {
  if (batch.epoch != epoch_) return;
  for (const auto& [rca, version] : batch.versions) {
    auto it = entries_.find(rca);
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.in_flight = false;
    ++e.failures;
    e.due = now + backoff(e.failures);
  }
}

Duration AlertPlanner::backoff(int failures) const {
  const int doublings = std::clamp(failures - 1, 0, 20);
  Duration delay = options_.retry_base;
  for (int i = 0; i < doublings && delay < options_.retry_cap; ++i) delay *= 2;
  return std::min(delay, options_.retry_cap);
}

std::optional<TimePoint> AlertPlanner::next_due() const {
  std::optional<TimePoint> due;
  for (const auto& [name, e] : entries_) {
    if (e.in_flight) continue;
    due = due ? std::min(*due, e.due) : e.due;
  }
  return due;
}

void AlertPlanner::reset() {
  entries_.clear();
  ++epoch_;
}

const Alert* AlertPlanner::posted(const std::string& rca) const {
  auto it = entries_.find(rca);
  return it == entries_.end() || !it->second.posted ? nullptr : &*it->second.posted;
}

std::string AlertmanagerUrl::display() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "https://" : "http://") + h + ":" + port + path_prefix;
}

std::string_view describe(AlertmanagerUrlError error) {
  switch (error) {
    case AlertmanagerUrlError::kScheme:
      return "use http:// or https://";
    case AlertmanagerUrlError::kNoHost:
      return "no host";
    case AlertmanagerUrlError::kBadPort:
      return "the port is not a number from 1 to 65535";
    case AlertmanagerUrlError::kBadIpv6:
      return "unterminated IPv6 address (write [::1]:9093)";
    case AlertmanagerUrlError::kQueryOrFragment:
      return "no query or fragment: give the base URL, /api/v2/alerts is appended";
  }
  return "malformed";
}

tl::expected<AlertmanagerUrl, AlertmanagerUrlError> parse_alertmanager_url(std::string_view url) {
  AlertmanagerUrl out;
  std::string_view rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
    out.port = "80";
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    out.tls = true;
    out.port = "443";
  } else {
    return tl::unexpected(AlertmanagerUrlError::kScheme);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) return tl::unexpected(AlertmanagerUrlError::kQueryOrFragment);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path_prefix = std::string(path);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return tl::unexpected(AlertmanagerUrlError::kBadIpv6);
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return tl::unexpected(AlertmanagerUrlError::kBadIpv6);
      port = after.substr(1);
      if (port.empty()) return tl::unexpected(AlertmanagerUrlError::kBadPort);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return tl::unexpected(AlertmanagerUrlError::kBadPort);
    }
  }
  if (out.host.empty()) return tl::unexpected(AlertmanagerUrlError::kNoHost);
  if (!port.empty()) {
    int n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535) {
      return tl::unexpected(AlertmanagerUrlError::kBadPort);
    }
    out.port = std::string(port);
  }
  return out;
}

}  // namespace crashdiag::core
