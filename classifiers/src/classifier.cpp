#include "crashdiag/classifiers/classifier.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "crashdiag/classifiers/analyzers.hpp"
#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/evidence_view.hpp"
#include "crashdiag/classifiers/what_changed.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/utf8.hpp"
#include "template.hpp"

namespace crashdiag {
namespace {

// The confidence from which an answer is "confident": right at least 97 times in 100 on
// incidents never seen (issue 11 item 5; tests/corpus_test.cpp holds the corpus to it).
constexpr double kConfident = 0.7;

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
  // What the merged finding may be reported at: the best either producer may claim on its own
  // (a capped rule does not borrow the other's record, nor hide an uncapped one).
  a.ceiling = std::max(std::min(a.confidence, a.ceiling), std::min(b.confidence, b.ceiling));
  if (a.ceiling >= a.confidence) a.ceiling = 1.0;
  if (into.merged < 3) {
    // Agreement does not make a guess confident either: below 0.7 stays below it.
    const double cap = a.confidence < kConfident ? kConfident - 0.01 : 0.99;
    a.confidence = std::min(cap, a.confidence + 0.01);
    if (a.ceiling < 1.0) a.ceiling = std::min(a.ceiling < kConfident ? kConfident - 0.01 : 0.99, a.ceiling + 0.01);
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
  // Text evidence of the same category turns a spec observation into a supported cause.
  into.observation = into.observation && from.observation;
}

// How error-like a line reads: the words runtimes and languages use when something failed,
// weighted by how final they sound. Used to pick the lines worth quoting when no rule fits.
double error_score(std::string_view line) {
  std::string lower;
  lower.reserve(std::min<std::size_t>(line.size(), 512));
  for (char ch : line.substr(0, 512)) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  struct Word {
    std::string_view word;
    double weight;
  };
  static constexpr Word kWords[] = {
      {"fatal", 3},       {"panic", 3},        {"critical", 2.5}, {"exception", 2},   {"error", 2},
      {"traceback", 1},   {"failed", 1.5},     {"failure", 1.5},  {"denied", 1.5},    {"refused", 1.5},
      {"not found", 1.5}, {"no such", 1.5},    {"cannot", 1.5},   {"can't", 1.5},     {"unable", 1.5},
      {"invalid", 1.5},   {"missing", 1},      {"timed out", 1},  {"timeout", 1},     {"killed", 1},
      {"abort", 1.5},     {"segmentation", 2}, {"unknown", 0.5},  {"not allowed", 1}, {"expired", 1},
  };
  double score = 0;
  for (const Word& w : kWords) {
    if (lower.find(w.word) != std::string::npos) score += w.weight;
  }
  // A stack frame names where, not what: "at com.example.Main.run(Main.java:42)", "  File ...".
  std::string_view trimmed = std::string_view(lower).substr(std::min(lower.find_first_not_of(" \t"), lower.size()));
  if (trimmed.rfind("at ", 0) == 0 || trimmed.rfind("file \"", 0) == 0 || trimmed.rfind("...", 0) == 0) score *= 0.3;
  return score;
}

struct TellingLine {
  EvidenceItem item;
  double score = 0;
  std::size_t order = 0;
};

// The three most telling lines of every text, ranked by how error-like they are, then quoted in
// the order they were read (status, events, probe output, logs).
std::vector<EvidenceItem> telling_lines(const Evidence& ev, const EvidenceTexts& texts, std::size_t n) {
  std::vector<TellingLine> lines;
  std::size_t log_lines = ev.logs.lines.size();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const EvidenceText& t = texts[i];
    // "Back-off restarting failed container" says that it fails, not why.
    if (t.event && (t.event->reason == "BackOff" || t.event->reason == "Killing")) continue;
    double score = 0;
    for_each_line(t.text, [&](std::string_view line) { score = std::max(score, error_score(line)); });
    if (t.source == TextSource::kStatus) score += 1;  // the runtime's own words about this exit
    if (t.source == TextSource::kLogs && log_lines > 0) {
      score += 0.5 * static_cast<double>(t.log_line + 1) / static_cast<double>(log_lines);  // closer to the exit
    }
    lines.push_back({EvidenceItem{evidence_source(t.source), t.field(), utf8_clip(t.excerpt(), 600)}, score, i});
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const TellingLine& a, const TellingLine& b) { return a.score > b.score; });
  std::vector<TellingLine> picked;
  for (const TellingLine& l : lines) {
    if (picked.size() == n) break;
    const bool seen = std::any_of(picked.begin(), picked.end(),
                                  [&](const TellingLine& p) { return p.item.excerpt == l.item.excerpt; });
    if (!seen) picked.push_back(l);
  }
  std::sort(picked.begin(), picked.end(), [](const TellingLine& a, const TellingLine& b) { return a.order < b.order; });
  std::vector<EvidenceItem> out;
  out.reserve(picked.size());
  for (auto& p : picked) out.push_back(std::move(p.item));
  return out;
}

