// Reads rule packs: the shipped classifiers/rules compiled into the binary plus any --rules-dir.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"

namespace crashdiag {

// The shipped packs compiled into the binary, named "builtin:classifiers/rules/<file>.yaml".
[[nodiscard]] std::vector<RuleSource> builtin_rule_sources();

// Every *.yaml / *.yml file in each directory, in name order. Dot-files and subdirectories are
// skipped: a ConfigMap volume holds `..data` and `..<timestamp>` entries beside the key symlinks.
[[nodiscard]] tl::expected<std::vector<RuleSource>, RuleLoadError> read_rule_dirs(const std::vector<std::string>& dirs);

// read_rule_dirs, then parsed and validated.
[[nodiscard]] tl::expected<std::vector<Rule>, RuleLoadError> load_rule_dirs(const std::vector<std::string>& dirs);

// The built-in packs (unless `include_builtin` is false) followed by `from_dirs`: the one order
// every rule set is compiled in (start-up, reload, `rules list`).
[[nodiscard]] std::vector<RuleSource> with_builtin(std::vector<RuleSource> from_dirs, bool include_builtin);

// The built-in packs (unless `include_builtin` is false) followed by the directories' files.
[[nodiscard]] tl::expected<std::vector<RuleSource>, RuleLoadError> rule_sources(const std::vector<std::string>& dirs,
                                                                                bool include_builtin);

// Parses, validates and compiles sources into a classifier, or an error message to print.
[[nodiscard]] tl::expected<Classifier, std::string> compile_classifier(const std::vector<RuleSource>& sources);

// Loads the rules and compiles a classifier, or an error message to print.
[[nodiscard]] tl::expected<Classifier, std::string> make_classifier(const std::vector<std::string>& extra_dirs,
                                                                    bool include_default = true);

}  // namespace crashdiag
