// Compiled rule set. Every line pattern of every rule (message, log, text and unless) lives in
// one PatternIndex (a literal prefilter over RE2 patterns, src/pattern_index.hpp), so each line of
// each text is scanned once for the whole pack; a hit counts only for the texts its pattern looks
// at. Captures are extracted afterwards, only for the patterns that matched. RE2 runs in linear
// time, so a hostile log line cannot make matching blow up.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct RuleHit {
  const Rule* rule = nullptr;
  std::map<std::string, std::string> captures;
  std::vector<EvidenceItem> evidence;
  std::size_t last_log_line = 0;  // index of the last matching log line (ranking: later = closer to the crash)
  bool matched_logs = false;
};

class RuleEngine {
 public:
  [[nodiscard]] static tl::expected<RuleEngine, RuleLoadError> compile(std::vector<Rule> rules);

  RuleEngine(RuleEngine&&) noexcept;
  RuleEngine& operator=(RuleEngine&&) noexcept;
  ~RuleEngine();

  [[nodiscard]] std::vector<RuleHit> match(const Evidence& evidence) const;
  // The same, over texts already read from the evidence.
  [[nodiscard]] std::vector<RuleHit> match(const Evidence& evidence, const EvidenceTexts& texts) const;
  [[nodiscard]] const std::vector<Rule>& rules() const;

 private:
  struct Impl;
  explicit RuleEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crashdiag
