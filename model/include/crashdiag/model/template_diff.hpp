// What changed between two pod templates (issue 15, item 1): the one that last ran and the one
// that fails. Compares what people edit and what causes fail on (image, command, args, env,
// envFrom, mounts, volumes, resources, probes, security context, service links), not the
// fields the apiserver defaults, so a hand-written manifest compares cleanly with a stored one.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
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

// Where a pod's workload keeps its revisions, to compare the failing template with the one
// before: a Deployment's ReplicaSets (the pod's controller is a ReplicaSet) or a StatefulSet's
// and a DaemonSet's ControllerRevisions. `path` is the namespace's collection (one list, no
// watch). nullopt for other owners (Jobs, bare pods) and for a pod that does not parse.
struct RevisionList {
  std::string path;
  std::string resource;  // "replicasets" or "controllerrevisions"
};
[[nodiscard]] std::optional<RevisionList> revision_list_of(const nlohmann::json& pod);

// From that list: the template of the highest revision below the pod's own among those its
// workload owns. A Deployment's ReplicaSets carry deployment.kubernetes.io/revision
// (pkg/controller/deployment/util); a StatefulSet's or DaemonSet's ControllerRevisions carry
// `revision`, and the pod's controller-revision-hash label names its own (pkg/controller/history;
// a DaemonSet's pods carry the hash alone, its revision is "<name>-<hash>"). nullopt: a first
// revision, or nothing that says which is the pod's.
[[nodiscard]] std::optional<PreviousTemplate> previous_template_of(const nlohmann::json& pod,
                                                                   const nlohmann::json& revisions);

}  // namespace crashdiag
