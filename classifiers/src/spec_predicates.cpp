#include "crashdiag/classifiers/spec_predicates.hpp"

#include "crashdiag/classifiers/evidence_view.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace crashdiag {
namespace {

PredicateResult result(bool holds, std::string field = {}, std::string excerpt = {}) {
  PredicateResult r;
  r.holds = holds;
  if (holds && !field.empty()) r.evidence = EvidenceItem{EvidenceSource::kSpec, std::move(field), std::move(excerpt)};
  return r;
}

std::string_view kind_name(VolumeKind kind) {
  switch (kind) {
    case VolumeKind::kPvc:
      return "pvc";
    case VolumeKind::kEmptyDir:
      return "emptyDir";
    case VolumeKind::kConfigMap:
      return "configMap";
    case VolumeKind::kSecret:
      return "secret";
    case VolumeKind::kHostPath:
      return "hostPath";
    case VolumeKind::kProjected:
      return "projected";
    case VolumeKind::kDownwardApi:
      return "downwardAPI";
    case VolumeKind::kOther:
      return "other";
  }
  return "other";
}

bool non_root(const Container& c) {
  const SecurityContext& sc = c.security_context;
  if (sc.run_as_user) return *sc.run_as_user != 0;
  return sc.run_as_non_root.value_or(false);
}

}  // namespace

