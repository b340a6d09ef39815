// Spec findings: what a pod spec shows will go wrong before anything fails (issue 15, item 3).
// Pure: from the Pod model (parse_pod_json) to findings; the daemon decides when to look and
// publishes them on the workload (operator/src/detect/spec_findings.cpp).
#pragma once

#include <string>
#include <vector>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

// One container whose datastore keeps its data off the PersistentVolumeClaim the pod mounts.
struct SpecFinding {
  std::string finding = "data_not_persisted";  // the metric's `finding` label
  std::string container;
  std::string mount_field;  // "spec.containers[0].volumeMounts[0]": the claim's mount, quoted
  std::string mount;        // "mountPath: /var/lib/postgresql (PVC data-db-0)"
  std::string data_dir;     // where the datastore writes: "/var/lib/postgresql/data"
  std::string goes_to;      // what is really there: "the image's VOLUME /var/lib/postgresql/data (...)"
  std::string summary;      // one line
  std::string fix;          // one line
  // summary, the quoted mount and the fix, at most 1024 bytes (an Event note's limit).
  [[nodiscard]] std::string message() const;
};

// For each main container running a datastore whose image layout is known (the official
// postgres, mysql, mariadb, mongo, redis and elasticsearch images; Bitnami's postgresql) and that
// mounts a PersistentVolumeClaim: a finding when its data directory is
//  (a) under a claim mounted at the parent of the image's VOLUME, which the runtime's anonymous
//      volume masks, or
//  (b) outside every mounted volume.
// Nothing when the data directory is unknown (PGDATA from a Secret, a data-directory flag or a
// config file in the command line), on a volume the spec chose (emptyDir, a claim at or below the
// VOLUME), or when no claim is mounted (nothing was meant to persist).
[[nodiscard]] std::vector<SpecFinding> find_unpersisted_data(const Pod& pod);

}  // namespace crashdiag
