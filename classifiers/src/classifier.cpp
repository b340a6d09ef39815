#include "crashdiag/classifiers/classifier.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "crashdiag/classifiers/analyzers.hpp"
#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/classifiers/evidence_view.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/utf8.hpp"
#include "template.hpp"

namespace crashdiag {
namespace {

std::map<std::string, std::string> builtins(const Evidence& ev) {
  const Container& c = ev.target();
  std::map<std::string, std::string> v;
  v["container"] = c.name;
  v["image"] = c.image;
  v["pod"] = ev.pod.name;
  v["namespace"] = ev.pod.namespace_;
  v["memory_limit"] = c.resources.memory_limit.empty() ? "no limit" : c.resources.memory_limit;
  v["command"] = quote_list(c.command);
  v["args"] = quote_list(c.args);
  if (c.status) {
    v["restart_count"] = std::to_string(c.status->restart_count);
    if (c.status->waiting) v["waiting_reason"] = c.status->waiting->reason;
  }
  if (const Terminated* t = c.latest_termination()) {
    v["exit_code"] = std::to_string(t->exit_code);
    v["reason"] = t->reason;
    if (t->signal) v["signal"] = std::to_string(*t->signal);
  }
  return v;
}

// Cut at a UTF-8 boundary so a summary never ends in half a character.
std::string truncate_utf8(const std::string& s, std::size_t max_bytes) {
  return s.size() <= max_bytes ? s : utf8_clip(s, max_bytes - 3, "...");
}

void merge_into(Candidate& into, Candidate&& from) {
  // Independent producers agreeing on a category make it somewhat more likely; the bonus is
  // small so agreement never outranks a specific analyzer finding.
  Hypothesis& a = into.hypothesis;
  Hypothesis& b = from.hypothesis;
  if (b.confidence > a.confidence) std::swap(a, b);
  if (into.merged < 3) {
    a.confidence = std::min(0.99, a.confidence + 0.01);
    ++into.merged;
  }
  for (auto& item : b.evidence) {
    // One quote per field: the same log line or event found by two producers is one fact.
    const bool seen = std::any_of(a.evidence.begin(), a.evidence.end(), [&](const EvidenceItem& e) {
      return e.source == item.source && e.field == item.field;
    });
    if (!seen && a.evidence.size() < 8) a.evidence.push_back(std::move(item));
  }
  for (auto& s : from.supersedes) into.supersedes.push_back(std::move(s));
}

bool is_errorish(std::string_view line) {
  std::string lower;
  lower.reserve(std::min<std::size_t>(line.size(), 512));
  for (char ch : line.substr(0, 512)) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  for (std::string_view w : {"error", "fatal", "panic", "exception", "fail", "denied", "refused", "cannot", "can't",
                             "unable", "not found", "invalid", "traceback"}) {
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Hypothesis unknown_hypothesis(const Evidence& ev) {
  const Container& c = ev.target();
  Hypothesis h;
  h.category = std::string(kUnknownCategory);
  h.rule_id = "fallback.unknown";
  h.title = "No known cause fits the evidence";
  h.confidence = 0.0;
  const std::string sbase =
      std::string(c.init ? "status.initContainerStatuses{" : "status.containerStatuses{") + c.name + "}";
  if (c.status && c.status->waiting) {
    h.evidence.push_back(
        {EvidenceSource::kStatus, sbase + ".state.waiting",
         "reason: " + c.status->waiting->reason +
             (c.status->waiting->message.empty() ? "" : ", message: " + utf8_clip(c.status->waiting->message, 600))});
  }
  if (const Terminated* t = c.latest_termination()) {
    std::string excerpt =
        "exitCode: " + std::to_string(t->exit_code) + (t->reason.empty() ? "" : ", reason: " + t->reason);
    if (!t->message.empty()) excerpt += ", message: " + utf8_clip(t->message, 600);
    h.evidence.push_back(
        {EvidenceSource::kStatus, sbase + (c.status->terminated ? ".state" : ".lastState") + ".terminated", excerpt});
  }
  // The last error-looking log lines, else the last lines: the end of the log is closest to the exit.
  const auto& lines = ev.logs.lines;
  std::vector<std::size_t> picked;
  for (std::size_t i = lines.size(); i-- > 0 && picked.size() < 3;) {
    if (is_errorish(lines[i])) picked.push_back(i);
  }
  for (std::size_t i = lines.size(); i-- > 0 && picked.size() < 3;) {
    if (std::find(picked.begin(), picked.end(), i) == picked.end() && !lines[i].empty()) picked.push_back(i);
  }
  std::sort(picked.begin(), picked.end());
  for (std::size_t i : picked)
    h.evidence.push_back({EvidenceSource::kLogs, "logs[" + std::to_string(i) + "]", utf8_clip(lines[i], 600)});
  const std::vector<Event> events = events_for_container(ev.events, c);
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->type == "Warning" && it->reason != "BackOff") {
      h.evidence.push_back({EvidenceSource::kEvents, "events[" + it->reason + "]",
                            it->type + " " + it->reason + ": " + utf8_clip(it->message, 600)});
      break;
    }
  }
  h.summary = "no known cause fits; " + describe_state(c);
  h.explanation =
      "None of the rules or analyzers matched this evidence well enough to name a cause. The most telling "
      "evidence is quoted so you can start there" +
      std::string(lines.empty() ? "; there were no previous-container logs." : ".");
  h.remediation =
      "Read the quoted evidence; `kubectl logs --previous` and `kubectl describe pod` show the rest. If you "
      "find the cause, add a rule for it (docs/rules.md) so the next one is recognised.";
  return h;
}

Classifier::Classifier(RuleEngine engine, ClassifyOptions options) : engine_(std::move(engine)), options_(options) {}

std::vector<Hypothesis> Classifier::classify(const Evidence& ev) const {
  std::vector<Candidate> candidates = run_analyzers(ev);
  const auto values = builtins(ev);
  const std::size_t log_lines = ev.logs.lines.size();
  for (RuleHit& hit : engine_.match(ev)) {
    auto vars = values;
    for (const auto& [k, v] : hit.captures) vars[k] = v;
    Hypothesis h;
    h.category = hit.rule->category;
    h.rule_id = hit.rule->id;
    h.title = hit.rule->title;
    h.confidence = hit.rule->confidence;
    // Log evidence close to the end of the tail is closer to the exit; a line far up may be
    // an old, recovered error. Small nudge only.
    if (hit.matched_logs && log_lines > 0) {
      double position = static_cast<double>(hit.last_log_line + 1) / static_cast<double>(log_lines);
      h.confidence = std::clamp(h.confidence + 0.04 * (position - 0.5), 0.01, 0.99);
    }
    h.summary = render_template(hit.rule->summary_template, vars);
    h.explanation = render_template(hit.rule->explanation_template, vars);
    h.remediation = render_template(hit.rule->remediation, vars);
    h.evidence = std::move(hit.evidence);
    candidates.push_back(Candidate{std::move(h), {}});
  }

  // Merge per category, then drop categories another finding explains away.
  std::map<std::string, Candidate> by_category;
  for (Candidate& c : candidates) {
    auto it = by_category.find(c.hypothesis.category);
    if (it == by_category.end()) {
      std::string key = c.hypothesis.category;
      by_category.emplace(std::move(key), std::move(c));
    } else {
      merge_into(it->second, std::move(c));
    }
  }
  std::set<std::string> superseded;
  for (const auto& [category, c] : by_category) {
    for (const auto& s : c.supersedes) {
      if (s != category) superseded.insert(s);
    }
  }
  std::vector<Hypothesis> ranked;
  for (auto& [category, c] : by_category) {
    if (superseded.count(category) == 0) ranked.push_back(std::move(c.hypothesis));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Hypothesis& a, const Hypothesis& b) {
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    return a.category < b.category;
  });
  if (ranked.empty() || ranked.front().confidence < options_.min_confidence) {
    ranked.insert(ranked.begin(), unknown_hypothesis(ev));
  }
  if (ranked.size() > options_.max_hypotheses) ranked.resize(options_.max_hypotheses);
  for (Hypothesis& h : ranked) {
    if (options_.redact) {
      h.summary = redactor_.redact(h.summary);
      h.explanation = redactor_.redact(h.explanation);
      h.remediation = redactor_.redact(h.remediation);  // quotes the spec: before/after YAML
      for (EvidenceItem& item : h.evidence) item.excerpt = redactor_.redact(item.excerpt);
    }
    h.summary = truncate_utf8(h.summary, kMaxSummaryChars);
  }
  return ranked;
}

ContainerDiagnosis Classifier::diagnose(const Evidence& ev) const {
  const Container& c = ev.target();
  ContainerDiagnosis d;
  d.name = c.name;
  d.init = c.init;
  d.image = c.image;
  d.state = describe_state(c);
  d.restart_count = c.status ? c.status->restart_count : 0;
  d.hypotheses = classify(ev);
  return d;
}

}  // namespace crashdiag