// Whether any text reads like an error: then a spec finding nothing else supports is not why
// this container fails, or at least we cannot tell.
bool has_unexplained_error(const EvidenceTexts& texts) {
  for (const EvidenceText& t : texts) {
    if (t.event && (t.event->reason == "BackOff" || t.event->type == "Normal")) continue;
    bool error = false;
    for_each_line(t.text, [&](std::string_view line) { error = error || error_score(line) >= 2; });
    if (error) return true;
  }
  return false;
}

// Where a path lies among the container's volumeMounts: the one that holds it (the deepest,
// as the kernel resolves nested mounts), or none.
struct PathOnMounts {
  const VolumeMount* mount = nullptr;
  std::size_t index = 0;
};

PathOnMounts place_on_mounts(const Container& c, std::string_view path) {
  PathOnMounts best;
  std::size_t best_len = 0;
  const std::string p = normalize_path(path);
  for (std::size_t i = 0; i < c.mounts.size(); ++i) {
    const std::string m = normalize_path(c.mounts[i].mount_path);
    const bool holds =
        p == m || m == "/" || (p.size() > m.size() && p.compare(0, m.size(), m) == 0 && p[m.size()] == '/');
    if (holds && m.size() >= best_len) {
      best = {&c.mounts[i], i};
      best_len = m.size();
    }
  }
  return best;
}

// A mount the container cannot write through whatever its user: readOnly: true (a `:ro` bind in
// Docker), or a configMap, secret, downwardAPI or projected volume, which the kubelet always
// mounts read-only (since 1.9.4/1.10, CVE-2017-1002102; pkg/volume/configmap and friends set
// ReadOnly in their mounters).
bool read_only_mount(const VolumeMount& m) {
  if (m.read_only) return true;
  if (!m.volume) return false;
  const VolumeKind k = m.volume->kind;
  return k == VolumeKind::kConfigMap || k == VolumeKind::kSecret || k == VolumeKind::kDownwardApi ||
         k == VolumeKind::kProjected;
}

// A volume_permission rule reads "the user cannot write PATH" as a volume owned by someone else.
// When the spec puts PATH on a read-only mount, no owner or fsGroup makes it writable: the cause
// is the mount being read-only (read_only_filesystem), whatever errno the tool printed (chown on
// a read-only bind mount reports EPERM in some runtimes, not EROFS).
// A PATH on no mount is not in general taken as the image's own filesystem: images link their data
// paths into the volume (Bitnami's /opt/bitnami/... -> /bitnami/...), and the runtime's own
// messages ("Error response from daemon: chown /var/lib/docker/volumes/...") name the host's side
// of the mount. Measured on the corpus, standing all such findings down lost more right answers
// than it won; only the directories below, which an image keeps for itself, are stood down.

// The confidence of a finding the evidence does not settle: a volume's path in a directory the
// image keeps for itself, a parser's complaint about a value no variable is shown to hold. It
// stays the answer when nothing else is, below the 0.7 that means "right 97 times in 100".
constexpr double kUnsettledFindingConfidence = 0.66;

// Directories an image keeps for itself: configuration, temporary files, the root user's home,
// caches and run-time state, and files at the filesystem's root (not /usr: Elasticsearch's data
// volume is mounted at /usr/share/elasticsearch/data). A volume is seldom mounted there (and an
// emptyDir, which is world-writable, would not refuse the write), so a write refused there says
// less about a volume's owner than about the process running as a user the image was not built
// for (runAsUser, OpenShift's arbitrary UID).
bool image_system_path(std::string_view path) {
  for (std::string_view dir : {"/etc/", "/tmp/", "/root/", "/var/cache/", "/var/run/", "/run/"}) {
    if (path.rfind(dir, 0) == 0 || path == dir.substr(0, dir.size() - 1)) return true;
  }
  // A file at the filesystem's root ("/homeserver.log"); a directory there ("/data") is where
  // volumes are mounted.
  return path.size() > 1 && path.find('/', 1) == std::string_view::npos && path.find('.', 1) != std::string_view::npos;
}

