// Rendering a Diagnosis for people (text) and for scripts (json, yaml). The JSON shape is a
// stable contract: {containers: [{name, hypotheses: [{category, confidence, summary,
// evidence: [{source, field, excerpt}], remediation, ...}]}]}.
#pragma once

#include <string>

#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

enum class OutputFormat { kText, kJson, kYaml };

[[nodiscard]] std::string render(const Diagnosis& diagnosis, OutputFormat format);

}  // namespace crashdiag
