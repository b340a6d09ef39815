#include "crashdiag/classifiers/rule_test.hpp"

#include "crashdiag/classifiers/evidence_yaml.hpp"
#include "crashdiag/classifiers/rule_engine.hpp"

namespace crashdiag {

RuleTestReport test_rule_examples(const std::vector<Rule>& rules) {
  RuleTestReport report;
  report.rules = rules.size();
  for (const Rule& rule : rules) {
    auto engine = RuleEngine::compile({rule});
    if (!engine) {
      report.failures.push_back({rule.file, rule.line, rule.id, "", engine.error().message});
      continue;
    }
    for (const RuleExample& ex : rule.examples) {
      ++report.examples;
      auto evidence = evidence_from_yaml(ex.evidence_yaml);
      if (!evidence) {
        report.failures.push_back(
            {rule.file, ex.line, rule.id, ex.name, "evidence does not parse: " + evidence.error().what});
        continue;
      }
      bool matched = !engine->match(*evidence).empty();
      if (matched != ex.expect_match) {
        report.failures.push_back(
            {rule.file, ex.line, rule.id, ex.name,
             ex.expect_match ? "expected the rule to match, it did not" : "expected no match, but the rule matched"});
      }
    }
  }
  return report;
}

}  // namespace crashdiag
