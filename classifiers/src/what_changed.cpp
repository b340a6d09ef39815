#include "crashdiag/classifiers/what_changed.hpp"

#include "crashdiag/classifiers/rule_pack.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "crashdiag/model/template_diff.hpp"

namespace crashdiag {

namespace {

using A = ChangeAspect;

struct Blame {
  std::string_view category;
  std::initializer_list<ChangeAspect> aspects;
};

// Where each category's cause is written in a pod template (docs/categories.md): a change there
// before the failure is evidence for it.
const std::array<Blame, 27> kBlames = {{
    {"entrypoint_override", {A::kCommand, A::kArgs}},
    {"missing_executable_or_file", {A::kCommand, A::kArgs, A::kImage, A::kMounts}},
    {"permission_denied_exec", {A::kCommand, A::kArgs, A::kImage, A::kSecurityContext}},
    {"exec_format_error", {A::kImage, A::kCommand}},
    {"image_pull", {A::kImage}},
    {"missing_config_or_secret", {A::kEnv, A::kEnvFrom, A::kVolumes, A::kMounts}},
    {"missing_env_var", {A::kEnv, A::kEnvFrom}},
    {"invalid_env_value", {A::kEnv, A::kEnvFrom}},
    {"config_parse_error", {A::kVolumes, A::kMounts, A::kArgs, A::kEnv}},
    {"oom_killed", {A::kResources}},
    {"liveness_probe_failure", {A::kLivenessProbe, A::kStartupProbe}},
    {"volume_permission", {A::kMounts, A::kVolumes, A::kSecurityContext}},
    {"read_only_filesystem", {A::kSecurityContext, A::kMounts, A::kVolumes}},
    {"pg_volume_mount_path", {A::kMounts, A::kVolumes, A::kEnv}},
    {"pg_data_dir_not_empty", {A::kMounts, A::kVolumes, A::kEnv}},
    {"mysql_data_dir_not_empty", {A::kMounts, A::kVolumes}},
    {"pg_role_missing", {A::kLivenessProbe, A::kReadinessProbe, A::kEnv}},
    {"service_env_collision", {A::kServiceLinks, A::kEnv}},
    {"port_in_use", {A::kArgs, A::kEnv, A::kContainers}},
    {"completed_exit_0", {A::kCommand, A::kArgs, A::kImage}},
    {"db_auth_failed", {A::kEnv, A::kEnvFrom}},
    {"db_connection_refused", {A::kEnv, A::kEnvFrom}},
    {"dns_resolution_failure", {A::kEnv, A::kEnvFrom}},
    {"tls_certificate_error", {A::kEnv, A::kVolumes, A::kMounts}},
    {"init_container_failure", {A::kContainers, A::kCommand, A::kArgs, A::kImage}},
    {"missing_module_or_dependency", {A::kImage, A::kCommand, A::kArgs}},
    {"disk_full", {A::kResources, A::kVolumes}},
}};

}  // namespace

bool category_blames(std::string_view category, ChangeAspect aspect) {
  for (const Blame& b : kBlames) {
    if (b.category == category) return std::find(b.aspects.begin(), b.aspects.end(), aspect) != b.aspects.end();
  }
  return false;
}

void apply_what_changed(const Evidence& ev, ContainerDiagnosis& d,
                        const std::function<std::string(const std::string&)>& redact) {
  if (!ev.previous) return;
  WhatChanged w;
  w.revision = ev.previous->current_revision;
  w.previous_revision = ev.previous->revision;
  w.changed_at = ev.previous->changed_at;
  w.changes = diff_templates(ev.previous->pod, ev.pod);
  for (TemplateChange& c : w.changes) c.text = redact(c.text);
  // The failing pod was created by the failing revision: its creation is when that revision's
  // failures began (a rollout's first new pod fails within seconds).
  w.summary = redact(describe_changes(w, ev.pod.creation_timestamp));
  const std::string field =
      w.revision.empty() ? "changed since the previous template" : "changed in revision " + w.revision;
  const Container& target = ev.target();
  for (Hypothesis& h : d.hypotheses) {
    std::vector<EvidenceItem> changed;
    for (const TemplateChange& c : w.changes) {
      if (!c.container.empty() && c.container != target.name) continue;
      if (category_blames(h.category, c.aspect)) changed.push_back(EvidenceItem{EvidenceSource::kSpec, field, c.text});
    }
    if (changed.empty()) continue;
    // First: what changed is the answer to "why now".
    h.evidence.insert(h.evidence.begin(), changed.begin(), changed.end());
    h.confidence = std::min(0.99, h.confidence + kChangeBoost);
    // A ceiling above the confident line is what an uncapped producer merged with a capped one
    // could claim on its own (classifier.cpp, merge_into): the change is evidence for it too. A
    // ceiling at or below the line (a capped rule's 0.69) stays where it is.
    if (h.ceiling < 1.0 && h.ceiling > kFirstContactCeiling) h.ceiling = std::min(0.99, h.ceiling + kChangeBoost);
  }
  std::stable_sort(d.hypotheses.begin(), d.hypotheses.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.confidence > b.confidence; });
  d.what_changed = std::move(w);
}

}  // namespace crashdiag
