// RootCauseAnalysis bookkeeping (pure): which RCA an occurrence of a failure belongs to, its
// lifecycle (Active, Resolved, reopened, cause changed), and which writes each occurrence needs:
// the RCA (server-side apply), its status, pod annotations and Kubernetes Events. The parts live
// apart: the RCA's name (rca_identity.hpp), its JSON codec (rca_codec.hpp), the Event and
// annotation text (rca_event.hpp) and duration flags (duration.hpp).
//
// One RCA per namespace, top-level workload, container and failure signature: the replicas of a
// Deployment failing the same way roll up into one object. Nothing here performs I/O or reads a
// clock; the daemon passes wall-clock time in and executes the writes (publish/publisher.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "crashdiag/core/backoff.hpp"
#include "crashdiag/core/duration.hpp"
#include "crashdiag/core/rca_identity.hpp"
#include "crashdiag/core/time.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag::core {

struct RcaOptions {
  Duration resolve_after{600'000};     // the kubelet resets crash back-off after 10 min of running
  Duration rediagnose_after{300'000};  // repeats of one signature are diagnosed again at most this often
  std::size_t max_pods = 5;            // pods listed in status.pods
  std::size_t max_tracked_pods = 64;   // pods remembered per RCA for annotations and Events
  std::size_t max_history = 10;
  std::size_t max_hypotheses = 5;
  std::size_t max_evidence = 8;
  std::size_t max_excerpt_bytes = 2048;
  std::size_t max_text_bytes = 4096;
  // The status object as JSON, at most: evidence is cut to fit (RcaTracker::status_object). The
  // whole RCA must stay under etcd's 1.5 MiB request limit (the apiserver answers 500
  // "etcdserver: request is too large") and the apiserver's 3 MiB body limit (413); the CRD's
  // bounds allow a status of about 750 KiB when every excerpt is made of JSON-escaped control
  // characters, so half a MiB leaves room for metadata, spec and managedFields.
  std::size_t max_status_bytes = std::size_t{512} * 1024;
};

struct PodSeen {
  std::string name;
  std::string uid;
  int restart_count = 0;
  WallTime last_seen{0};
};

struct HistoryEntry {
  WallTime time{0};
  std::string change;  // Identified, Changed, Resolved, Reopened
  std::string category;
  std::string summary;
};

// What has been told to one pod about this RCA (annotation and Event), so repeats aggregate.
struct PodMark {
  std::string name;
  std::string evented_category;   // category of the last Event created for this pod
  std::string event_reason;       // RootCauseIdentified or RootCauseChanged
  std::uint64_t event_count = 0;  // occurrences on this pod since that Event
  WallTime first_event{0};
  WallTime last_occurrence{0};
};

// The other RCA a dependent one points at, as shown in its status and summary.
struct CauseLink {
  std::string namespace_;
  std::string workload;  // Kind/name
  std::string category;
  std::string via;  // how the dependency was named: `Service db ("db:5432" in logs[3])`
};

struct RcaState {
  RcaTarget target;
  std::string name;
  bool active = true;
  ContainerDiagnosis diagnosis;  // the latest, bounded
  std::string reason;            // kubelet reason of the latest occurrence
  std::optional<int> exit_code;
  std::uint64_t occurrences = 0;
  int restart_count = 0;
  WallTime first_seen{0};
  WallTime last_seen{0};
  WallTime last_diagnosed{0};
  WallTime phase_since{0};   // the Resolved condition's lastTransitionTime
  std::deque<PodSeen> pods;  // newest first, at most max_pods
  std::deque<HistoryEntry> history;
  std::map<std::string, PodMark> marks;  // pod uid -> mark, at most max_tracked_pods
  bool seeded = false;                   // read back from the cluster, not diagnosed here
  // The RCA whose failure causes this one (status.causedBy, issue 15 item 2): this container
  // fails on a dependency (a Service it names) whose workload has an Active RCA of its own.
  // The Alertmanager alert carries it as `caused_by` so an inhibit rule can mute this alert while
  // its cause fires (core/alerts.hpp); the active-RCA gauge counts this one as a consequence.
  std::string caused_by;
  CauseLink cause;  // what is shown of that RCA; meaningful only while caused_by is set

  [[nodiscard]] const Hypothesis* top() const {
    return diagnosis.hypotheses.empty() ? nullptr : &diagnosis.hypotheses.front();
  }
};

struct Occurrence {
  RcaTarget target;
  std::string pod;
  std::string pod_uid;
  int restart_count = 0;
  std::string reason;
  std::optional<int> exit_code;
  bool first_sight = false;  // seen in an initial list: may already be counted in a seeded RCA
  WallTime now{0};
};

// kLinked: only the cause link changed (status.causedBy set or cleared).
enum class RcaChange { kIdentified, kChanged, kRepeated, kResolved, kReopened, kLinked, kUnchanged };
[[nodiscard]] std::string_view to_string(RcaChange change);

// An Event to create (count 1) or to bump (count > 1) on one pod.
struct EventWrite {
  std::string name;  // deterministic: "<pod>.<16 hex>"
  std::string reason;
  std::uint64_t count = 1;
  // The occurrence is new: if the Event exists already (409), raise its count. False for a pod
  // re-seen after a leader change, whose Event the previous leader already counted.
  bool counts = true;
  nlohmann::json object;  // the full core/v1 Event, count included
  [[nodiscard]] bool create() const { return count == 1; }
};

struct PodWrites {
  std::string namespace_;
  std::string pod;
  std::string pod_uid;
  std::string rca;         // annotation crashdiag.io/rca
  std::string root_cause;  // annotation crashdiag.io/root-cause
  std::optional<EventWrite> event;
};

struct RcaUpdate {
  std::string name;
  RcaChange change = RcaChange::kUnchanged;
  std::optional<PodWrites> pod;  // annotation and Event for the pod of the occurrence
};

inline constexpr std::string_view kRcaAnnotation = "crashdiag.io/rca";
inline constexpr std::string_view kRootCauseAnnotation = "crashdiag.io/root-cause";
// Set to "true" by the cluster owner on a pod, its workload or its namespace: crashdiag leaves
// its failures alone (no diagnosis, no RCA, no annotation, no Event).
inline constexpr std::string_view kIgnoreAnnotation = "crashdiag.io/ignore";
inline constexpr std::string_view kReportingController = "crashdiag.io/crashdiag";
inline constexpr std::size_t kEventNoteLimit = 1024;  // events.k8s.io/v1 note limit (validation.go)

class RcaTracker {
 public:
  explicit RcaTracker(RcaOptions options = {}) : options_(options) {}

  // Does this occurrence need a fresh diagnosis (evidence gathering), or only counting?
  [[nodiscard]] bool needs_diagnosis(const RcaTarget& target, WallTime now) const;
  // This pod's failure at this restart count is already in an RCA (written by this process or
  // read back from the cluster): a pod seen again by a list after a restart, a take-over or a
  // relist is old news, not a new occurrence, and never reopens a Resolved RCA.
  [[nodiscard]] bool counted(const std::string& pod_uid, int restart_count) const;

  // Records one occurrence; `diagnosis` is set when it was diagnosed. `instance` names this
  // crashdiag replica in Events (reportingInstance).
  RcaUpdate record(const Occurrence& occurrence, const ContainerDiagnosis* diagnosis, const std::string& instance);

  // Active RCAs whose last failure is older than resolve_after and whose pods do not fail now
  // (`still_failing` asks the pod store) become Resolved. Returns their names.
  std::vector<std::string> resolve_idle(WallTime now, const std::function<bool(const RcaState&)>& still_failing);

  // Takes over an RCA that already exists in the cluster (after a restart or a leader change), so
  // occurrences and firstSeen continue instead of restarting from zero. Ignores malformed objects.
  void seed(const nlohmann::json& object);

  // Links the RCA `name` to the RCA `cause` whose failure causes it (empty `cause` unlinks).
  // Refused (nullopt) when either is unknown, the cause is not Active, or the link would close
  // a cycle (a chain of causes that leads back to `name`). kUnchanged when it was so already.
  std::optional<RcaUpdate> link(const std::string& name, const std::string& cause, const std::string& via);
  // The cause `cause` resolved or went: its dependents are unlinked. Returns their updates.
  std::vector<RcaUpdate> unlink_dependents(const std::string& cause);
  // The Active RCA of a workload (any container), newest failure first: the cause a dependent
  // is linked to. nullptr when the workload has none.
  [[nodiscard]] const RcaState* active_for_workload(const std::string& ns, const std::string& kind,
                                                    const std::string& workload) const;

  // A pod is gone: stop remembering it for Events.
  void forget_pod(const std::string& uid);
  // The namespace is being deleted (or is gone): its RCAs and pods are forgotten, since nothing
  // more can be written there. Returns the names of the RCAs forgotten.
  std::vector<std::string> forget_namespace(const std::string& ns);
  // The workload was deleted: the garbage collector deletes its RCAs with it (their
  // ownerReference names it, apiserver's garbage collector, "Owners and dependents"), so they are
  // forgotten here too; otherwise every RCA of a churning cluster would stay in memory for the
  // life of the process. `uid`, when both it and the RCA's know one, must match: a workload
  // deleted and created again under its name is another owner. Returns the names forgotten.
  std::vector<std::string> forget_workload(const std::string& ns, const std::string& kind, const std::string& name,
                                           const std::string& uid);

  [[nodiscard]] const RcaState* find(const std::string& name) const;
  [[nodiscard]] std::size_t size() const { return rcas_.size(); }
  // Whether any RCA is Active: only then can the resolve check find something to resolve.
  [[nodiscard]] bool any_active() const;
  [[nodiscard]] const std::map<std::string, RcaState>& all() const { return rcas_; }
  // Active RCAs per namespace, category and whether each is a consequence of another (it has a
  // cause link): the crashdiag_active_rcas gauge.
  struct CountKey {
    std::string namespace_;
    std::string category;
    bool consequence = false;
    // Spelled out: clang-tidy 14 misreads a defaulted operator<=> (modernize-use-nullptr).
    bool operator<(const CountKey& o) const {
      return std::tie(namespace_, category, consequence) < std::tie(o.namespace_, o.category, o.consequence);
    }
  };
  [[nodiscard]] std::map<CountKey, int> active_counts() const;

  // The objects written for an RCA: metadata and spec (server-side apply on the resource) and
  // the status (server-side apply on the status subresource).
  [[nodiscard]] nlohmann::json apply_object(const RcaState& state) const;
  [[nodiscard]] nlohmann::json status_object(const RcaState& state) const;

  [[nodiscard]] const RcaOptions& options() const { return options_; }

 private:
  ContainerDiagnosis bounded(const ContainerDiagnosis& d) const;
  void add_history(RcaState& s, WallTime t, std::string change);
  std::optional<PodWrites> pod_writes(RcaState& s, const Occurrence& o, const std::string& instance);
  // Drops every RCA whose target matches, with its pods' restart marks; returns the names dropped.
  std::vector<std::string> forget_if(const std::function<bool(const RcaTarget&)>& matches);

  RcaOptions options_;
  std::map<std::string, RcaState> rcas_;
  std::map<std::string, int> pod_restarts_;  // pod uid -> highest restart count in any RCA
};

}  // namespace crashdiag::core
