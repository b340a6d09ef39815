// What crashdiag concludes: ranked hypotheses, each with quoted evidence and a remediation.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
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
  // The most this hypothesis may be reported at, whatever its confidence ranks it by: below 0.7
  // for a rule whose record on incidents it never saw falls short (docs/rules.md, "Confidence
  // from first contact"). Applied once ranking is done (Classifier, report_confidences).
  double ceiling = 1.0;
  std::string rule_id;  // rule or analyzer that produced it
  std::string title;
  std::string summary;  // <= 120 characters
  std::string explanation;
  std::vector<EvidenceItem> evidence;
  std::string remediation;
};

// One difference between the template that last ran and the failing one, worded for people:
// `containers[0].command added ["server"]`, `containers[0].image a:1 → a:2`.
enum class ChangeAspect {
  kImage,
  kCommand,
  kArgs,
  kEnv,
  kEnvFrom,
  kMounts,
  kVolumes,
  kResources,
  kLivenessProbe,
  kReadinessProbe,
  kStartupProbe,
  kSecurityContext,
  kServiceLinks,
  kContainers,
};

[[nodiscard]] std::string_view to_string(ChangeAspect aspect);

struct TemplateChange {
  std::string container;  // the container it concerns; empty for the pod's own fields
  ChangeAspect aspect = ChangeAspect::kContainers;
  std::string text;

  bool operator==(const TemplateChange&) const = default;
};

// What changed in the pod template before the failure (issue 15): the difference, or that there
// was none, which says the cause is outside the spec.
struct WhatChanged {
  std::string revision;           // the failing revision
  std::string previous_revision;  // the one compared against
  std::string changed_at;         // when the failing revision was created (RFC 3339), if known
  std::vector<TemplateChange> changes;
  std::string summary;  // one line: "changed in revision 7 (2m before the first failure): ..."
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
  std::optional<WhatChanged> what_changed;  // when a previous template was known
};

struct Diagnosis {
  std::string namespace_;
  std::string pod;
  std::vector<ContainerDiagnosis> containers;
};

void to_json(nlohmann::json& out, const WhatChanged& what_changed);
void to_json(nlohmann::json& out, const EvidenceItem& item);
void to_json(nlohmann::json& out, const Hypothesis& hypothesis);
void to_json(nlohmann::json& out, const ContainerDiagnosis& diagnosis);
void to_json(nlohmann::json& out, const Diagnosis& diagnosis);

}  // namespace crashdiag
