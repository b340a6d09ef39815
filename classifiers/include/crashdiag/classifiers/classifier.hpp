// classify(): rules + analyzers -> ranked, redacted hypotheses for one container.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/redaction.hpp"
#include "crashdiag/classifiers/rule_engine.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct ClassifyOptions {
  std::size_t max_hypotheses = 5;
  bool redact = true;
  // Below this, the best hypothesis is not trusted: `unknown` leads and shows the evidence.
  double min_confidence = 0.3;
};

struct Classification {
  std::vector<Hypothesis> hypotheses;    // ranked causes, never empty
  std::vector<Hypothesis> observations;  // spec findings that do not explain this failure
  std::vector<std::string> notes;        // missing evidence and why
};

// Reports each hypothesis at most at its ceiling, and never a runner-up surer than the answer
// ranked above it; the order is left as ranked.
void report_confidences(std::vector<Hypothesis>& ranked);

class Classifier {
 public:
  explicit Classifier(RuleEngine engine, ClassifyOptions options = {});

  [[nodiscard]] std::vector<Hypothesis> classify(const Evidence& evidence) const;
  [[nodiscard]] Classification classify_all(const Evidence& evidence) const;
  [[nodiscard]] ContainerDiagnosis diagnose(const Evidence& evidence) const;
  [[nodiscard]] const RuleEngine& engine() const { return engine_; }

 private:
  // Ranked by the confidence the rules and analyzers give; nothing capped yet.
  [[nodiscard]] Classification rank(const Evidence& evidence) const;
  RuleEngine engine_;
  // Rules whose first-contact record says a confident answer from them is not right often
  // enough (rule_pack.hpp, confident_at_first_contact): reported below 0.7, ranked as they are.
  std::set<std::string, std::less<>> below_confident_;
  ClassifyOptions options_;
  Redactor redactor_;
};

// The hypothesis for "nothing fits": confidence 0, the three most error-like lines quoted.
[[nodiscard]] Hypothesis unknown_hypothesis(const Evidence& evidence);
[[nodiscard]] Hypothesis unknown_hypothesis(const Evidence& evidence, const EvidenceTexts& texts);
// What evidence is missing and why (no log because the process never started, a failed log
// fetch, no Events).
[[nodiscard]] std::vector<std::string> evidence_notes(const Evidence& evidence);

inline constexpr std::size_t kMaxSummaryChars = 120;

}  // namespace crashdiag
