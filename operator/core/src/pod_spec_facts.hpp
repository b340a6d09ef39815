// What a pod's spec tells the record about its containers, gathered while a pod is read (from
// JSON in pod_record.cpp, from protobuf in pod_record_protobuf.cpp) and applied once its
// statuses are in: one rule for both encodings.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "crashdiag/core/pod_record.hpp"

namespace crashdiag::core::detail {

// A main container that runs a datastore (by image or data mount), kept only while the pod is read.
struct SpecContainer {
  std::string name;
  bool datastore = false;
  std::vector<std::string> mounted;  // volume names
};

struct PodSpecFacts {
  std::vector<std::string> sidecars;      // init containers with restartPolicy Always (KEP-753)
  std::vector<SpecContainer> datastores;  // main containers that run a datastore
  std::vector<std::string> pvcs;          // volumes that are PersistentVolumeClaims
};

// Marks sidecars, and datastores whose data mounts are on a claim.
inline void apply_spec_facts(PodRecord& r, const PodSpecFacts& spec) {
  auto has = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (ContainerRecord& c : r.containers) {
    c.sidecar = c.init && has(spec.sidecars, c.name);
    if (c.init) continue;
    for (const SpecContainer& d : spec.datastores) {
      if (d.name != c.name) continue;
      c.datastore_pvc =
          std::any_of(d.mounted.begin(), d.mounted.end(), [&](const std::string& m) { return has(spec.pvcs, m); });
    }
  }
}

}  // namespace crashdiag::core::detail
