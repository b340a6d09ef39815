// What an RCA is about and the name that follows from it: one RCA per namespace, top-level
// workload, container and failure signature.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crashdiag::core {

struct WorkloadRef {
  std::string api_version;  // "apps/v1", "batch/v1", "v1"
  std::string kind;         // Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, Pod
  std::string name;
  std::string uid;  // empty when unknown: then no ownerReference is written
  [[nodiscard]] std::string display() const { return kind + "/" + name; }
  bool operator==(const WorkloadRef&) const = default;
};

struct RcaTarget {
  std::string namespace_;
  WorkloadRef workload;
  std::string container;
  bool init = false;
  std::string signature;  // CrashSignal::signature
};

// Deterministic, DNS-1123 label-safe (so also a valid object name and label value) name:
// "<workload>-<5 hex of a hash of namespace, kind, workload, container and signature>", the
// readable part cut so the whole fits in 63 characters. Replicas, restarts of crashdiag and other replicas of crashdiag
// all arrive at the same name, which is what makes leader failover write no duplicates.
[[nodiscard]] std::string rca_name(const RcaTarget& target);

// FNV-1a 64: stable across runs and platforms (std::hash is neither).
[[nodiscard]] std::uint64_t stable_hash(std::string_view s);

}  // namespace crashdiag::core
