// The inputs `crashdiag explain -f` accepts, turned into Pods: Kubernetes JSON or YAML (one Pod,
// or a List of them) and `docker inspect` output.
#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/yaml_json.hpp"

namespace crashdiag {
namespace {

using nlohmann::json;

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> strings(const json& o, const char* key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());  // docker inspect prints a shell-form Cmd as a string
  } else if (it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

bool is_docker_container(const json& o) {
  return o.is_object() && o.contains("State") && o.contains("Config") && o["State"].is_object();
}

}  // namespace

std::optional<std::string> restart_policy_from_docker(std::string_view policy) {
  if (policy == "always" || policy == "unless-stopped") return "Always";
  if (policy == "on-failure") return "OnFailure";
  if (policy == "no") return "Never";
  return std::nullopt;
}

// `docker inspect` (Docker Engine API ContainerJSON): State holds the last exit (ExitCode,
// OOMKilled, Error for a start failure, Health), Config the effective Entrypoint/Cmd/Env/User,
// HostConfig the restart policy and limits, Mounts the volumes.
tl::expected<Pod, ParseError> pod_from_docker_inspect(const json& c) {
  if (!is_docker_container(c)) return tl::unexpected(ParseError{"not a docker inspect container (no State/Config)"});
  const json& state = c["State"];
  const json& config = json_fields::object_or_empty(c, "Config");
  const json& host = json_fields::object_or_empty(c, "HostConfig");
  const json& labels = json_fields::object_or_empty(config, "Labels");
  Pod pod;
  std::string name = str(c, "Name");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  pod.name = name.empty() ? str(c, "Id").substr(0, 12) : name;
  pod.namespace_ = json_fields::string_or(labels, "com.docker.compose.project", "docker");
  pod.uid = str(c, "Id");
  // No policy given is Docker's default, "no".
  pod.restart_policy =
      restart_policy_from_docker(json_fields::string_or(json_fields::object_or_empty(host, "RestartPolicy"), "Name"))
          .value_or("Never");
  Container ct;
  ct.name = json_fields::string_or(labels, "com.docker.compose.service", pod.name);
  ct.image = str(config, "Image");
  ct.command = strings(config, "Entrypoint");
  ct.args = strings(config, "Cmd");
  for (const std::string& kv : strings(config, "Env")) {
    EnvVar e;
    const auto eq = kv.find('=');
    e.name = kv.substr(0, eq);
    if (eq != std::string::npos) e.value = kv.substr(eq + 1);
    ct.env.push_back(std::move(e));
  }
  if (auto it = c.find("Mounts"); it != c.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      VolumeMount vm;
      vm.mount_path = str(m, "Destination");
      const std::string type = str(m, "Type");
      Volume v;
      v.name = type == "volume" ? str(m, "Name") : str(m, "Source");
      v.kind = type == "bind" ? VolumeKind::kHostPath : type == "tmpfs" ? VolumeKind::kEmptyDir : VolumeKind::kPvc;
      v.source = type == "volume" ? str(m, "Name") : str(m, "Source");
      vm.name = v.name;
      vm.read_only = m.contains("RW") && m["RW"].is_boolean() && !m["RW"].get<bool>();
      v.read_only = vm.read_only;
      vm.volume = v;
      pod.volumes.push_back(v);
      ct.mounts.push_back(std::move(vm));
    }
  }
  if (auto mem = host.find("Memory"); mem != host.end() && mem->is_number_integer() && mem->get<std::int64_t>() > 0) {
    ct.resources.memory_limit_bytes = mem->get<std::int64_t>();
    ct.resources.memory_limit = std::to_string(mem->get<std::int64_t>());
  }
  if (auto ro = host.find("ReadonlyRootfs"); ro != host.end() && ro->is_boolean()) {
    ct.security_context.read_only_root_filesystem = ro->get<bool>();
  }
  const std::string user = str(config, "User");
  if (!user.empty() && std::isdigit(static_cast<unsigned char>(user[0])) != 0) {
    try {
      ct.security_context.run_as_user = std::stoll(user.substr(0, user.find(':')));
    } catch (const std::exception&) {
      // A user name, not an id: not known here.
    }
  }

