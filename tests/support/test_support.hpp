#pragma once

#include <string>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/model/evidence.hpp"

namespace crashdiag::testing {

[[nodiscard]] std::string read_file(const std::string& path);
[[nodiscard]] std::string source_path(const std::string& relative);
// The classifier over the shipped rule packs, built once per test binary.
[[nodiscard]] const Classifier& shipped_classifier();
// The same rules with their first-contact records dropped: for tests of what a rule's own logic
// does to its confidence, apart from how sure its record lets it be reported.
[[nodiscard]] const Classifier& shipped_classifier_as_written();
// Evidence from the compact YAML form; fails the calling test on a parse error.
[[nodiscard]] Evidence evidence(const std::string& yaml);
[[nodiscard]] std::string top_category(const Evidence& evidence);

}  // namespace crashdiag::testing
