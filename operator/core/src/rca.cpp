#include "crashdiag/core/rca.hpp"

#include <algorithm>

#include "crashdiag/core/rca_codec.hpp"
#include "crashdiag/core/rca_event.hpp"
#include "rca_text.hpp"

namespace crashdiag::core {

using namespace rca_detail;  // NOLINT(google-build-using-namespace): this file's own helpers

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
  w.event = event_write(s, mark, o, instance);
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

bool RcaTracker::any_active() const {
  return std::any_of(rcas_.begin(), rcas_.end(), [](const auto& entry) { return entry.second.active; });
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
  std::optional<RcaState> s = decode_rca(obj);
  if (!s || rcas_.count(s->name) > 0) return;  // not one of ours; or what this replica saw itself is newer
  s->diagnosis = bounded(s->diagnosis);
  for (const PodSeen& p : s->pods) {
    if (p.uid.empty()) continue;
    int& highest = pod_restarts_[p.uid];
    highest = std::max(highest, p.restart_count);
  }
  rcas_.emplace(s->name, std::move(*s));
}

json RcaTracker::apply_object(const RcaState& s) const {
  return encode_rca_apply(s);
}

json RcaTracker::status_object(const RcaState& s) const {
  return encode_rca_status(s, options_.max_status_bytes);
}

}  // namespace crashdiag::core
