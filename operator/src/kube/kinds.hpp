// Where the built-in kinds crashdiag reads live in the API: one table for the daemon's owner and
// ignore lookups and for `explain deploy/NAME`.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace crashdiag::kube {

struct KindPath {
  std::string_view kind;         // "Deployment"
  std::string_view api_version;  // "apps/v1"
  std::string_view prefix;       // "/apis/apps/v1"
  std::string_view plural;       // "deployments"
};

inline constexpr std::array<KindPath, 7> kKindPaths = {{
    {"Pod", "v1", "/api/v1", "pods"},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments"},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets"},
    {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets"},
    {"ReplicaSet", "apps/v1", "/apis/apps/v1", "replicasets"},
    {"Job", "batch/v1", "/apis/batch/v1", "jobs"},
    {"CronJob", "batch/v1", "/apis/batch/v1", "cronjobs"},
}};

// Another controller's kind (a custom resource) is not here: its plural needs discovery.
[[nodiscard]] constexpr std::optional<KindPath> kind_path(std::string_view kind) {
  for (const KindPath& k : kKindPaths) {
    if (k.kind == kind) return k;
  }
  return std::nullopt;
}

}  // namespace crashdiag::kube
