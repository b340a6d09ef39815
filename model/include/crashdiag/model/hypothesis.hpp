// What crashdiag concludes: ranked hypotheses, each with quoted evidence and a remediation.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace crashdiag {

enum class EvidenceSource { kStatus, kLogs, kEvents, kSpec };

[[nodiscard]] std::string_view to_string(EvidenceSource source);

struct EvidenceItem {
  EvidenceSource source = EvidenceSource::kStatus;
  std::string field;    // field path, e.g. "spec.containers[0].command" or "logs[41]"
  std::string excerpt;  // quoted, redacted, bounded

  bool operator==(const EvidenceItem&) const = default;
};

struct Hypothesis {
  std::string category;
  double confidence = 0.0;  // 0..1
  std::string rule_id;      // rule or analyzer that produced it
  std::string title;
  std::string summary;  // <= 120 characters
  std::string explanation;
  std::vector<EvidenceItem> evidence;
  std::string remediation;
};

struct ContainerDiagnosis {
  std::string name;
  bool init = false;
  std::string image;
  std::string state;  // short failure description, e.g. "CrashLoopBackOff, last exit 1 (Error)"
  int restart_count = 0;
  std::vector<Hypothesis> hypotheses;  // ranked, best first; never empty
  // Spec findings that are real but do not explain *this* failure (PGDATA on no volume while the
  // log shows another error): reported, never ranked among the causes.
  std::vector<Hypothesis> observations;
  // What evidence was missing and why ("the process never started: a StartError has no logs",
  // "logs could not be fetched: ..."), so an `unknown` says where to look next.
  std::vector<std::string> evidence_notes;
};

struct Diagnosis {
  std::string namespace_;
  std::string pod;
  std::vector<ContainerDiagnosis> containers;
};

void to_json(nlohmann::json& out, const EvidenceItem& item);
void to_json(nlohmann::json& out, const Hypothesis& hypothesis);
void to_json(nlohmann::json& out, const ContainerDiagnosis& diagnosis);
void to_json(nlohmann::json& out, const Diagnosis& diagnosis);

}  // namespace crashdiag