PredicateResult evaluate(const SpecPredicate& p, const Pod& pod, const Container& c) {
  const std::string base = container_path(pod, c);
  switch (p.kind) {
    case SpecPredicateKind::kCommandSet:
      return result(c.command.empty() != p.flag, p.flag ? base + ".command" : "",
                    p.flag ? "command: " + quote_list(c.command) : "");
    case SpecPredicateKind::kArgsSet:
      return result(c.args.empty() != p.flag, p.flag ? base + ".args" : "",
                    p.flag ? "args: " + quote_list(c.args) : "");
    case SpecPredicateKind::kImageFamily:
      for (const auto& family : p.values) {
        if (image_in_family(c.image, family)) return result(true, base + ".image", "image: " + c.image);
      }
      return result(false);
    case SpecPredicateKind::kMountAt:
      for (std::size_t i = 0; i < c.mounts.size(); ++i) {
        for (const auto& path : p.values) {
          if (normalize_path(c.mounts[i].mount_path) == normalize_path(path)) {
            return result(true, base + ".volumeMounts[" + std::to_string(i) + "]",
                          "mountPath: " + c.mounts[i].mount_path + " (volume " + c.mounts[i].name + ")");
          }
        }
      }
      return result(false);
    case SpecPredicateKind::kMountKind:
      for (std::size_t i = 0; i < c.mounts.size(); ++i) {
        // "other": a mount whose volume the evidence does not describe (a Docker or Compose report
        // shows a named volume or bind mount as a path alone; a live pod's mounts always join a
        // volume of pod.spec.volumes).
        if (!c.mounts[i].volume) {
          if (std::find(p.values.begin(), p.values.end(), "other") != p.values.end()) {
            return result(true, base + ".volumeMounts[" + std::to_string(i) + "]",
                          "mountPath: " + c.mounts[i].mount_path + " (volume not described)");
          }
          continue;
        }
        for (const auto& kind : p.values) {
          if (kind_name(c.mounts[i].volume->kind) == kind) {
            return result(
                true, base + ".volumeMounts[" + std::to_string(i) + "]",
                "mountPath: " + c.mounts[i].mount_path + " (" + kind + " " + c.mounts[i].volume->source + ")");
          }
        }
      }
      return result(false);
    case SpecPredicateKind::kEnvSet:
      for (const auto& name : p.values) {
        if (c.find_env(name) != nullptr) return result(true, base + ".env", "env " + name + " is set");
      }
      return result(false);
    case SpecPredicateKind::kEnvUnset:
      for (const auto& name : p.values) {
        if (c.find_env(name) != nullptr) return result(false);
      }
      return result(true);
    case SpecPredicateKind::kExecProbeLacksFlag: {
      const std::pair<const char*, const std::optional<Probe>*> probes[] = {
          {"livenessProbe", &c.liveness}, {"readinessProbe", &c.readiness}, {"startupProbe", &c.startup}};
      for (const auto& [name, probe] : probes) {
        if (!*probe || (*probe)->kind != ProbeKind::kExec) continue;
        for (const auto& program : p.values) {
          if (probe_runs(**probe, program) && !probe_has_any_flag(**probe, p.flags)) {
            return result(true, base + "." + name + ".exec.command",
                          std::string(name) + ".exec.command: " + quote_list((*probe)->exec_command));
          }
        }
      }
      return result(false);
    }
    case SpecPredicateKind::kMemoryLimitSet:
      return result(c.resources.memory_limit.empty() != p.flag, p.flag ? base + ".resources.limits.memory" : "",
                    "resources.limits.memory: " + c.resources.memory_limit);
    case SpecPredicateKind::kLivenessProbeSet: {
      // Both probes end in the kubelet stopping the container (pkg/kubelet/prober/worker.go: a
      // failed liveness or startup probe marks it for restart), so either counts.
      const std::optional<Probe>& probe = c.liveness ? c.liveness : c.startup;
      const char* name = c.liveness ? "livenessProbe" : "startupProbe";
      const std::string excerpt = probe
                                      ? std::string(name) + ": periodSeconds " + std::to_string(probe->period_seconds) +
                                            ", failureThreshold " + std::to_string(probe->failure_threshold)
                                      : std::string();
      return result(probe.has_value() == p.flag, p.flag ? base + "." + name : "", excerpt);
    }
    case SpecPredicateKind::kReadOnlyRootFilesystem:
      return result(c.security_context.read_only_root_filesystem.value_or(false) == p.flag,
                    p.flag ? base + ".securityContext.readOnlyRootFilesystem" : "", "readOnlyRootFilesystem: true");
    case SpecPredicateKind::kNonRoot: {
      std::string excerpt = c.security_context.run_as_user
                                ? "runAsUser: " + std::to_string(*c.security_context.run_as_user)
                                : "runAsNonRoot: true";
      return result(non_root(c) == p.flag, p.flag ? base + ".securityContext" : "", excerpt);
    }
    case SpecPredicateKind::kFsGroupSet:
      return result(
          c.security_context.fs_group.has_value() == p.flag, p.flag ? "spec.securityContext.fsGroup" : "",
          p.flag && c.security_context.fs_group ? "fsGroup: " + std::to_string(*c.security_context.fs_group) : "");
    case SpecPredicateKind::kServiceLinksEnabled:
      return result(pod.enable_service_links == p.flag, "spec.enableServiceLinks",
                    pod.enable_service_links ? "enableServiceLinks: true (the default)" : "enableServiceLinks: false");
    case SpecPredicateKind::kRestartPolicy:
      for (const auto& v : p.values) {
        if (pod.restart_policy == v) return result(true, "spec.restartPolicy", "restartPolicy: " + v);
      }
      return result(false);
    case SpecPredicateKind::kInitContainer:
      return result(c.init == p.flag);
    case SpecPredicateKind::kCommandLine: {
      // What the container runs as far as the spec says: command, then args, space-separated
      // (kubectl describe's form). Without a command: the image's ENTRYPOINT runs, which the spec
      // does not show, so only a spec that sets command: can match.
      if (c.command.empty()) return result(false);
      std::string line;
      for (const auto* list : {&c.command, &c.args}) {
        for (const std::string& word : *list) line += (line.empty() ? "" : " ") + word;
      }
      for (const auto& re : p.patterns) {
        if (RE2::PartialMatch(line, *re)) {
          return result(true, base + ".command",
                        "command: " + quote_list(c.command) + (c.args.empty() ? "" : ", args: " + quote_list(c.args)));
        }
      }
      return result(false);
    }
  }
  return result(false);
}

}  // namespace crashdiag
