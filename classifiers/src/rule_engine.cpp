#include "crashdiag/classifiers/rule_engine.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/spec_predicates.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag {
namespace {

enum class Field { kMessage, kLog, kEvent };
enum class Condition { kMessage, kLog, kEvent, kText, kUnless };

struct PatternRef {
  std::size_t rule = 0;
  Condition condition = Condition::kMessage;
  const RE2* regex = nullptr;  // only for a pattern with named groups: the captures a template uses
};

// One RE2::Set per field plus, for patterns with named groups, the individual regex that
// extracts them.
struct FieldMatcher {
  std::unique_ptr<RE2::Set> set;
  std::vector<PatternRef> refs;  // parallel to the set's pattern indices
  bool empty() const { return refs.empty(); }
};

using CompiledRegexes = std::map<std::string, std::unique_ptr<RE2>, std::less<>>;

RE2::Options pattern_options() {
  RE2::Options o;
  o.set_log_errors(false);
  // Bounded DFA memory per regex: a pathological pattern degrades to slower NFA matching
  // instead of unbounded memory (RE2 falls back when the budget is exhausted).
  o.set_max_mem(64 << 20);
  return o;
}

std::string bounded(std::string_view s) {
  return utf8_clip(s, kMaxExcerptBytes);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

struct RuleEngine::Impl {
  std::vector<Rule> rules;
  // The individual regexes, one per distinct pattern with named groups. A set matches; a single
  // regex is needed only to extract captures. Compiling one per pattern and field took 7 of the
  // engine's 17 MiB with ~1,800 patterns, and was most of the daemon's resident memory before its
  // first pod (issue 14 item 1).
  CompiledRegexes regexes;
  // One set per text source: each line of each text is scanned once for every rule's patterns.
  FieldMatcher status;      // `message` patterns and `text` patterns that look at status messages
  FieldMatcher log;         // `log` patterns and `text` patterns that look at the log tail
  FieldMatcher events;      // `text` patterns that look at the kubelet's event messages
  FieldMatcher probe;       // `text` patterns that look at a probe's output
  FieldMatcher event_cond;  // `event.message` patterns, on whole event messages (with the reason)
  FieldMatcher unless;      // `unless` patterns, on every line
  [[nodiscard]] std::array<FieldMatcher*, 6> all() { return {&status, &log, &events, &probe, &event_cond, &unless}; }
};

RuleEngine::RuleEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleEngine::RuleEngine(RuleEngine&&) noexcept = default;
RuleEngine& RuleEngine::operator=(RuleEngine&&) noexcept = default;
RuleEngine::~RuleEngine() = default;

const std::vector<Rule>& RuleEngine::rules() const {
  return impl_->rules;
}

namespace {

// RE2's named groups: (?P<name>...), and (?<name>...) in releases from 2023 on. A false positive
// (the text inside a character class) costs only a compiled regex.
bool has_named_group(std::string_view pattern) {
  return pattern.find("(?P<") != std::string_view::npos || pattern.find("(?<") != std::string_view::npos;
}

}  // namespace

const RE2* capturing(CompiledRegexes& regexes, const std::string& pattern) {
  if (!has_named_group(pattern)) return nullptr;
  auto it = regexes.find(pattern);
  if (it == regexes.end()) it = regexes.emplace(pattern, std::make_unique<RE2>(pattern, pattern_options())).first;
  return it->second.get();
}

tl::expected<RuleEngine, RuleLoadError> RuleEngine::compile(std::vector<Rule> rules) {
  auto impl = std::make_unique<Impl>();
  impl->rules = std::move(rules);
  for (FieldMatcher* m : impl->all()) m->set = std::make_unique<RE2::Set>(pattern_options(), RE2::UNANCHORED);
  auto add = [&](FieldMatcher& m, std::size_t rule_index, Condition cond,
                 const std::string& pattern) -> tl::expected<void, RuleLoadError> {
    const Rule& rule = impl->rules[rule_index];
    std::string error;
    int index = m.set->Add(pattern, &error);
    if (index < 0) {
      return tl::unexpected(RuleLoadError{rule.file, rule.line, rule.id, "pattern '" + pattern + "': " + error});
    }
    m.refs.push_back(PatternRef{rule_index, cond, capturing(impl->regexes, pattern)});
    return {};
  };
  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    const RuleMatch& rm = impl->rules[i].match;
    auto looks_at = [&](TextSource src) {
      return rm.sources.empty() || std::find(rm.sources.begin(), rm.sources.end(), src) != rm.sources.end();
    };
    for (const auto& p : rm.message_patterns) {
      if (auto r = add(impl->status, i, Condition::kMessage, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.log_patterns) {
      if (auto r = add(impl->log, i, Condition::kLog, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.event.patterns) {
      if (auto r = add(impl->event_cond, i, Condition::kEvent, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.unless_patterns) {
      if (auto r = add(impl->unless, i, Condition::kUnless, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.text_patterns) {
      const std::pair<TextSource, FieldMatcher*> targets[] = {{TextSource::kStatus, &impl->status},
                                                              {TextSource::kLogs, &impl->log},
                                                              {TextSource::kEvents, &impl->events},
                                                              {TextSource::kProbe, &impl->probe}};
      for (const auto& [src, m] : targets) {
        if (!looks_at(src)) continue;
        if (auto r = add(*m, i, Condition::kText, p); !r) return tl::unexpected(r.error());
      }
    }
  }
  for (FieldMatcher* m : impl->all()) {
    if (!m->empty() && !m->set->Compile()) {
      return tl::unexpected(RuleLoadError{"(rule set)", 0, "", "the combined pattern set exceeds RE2's memory budget"});
    }
  }
  return RuleEngine(std::move(impl));
}

namespace {

struct RuleState {
  bool message = false;
  bool log = false;
  bool event = false;
  bool text = false;
  bool vetoed = false;  // an `unless` pattern matched
  bool matched_logs = false;
  std::map<std::string, std::string> captures;
  std::vector<EvidenceItem> evidence;
  std::size_t last_log_line = 0;
  std::array<std::size_t, 4> evidence_at{SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};  // per TextSource
  const EvidenceText* last_log_text = nullptr;  // the last log line that matched, quoted at the end
};

void extract_captures(const RE2* regex, std::string_view text, std::map<std::string, std::string>& out) {
  if (regex == nullptr) return;
  const RE2& re = *regex;
  const int groups = re.NumberOfCapturingGroups();
  if (groups <= 0) return;
  std::vector<re2::StringPiece> sub(static_cast<std::size_t>(groups) + 1);
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, sub.data(),
                static_cast<int>(sub.size()))) {
    return;
  }
  for (const auto& [name, index] : re.NamedCapturingGroups()) {
    const auto& piece = sub[static_cast<std::size_t>(index)];
    if (piece.data() != nullptr && !piece.empty()) out[name] = std::string(piece.data(), piece.size());
  }
}

}  // namespace

std::vector<RuleHit> RuleEngine::match(const Evidence& evidence) const {
  return match(evidence, EvidenceTexts(evidence));
}

std::vector<RuleHit> RuleEngine::match(const Evidence& evidence, const EvidenceTexts& texts) const {
  const Impl& impl = *impl_;
  const Container& c = evidence.target();
  std::vector<RuleState> states(impl.rules.size());
  std::vector<int> hits;
  const std::string status_base = status_field(c);

  auto scan = [&](const FieldMatcher& m, std::string_view text, auto&& on_hit) {
    if (m.empty() || text.empty()) return;
    hits.clear();
    if (!m.set->Match(re2::StringPiece(text.data(), text.size()), &hits)) return;
    std::sort(hits.begin(), hits.end());
    for (int h : hits) on_hit(m.refs[static_cast<std::size_t>(h)]);
  };

  const Terminated* term = c.latest_termination();
  for (const EvidenceText& t : texts) {
    const FieldMatcher* matcher = t.source == TextSource::kStatus   ? &impl.status
                                  : t.source == TextSource::kLogs   ? &impl.log
                                  : t.source == TextSource::kEvents ? &impl.events
                                                                    : &impl.probe;
    const EvidenceSource where = evidence_source(t.source);
    for_each_line(t.text, [&](std::string_view line) {
      scan(impl.unless, line, [&](const PatternRef& ref) { states[ref.rule].vetoed = true; });
      scan(*matcher, line, [&](const PatternRef& ref) {
        RuleState& s = states[ref.rule];
        bool& flag = ref.condition == Condition::kText ? s.text : ref.condition == Condition::kLog ? s.log : s.message;
        const std::size_t slot = static_cast<std::size_t>(t.source);
        if (t.source == TextSource::kLogs) {
          // The last matching line is quoted: it is the one closest to the exit.
          flag = true;
          s.last_log_line = t.log_line;
          s.matched_logs = true;
          extract_captures(ref.regex, line, s.captures);
          // The quote is built once, after the scan, from the last matching line.
          s.last_log_text = &t;
          if (s.evidence_at[slot] == SIZE_MAX) {
            s.evidence_at[slot] = s.evidence.size();
            s.evidence.push_back(EvidenceItem{where, {}, {}});
          }
          return;
        }
        if (flag && s.evidence_at[slot] != SIZE_MAX) return;  // one quote per source is enough
        flag = true;
        extract_captures(ref.regex, line, s.captures);
        s.evidence_at[slot] = s.evidence.size();
        s.evidence.push_back(EvidenceItem{where, t.field(), bounded(t.excerpt())});
      });
    });
    // Event conditions need the reason and the message to hold for the same event.
    if (t.event) {
      const Event& e = *t.event;
      scan(impl.event_cond, e.message, [&](const PatternRef& ref) {
        RuleState& s = states[ref.rule];
        const Rule& rule = impl.rules[ref.rule];
        if (s.event || (!rule.match.event.reasons.empty() && !contains(rule.match.event.reasons, e.reason))) return;
        s.event = true;
        extract_captures(ref.regex, e.message, s.captures);
        s.evidence.push_back(EvidenceItem{EvidenceSource::kEvents, t.field(), bounded(t.excerpt())});
      });
    }
  }
  for (RuleState& s : states) {
    if (s.last_log_text == nullptr) continue;
    EvidenceItem& item = s.evidence[s.evidence_at[static_cast<std::size_t>(TextSource::kLogs)]];
    item.field = s.last_log_text->field();
    item.excerpt = bounded(s.last_log_text->excerpt());
  }
  // Reason-only event conditions.
  for (std::size_t r = 0; r < impl.rules.size(); ++r) {
    const Rule& rule = impl.rules[r];
    if (!rule.match.event.patterns.empty() || rule.match.event.reasons.empty()) continue;
    for (const Event& e : texts.events()) {
      if (contains(rule.match.event.reasons, e.reason)) {
        states[r].event = true;
        states[r].evidence.push_back(
            EvidenceItem{EvidenceSource::kEvents, "events[" + e.reason + "]", event_excerpt(e)});
        break;
      }
    }
  }

  std::vector<RuleHit> out;
  for (std::size_t r = 0; r < impl.rules.size(); ++r) {
    const Rule& rule = impl.rules[r];
    const RuleMatch& m = rule.match;
    RuleState& s = states[r];
    if (s.vetoed) continue;
    if (!m.message_patterns.empty() && !s.message) continue;
    if (!m.log_patterns.empty() && !s.log) continue;
    if (!m.event.empty() && !s.event) continue;
    if (!m.text_patterns.empty() && !s.text) continue;
    std::vector<EvidenceItem> status_items;
    if (!m.waiting_reasons.empty()) {
      if (!c.status || !c.status->waiting || !contains(m.waiting_reasons, c.status->waiting->reason)) continue;
      status_items.push_back(
          {EvidenceSource::kStatus, status_base + ".state.waiting.reason", "reason: " + c.status->waiting->reason});
    }
    if (!m.terminated_reasons.empty() || !m.exit_codes.empty() || !m.signals.empty()) {
      if (term == nullptr) continue;
      if (!m.terminated_reasons.empty() && !contains(m.terminated_reasons, term->reason)) continue;
      if (!m.exit_codes.empty() && std::none_of(m.exit_codes.begin(), m.exit_codes.end(),
                                                [&](const IntRange& r2) { return r2.contains(term->exit_code); })) {
        continue;
      }
      if (!m.signals.empty() && (!term->signal || !std::count(m.signals.begin(), m.signals.end(), *term->signal)))
        continue;
      std::string excerpt = "exitCode: " + std::to_string(term->exit_code);
      if (!term->reason.empty()) excerpt += ", reason: " + term->reason;
      if (term->signal) excerpt += ", signal: " + std::to_string(*term->signal);
      status_items.push_back({EvidenceSource::kStatus,
                              status_base + (c.status->terminated ? ".state" : ".lastState") + ".terminated", excerpt});
    }
    bool spec_ok = true;
    std::vector<EvidenceItem> spec_items;
    for (const SpecPredicate& p : m.spec) {
      PredicateResult pr = evaluate(p, evidence.pod, c);
      if (!pr.holds) {
        spec_ok = false;
        break;
      }
      if (pr.evidence) spec_items.push_back(*pr.evidence);
    }
    if (!spec_ok) continue;
    RuleHit hit;
    hit.rule = &rule;
    hit.captures = std::move(s.captures);
    hit.evidence = std::move(status_items);
    for (auto& item : s.evidence) hit.evidence.push_back(std::move(item));
    for (auto& item : spec_items) hit.evidence.push_back(std::move(item));
    hit.last_log_line = s.last_log_line;
    hit.matched_logs = s.matched_logs;
    out.push_back(std::move(hit));
  }
  return out;
}

}  // namespace crashdiag