void place_volume_finding(Hypothesis& h, const Evidence& ev, const std::string& path) {
  const Container& c = ev.target();
  if (path.empty() || path.front() != '/') return;
  const PathOnMounts on = place_on_mounts(c, path);
  if (on.mount == nullptr && image_system_path(normalize_path(path))) {
    h.confidence = std::min(h.confidence, kUnsettledFindingConfidence);
    h.explanation += "\nNo volume is shown at " + path +
                     ": a write refused in a directory the image keeps for itself is as often a process running "
                     "as a user the image was not built for (runAsUser, OpenShift's arbitrary UID) as a volume's "
                     "owner; make the directory writable for that user in the image, mount an emptyDir there, or "
                     "run as the image's user.";
    return;
  }
  if (c.mounts.empty()) return;
  if (on.mount != nullptr && read_only_mount(*on.mount)) {
    const std::string field = container_path(ev.pod, c) + ".volumeMounts[" + std::to_string(on.index) + "]";
    h.category = "read_only_filesystem";
    h.title = "The path the container writes is on a read-only mount";
    h.summary = path + " is on a read-only mount (" + on.mount->mount_path + "): the container cannot change it";
    h.explanation =
        "The container tried to write to or change the owner of " + path + ", which lies on the volume mounted at " +
        on.mount->mount_path +
        " read-only (readOnly: true, a `:ro` bind mount, or a configMap, secret, downwardAPI or projected volume, "
        "which the kubelet always mounts read-only). No user, fsGroup or chown can make it writable.";
    h.remediation =
        "Mount the volume read-write if the program must write there, or mount it somewhere the program only reads "
        "and let it copy what it needs into a writable volume (an emptyDir); for scripts that chown their config "
        "directory, do not map read-only paths inside it.";
    const bool seen =
        std::any_of(h.evidence.begin(), h.evidence.end(), [&](const EvidenceItem& e) { return e.field == field; });
    if (!seen) {
      h.evidence.push_back(
          EvidenceItem{EvidenceSource::kSpec, field, "mountPath: " + on.mount->mount_path + " (read-only)"});
    }
  }
}

// invalid-env-value reads a parser's complaint ("strconv.Atoi: parsing \"x\"", "invalid literal
// for int()", Rust's "invalid digit found in string") as an environment variable's value. When
// the line names the variable, or a variable of the spec holds the value it quotes, that is what
// it is, and the variable is quoted as evidence. When it names neither, the text the program
// parsed may as well be a file's, an API's or its own data (a panic in an export routine, a
// Service's injected X_PORT=tcp://... the report does not show), so the finding stays below 0.7.
void place_env_value(Hypothesis& h, const Evidence& ev, const std::map<std::string, std::string>& captures) {
  if (const auto var = captures.find("var"); var != captures.end() && !var->second.empty()) return;
  const Container& c = ev.target();
  if (const auto value = captures.find("value"); value != captures.end() && !value->second.empty()) {
    for (std::size_t i = 0; i < c.env.size(); ++i) {
      const EnvVar& e = c.env[i];
      if (!e.value || *e.value != value->second) continue;
      h.evidence.push_back(EvidenceItem{EvidenceSource::kSpec,
                                        container_path(ev.pod, c) + ".env[" + std::to_string(i) + "]",
                                        e.name + ": " + *e.value});
      return;
    }
  }
  h.confidence = std::min(h.confidence, kUnsettledFindingConfidence);
}

}  // namespace

std::vector<std::string> evidence_notes(const Evidence& ev) {
  const Container& c = ev.target();
  std::vector<std::string> notes;
  const Terminated* t = c.latest_termination();
  const std::string waiting = c.status && c.status->waiting ? c.status->waiting->reason : "";
  const bool never_started = (t != nullptr && (t->reason == "StartError" || t->reason == "ContainerCannotRun")) ||
                             waiting == "RunContainerError" || waiting == "CreateContainerError";
  const bool never_created = waiting == "CreateContainerConfigError" || waiting == "ErrImagePull" ||
                             waiting == "ImagePullBackOff" || waiting == "InvalidImageName" ||
                             waiting == "ErrImageNeverPull";
  if (!ev.logs.unavailable.empty()) {
    notes.push_back("logs could not be fetched: " + utf8_clip(ev.logs.unavailable, 300));
  } else if (ev.logs.lines.empty()) {
    if (never_started) {
      notes.push_back("the process never started (" + (t != nullptr && !t->reason.empty() ? t->reason : waiting) +
                      "), so there is no log: the termination message and the kubelet's Failed event are the "
                      "evidence");
    } else if (never_created) {
      notes.push_back("the container was never created (" + waiting + "), so there is no log");
    } else {
      notes.emplace_back("the container's log is empty");
    }
  }
  if (events_for_container(ev.events, c).empty()) {
    notes.emplace_back("no Events for this container (the apiserver keeps Events for 1 h by default, --event-ttl)");
  }
  return notes;
}

