// Rendering a Diagnosis for people (text) and for scripts (json, yaml). The JSON shape is a
// stable contract: {containers: [{name, hypotheses: [{category, confidence, summary,
// evidence: [{source, field, excerpt}], remediation, ...}]}]}.
#pragma once

#include <string>
#include <vector>

#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

enum class OutputFormat { kText, kJson, kYaml };

[[nodiscard]] std::string render(const Diagnosis& diagnosis, OutputFormat format);
// Several pods (a List, docker inspect of several containers): one pod is rendered exactly as
// above; more are text one after another, or {kind: ExplanationList, items: [...]}.
[[nodiscard]] std::string render(const std::vector<Diagnosis>& diagnoses, OutputFormat format);

}  // namespace crashdiag
