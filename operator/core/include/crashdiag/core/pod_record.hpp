// The slim view of a Pod the daemon keeps for every pod in the cluster: only what crash
// detection, grouping and evidence fetching need. The full object is fetched again (or taken
// from the triggering watch event) only when a failure is diagnosed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace crashdiag::core {

struct TerminationRecord {
  int exit_code = 0;
  std::string reason;
  std::string finished_at;
  bool operator==(const TerminationRecord&) const = default;
};

struct ContainerRecord {
  std::string name;
  bool init = false;
  int restart_count = 0;
  bool running = false;
  bool ready = false;
  bool sidecar = false;  // an init container with restartPolicy Always
  // A main container that runs a datastore (by image or data mount: crashdiag/model/datastore.hpp)
  // and mounts a PersistentVolumeClaim: its restarts are looked at even when it runs healthy
  // again, since a restart is when data that never reached the claim is lost (issue 15, item 3).
  // One bool instead of the spec: the store keeps a record for every pod in the cluster.
  bool datastore_pvc = false;
  std::string waiting_reason;
  std::optional<TerminationRecord> terminated;       // state.terminated
  std::optional<TerminationRecord> last_terminated;  // lastState.terminated
  bool operator==(const ContainerRecord&) const = default;
};

struct PodRecord {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string owner_kind;  // controller ownerReference
  std::string owner_name;
  std::string owner_uid;
  std::string restart_policy = "Always";
  // The Ready condition's lastTransitionTime while it is False (RFC 3339): a container that runs
  // but stays unready is failing after --unready-after.
  std::string not_ready_since;
  bool deleting = false;              // metadata.deletionTimestamp is set
  std::string rca_annotation;         // crashdiag.io/rca, as last written
  std::string root_cause_annotation;  // crashdiag.io/root-cause
  bool ignored = false;               // crashdiag.io/ignore: "true" (the cluster owner silenced it)
  std::vector<ContainerRecord> containers;

  [[nodiscard]] std::string key() const { return namespace_ + "/" + name; }
  bool operator==(const PodRecord&) const = default;
};

struct WatchLine {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::optional<PodRecord> pod;
  std::string resource_version;  // the object's (or the bookmark's) resourceVersion
  int error_code = 0;            // ERROR: Status.code
  std::string error_reason;
};

struct RecordError {
  std::string what;
};

// Parses one Pod object (a list item or a GET) into a record.
[[nodiscard]] tl::expected<PodRecord, RecordError> parse_pod_record(std::string_view json);
// Parses one line of a watch stream: {"type": ..., "object": ...}.
[[nodiscard]] tl::expected<WatchLine, RecordError> parse_watch_line(std::string_view json);
// True when a watch line is the BOOKMARK that ends a streaming list's initial events: its object's
// metadata.annotations holds "k8s.io/initial-events-end": "true" (metav1.InitialEventsAnnotationKey,
// KEP-3157). Any kind of object; false for anything else or anything malformed.
[[nodiscard]] bool ends_initial_events(std::string_view line);

// The same from the protobuf encoding (crashdiag/core/protobuf.hpp): one Pod message as a
// PodList's item holds it (no envelope), and one frame of a protobuf watch (a WatchEvent, without
// the frame's length).
[[nodiscard]] tl::expected<PodRecord, RecordError> parse_pod_record_protobuf(std::string_view message);
[[nodiscard]] tl::expected<WatchLine, RecordError> parse_watch_frame_protobuf(std::string_view frame);

}  // namespace crashdiag::core