Hypothesis unknown_hypothesis(const Evidence& ev) {
  return unknown_hypothesis(ev, EvidenceTexts(ev));
}

Hypothesis unknown_hypothesis(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  Hypothesis h;
  h.category = std::string(kUnknownCategory);
  h.rule_id = "fallback.unknown";
  h.title = "No known cause fits the evidence";
  h.confidence = 0.0;
  h.evidence = telling_lines(ev, texts, 3);
  h.summary = "no known cause fits; " + describe_state(c);
  h.explanation =
      "None of the rules or analyzers matched this evidence well enough to name a cause. The three most "
      "error-like lines are quoted so you can start there.";
  for (const std::string& note : evidence_notes(ev)) h.explanation += " Missing: " + note + ".";
  h.remediation =
      "Read the quoted evidence; `kubectl logs --previous` and `kubectl describe pod` show the rest. If you "
      "find the cause, add a rule for it (docs/rules.md) so the next one is recognised.";
  return h;
}

namespace {

// An init container that fails for a reason no rule names is still an init container failing:
// that is its category (docs/categories.md), with the telling lines and a low confidence.
Hypothesis init_container_fallback(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  Hypothesis h;
  h.category = "init_container_failure";
  h.rule_id = "fallback.init-container";
  h.title = "An init container fails, for a reason no rule recognises";
  h.confidence = 0.45;
  h.evidence = telling_lines(ev, texts, 3);
  h.summary = "init container " + c.name + " fails (" + describe_state(c) + "); the pod's main containers never start";
  h.explanation =
      "Init containers run to completion, one after another, before any main container starts; while " + c.name +
      " fails the pod stays in Init and the kubelet restarts it with back-off. No rule names why it fails: the most "
      "error-like lines of its output are quoted.";
  h.remediation = "Read its log: `kubectl logs " + ev.pod.name + " -c " + c.name +
                  " --previous`. Init containers usually wait for a dependency, fix permissions, or fetch "
                  "something: check that what it reaches for exists and is reachable from the pod.";
  return h;
}

}  // namespace

Classifier::Classifier(RuleEngine engine, ClassifyOptions options) : engine_(std::move(engine)), options_(options) {
  for (const Rule& r : engine_.rules()) {
    if (r.first_contact && !confident_at_first_contact(*r.first_contact)) below_confident_.insert(r.id);
  }
}

void report_confidences(std::vector<Hypothesis>& ranked) {
  // The fallbacks ("nothing fits", at 0 or 0.45) lead only because every guess is below the
  // line; the guesses listed after them keep their own confidences.
  const Hypothesis* above = nullptr;
  for (Hypothesis& h : ranked) {
    h.confidence = std::min(h.confidence, h.ceiling);
    if (h.rule_id.rfind("fallback.", 0) == 0) continue;
    if (above != nullptr) h.confidence = std::min(h.confidence, above->confidence);
    above = &h;
  }
}

Classification Classifier::classify_all(const Evidence& ev) const {
  Classification c = rank(ev);
  report_confidences(c.hypotheses);
  return c;
}

