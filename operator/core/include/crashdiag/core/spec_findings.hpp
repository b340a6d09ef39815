// Findings on a workload's spec (issue 15, item 3: a datastore's data directory off its claim),
// published before anything fails: which workloads were looked at, what was found per namespace
// (the crashdiag_spec_findings gauge), and the Warning Event that tells the workload's owner.
// Pure: the daemon passes the time in and performs the writes (detect/spec_findings.cpp).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "crashdiag/core/rca.hpp"
#include "crashdiag/core/time.hpp"

namespace crashdiag::core {

inline constexpr std::string_view kDataNotPersistedReason = "DataNotPersisted";

// One finding on a top-level workload, as the daemon publishes it.
struct WorkloadFinding {
  std::string namespace_;
  WorkloadRef workload;
  std::string reason;    // the Event's reason: DataNotPersisted
  std::string identity;  // what makes it this finding: container, mount and data directory
  std::string message;   // the Event's note, at most 1024 bytes already
};

// The Warning Event on the workload. Its name is deterministic ("<workload>.<16 hex of namespace,
// kind, name, reason and identity>"), so a restarted crashdiag or a new leader that tells the same
// finding again gets 409 AlreadyExists: already told. `counts` is false: it is never bumped.
[[nodiscard]] EventWrite finding_event(const WorkloadFinding& f, const std::string& instance, WallTime now);

// The workloads already looked at, and the findings of each, for the gauge. Bounded: the oldest
// look is forgotten first (looked at again, its Event answers 409).
class FindingTracker {
 public:
  explicit FindingTracker(std::size_t max_looked = 10'000) : max_looked_(max_looked) {}

  // True the first time `key` (namespace/ownerKind/ownerName of a pod) is seen, which marks it.
  [[nodiscard]] bool first_look(const std::string& key);
  // The look could not finish (the pod could not be read): look again at the next pod.
  void forget(const std::string& key);
  // What a look found on top-level workload `workload` ("StatefulSet/db") in `ns`: the `finding`
  // labels, empty when its spec is fine (a fixed rollout drops the workload from the count).
  void record(const std::string& ns, const std::string& workload, const std::set<std::string>& findings);
  // Whether a workload of `ns` has ever been counted (a look that finds nothing must then still
  // resolve its workload, which may be leaving the count).
  [[nodiscard]] bool counted_in(const std::string& ns) const;
  // Workloads per (namespace, finding); a pair once counted stays, at 0, so the gauge goes back
  // to zero rather than vanishing.
  [[nodiscard]] std::map<std::pair<std::string, std::string>, int> counts() const;
  // Leadership lost: a new term looks at everything again.
  void clear();

 private:
  std::size_t max_looked_;
  std::set<std::string> looked_;
  std::deque<std::string> order_;                                            // looks, oldest first
  std::map<std::pair<std::string, std::string>, std::set<std::string>> by_;  // (ns, finding) -> workloads
};

}  // namespace crashdiag::core
