#include "crashdiag/core/rca.hpp"
#include "crashdiag/model/json_fields.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "crashdiag/model/utf8.hpp"

namespace crashdiag::core {

using nlohmann::json;

namespace {

constexpr std::string_view kApiVersion = "crashdiag.io/v1alpha1";
constexpr std::string_view kKind = "RootCauseAnalysis";
constexpr std::size_t kMaxNameLength = 63;  // DNS-1123 label: also a valid label value
constexpr std::size_t kSummaryLimit = 512;  // CRD maxLength of summary fields
constexpr std::size_t kTitleLimit = 256;
constexpr std::size_t kFieldLimit = 256;
constexpr std::size_t kNotesLimit = 8;             // CRD maxItems of status.evidenceNotes
constexpr std::size_t kNoteBytes = 512;            // and maxLength of each
constexpr std::size_t kChangesLimit = 20;          // status.whatChanged.changes maxItems
constexpr std::size_t kChangeSummaryBytes = 1024;  // status.whatChanged.summary maxLength

std::string cut(std::string_view s, std::size_t max_bytes) {
  return std::string(utf8_prefix(s, max_bytes));
}

// Lower-case alphanumerics and single dashes: what survives in a DNS-1123 label.
std::string slug(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string hex(std::uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

// Label values: at most 63 characters of [A-Za-z0-9_.-], beginning and ending alphanumeric
// (apimachinery validation.IsValidLabelValue).
bool valid_label_value(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A label value for a name that may be longer than a label value can be: workload names are
// DNS-1123 subdomains of up to 253 characters (a Deployment, a Job, a bare pod) but label values
// stop at 63 (validation.IsValidLabelValue; tests/data/k8s-real/23-apply-rca-label-value-64-422).
// A longer one becomes its first 52 characters, '-' and 10 hex digits of the FNV-1a hash of the
// whole name: still selectable and unique, and the full name is in spec.target.name.
// docs/publishing.md documents it. Empty when no valid value can be made.
std::string label_value(std::string_view v) {
  if (valid_label_value(v)) return std::string(v);
  const std::string suffix = hex(stable_hash(v), 10);
  std::string head(v.substr(0, std::min(v.size(), 63 - 1 - suffix.size())));
  while (!head.empty() && std::isalnum(static_cast<unsigned char>(head.back())) == 0) head.pop_back();
  std::string out = head.empty() ? suffix : head + "-" + suffix;
  return valid_label_value(out) ? out : std::string();
}

double clamp01(double v) {
  return std::clamp(v, 0.0, 1.0);
}

// Two decimals, like the explain output: a judgement, not a measurement.
double round2(double v) {
  return static_cast<double>(std::lround(clamp01(v) * 100.0)) / 100.0;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    const double value = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
    start = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    const std::string_view unit = text.substr(start, i - start);
    const double scale = unit == "ms" ? 1.0 : unit == "s" ? 1e3 : unit == "m" ? 60e3 : unit == "h" ? 3600e3 : -1.0;
    if (scale < 0) return std::nullopt;
    total_ms += value * scale;
  }
  return Duration{static_cast<Duration::rep>(total_ms)};
}

std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// "<workload>-<5 hex>": people type and tab-complete the workload's name (`kubectl get rca
// authentik-server-5c2f1`, `-l crashdiag.io/workload=authentik-server`); kind, container and
// signature are labels and printer columns, not parts of the name. The hash is over the whole
// identity, so each container and failure of a workload has its own RCA; 20 bits make a clash
// between the few RCAs one workload has in one namespace negligible.
std::string rca_name(const RcaTarget& t) {
  const std::string identity = t.namespace_ + "/" + t.workload.kind + "/" + t.workload.name + "/" + t.container +
                               (t.init ? "/init" : "") + "/" + t.signature;
  const std::string suffix = hex(stable_hash(identity), 5);
  std::string readable = slug(t.workload.name);
  const std::size_t room = kMaxNameLength - suffix.size() - 1;
  if (readable.size() > room) readable.resize(room);
  while (!readable.empty() && readable.back() == '-') readable.pop_back();
  return readable.empty() ? "rca-" + suffix : readable + "-" + suffix;
}

std::string_view to_string(RcaChange change) {
  switch (change) {
    case RcaChange::kIdentified:
      return "Identified";
    case RcaChange::kChanged:
      return "Changed";
    case RcaChange::kRepeated:
      return "Repeated";
    case RcaChange::kResolved:
      return "Resolved";
    case RcaChange::kReopened:
      return "Reopened";
    case RcaChange::kLinked:
      return "Linked";
    case RcaChange::kUnchanged:
      return "Unchanged";
  }
  return "Unchanged";
}

std::string caused_summary(const std::string& own_namespace, const std::string& cause_name, const CauseLink& cause,
                           const std::string& summary) {
  const std::string who = cause.namespace_ == own_namespace ? cause.workload : cause.namespace_ + "/" + cause.workload;
  return who + " is failing (RCA " + cause_name + (cause.category.empty() ? "" : ", " + cause.category) +
         "): " + summary;
}

namespace {

// The summary shown for an RCA: its top hypothesis's, led by its cause while one is linked.
std::string shown_summary(const RcaState& s) {
  const Hypothesis* top = s.top();
  if (top == nullptr) return {};
  if (s.caused_by.empty()) return top->summary;
  return caused_summary(s.target.namespace_, s.caused_by, s.cause, top->summary);
}

}  // namespace

std::string root_cause_value(const RcaState& s) {
  const Hypothesis* top = s.top();
  if (top == nullptr) return {};
  return top->category + ": " + shown_summary(s);
}

std::string event_note(const RcaState& s) {
  const Hypothesis* top = s.top();
  const std::string tail = " (kubectl get rca -n " + s.target.namespace_ + " " + s.name + ")";
  std::string head = top == nullptr ? std::string("root cause unknown") : top->category + ": " + shown_summary(s);
  // What changed before the failure is the next thing on-call asks (issue 15): "; changed in
  // revision 7 (...): containers[0].command added [...]".
  if (s.diagnosis.what_changed && !s.diagnosis.what_changed->summary.empty()) {
    head += "; " + s.diagnosis.what_changed->summary;
  }
  if (head.size() + tail.size() > kEventNoteLimit) head = cut(head, kEventNoteLimit - tail.size());
  return cut(head + tail, kEventNoteLimit);
}

ContainerDiagnosis RcaTracker::bounded(const ContainerDiagnosis& d) const {
  ContainerDiagnosis out = d;
  if (out.hypotheses.size() > options_.max_hypotheses) out.hypotheses.resize(options_.max_hypotheses);
  for (auto& h : out.hypotheses) {
    h.confidence = clamp01(h.confidence);
    h.summary = cut(h.summary, kSummaryLimit);
    h.title = cut(h.title, kTitleLimit);
    h.explanation = cut(h.explanation, options_.max_text_bytes);
    h.remediation = cut(h.remediation, options_.max_text_bytes);
    if (h.evidence.size() > options_.max_evidence) h.evidence.resize(options_.max_evidence);
    for (auto& e : h.evidence) {
      e.field = cut(e.field, kFieldLimit);
      e.excerpt = cut(e.excerpt, options_.max_excerpt_bytes);
    }
  }
  // What the evidence lacks (logs unavailable, a process that never started): bounded like the
  // CRD's status.evidenceNotes (maxItems 8, maxLength 512).
  if (out.evidence_notes.size() > kNotesLimit) out.evidence_notes.resize(kNotesLimit);
  for (auto& n : out.evidence_notes) n = cut(n, kNoteBytes);
  if (out.what_changed) {  // CRD: status.whatChanged, summary 1024, at most 20 changes of 512
    out.what_changed->summary = cut(out.what_changed->summary, kChangeSummaryBytes);
    if (out.what_changed->changes.size() > kChangesLimit) out.what_changed->changes.resize(kChangesLimit);
    for (auto& c : out.what_changed->changes) c.text = cut(c.text, kNoteBytes);
  }
  return out;
}

namespace {

// docs/categories.md: the answer when nothing fits.
constexpr std::string_view kUnknown = "unknown";

// A later look at the same failure that finds no cause (its log rotated away or unavailable, the
// Events expired, the pod already Running again) must not erase a cause found from better evidence.
bool degrades(const ContainerDiagnosis& before, const ContainerDiagnosis& after) {
  return !before.hypotheses.empty() && before.hypotheses.front().category != kUnknown && !after.hypotheses.empty() &&
         after.hypotheses.front().category == kUnknown;
}

// The cause stays; the new look's telling lines become the last hypothesis and its notes (what it
// could not read) join the old ones.
ContainerDiagnosis keep_cause(const ContainerDiagnosis& before, const ContainerDiagnosis& after) {
  ContainerDiagnosis out = before;
  std::erase_if(out.hypotheses, [](const Hypothesis& h) { return h.category == kUnknown; });
  out.hypotheses.push_back(after.hypotheses.front());
  for (const std::string& note : after.evidence_notes) {
    if (std::find(out.evidence_notes.begin(), out.evidence_notes.end(), note) == out.evidence_notes.end()) {
      out.evidence_notes.push_back(note);
    }
  }
  return out;
}

}  // namespace

void RcaTracker::add_history(RcaState& s, WallTime t, std::string change) {
  const Hypothesis* top = s.top();
  s.history.push_back(HistoryEntry{t, std::move(change), top ? top->category : "", top ? top->summary : ""});
  while (s.history.size() > options_.max_history) s.history.pop_front();
}

bool RcaTracker::needs_diagnosis(const RcaTarget& target, WallTime now) const {
  auto it = rcas_.find(rca_name(target));
  if (it == rcas_.end()) return true;
  const RcaState& s = it->second;
  if (!s.active || s.top() == nullptr) return true;
  return now - s.last_diagnosed >= options_.rediagnose_after;
}

RcaUpdate RcaTracker::record(const Occurrence& o, const ContainerDiagnosis* diagnosis, const std::string& instance) {
  RcaUpdate update;
  update.name = rca_name(o.target);
  auto it = rcas_.find(update.name);
  bool counted = true;
  if (it == rcas_.end()) {
    if (diagnosis == nullptr || diagnosis->hypotheses.empty()) return update;  // nothing to publish yet
    RcaState s;
    s.target = o.target;
    s.name = update.name;
    s.first_seen = o.now;
    s.phase_since = o.now;
    s.diagnosis = bounded(*diagnosis);
    s.last_diagnosed = o.now;
    add_history(s, o.now, "Identified");
    it = rcas_.emplace(update.name, std::move(s)).first;
    update.change = RcaChange::kIdentified;
  } else {
    RcaState& s = it->second;
    if (o.first_sight && this->counted(o.pod_uid, o.restart_count)) {
      update.change = RcaChange::kUnchanged;  // old news: keep the cause, the phase and the counts
      return update;
    }
    // A pod already listed in an RCA read back from the cluster, seen again in our first list:
    // that failure is already counted.
    const bool known_pod = std::any_of(s.pods.begin(), s.pods.end(), [&](const PodSeen& p) {
      return p.uid == o.pod_uid && p.restart_count >= o.restart_count;
    });
    counted = !(o.first_sight && known_pod && s.active);
    update.change = counted ? RcaChange::kRepeated : RcaChange::kUnchanged;
    if (!s.active) {
      s.active = true;
      s.phase_since = o.now;
      update.change = RcaChange::kReopened;
      counted = true;
    }
    if (diagnosis != nullptr && !diagnosis->hypotheses.empty()) {
      const std::string before = s.top() ? s.top()->category : "";
      s.diagnosis = bounded(degrades(s.diagnosis, *diagnosis) ? keep_cause(s.diagnosis, *diagnosis) : *diagnosis);
      s.last_diagnosed = o.now;
      if (update.change == RcaChange::kReopened) {
        add_history(s, o.now, "Reopened");
      } else if (before != s.top()->category) {
        add_history(s, o.now, "Changed");
        update.change = RcaChange::kChanged;
      }
    } else if (update.change == RcaChange::kReopened) {
      add_history(s, o.now, "Reopened");
    }
  }
  RcaState& s = it->second;
  if (counted) {
    ++s.occurrences;
    s.last_seen = o.now;
  }
  if (!o.reason.empty()) s.reason = o.reason;
  if (o.exit_code) s.exit_code = o.exit_code;
  s.restart_count = std::max(s.restart_count, o.restart_count);
  if (!o.pod_uid.empty()) {
    auto p = std::find_if(s.pods.begin(), s.pods.end(), [&](const PodSeen& x) { return x.uid == o.pod_uid; });
    PodSeen seen{o.pod, o.pod_uid, o.restart_count, counted ? o.now : s.last_seen};
    if (p != s.pods.end()) {
      seen.restart_count = std::max(seen.restart_count, p->restart_count);
      s.pods.erase(p);
    }
    int& highest = pod_restarts_[seen.uid];
    highest = std::max(highest, seen.restart_count);
    s.pods.push_front(std::move(seen));
    while (s.pods.size() > options_.max_pods) s.pods.pop_back();
  }
  update.pod = pod_writes(s, o, instance);
  if (update.pod && update.pod->event && !counted) {
    if (update.pod->event->count > 1) {
      update.pod->event.reset();  // nothing new happened on this pod
    } else {
      update.pod->event->counts = false;  // make sure it exists, do not count it again
    }
  }
  return update;
}

std::optional<PodWrites> RcaTracker::pod_writes(RcaState& s, const Occurrence& o, const std::string& instance) {
  const Hypothesis* top = s.top();
  if (o.pod_uid.empty() || top == nullptr) return std::nullopt;
  if (s.marks.count(o.pod_uid) == 0 && s.marks.size() >= options_.max_tracked_pods) {
    auto oldest = std::min_element(s.marks.begin(), s.marks.end(), [](const auto& a, const auto& b) {
      return a.second.last_occurrence < b.second.last_occurrence;
    });
    s.marks.erase(oldest);
  }
  PodMark& mark = s.marks[o.pod_uid];
  mark.name = o.pod;
  mark.last_occurrence = o.now;
  PodWrites w;
  w.namespace_ = s.target.namespace_;
  w.pod = o.pod;
  w.pod_uid = o.pod_uid;
  w.rca = s.name;
  w.root_cause = root_cause_value(s);

  // One Event per pod and cause; further occurrences raise its count, as the kubelet's own
  // events do (client-go tools/record EventCorrelator aggregates identical events the same way).
  const bool fresh = mark.evented_category != top->category;
  if (fresh) {
    mark.event_reason = mark.evented_category.empty() ? "RootCauseIdentified" : "RootCauseChanged";
    mark.evented_category = top->category;
    mark.event_count = 1;
    mark.first_event = o.now;
  } else {
    ++mark.event_count;
  }
  // Event names must be DNS subdomains (253); the hash keeps them unique per pod, RCA and cause
  // and identical across crashdiag replicas, so a new leader re-creating one gets 409, not a copy.
  const std::string hash = hex(stable_hash(s.name + "/" + mark.event_reason + "/" + top->category), 16);
  std::string pod_part = o.pod.substr(0, 253 - hash.size() - 1);
  // A cut 253-character pod name may end in '-' or '.': "<...>-.<hash>" is no DNS subdomain.
  while (!pod_part.empty() && (pod_part.back() == '-' || pod_part.back() == '.')) pod_part.pop_back();
  EventWrite ev;
  ev.name = pod_part + "." + hash;
  ev.reason = mark.event_reason;
  ev.count = mark.event_count;
  const std::string field =
      std::string(s.target.init ? "spec.initContainers{" : "spec.containers{") + s.target.container + "}";
  // The whole Event every time: a bump whose Event has expired (the apiserver's --event-ttl,
  // 1 h by default) is created again from it.
  ev.object = json{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", ev.name}, {"namespace", s.target.namespace_}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"name", o.pod},
        {"namespace", s.target.namespace_},
        {"uid", o.pod_uid},
        {"fieldPath", field}}},
      {"related", {{"apiVersion", kApiVersion}, {"kind", kKind}, {"name", s.name}, {"namespace", s.target.namespace_}}},
      {"reason", ev.reason},
      {"message", event_note(s)},
      {"type", "Warning"},
      {"source", {{"component", "crashdiag"}}},
      {"reportingComponent", kReportingController},
      {"reportingInstance", instance},
      {"action", "Diagnose"},
      {"firstTimestamp", format_time(mark.first_event)},
      {"lastTimestamp", format_time(o.now)},
      {"count", ev.count}};
  w.event = std::move(ev);
  return w;
}

std::vector<std::string> RcaTracker::resolve_idle(WallTime now,
                                                  const std::function<bool(const RcaState&)>& still_failing) {
  std::vector<std::string> out;
  for (auto& [name, s] : rcas_) {
    if (!s.active || now - s.last_seen < options_.resolve_after) continue;
    if (still_failing && still_failing(s)) continue;
    s.active = false;
    s.phase_since = now;
    add_history(s, now, "Resolved");
    out.push_back(name);
  }
  return out;
}

bool RcaTracker::counted(const std::string& pod_uid, int restart_count) const {
  if (pod_uid.empty()) return false;
  auto it = pod_restarts_.find(pod_uid);
  return it != pod_restarts_.end() && it->second >= restart_count;
}

void RcaTracker::forget_pod(const std::string& uid) {
  pod_restarts_.erase(uid);
  for (auto& [name, s] : rcas_) s.marks.erase(uid);
}

std::vector<std::string> RcaTracker::forget_if(const std::function<bool(const RcaTarget&)>& matches) {
  std::vector<std::string> gone;
  for (auto it = rcas_.begin(); it != rcas_.end();) {
    if (!matches(it->second.target)) {
      ++it;
      continue;
    }
    for (const auto& [pod_uid, mark] : it->second.marks) pod_restarts_.erase(pod_uid);
    for (const auto& p : it->second.pods) pod_restarts_.erase(p.uid);
    gone.push_back(it->first);
    it = rcas_.erase(it);
  }
  return gone;
}

std::vector<std::string> RcaTracker::forget_namespace(const std::string& ns) {
  return forget_if([&](const RcaTarget& t) { return t.namespace_ == ns; });
}

std::vector<std::string> RcaTracker::forget_workload(const std::string& ns, const std::string& kind,
                                                     const std::string& name, const std::string& uid) {
  // A workload deleted and re-created under the same name has a new uid: the RCAs of the new one
  // stay (an empty uid on either side means "not known", which matches).
  return forget_if([&](const RcaTarget& t) {
    const bool other_owner = !uid.empty() && !t.workload.uid.empty() && t.workload.uid != uid;
    return t.namespace_ == ns && t.workload.kind == kind && t.workload.name == name && !other_owner;
  });
}

const RcaState* RcaTracker::find(const std::string& name) const {
  auto it = rcas_.find(name);
  return it == rcas_.end() ? nullptr : &it->second;
}

std::map<RcaTracker::CountKey, int> RcaTracker::active_counts() const {
  std::map<CountKey, int> out;
  for (const auto& [name, s] : rcas_) {
    if (s.active && s.top() != nullptr) ++out[{s.target.namespace_, s.top()->category, !s.caused_by.empty()}];
  }
  return out;
}

std::optional<RcaUpdate> RcaTracker::link(const std::string& name, const std::string& cause, const std::string& via) {
  auto it = rcas_.find(name);
  if (it == rcas_.end()) return std::nullopt;
  RcaState& s = it->second;
  if (cause.empty()) {
    if (s.caused_by.empty()) return RcaUpdate{name, RcaChange::kUnchanged, std::nullopt};
    s.caused_by.clear();
    s.cause = CauseLink{};
    return RcaUpdate{name, RcaChange::kLinked, std::nullopt};
  }
  auto c = rcas_.find(cause);
  if (c == rcas_.end() || !c->second.active || cause == name) return std::nullopt;
  // Follow the cause's own chain: a link back to `name` would make each the other's cause
  // (two services that need each other) and the alerts' inhibition would mute both.
  std::string at = c->second.caused_by;
  for (std::size_t hops = 0; !at.empty() && hops < rcas_.size(); ++hops) {
    if (at == name) return std::nullopt;
    auto next = rcas_.find(at);
    at = next == rcas_.end() ? std::string() : next->second.caused_by;
  }
  CauseLink link{c->second.target.namespace_, c->second.target.workload.display(),
                 c->second.top() != nullptr ? c->second.top()->category : std::string(), cut(via, 256)};
  if (s.caused_by == cause && s.cause.category == link.category && s.cause.via == link.via) {
    return RcaUpdate{name, RcaChange::kUnchanged, std::nullopt};
  }
  s.caused_by = cause;
  s.cause = std::move(link);
  return RcaUpdate{name, RcaChange::kLinked, std::nullopt};
}

std::vector<RcaUpdate> RcaTracker::unlink_dependents(const std::string& cause) {
  std::vector<RcaUpdate> out;
  for (auto& [name, s] : rcas_) {
    if (s.caused_by != cause) continue;
    s.caused_by.clear();
    s.cause = CauseLink{};
    out.push_back(RcaUpdate{name, RcaChange::kLinked, std::nullopt});
  }
  return out;
}

const RcaState* RcaTracker::active_for_workload(const std::string& ns, const std::string& kind,
                                                const std::string& workload) const {
  const RcaState* best = nullptr;
  for (const auto& [name, s] : rcas_) {
    if (!s.active || s.target.namespace_ != ns || s.target.workload.kind != kind || s.target.workload.name != workload)
      continue;
    if (best == nullptr || s.last_seen > best->last_seen) best = &s;
  }
  return best;
}

void RcaTracker::seed(const json& obj) {
  if (!obj.is_object() || !obj.contains("spec") || !obj.contains("metadata")) return;
  const json& spec = obj["spec"];
  const json& target = spec.is_object() && spec.contains("target") ? spec["target"] : json();
  RcaState s;
  s.target.namespace_ = str(obj["metadata"], "namespace");
  s.target.workload =
      WorkloadRef{str(target, "apiVersion"), str(target, "kind"), str(target, "name"), str(target, "uid")};
  s.target.container = str(target, "container");
  s.target.init = target.is_object() && json_fields::bool_or(target, "initContainer", false);
  s.target.signature = str(spec, "signature");
  if (s.target.namespace_.empty() || s.target.workload.kind.empty() || s.target.container.empty()) return;
  s.name = rca_name(s.target);
  if (s.name != str(obj["metadata"], "name")) return;  // not one of ours (or another naming scheme)
  if (rcas_.count(s.name) > 0) return;                 // what this replica saw itself is newer
  const json st = obj.contains("status") && obj["status"].is_object() ? obj["status"] : json::object();
  s.seeded = true;
  s.active = str(st, "phase") != "Resolved";
  s.reason = str(st, "reason");
  if (st.contains("exitCode") && st["exitCode"].is_number_integer()) s.exit_code = st["exitCode"].get<int>();
  s.occurrences = static_cast<std::uint64_t>(std::max<std::int64_t>(0, num(st, "occurrences")));
  s.restart_count = static_cast<int>(num(st, "restartCount"));
  s.first_seen = parse_time(str(st, "firstSeen")).value_or(WallTime{0});
  s.last_seen = parse_time(str(st, "lastSeen")).value_or(s.first_seen);
  s.last_diagnosed = s.last_seen;
  s.phase_since = s.last_seen;
  s.diagnosis.name = s.target.container;
  s.diagnosis.init = s.target.init;
  s.diagnosis.image = str(st, "image");
  if (st.contains("whatChanged") && st["whatChanged"].is_object()) {
    const json& w = st["whatChanged"];
    WhatChanged wc;
    wc.revision = str(w, "revision");
    wc.previous_revision = str(w, "previousRevision");
    wc.changed_at = str(w, "changedAt");
    wc.summary = str(w, "summary");
    if (w.contains("changes") && w["changes"].is_array()) {
      for (const auto& c : w["changes"]) {
        if (c.is_string()) wc.changes.push_back(TemplateChange{"", ChangeAspect::kContainers, c.get<std::string>()});
      }
    }
    s.diagnosis.what_changed = std::move(wc);
  }
  if (st.contains("causedBy") && st["causedBy"].is_object()) {
    const json& c = st["causedBy"];
    s.caused_by = str(c, "name");
    s.cause = CauseLink{str(c, "namespace"), str(c, "workload"), str(c, "category"), str(c, "via")};
  }
  if (st.contains("evidenceNotes") && st["evidenceNotes"].is_array()) {
    for (const auto& n : st["evidenceNotes"]) {
      if (n.is_string()) s.diagnosis.evidence_notes.push_back(n.get<std::string>());
    }
  }
  if (st.contains("hypotheses") && st["hypotheses"].is_array()) {
    for (const auto& h : st["hypotheses"]) {
      Hypothesis hyp;
      hyp.category = str(h, "category");
      hyp.confidence = h.is_object() && h.contains("confidence") && h["confidence"].is_number()
                           ? h["confidence"].get<double>()
                           : 0.0;
      hyp.rule_id = str(h, "rule");
      hyp.title = str(h, "title");
      hyp.summary = str(h, "summary");
      hyp.explanation = str(h, "explanation");
      hyp.remediation = str(h, "remediation");
      if (h.is_object() && h.contains("evidence") && h["evidence"].is_array()) {
        for (const auto& e : h["evidence"]) {
          const std::string src = str(e, "source");
          EvidenceItem item;
          item.source = src == "logs"     ? EvidenceSource::kLogs
                        : src == "events" ? EvidenceSource::kEvents
                        : src == "spec"   ? EvidenceSource::kSpec
                                          : EvidenceSource::kStatus;
          item.field = str(e, "field");
          item.excerpt = str(e, "excerpt");
          hyp.evidence.push_back(std::move(item));
        }
      }
      if (!hyp.category.empty()) s.diagnosis.hypotheses.push_back(std::move(hyp));
    }
  }
  s.diagnosis = bounded(s.diagnosis);
  if (st.contains("pods") && st["pods"].is_array()) {
    for (const auto& p : st["pods"]) {
      s.pods.push_back(PodSeen{str(p, "name"), str(p, "uid"), static_cast<int>(num(p, "restartCount")),
                               parse_time(str(p, "lastSeen")).value_or(s.last_seen)});
      if (!s.pods.back().uid.empty()) {
        int& highest = pod_restarts_[s.pods.back().uid];
        highest = std::max(highest, s.pods.back().restart_count);
      }
    }
  }
  if (st.contains("history") && st["history"].is_array()) {
    for (const auto& h : st["history"]) {
      s.history.push_back(HistoryEntry{parse_time(str(h, "time")).value_or(WallTime{0}), str(h, "change"),
                                       str(h, "category"), str(h, "summary")});
    }
  }
  if (st.contains("conditions") && st["conditions"].is_array()) {
    for (const auto& c : st["conditions"]) {
      if (str(c, "type") == "Resolved")
        s.phase_since = parse_time(str(c, "lastTransitionTime")).value_or(s.phase_since);
    }
  }
  rcas_.emplace(s.name, std::move(s));
}

json RcaTracker::apply_object(const RcaState& s) const {
  const RcaTarget& t = s.target;
  json labels = {{"app.kubernetes.io/managed-by", "crashdiag"}};
  if (valid_label_value(t.workload.kind)) labels["crashdiag.io/workload-kind"] = t.workload.kind;
  if (auto v = label_value(t.workload.name); !v.empty()) labels["crashdiag.io/workload"] = v;
  if (auto v = label_value(t.container); !v.empty()) labels["crashdiag.io/container"] = v;
  if (t.init) labels["crashdiag.io/init-container"] = "true";
  // The signature as a selector: "starterror-128", "oomkilled-137" (slug, at most 63).
  std::string sig = slug(t.signature).substr(0, 63);
  while (!sig.empty() && sig.back() == '-') sig.pop_back();
  if (valid_label_value(sig)) labels["crashdiag.io/signature"] = sig;
  json meta = {{"name", s.name}, {"namespace", t.namespace_}, {"labels", labels}};
  // Garbage collection removes the RCA with its workload. Not a controller reference: crashdiag
  // does not control the workload, and blockOwnerDeletion is left unset because setting it needs
  // update permission on the owner's finalizers (OwnerReferencesPermissionEnforcement).
  if (!t.workload.uid.empty()) {
    meta["ownerReferences"] = json::array({json{{"apiVersion", t.workload.api_version},
                                                {"kind", t.workload.kind},
                                                {"name", t.workload.name},
                                                {"uid", t.workload.uid}}});
  }
  json target = {{"apiVersion", t.workload.api_version},
                 {"kind", t.workload.kind},
                 {"name", t.workload.name},
                 {"container", t.container},
                 {"initContainer", t.init}};
  if (!t.workload.uid.empty()) target["uid"] = t.workload.uid;
  return json{{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", meta},
              {"spec", {{"target", target}, {"signature", cut(t.signature, 128)}}}};
}

namespace {

constexpr std::size_t kShortExcerpt = 256;  // what a shortened excerpt keeps
constexpr std::size_t kNoteRoom = 600;      // the truncation note, JSON-escaped, with room to spare

std::size_t json_size(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace).size();
}

// Keeps the status object under `budget` bytes of JSON by cutting evidence, least likely
// hypothesis and last evidence item first: excerpts shortened to 256 bytes, then evidence items
// dropped (each hypothesis keeps its first), then hypotheses after the first, then the top one's
// remediation, explanation and first excerpt shortened to 256 bytes. What was cut, and
// how much, is said in status.evidenceNotes (the CRD's maxItems 8: the last note gives way).
void fit_status(json& object, std::size_t budget) {
  const std::size_t before = json_size(object);
  if (before <= budget) return;
  json& st = object["status"];
  json& hyps = st["hypotheses"];
  const std::size_t target = budget > kNoteRoom ? budget - kNoteRoom : 0;
  std::size_t size = before;
  std::size_t shortened = 0;
  std::size_t dropped = 0;
  for (std::size_t h = hyps.size(); h-- > 0 && size > target;) {
    json& evidence = hyps[h]["evidence"];
    for (std::size_t e = evidence.size(); e-- > 0 && size > target;) {
      json& item = evidence[e];
      const std::string excerpt = json_fields::string_or(item, "excerpt");
      if (excerpt.size() <= kShortExcerpt + 16) continue;
      item["excerpt"] = utf8_clip(excerpt, kShortExcerpt);
      ++shortened;
      size = json_size(object);
    }
  }
  for (std::size_t h = hyps.size(); h-- > 0 && size > target;) {
    json& evidence = hyps[h]["evidence"];
    while (evidence.size() > 1 && size > target) {
      evidence.erase(evidence.size() - 1);
      ++dropped;
      size = json_size(object);
    }
  }
  while (hyps.size() > 1 && size > target) {
    dropped += hyps.back()["evidence"].size();
    hyps.erase(hyps.size() - 1);
    size = json_size(object);
  }
  // Last, the top hypothesis's own texts and its remaining excerpt.
  for (const char* key : {"remediation", "explanation"}) {
    if (size <= target || hyps.empty()) break;
    const std::string text = json_fields::string_or(hyps[0], key);
    if (text.size() <= kShortExcerpt + 16) continue;
    hyps[0][key] = utf8_clip(text, kShortExcerpt);
    ++shortened;
    size = json_size(object);
  }
  if (size > target && !hyps.empty() && !hyps[0]["evidence"].empty()) {
    json& item = hyps[0]["evidence"][0];
    const std::string excerpt = json_fields::string_or(item, "excerpt");
    if (excerpt.size() > kShortExcerpt + 16) {
      item["excerpt"] = utf8_clip(excerpt, kShortExcerpt);
      ++shortened;
      size = json_size(object);
    }
  }
  std::string note = "evidence truncated to fit the RCA size limit (" + std::to_string(budget) +
                     " bytes): " + std::to_string(shortened) + " excerpts or texts shortened to " +
                     std::to_string(kShortExcerpt) + " bytes, " + std::to_string(dropped) +
                     " evidence items dropped, status " + std::to_string(before) + " -> " + std::to_string(size) +
                     " bytes";
  if (!st.contains("evidenceNotes") || !st["evidenceNotes"].is_array()) st["evidenceNotes"] = json::array();
  json& notes = st["evidenceNotes"];
  // One such note: an earlier one (read back from the cluster by seed()) is replaced.
  for (std::size_t i = notes.size(); i-- > 0;) {
    if (notes[i].is_string() && notes[i].get_ref<const std::string&>().rfind("evidence truncated to fit", 0) == 0) {
      notes.erase(i);
    }
  }
  if (notes.size() >= kNotesLimit) notes.erase(notes.size() - 1);
  notes.push_back(cut(note, kNoteBytes));
}

}  // namespace

json RcaTracker::status_object(const RcaState& s) const {
  json st = json::object();
  st["phase"] = s.active ? "Active" : "Resolved";
  st["workload"] = s.target.workload.display();
  if (const Hypothesis* top = s.top()) {
    st["category"] = top->category;
    st["confidence"] = round2(top->confidence);
    st["summary"] = cut(shown_summary(s), 512);  // the CRD's maxLength
    st["rule"] = top->rule_id;
  }
  if (!s.caused_by.empty()) {
    json cause = {{"name", s.caused_by}, {"namespace", s.cause.namespace_}, {"workload", s.cause.workload}};
    if (!s.cause.category.empty()) cause["category"] = s.cause.category;
    if (!s.cause.via.empty()) cause["via"] = s.cause.via;
    st["causedBy"] = std::move(cause);
  }
  if (!s.reason.empty()) st["reason"] = cut(s.reason, 128);
  if (s.exit_code) st["exitCode"] = *s.exit_code;
  if (!s.diagnosis.image.empty()) st["image"] = cut(s.diagnosis.image, 512);
  if (!s.diagnosis.evidence_notes.empty()) st["evidenceNotes"] = s.diagnosis.evidence_notes;
  if (s.diagnosis.what_changed) st["whatChanged"] = *s.diagnosis.what_changed;
  st["occurrences"] = s.occurrences;
  st["restartCount"] = std::max(0, s.restart_count);
  st["firstSeen"] = format_time(s.first_seen);
  st["lastSeen"] = format_time(s.last_seen);
  json pods = json::array();
  for (const auto& p : s.pods) {
    json pod = {
        {"name", p.name}, {"restartCount", std::max(0, p.restart_count)}, {"lastSeen", format_time(p.last_seen)}};
    if (!p.uid.empty()) pod["uid"] = p.uid;
    pods.push_back(std::move(pod));
  }
  st["pods"] = std::move(pods);
  json hyps = json::array();
  for (const auto& h : s.diagnosis.hypotheses) {
    json evidence = json::array();
    for (const auto& e : h.evidence) {
      evidence.push_back(
          json{{"source", std::string(to_string(e.source))}, {"field", e.field}, {"excerpt", e.excerpt}});
    }
    hyps.push_back(json{{"category", h.category},
                        {"confidence", round2(h.confidence)},
                        {"rule", h.rule_id},
                        {"title", h.title},
                        {"summary", h.summary},
                        {"explanation", h.explanation},
                        {"remediation", h.remediation},
                        {"evidence", std::move(evidence)}});
  }
  st["hypotheses"] = std::move(hyps);
  json history = json::array();
  for (const auto& h : s.history) {
    history.push_back(
        json{{"time", format_time(h.time)}, {"change", h.change}, {"category", h.category}, {"summary", h.summary}});
  }
  st["history"] = std::move(history);
  const std::string since = format_time(s.phase_since);
  st["conditions"] = json::array({json{{"type", "Resolved"},
                                       {"status", s.active ? "False" : "True"},
                                       {"reason", s.active ? "FailureOngoing" : "NoRecentFailures"},
                                       {"message", s.active ? "the container keeps failing with " + s.target.signature
                                                            : "no new failure since " + format_time(s.last_seen)},
                                       {"lastTransitionTime", since}}});
  json out = {{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", {{"name", s.name}, {"namespace", s.target.namespace_}}},
              {"status", std::move(st)}};
  fit_status(out, options_.max_status_bytes);
  return out;
}

}  // namespace crashdiag::core