Classification Classifier::rank(const Evidence& ev) const {
  // Every text of the evidence is read once, here, for the rules, the analyzers and the fallbacks.
  const EvidenceTexts texts(ev);
  std::vector<Candidate> candidates = run_analyzers(ev, texts);
  const auto values = builtins(ev);
  const std::size_t log_lines = ev.logs.lines.size();
  for (RuleHit& hit : engine_.match(ev, texts)) {
    auto vars = values;
    for (const auto& [k, v] : hit.captures) vars[k] = v;
    Hypothesis h;
    h.category = hit.rule->category;
    h.rule_id = hit.rule->id;
    h.title = hit.rule->title;
    h.confidence = hit.rule->confidence;
    // A rule wrong too often at first contact speaks below the confident line, wherever it ranks
    // (issue 11 item 5; rule_pack.hpp, confident_at_first_contact).
    if (below_confident_.count(h.rule_id) != 0) h.ceiling = kFirstContactCeiling;
    // Log evidence close to the end of the tail is closer to the exit; a line far up may be
    // an old, recovered error. Small nudge only.
    if (hit.matched_logs && log_lines > 0) {
      double position = static_cast<double>(hit.last_log_line + 1) / static_cast<double>(log_lines);
      h.confidence = std::clamp(h.confidence + 0.04 * (position - 0.5), 0.01, 0.99);
      // The nudge never carries a rule across the confident line: a rule below 0.7 says its
      // words also come from other causes, wherever they sit in the log (issue 11 item 5).
      if (hit.rule->confidence < kConfident) h.confidence = std::min(h.confidence, kConfident - 0.01);
    }
    h.summary = render_template(hit.rule->summary_template, vars);
    h.explanation = render_template(hit.rule->explanation_template, vars);
    h.remediation = render_template(hit.rule->remediation, vars);
    h.evidence = std::move(hit.evidence);
    if (h.category == "volume_permission") {
      const auto path = hit.captures.find("path");
      if (path != hit.captures.end()) place_volume_finding(h, ev, path->second);
    }
    if (h.rule_id == "invalid-env-value") place_env_value(h, ev, hit.captures);
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
  std::vector<Hypothesis> observations;
  for (auto& [category, c] : by_category) {
    if (superseded.count(category) != 0) continue;
    (c.observation ? observations : ranked).push_back(std::move(c.hypothesis));
  }
  // A spec finding is only an observation when something else explains this failure: a matched
  // cause, or an error in the texts that it does not account for. With no failure text at all
  // (a report that shows only the spec) it is the best there is, as a cause, but never a confident one.
  const bool explained = std::any_of(ranked.begin(), ranked.end(),
                                     [&](const Hypothesis& h) { return h.confidence >= options_.min_confidence; });
  if (!explained && !observations.empty() && !has_unexplained_error(texts)) {
    for (Hypothesis& h : observations) {
      h.confidence = std::min(h.confidence, 0.6);
      ranked.push_back(std::move(h));
    }
    observations.clear();
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Hypothesis& a, const Hypothesis& b) {
    if (a.confidence != b.confidence) return a.confidence > b.confidence;
    return a.category < b.category;
  });
  if (ranked.empty() || ranked.front().confidence < options_.min_confidence) {
    ranked.insert(ranked.begin(),
                  ev.target().init ? init_container_fallback(ev, texts) : unknown_hypothesis(ev, texts));
  }
  if (ranked.size() > options_.max_hypotheses) ranked.resize(options_.max_hypotheses);
  auto redact = [&](Hypothesis& h) {
    if (options_.redact) {
      h.summary = redactor_.redact(h.summary);
      h.explanation = redactor_.redact(h.explanation);
      h.remediation = redactor_.redact(h.remediation);  // quotes the spec: before/after YAML
      for (EvidenceItem& item : h.evidence) item.excerpt = redactor_.redact(item.excerpt);
    }
    h.summary = truncate_utf8(h.summary, kMaxSummaryChars);
  };
  for (Hypothesis& h : ranked) redact(h);
  for (Hypothesis& h : observations) {
    // Subordinate by construction: an observation never reads as confident.
    h.confidence = std::min(h.confidence, 0.45);
    redact(h);
  }
  return Classification{std::move(ranked), std::move(observations), evidence_notes(ev)};
}

std::vector<Hypothesis> Classifier::classify(const Evidence& ev) const {
  return classify_all(ev).hypotheses;
}

ContainerDiagnosis Classifier::diagnose(const Evidence& ev) const {
  const Container& c = ev.target();
  ContainerDiagnosis d;
  d.name = c.name;
  d.init = c.init;
  d.image = c.image;
  d.state = describe_state(c);
  d.restart_count = c.status ? c.status->restart_count : 0;
  Classification result = rank(ev);
  d.hypotheses = std::move(result.hypotheses);
  d.observations = std::move(result.observations);
  d.evidence_notes = std::move(result.notes);
  // What changed re-ranks by the same confidences the rules gave, and only then are they reported
  // as sure as each producer may be: the record never changes the order.
  apply_what_changed(ev, d,
                     [this](const std::string& text) { return options_.redact ? redactor_.redact(text) : text; });
  report_confidences(d.hypotheses);
  return d;
}

}  // namespace crashdiag
