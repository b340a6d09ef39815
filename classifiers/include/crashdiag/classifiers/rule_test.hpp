// Runs every rule's examples: a positive example must make the rule match, a negative one
// must not. Used by the test suite and by `crashdiag rules test DIR`.
#pragma once

#include <string>
#include <vector>

#include "crashdiag/classifiers/rule_pack.hpp"

namespace crashdiag {

struct ExampleFailure {
  std::string file;
  int line = 0;
  std::string rule_id;
  std::string example;
  std::string message;
};

struct RuleTestReport {
  std::size_t rules = 0;
  std::size_t examples = 0;
  std::vector<ExampleFailure> failures;
};

[[nodiscard]] RuleTestReport test_rule_examples(const std::vector<Rule>& rules);

}  // namespace crashdiag
