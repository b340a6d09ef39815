// Reads rule packs from directories (the shipped classifiers/rules plus any --rules-dir).
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"

namespace crashdiag {

// Every *.yaml / *.yml file in each directory, in name order, parsed and validated.
[[nodiscard]] tl::expected<std::vector<Rule>, RuleLoadError> load_rule_dirs(const std::vector<std::string>& dirs);

[[nodiscard]] std::string default_rules_dir();

// Loads the rules and compiles a classifier, or an error message to print.
[[nodiscard]] tl::expected<Classifier, std::string> make_classifier(const std::vector<std::string>& extra_dirs,
                                                                    bool include_default = true);

}  // namespace crashdiag
