#include "crashdiag/classifiers/rule_engine.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/spec_predicates.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/utf8.hpp"
#include "pattern_index.hpp"

namespace crashdiag {
namespace {

enum class Field { kMessage, kLog, kEvent };
enum class Condition { kMessage, kLog, kEvent, kText, kUnless };

// The texts a line pattern looks at, as bits of TextSource.
using SourceMask = std::uint8_t;
constexpr SourceMask bit(TextSource s) {
  return static_cast<SourceMask>(1U << static_cast<unsigned>(s));
}
constexpr SourceMask kAllSources =
    bit(TextSource::kStatus) | bit(TextSource::kEvents) | bit(TextSource::kProbe) | bit(TextSource::kLogs);

struct PatternRef {
  std::size_t rule = 0;
  Condition condition = Condition::kMessage;
  SourceMask sources = kAllSources;  // the texts whose lines this pattern is a condition on
  bool named_groups = false;         // its captures fill a template's placeholders
};

// The patterns plus, parallel to their indices, what each pattern is a condition of.
struct FieldMatcher {
  std::unique_ptr<PatternIndex> index;
  std::vector<PatternRef> refs;
  bool empty() const { return refs.empty(); }
};

RE2::Options pattern_options() {
  RE2::Options o;
  o.set_log_errors(false);
  // Bounded DFA memory per regex: a pathological pattern degrades to slower NFA matching
  // instead of unbounded memory (RE2 falls back when the budget is exhausted). RE2's default;
  // each pattern is one rule's, compiled alone (pattern_index.hpp).
  o.set_max_mem(8 << 20);
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
  // One index for the lines of every text (status messages, the kubelet's event messages, a
  // probe's output, the log tail): each line is scanned once for every rule's `message`, `log`,
  // `text` and `unless` patterns, and a hit counts only for the texts its pattern looks at. One
  // per text held each `text` pattern four times (1.1 MiB of the daemon's baseline, issue 14 item 1).
  FieldMatcher lines;
  FieldMatcher event_cond;  // `event.message` patterns, on whole event messages (with the reason)
  [[nodiscard]] std::array<FieldMatcher*, 2> all() { return {&lines, &event_cond}; }
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

tl::expected<RuleEngine, RuleLoadError> RuleEngine::compile(std::vector<Rule> rules) {
  auto impl = std::make_unique<Impl>();
  impl->rules = std::move(rules);
  for (FieldMatcher* m : impl->all()) m->index = std::make_unique<PatternIndex>(pattern_options());
  auto add = [&](FieldMatcher& m, std::size_t rule_index, Condition cond, SourceMask sources,
                 const std::string& pattern) -> tl::expected<void, RuleLoadError> {
    const Rule& rule = impl->rules[rule_index];
    std::string error;
    int index = m.index->add(pattern, &error);
    if (index < 0) {
      return tl::unexpected(RuleLoadError{rule.file, rule.line, rule.id, "pattern '" + pattern + "': " + error});
    }
    m.refs.push_back(PatternRef{rule_index, cond, sources, has_named_group(pattern)});
    return {};
  };
  // Patterns are added rule by rule, `message` and `log` before `text`, so the hits on one line
  // reach a rule in the order the per-text sets gave them (captures of a later pattern win).
  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    const RuleMatch& rm = impl->rules[i].match;
    SourceMask text_sources = 0;
    for (TextSource src : {TextSource::kStatus, TextSource::kEvents, TextSource::kProbe, TextSource::kLogs}) {
      if (rm.sources.empty() || std::find(rm.sources.begin(), rm.sources.end(), src) != rm.sources.end()) {
        text_sources |= bit(src);
      }
    }
    for (const auto& p : rm.message_patterns) {
      if (auto r = add(impl->lines, i, Condition::kMessage, bit(TextSource::kStatus), p); !r)
        return tl::unexpected(r.error());
    }
    for (const auto& p : rm.log_patterns) {
      if (auto r = add(impl->lines, i, Condition::kLog, bit(TextSource::kLogs), p); !r)
        return tl::unexpected(r.error());
    }
    for (const auto& p : rm.event.patterns) {
      if (auto r = add(impl->event_cond, i, Condition::kEvent, kAllSources, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.unless_patterns) {
      if (auto r = add(impl->lines, i, Condition::kUnless, kAllSources, p); !r) return tl::unexpected(r.error());
    }
    for (const auto& p : rm.text_patterns) {
      if (text_sources == 0) continue;
      if (auto r = add(impl->lines, i, Condition::kText, text_sources, p); !r) return tl::unexpected(r.error());
    }
  }
  for (FieldMatcher* m : impl->all()) m->index->compile();
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

void extract_captures(const RE2& re, std::string_view text, std::map<std::string, std::string>& out) {
  if (!re.ok()) return;  // the set accepted the pattern, so this is not expected; no captures then
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
  // Captures come from the pattern's own compiled regex, only for the patterns that matched.
  auto extract = [](const FieldMatcher& m, int i, std::string_view text, std::map<std::string, std::string>& out) {
    if (m.refs[static_cast<std::size_t>(i)].named_groups)
      extract_captures(m.index->regex(static_cast<std::size_t>(i)), text, out);
  };
  const std::string status_base = status_field(c);

  auto scan = [&](const FieldMatcher& m, std::string_view text, auto&& on_hit) {
    if (m.empty() || text.empty()) return;
    m.index->match(text, hits);  // in pattern order: captures of a later pattern win
    for (int h : hits) on_hit(h, m.refs[static_cast<std::size_t>(h)]);
  };

  const Terminated* term = c.latest_termination();
  for (const EvidenceText& t : texts) {
    const SourceMask source = bit(t.source);
    const EvidenceSource where = evidence_source(t.source);
    for_each_line(t.text, [&](std::string_view line) {
      scan(impl.lines, line, [&](int index, const PatternRef& ref) {
        if ((ref.sources & source) == 0) return;
        RuleState& s = states[ref.rule];
        if (ref.condition == Condition::kUnless) {
          s.vetoed = true;
          return;
        }
        bool& flag = ref.condition == Condition::kText ? s.text : ref.condition == Condition::kLog ? s.log : s.message;
        const std::size_t slot = static_cast<std::size_t>(t.source);
        if (t.source == TextSource::kLogs) {
          // The last matching line is quoted: it is the one closest to the exit.
          flag = true;
          s.last_log_line = t.log_line;
          s.matched_logs = true;
          extract(impl.lines, index, line, s.captures);
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
        extract(impl.lines, index, line, s.captures);
        s.evidence_at[slot] = s.evidence.size();
        s.evidence.push_back(EvidenceItem{where, t.field(), bounded(t.excerpt())});
      });
    });
    // Event conditions need the reason and the message to hold for the same event.
    if (t.event) {
      const Event& e = *t.event;
      scan(impl.event_cond, e.message, [&](int index, const PatternRef& ref) {
        RuleState& s = states[ref.rule];
        const Rule& rule = impl.rules[ref.rule];
        if (s.event || (!rule.match.event.reasons.empty() && !contains(rule.match.event.reasons, e.reason))) return;
        s.event = true;
        extract(impl.event_cond, index, e.message, s.captures);
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