  ContainerStatus st;
  st.restart_count = json_fields::int_or(c, "RestartCount", 0);
  st.running = json_fields::bool_or(state, "Running", false) && !json_fields::bool_or(state, "Restarting", false);
  const std::string status = str(state, "Status");
  if (!st.running && (status == "exited" || status == "restarting" || status == "dead" || status == "created")) {
    Terminated t;
    t.exit_code = json_fields::int_or(state, "ExitCode", 0);
    t.message = str(state, "Error");
    t.reason = json_fields::bool_or(state, "OOMKilled", false) ? "OOMKilled"
               : !t.message.empty()                            ? "ContainerCannotRun"
               : t.exit_code == 0                              ? "Completed"
                                                               : "Error";
    t.started_at = str(state, "StartedAt");
    t.finished_at = str(state, "FinishedAt");
    st.terminated = t;
  }
  ct.status = st;
  pod.containers.push_back(std::move(ct));
  return pod;
}

tl::expected<std::vector<Pod>, ParseError> parse_pods(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return tl::unexpected(ParseError{"empty input"});
  if (text.find('\0') != std::string_view::npos) {
    return tl::unexpected(ParseError{"malformed JSON or YAML: the input is binary (it holds NUL bytes)"});
  }
  json doc;
  if (text[first] == '{' || text[first] == '[') {
    doc = json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded()) {
      // parse_pod_json words JSON errors with the offset; reuse it for the message.
      auto pod = parse_pod_json(text);
      return tl::unexpected(pod ? ParseError{"malformed JSON"} : pod.error());
    }
  } else {
    std::string why;
    auto converted = yaml_to_json(text, &why);
    if (!converted) return tl::unexpected(ParseError{"malformed YAML: " + why});
    if (!converted->is_object() && !converted->is_array()) {
      return tl::unexpected(
          ParseError{"malformed JSON or YAML: expected a Pod, a List or docker inspect output, got a plain value"});
    }
    doc = std::move(*converted);
  }
  std::vector<Pod> out;
  auto docker = [&](const json& c) -> tl::expected<void, ParseError> {
    auto pod = pod_from_docker_inspect(c);
    if (!pod) return tl::unexpected(pod.error());
    out.push_back(std::move(*pod));
    return {};
  };
  if (doc.is_array()) {
    if (doc.empty()) return tl::unexpected(ParseError{"an empty array: not docker inspect output"});
    for (std::size_t i = 0; i < doc.size(); ++i) {
      if (!is_docker_container(doc[i])) {
        return tl::unexpected(
            ParseError{"[" + std::to_string(i) + "]: expected docker inspect output (State, Config)"});
      }
      if (auto r = docker(doc[i]); !r) return tl::unexpected(r.error());
    }
    return out;
  }
  if (is_docker_container(doc)) {
    if (auto r = docker(doc); !r) return tl::unexpected(r.error());
    return out;
  }
  const std::string kind = doc.is_object() ? str(doc, "kind") : "";
  if ((kind == "List" || kind == "PodList") && doc.contains("items") && doc["items"].is_array()) {
    for (std::size_t i = 0; i < doc["items"].size(); ++i) {
      const json& item = doc["items"][i];
      const std::string item_kind = item.is_object() ? str(item, "kind") : "";
      if (!item_kind.empty() && item_kind != "Pod") continue;  // `kubectl get all` lists more than pods
      auto pod = pod_from_json(item);
      if (!pod) return tl::unexpected(ParseError{"items[" + std::to_string(i) + "]: " + pod.error().what});
      out.push_back(std::move(*pod));
    }
    if (out.empty()) return tl::unexpected(ParseError{"the List holds no Pod"});
    return out;
  }
  auto pod = pod_from_json(doc);
  if (!pod) return tl::unexpected(pod.error());
  out.push_back(std::move(*pod));
  return out;
}

}  // namespace crashdiag
