// What changed between two pod templates (issue 15, item 1): the one that last ran and the one
// that fails. Compares what people edit and what causes fail on (image, command, args, env,
// envFrom, mounts, volumes, resources, probes, security context, service links), not the
// fields the apiserver defaults, so a hand-written manifest compares cleanly with a stored one.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"
#include "crashdiag/model/parse.hpp"

namespace crashdiag {

[[nodiscard]] std::vector<TemplateChange> diff_templates(const Pod& before, const Pod& after);

// The pod template inside any object that holds one, as a Pod: a Pod; a Deployment, ReplicaSet,
// StatefulSet, DaemonSet or Job (spec.template); a ControllerRevision (data.spec.template); a
// PodTemplate (template); or a bare template ({metadata, spec}). `revision` is the object's
// revision when it has one (a ReplicaSet's deployment.kubernetes.io/revision annotation, a
// ControllerRevision's revision), `created` its creationTimestamp.
struct TemplateSource {
  Pod pod;
  std::string revision;
  std::string created;
};
[[nodiscard]] tl::expected<TemplateSource, ParseError> template_from_object(const nlohmann::json& object);

// The one-line summary: "changed in revision 7 (2m before the first failure): containers[0].command
// added ["server"]; ..." or "nothing in the pod template changed since revision 6: ...".
// `first_failure` (RFC 3339) may be empty.
[[nodiscard]] std::string describe_changes(const WhatChanged& what_changed, const std::string& first_failure);

}  // namespace crashdiag
