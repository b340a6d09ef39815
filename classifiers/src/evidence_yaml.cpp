#include "crashdiag/classifiers/evidence_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/quantity.hpp"

namespace crashdiag {
namespace {

std::string str(const YAML::Node& n, const char* key) {
  const YAML::Node v = n[key];
  if (!v || v.IsNull()) return {};
  return v.as<std::string>();
}

std::vector<std::string> strs(const YAML::Node& n, const char* key) {
  std::vector<std::string> out;
  const YAML::Node v = n[key];
  if (!v || v.IsNull()) return out;
  if (v.IsScalar()) {
    out.push_back(v.as<std::string>());
  } else {
    for (const auto& item : v) out.push_back(item.as<std::string>());
  }
  return out;
}

std::optional<Probe> probe(const YAML::Node& n) {
  if (!n || !n.IsMap()) return std::nullopt;
  Probe p;
  if (n["exec"]) {
    p.kind = ProbeKind::kExec;
    p.exec_command = strs(n, "exec");
  } else if (n["http_path"]) {
    p.kind = ProbeKind::kHttpGet;
    p.http_path = str(n, "http_path");
    p.port = str(n, "port");
  } else if (n["tcp_port"] || n["port"]) {
    p.kind = ProbeKind::kTcpSocket;
    p.port = n["tcp_port"] ? str(n, "tcp_port") : str(n, "port");
  }
  if (n["period"]) p.period_seconds = n["period"].as<int>();
  if (n["failure_threshold"]) p.failure_threshold = n["failure_threshold"].as<int>();
  if (n["initial_delay"]) p.initial_delay_seconds = n["initial_delay"].as<int>();
  if (n["timeout"]) p.timeout_seconds = n["timeout"].as<int>();
  return p;
}

VolumeKind volume_kind(std::string_view k) {
  if (k == "pvc" || k == "persistentVolumeClaim") return VolumeKind::kPvc;
  if (k == "emptyDir") return VolumeKind::kEmptyDir;
  if (k == "configMap") return VolumeKind::kConfigMap;
  if (k == "secret") return VolumeKind::kSecret;
  if (k == "hostPath") return VolumeKind::kHostPath;
  if (k == "projected") return VolumeKind::kProjected;
  return VolumeKind::kOther;
}

Evidence build(const YAML::Node& root) {
  Evidence ev;
  Pod& pod = ev.pod;
  const YAML::Node p = root["pod"];
  pod.name = p && p["name"] ? str(p, "name") : "example";
  pod.namespace_ = p && p["namespace"] ? str(p, "namespace") : "default";
  if (p && p["restart_policy"]) {
    // A Kubernetes policy, or a Docker or Compose one (a quarter of reported restart loops are
    // Docker ones).
    const std::string policy = str(p, "restart_policy");
    pod.restart_policy = restart_policy_from_docker(policy).value_or(policy);
  }
  if (p && p["enable_service_links"]) pod.enable_service_links = p["enable_service_links"].as<bool>();
  if (p && p["fs_group"]) pod.security_context.fs_group = p["fs_group"].as<std::int64_t>();

  const YAML::Node cn = root["container"];
  Container c;
  c.name = cn && cn["name"] ? str(cn, "name") : "app";
  if (cn) {
    c.image = str(cn, "image");
    c.command = strs(cn, "command");
    c.args = strs(cn, "args");
    c.init = cn["init"] && cn["init"].as<bool>();
    if (const YAML::Node env = cn["env"]) {
      if (env.IsMap()) {
        for (const auto& kv : env) {
          EnvVar v;
          v.name = kv.first.as<std::string>();
          if (!kv.second.IsNull()) v.value = kv.second.as<std::string>();
          c.env.push_back(std::move(v));
        }
      } else if (env.IsSequence()) {
        for (const auto& item : env) {
          EnvVar v;
          v.name = str(item, "name");
          if (item["value"]) v.value = str(item, "value");
          if (item["valueFrom"]) v.value_from = "ref";
          c.env.push_back(std::move(v));
        }
      }
    }
    if (const YAML::Node ef = cn["env_from"]; ef && ef.IsSequence()) {
      for (const auto& item : ef) {
        EnvFromSource src;
        if (item["configMapRef"]) {
          src.kind = "configMap";
          src.name = str(item, "configMapRef");
        } else if (item["secretRef"]) {
          src.kind = "secret";
          src.name = str(item, "secretRef");
        }
        c.env_from.push_back(std::move(src));
      }
    }
    if (const YAML::Node mounts = cn["mounts"]; mounts && mounts.IsSequence()) {
      for (const auto& m : mounts) {
        VolumeMount vm;
        vm.mount_path = str(m, "path");
        vm.name = m["volume"] ? str(m, "volume") : "data";
        vm.sub_path = str(m, "sub_path");
        vm.read_only = m["read_only"] && m["read_only"].as<bool>();
        Volume vol;
        vol.name = vm.name;
        vol.kind = volume_kind(str(m, "kind"));
        vol.source = m["source"] ? str(m, "source") : vm.name;
        vm.volume = vol;
        pod.volumes.push_back(vol);
        c.mounts.push_back(std::move(vm));
      }
    }
    if (const YAML::Node probes = cn["probes"]) {
      c.liveness = probe(probes["liveness"]);
      c.readiness = probe(probes["readiness"]);
      c.startup = probe(probes["startup"]);
    }
    c.resources.memory_limit = str(cn, "memory_limit");
    if (!c.resources.memory_limit.empty())
      c.resources.memory_limit_bytes = parse_memory_quantity(c.resources.memory_limit);
    if (cn["run_as_user"]) c.security_context.run_as_user = cn["run_as_user"].as<std::int64_t>();
    if (cn["read_only_root_filesystem"])
      c.security_context.read_only_root_filesystem = cn["read_only_root_filesystem"].as<bool>();
    c.security_context.fs_group = pod.security_context.fs_group;
  }

  ContainerStatus st;
  const YAML::Node s = root["status"];
  if (s && s.IsMap()) {
    if (s["waiting_reason"] || s["waiting_message"])
      st.waiting = Waiting{str(s, "waiting_reason"), str(s, "waiting_message")};
    if (s["terminated_reason"] || s["exit_code"] || s["signal"] || s["message"]) {
      Terminated t;
      t.reason = str(s, "terminated_reason");
      // A report that does not show the exit code leaves it unknown (-1) rather than 0, which
      // would claim a successful exit. Given a code but no reason, use the runtime's own
      // reasons: containerd reports "Completed" for 0 and "Error" otherwise.
      t.exit_code = kUnknownExitCode;
      if (s["exit_code"]) {
        t.exit_code = s["exit_code"].as<int>();
        if (t.reason.empty()) t.reason = t.exit_code == 0 ? "Completed" : "Error";
      }
      if (s["signal"]) t.signal = s["signal"].as<int>();
      t.message = str(s, "message");
      if (str(s, "state") == "terminated") {
        st.terminated = t;
      } else {
        st.last_terminated = t;
      }
    }
    st.restart_count = s["restart_count"] ? s["restart_count"].as<int>() : (st.last_terminated ? 1 : 0);
    st.running = str(s, "state") == "running";
  }
  c.status = st;
  ev.container = c.name;
  pod.containers.push_back(std::move(c));

  if (root["logs"]) ev.logs = make_log_tail(root["logs"].as<std::string>());
  // The running container's own log instead of the previous instance's (the daemon reads it
  // after a datastore's restart).
  if (root["current_logs"]) {
    ev.logs = make_log_tail(root["current_logs"].as<std::string>());
    ev.logs.current_instance = true;
  }
  if (const YAML::Node events = root["events"]; events && events.IsSequence()) {
    for (const auto& e : events) {
      Event event;
      event.type = e["type"] ? str(e, "type") : "Warning";
      event.reason = str(e, "reason");
      event.message = str(e, "message");
      event.count = e["count"] ? e["count"].as<int>() : 1;
      event.involved_kind = "Pod";
      event.involved_name = pod.name;
      ev.events.push_back(std::move(event));
    }
  }
  return ev;
}

}  // namespace

tl::expected<Evidence, EvidenceYamlError> evidence_from_yaml(std::string_view text) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return tl::unexpected(EvidenceYamlError{"expected a map with container/status/logs/events"});
    return build(root);
  } catch (const YAML::Exception& e) {
    return tl::unexpected(EvidenceYamlError{"line " + std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
}

}  // namespace crashdiag
