// The evidence crashdiag reasons over: a slim, typed view of a Pod (spec and status), the
// previous container's log tail and the pod's Events. Plain data, no behaviour beyond lookups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crashdiag {

// A literal env value is kept for analyzers (PGDATA, JAVA_OPTS, ...) but is never printed
// unless is_env_value_printable() says so: env literals routinely hold credentials.
struct EnvVar {
  std::string name;
  std::optional<std::string> value;  // literal `value:`
  std::string value_from;            // "secretKeyRef:NAME/KEY", "configMapKeyRef:NAME/KEY", "fieldRef:PATH"
};

struct EnvFromSource {
  std::string kind;  // "configMap" | "secret"
  std::string name;
  std::string prefix;
  bool optional = false;
};

enum class VolumeKind { kPvc, kEmptyDir, kConfigMap, kSecret, kHostPath, kProjected, kDownwardApi, kOther };

struct Volume {
  std::string name;
  VolumeKind kind = VolumeKind::kOther;
  std::string source;  // claimName, configMap/secret name, hostPath path
  bool read_only = false;
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  std::string sub_path;
  bool read_only = false;
  std::optional<Volume> volume;  // joined from pod.spec.volumes by name
};

enum class ProbeKind { kExec, kHttpGet, kTcpSocket, kGrpc, kUnknown };

struct Probe {
  ProbeKind kind = ProbeKind::kUnknown;
  std::vector<std::string> exec_command;
  std::string http_path;
  std::string port;  // number or named port, as written
  // Defaults from the Kubernetes API (core/v1 Probe): period 10 s, failureThreshold 3,
  // timeout 1 s, initialDelay 0.
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int failure_threshold = 3;
};

struct Resources {
  std::string memory_limit;  // as written ("512Mi")
  std::string memory_request;
  std::string cpu_limit;
  std::string cpu_request;
  std::optional<std::int64_t> memory_limit_bytes;
};

struct SecurityContext {
  std::optional<std::int64_t> run_as_user;
  std::optional<std::int64_t> run_as_group;
  std::optional<std::int64_t> fs_group;  // pod-level only
  std::optional<bool> run_as_non_root;
  std::optional<bool> read_only_root_filesystem;
  std::optional<bool> privileged;
};

// Compact evidence (rule examples, the corpus) may not know the exit code.
inline constexpr int kUnknownExitCode = -1;

struct Terminated {
  int exit_code = 0;  // kUnknownExitCode when the source did not show it
  std::optional<int> signal;
  std::string reason;
  std::string message;
  std::string started_at;
  std::string finished_at;
};

struct Waiting {
  std::string reason;
  std::string message;
};

struct ContainerStatus {
  std::optional<Waiting> waiting;
  std::optional<Terminated> terminated;  // state.terminated
  bool running = false;
  std::string running_started_at;
  std::optional<Terminated> last_terminated;  // lastState.terminated
  int restart_count = 0;
  bool ready = false;
  std::string image_id;
};

struct Container {
  std::string name;
  bool init = false;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<EnvFromSource> env_from;
  std::vector<VolumeMount> mounts;
  std::optional<Probe> liveness;
  std::optional<Probe> readiness;
  std::optional<Probe> startup;
  Resources resources;
  SecurityContext security_context;  // container-level, pod-level values merged in
  std::string restart_policy;        // init containers only: "Always" marks a sidecar
  std::optional<ContainerStatus> status;

  [[nodiscard]] const EnvVar* find_env(std::string_view env_name) const;
  // The termination that best describes the failure: the current one if the container is
  // terminated now, else the previous one (lastState), which is what CrashLoopBackOff shows.
  [[nodiscard]] const Terminated* latest_termination() const;
};

struct OwnerRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
};

struct Pod {
  std::string api_version;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string creation_timestamp;
  std::string deletion_timestamp;
  std::vector<OwnerRef> owners;
  std::string node_name;
  std::string phase;
  std::string not_ready_since;            // the Ready condition's lastTransitionTime while it is False
  std::string restart_policy = "Always";  // core/v1 default
  bool enable_service_links = true;       // core/v1 default: kubelet injects <SVC>_PORT etc.
  SecurityContext security_context;
  std::vector<Volume> volumes;
  std::vector<Container> containers;  // init containers first, in spec order

  [[nodiscard]] const Container* find_container(std::string_view container_name) const;
};

struct Event {
  std::string type;  // Normal | Warning
  std::string reason;
  std::string message;
  int count = 1;
  std::string first_timestamp;
  std::string last_timestamp;
  std::string involved_kind;
  std::string involved_name;
  std::string involved_uid;
  std::string involved_field_path;  // "spec.containers{name}"
  std::string source_component;
};

struct LogTail {
  std::vector<std::string> lines;
  // Why there are no lines when there should be: the log GET failed ("unable to retrieve container
  // logs for containerd://...", a 400, a timeout). Empty when the logs were read (even if empty).
  std::string unavailable;
  bool truncated_head = false;      // older lines were dropped to bound memory
  std::size_t truncated_lines = 0;  // lines cut because they exceeded the per-line cap
  // The lines are the running container's own log, not the previous instance's: read after a
  // restart to see what the new instance did at start (re-initialised its data, for one).
  bool current_instance = false;
};

// The pod template of the revision before the failing one (a Deployment's previous ReplicaSet, a
// StatefulSet's or DaemonSet's previous ControllerRevision, or a file given to explain), parsed as
// a pod's spec, so that a diagnosis can say what changed.
struct PreviousTemplate {
  Pod pod;
  std::string revision;          // "6"; empty when unknown (a file)
  std::string current_revision;  // the failing pod's revision, "7"
  std::string changed_at;        // RFC 3339: when the failing revision was created, if known
};

// Everything known about one failing container.
struct Evidence {
  Pod pod;
  std::string container;  // name of the container being explained
  LogTail logs;
  std::vector<Event> events;  // already filtered to this pod
  std::optional<PreviousTemplate> previous;

  [[nodiscard]] const Container& target() const;
};

}  // namespace crashdiag
