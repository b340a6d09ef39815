#include <cmath>
#include <nlohmann/json.hpp>

#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

std::string_view to_string(EvidenceSource source) {
  switch (source) {
    case EvidenceSource::kStatus:
      return "status";
    case EvidenceSource::kLogs:
      return "logs";
    case EvidenceSource::kEvents:
      return "events";
    case EvidenceSource::kSpec:
      return "spec";
  }
  return "status";
}

void to_json(nlohmann::json& out, const EvidenceItem& item) {
  out =
      nlohmann::json{{"source", std::string(to_string(item.source))}, {"field", item.field}, {"excerpt", item.excerpt}};
}

void to_json(nlohmann::json& out, const Hypothesis& h) {
  // Two decimals: confidences are judgements, not measurements; more digits would churn
  // golden files and RCA objects without meaning anything.
  double rounded = std::round(h.confidence * 100.0) / 100.0;
  out = nlohmann::json{{"category", h.category}, {"confidence", rounded},       {"rule", h.rule_id},
                       {"title", h.title},       {"summary", h.summary},        {"explanation", h.explanation},
                       {"evidence", h.evidence}, {"remediation", h.remediation}};
}

void to_json(nlohmann::json& out, const ContainerDiagnosis& d) {
  out = nlohmann::json{{"name", d.name},
                       {"init", d.init},
                       {"image", d.image},
                       {"state", d.state},
                       {"restartCount", d.restart_count},
                       {"hypotheses", d.hypotheses}};
  // Present only when there is something to say: the contract's existing fields stay as they were.
  if (!d.observations.empty()) out["observations"] = d.observations;
  if (!d.evidence_notes.empty()) out["evidenceNotes"] = d.evidence_notes;
}

void to_json(nlohmann::json& out, const Diagnosis& d) {
  out = nlohmann::json{{"apiVersion", "crashdiag.io/v1alpha1"},
                       {"kind", "Explanation"},
                       {"namespace", d.namespace_},
                       {"pod", d.pod},
                       {"containers", d.containers}};
}

}  // namespace crashdiag
