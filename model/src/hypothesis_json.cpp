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

std::string_view to_string(ChangeAspect aspect) {
  switch (aspect) {
    case ChangeAspect::kImage:
      return "image";
    case ChangeAspect::kCommand:
      return "command";
    case ChangeAspect::kArgs:
      return "args";
    case ChangeAspect::kEnv:
      return "env";
    case ChangeAspect::kEnvFrom:
      return "envFrom";
    case ChangeAspect::kMounts:
      return "volumeMounts";
    case ChangeAspect::kVolumes:
      return "volumes";
    case ChangeAspect::kResources:
      return "resources";
    case ChangeAspect::kLivenessProbe:
      return "livenessProbe";
    case ChangeAspect::kReadinessProbe:
      return "readinessProbe";
    case ChangeAspect::kStartupProbe:
      return "startupProbe";
    case ChangeAspect::kSecurityContext:
      return "securityContext";
    case ChangeAspect::kServiceLinks:
      return "enableServiceLinks";
    case ChangeAspect::kContainers:
      return "containers";
  }
  return "containers";
}

void to_json(nlohmann::json& out, const WhatChanged& w) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : w.changes) changes.push_back(c.text);
  out = nlohmann::json{{"summary", w.summary}, {"changes", std::move(changes)}};
  if (!w.revision.empty()) out["revision"] = w.revision;
  if (!w.previous_revision.empty()) out["previousRevision"] = w.previous_revision;
  if (!w.changed_at.empty()) out["changedAt"] = w.changed_at;
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
  if (d.what_changed) out["whatChanged"] = *d.what_changed;
}

void to_json(nlohmann::json& out, const Diagnosis& d) {
  out = nlohmann::json{{"apiVersion", "crashdiag.io/v1alpha1"},
                       {"kind", "Explanation"},
                       {"namespace", d.namespace_},
                       {"pod", d.pod},
                       {"containers", d.containers}};
}

}  // namespace crashdiag
