#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/quantity.hpp"

namespace crashdiag {
namespace {

using nlohmann::json;

const char* type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "invalid";
  }
  return "unknown";
}

// Walks a JSON document with the field path at hand, so every type error names its field.
// The first error wins; later reads become no-ops, which keeps the parsing code linear.
class Reader {
 public:
  [[nodiscard]] bool failed() const { return error_.has_value(); }
  [[nodiscard]] ParseError take_error() && { return std::move(*error_); }

  void fail(const std::string& path, const std::string& message) {
    if (!error_) error_ = ParseError{path + ": " + message};
  }

  // Returns nullptr when absent or null (Kubernetes omits or nulls empty fields).
  const json* child(const json& obj, const char* key, const std::string& path, json::value_t want) {
    if (failed() || !obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    bool ok = it->type() == want || (want == json::value_t::number_integer && it->is_number_integer());
    if (!ok) {
      fail(path + "." + key, std::string("expected ") +
                                 (want == json::value_t::object    ? "object"
                                  : want == json::value_t::array   ? "array"
                                  : want == json::value_t::string  ? "string"
                                  : want == json::value_t::boolean ? "boolean"
                                                                   : "integer") +
                                 ", got " + type_name(*it));
      return nullptr;
    }
    return &*it;
  }

  std::string str(const json& obj, const char* key, const std::string& path) {
    const json* v = child(obj, key, path, json::value_t::string);
    return v != nullptr ? v->get<std::string>() : std::string{};
  }

  // Integers or strings ("8080" / "http"), as intstr.IntOrString allows.
  std::string int_or_string(const json& obj, const char* key, const std::string& path) {
    if (failed() || !obj.is_object()) return {};
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    fail(path + "." + key, std::string("expected integer or string, got ") + type_name(*it));
    return {};
  }

  std::optional<std::int64_t> integer(const json& obj, const char* key, const std::string& path) {
    const json* v = child(obj, key, path, json::value_t::number_integer);
    if (v == nullptr) return std::nullopt;
    return v->get<std::int64_t>();
  }

  int small_int(const json& obj, const char* key, const std::string& path, int fallback) {
    auto v = integer(obj, key, path);
    if (!v) return fallback;
    if (*v < INT32_MIN || *v > INT32_MAX) {
      fail(path + "." + key, "integer out of range");
      return fallback;
    }
    return static_cast<int>(*v);
  }

  std::optional<bool> boolean(const json& obj, const char* key, const std::string& path) {
    const json* v = child(obj, key, path, json::value_t::boolean);
    if (v == nullptr) return std::nullopt;
    return v->get<bool>();
  }

  std::vector<std::string> strings(const json& obj, const char* key, const std::string& path) {
    std::vector<std::string> out;
    const json* v = child(obj, key, path, json::value_t::array);
    if (v == nullptr) return out;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      if (!item.is_string()) {
        fail(path + "." + key + "[" + std::to_string(i) + "]", std::string("expected string, got ") + type_name(item));
        return out;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // Iterates an array of objects, calling fn(item, item_path).
  template <typename Fn>
  void each_object(const json& obj, const char* key, const std::string& path, Fn&& fn) {
    const json* v = child(obj, key, path, json::value_t::array);
    if (v == nullptr) return;
    for (std::size_t i = 0; i < v->size() && !failed(); ++i) {
      std::string item_path = path + "." + key + "[" + std::to_string(i) + "]";
      if (!(*v)[i].is_object()) {
        fail(item_path, std::string("expected object, got ") + type_name((*v)[i]));
        return;
      }
      fn((*v)[i], item_path);
    }
  }

 private:
  std::optional<ParseError> error_;
};

Volume parse_volume(Reader& r, const json& v, const std::string& path) {
  Volume vol;
  vol.name = r.str(v, "name", path);
  if (const json* pvc = r.child(v, "persistentVolumeClaim", path, json::value_t::object)) {
    vol.kind = VolumeKind::kPvc;
    vol.source = r.str(*pvc, "claimName", path + ".persistentVolumeClaim");
    vol.read_only = r.boolean(*pvc, "readOnly", path + ".persistentVolumeClaim").value_or(false);
  } else if (r.child(v, "emptyDir", path, json::value_t::object) != nullptr) {
    vol.kind = VolumeKind::kEmptyDir;
  } else if (const json* cm = r.child(v, "configMap", path, json::value_t::object)) {
    vol.kind = VolumeKind::kConfigMap;
    vol.source = r.str(*cm, "name", path + ".configMap");
    vol.read_only = true;  // kubelet always mounts configMap volumes read-only (since 1.9.4)
  } else if (const json* secret = r.child(v, "secret", path, json::value_t::object)) {
    vol.kind = VolumeKind::kSecret;
    vol.source = r.str(*secret, "secretName", path + ".secret");
    vol.read_only = true;  // same for secret volumes
  } else if (const json* host = r.child(v, "hostPath", path, json::value_t::object)) {
    vol.kind = VolumeKind::kHostPath;
    vol.source = r.str(*host, "path", path + ".hostPath");
  } else if (r.child(v, "projected", path, json::value_t::object) != nullptr) {
    vol.kind = VolumeKind::kProjected;
    vol.read_only = true;
  } else if (r.child(v, "downwardAPI", path, json::value_t::object) != nullptr) {
    vol.kind = VolumeKind::kDownwardApi;
    vol.read_only = true;
  }
  return vol;
}

std::optional<Probe> parse_probe(Reader& r, const json& c, const char* key, const std::string& path) {
  const json* p = r.child(c, key, path, json::value_t::object);
  if (p == nullptr) return std::nullopt;
  std::string pp = path + "." + key;
  Probe probe;
  if (const json* exec = r.child(*p, "exec", pp, json::value_t::object)) {
    probe.kind = ProbeKind::kExec;
    probe.exec_command = r.strings(*exec, "command", pp + ".exec");
  } else if (const json* http = r.child(*p, "httpGet", pp, json::value_t::object)) {
    probe.kind = ProbeKind::kHttpGet;
    probe.http_path = r.str(*http, "path", pp + ".httpGet");
    probe.port = r.int_or_string(*http, "port", pp + ".httpGet");
  } else if (const json* tcp = r.child(*p, "tcpSocket", pp, json::value_t::object)) {
    probe.kind = ProbeKind::kTcpSocket;
    probe.port = r.int_or_string(*tcp, "port", pp + ".tcpSocket");
  } else if (const json* grpc = r.child(*p, "grpc", pp, json::value_t::object)) {
    probe.kind = ProbeKind::kGrpc;
    probe.port = r.int_or_string(*grpc, "port", pp + ".grpc");
  }
  probe.initial_delay_seconds = r.small_int(*p, "initialDelaySeconds", pp, 0);
  probe.period_seconds = r.small_int(*p, "periodSeconds", pp, 10);
  probe.timeout_seconds = r.small_int(*p, "timeoutSeconds", pp, 1);
  probe.failure_threshold = r.small_int(*p, "failureThreshold", pp, 3);
  return probe;
}

SecurityContext parse_security_context(Reader& r, const json& parent, const std::string& path) {
  SecurityContext sc;
  const json* s = r.child(parent, "securityContext", path, json::value_t::object);
  if (s == nullptr) return sc;
  std::string sp = path + ".securityContext";
  sc.run_as_user = r.integer(*s, "runAsUser", sp);
  sc.run_as_group = r.integer(*s, "runAsGroup", sp);
  sc.fs_group = r.integer(*s, "fsGroup", sp);
  sc.run_as_non_root = r.boolean(*s, "runAsNonRoot", sp);
  sc.read_only_root_filesystem = r.boolean(*s, "readOnlyRootFilesystem", sp);
  sc.privileged = r.boolean(*s, "privileged", sp);
  return sc;
}

std::optional<Terminated> parse_terminated(Reader& r, const json& state, const std::string& path) {
  const json* t = r.child(state, "terminated", path, json::value_t::object);
  if (t == nullptr) return std::nullopt;
  std::string tp = path + ".terminated";
  Terminated term;
  term.exit_code = r.small_int(*t, "exitCode", tp, 0);
  if (auto sig = r.integer(*t, "signal", tp)) term.signal = static_cast<int>(*sig);
  term.reason = r.str(*t, "reason", tp);
  term.message = r.str(*t, "message", tp);
  term.started_at = r.str(*t, "startedAt", tp);
  term.finished_at = r.str(*t, "finishedAt", tp);
  return term;
}

ContainerStatus parse_status(Reader& r, const json& s, const std::string& path) {
  ContainerStatus st;
  if (const json* state = r.child(s, "state", path, json::value_t::object)) {
    std::string sp = path + ".state";
    if (const json* w = r.child(*state, "waiting", sp, json::value_t::object)) {
      st.waiting = Waiting{r.str(*w, "reason", sp + ".waiting"), r.str(*w, "message", sp + ".waiting")};
    }
    if (const json* run = r.child(*state, "running", sp, json::value_t::object)) {
      st.running = true;
      st.running_started_at = r.str(*run, "startedAt", sp + ".running");
    }
    st.terminated = parse_terminated(r, *state, sp);
  }
  if (const json* last = r.child(s, "lastState", path, json::value_t::object)) {
    st.last_terminated = parse_terminated(r, *last, path + ".lastState");
  }
  st.restart_count = r.small_int(s, "restartCount", path, 0);
  st.ready = r.boolean(s, "ready", path).value_or(false);
  st.image_id = r.str(s, "imageID", path);
  return st;
}

Container parse_container(Reader& r, const json& c, const std::string& path, bool init, const Pod& pod) {
  Container out;
  out.name = r.str(c, "name", path);
  out.init = init;
  out.image = r.str(c, "image", path);
  out.command = r.strings(c, "command", path);
  out.args = r.strings(c, "args", path);
  out.restart_policy = r.str(c, "restartPolicy", path);
  r.each_object(c, "env", path, [&](const json& e, const std::string& ep) {
    EnvVar var;
    var.name = r.str(e, "name", ep);
    if (e.contains("value") && !e["value"].is_null()) var.value = r.str(e, "value", ep);
    if (const json* from = r.child(e, "valueFrom", ep, json::value_t::object)) {
      std::string fp = ep + ".valueFrom";
      if (const json* s = r.child(*from, "secretKeyRef", fp, json::value_t::object)) {
        var.value_from = "secretKeyRef:" + r.str(*s, "name", fp) + "/" + r.str(*s, "key", fp);
      } else if (const json* cm = r.child(*from, "configMapKeyRef", fp, json::value_t::object)) {
        var.value_from = "configMapKeyRef:" + r.str(*cm, "name", fp) + "/" + r.str(*cm, "key", fp);
      } else if (const json* f = r.child(*from, "fieldRef", fp, json::value_t::object)) {
        var.value_from = "fieldRef:" + r.str(*f, "fieldPath", fp);
      } else if (const json* rf = r.child(*from, "resourceFieldRef", fp, json::value_t::object)) {
        var.value_from = "resourceFieldRef:" + r.str(*rf, "resource", fp);
      }
    }
    out.env.push_back(std::move(var));
  });
  r.each_object(c, "envFrom", path, [&](const json& e, const std::string& ep) {
    EnvFromSource src;
    src.prefix = r.str(e, "prefix", ep);
    if (const json* cm = r.child(e, "configMapRef", ep, json::value_t::object)) {
      src.kind = "configMap";
      src.name = r.str(*cm, "name", ep + ".configMapRef");
      src.optional = r.boolean(*cm, "optional", ep + ".configMapRef").value_or(false);
    } else if (const json* s = r.child(e, "secretRef", ep, json::value_t::object)) {
      src.kind = "secret";
      src.name = r.str(*s, "name", ep + ".secretRef");
      src.optional = r.boolean(*s, "optional", ep + ".secretRef").value_or(false);
    }
    out.env_from.push_back(std::move(src));
  });
  r.each_object(c, "volumeMounts", path, [&](const json& m, const std::string& mp) {
    VolumeMount mount;
    mount.name = r.str(m, "name", mp);
    mount.mount_path = r.str(m, "mountPath", mp);
    mount.sub_path = r.str(m, "subPath", mp);
    if (mount.sub_path.empty()) mount.sub_path = r.str(m, "subPathExpr", mp);
    mount.read_only = r.boolean(m, "readOnly", mp).value_or(false);
    for (const Volume& v : pod.volumes) {
      if (v.name == mount.name) mount.volume = v;
    }
    out.mounts.push_back(std::move(mount));
  });
  out.liveness = parse_probe(r, c, "livenessProbe", path);
  out.readiness = parse_probe(r, c, "readinessProbe", path);
  out.startup = parse_probe(r, c, "startupProbe", path);
  if (const json* res = r.child(c, "resources", path, json::value_t::object)) {
    std::string rp = path + ".resources";
    if (const json* lim = r.child(*res, "limits", rp, json::value_t::object)) {
      out.resources.memory_limit = r.int_or_string(*lim, "memory", rp + ".limits");
      out.resources.cpu_limit = r.int_or_string(*lim, "cpu", rp + ".limits");
    }
    if (const json* req = r.child(*res, "requests", rp, json::value_t::object)) {
      out.resources.memory_request = r.int_or_string(*req, "memory", rp + ".requests");
      out.resources.cpu_request = r.int_or_string(*req, "cpu", rp + ".requests");
    }
    if (!out.resources.memory_limit.empty()) {
      out.resources.memory_limit_bytes = parse_memory_quantity(out.resources.memory_limit);
    }
  }
  // Container securityContext overrides the pod's for the fields both have
  // (core/v1 PodSecurityContext docs: "the value specified in SecurityContext takes precedence").
  SecurityContext sc = parse_security_context(r, c, path);
  const SecurityContext& ps = pod.security_context;
  if (!sc.run_as_user) sc.run_as_user = ps.run_as_user;
  if (!sc.run_as_group) sc.run_as_group = ps.run_as_group;
  if (!sc.run_as_non_root) sc.run_as_non_root = ps.run_as_non_root;
  sc.fs_group = ps.fs_group;
  out.security_context = sc;
  return out;
}

const json* unwrap_single_pod(Reader& r, const json& doc) {
  if (!doc.is_object()) {
    r.fail("$", std::string("expected a Pod object, got ") + type_name(doc));
    return nullptr;
  }
  std::string kind = r.str(doc, "kind", "$");
  if (kind == "List" || kind == "PodList") {
    const json* items = r.child(doc, "items", "$", json::value_t::array);
    if (items == nullptr || items->size() != 1) {
      r.fail("$.items", "expected exactly one Pod in the list (use `kubectl get pod NAME -o json`)");
      return nullptr;
    }
    return unwrap_single_pod(r, (*items)[0]);
  }
  // List items and watch objects from some paths carry no kind; an object with metadata and
  // spec but no kind is taken as the Pod it was asked for.
  if (kind.empty() && doc.contains("metadata") && doc.contains("spec")) return &doc;
  if (kind != "Pod") {
    r.fail("$.kind", "expected \"Pod\", got \"" + kind + "\" (use `kubectl get pod NAME -o json`)");
    return nullptr;
  }
  return &doc;
}

tl::expected<json, ParseError> parse_document(std::string_view text) {
  // nlohmann reports failures by exception; it is converted here, at the parser's boundary,
  // into a typed error that keeps the byte offset and the token it choked on.
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return tl::unexpected(ParseError{std::string("malformed JSON: ") + e.what()});
  }
}

}  // namespace

tl::expected<Pod, ParseError> parse_pod_json(std::string_view text) {
  auto doc = parse_document(text);
  if (!doc) return tl::unexpected(doc.error());
  return pod_from_json(*doc);
}

tl::expected<Pod, ParseError> pod_from_json(const json& document) {
  Reader r;
  const json* root = unwrap_single_pod(r, document);
  if (root == nullptr) return tl::unexpected(std::move(r).take_error());
  const json& p = *root;

  Pod pod;
  pod.api_version = r.str(p, "apiVersion", "$");
  const json* meta = r.child(p, "metadata", "$", json::value_t::object);
  if (meta == nullptr && !r.failed()) r.fail("$.metadata", "missing");
  if (meta != nullptr) {
    pod.name = r.str(*meta, "name", "metadata");
    pod.namespace_ = r.str(*meta, "namespace", "metadata");
    pod.uid = r.str(*meta, "uid", "metadata");
    pod.resource_version = r.str(*meta, "resourceVersion", "metadata");
    pod.creation_timestamp = r.str(*meta, "creationTimestamp", "metadata");
    pod.deletion_timestamp = r.str(*meta, "deletionTimestamp", "metadata");
    r.each_object(*meta, "ownerReferences", "metadata", [&](const json& o, const std::string& op) {
      pod.owners.push_back(OwnerRef{r.str(o, "apiVersion", op), r.str(o, "kind", op), r.str(o, "name", op),
                                    r.str(o, "uid", op), r.boolean(o, "controller", op).value_or(false)});
    });
  }
  const json* spec = r.child(p, "spec", "$", json::value_t::object);
  if (spec == nullptr && !r.failed()) r.fail("spec", "missing");
  if (spec != nullptr) {
    pod.node_name = r.str(*spec, "nodeName", "spec");
    if (auto policy = r.str(*spec, "restartPolicy", "spec"); !policy.empty()) pod.restart_policy = policy;
    pod.enable_service_links = r.boolean(*spec, "enableServiceLinks", "spec").value_or(true);
    pod.security_context = parse_security_context(r, *spec, "spec");
    r.each_object(*spec, "volumes", "spec",
                  [&](const json& v, const std::string& vp) { pod.volumes.push_back(parse_volume(r, v, vp)); });
    r.each_object(*spec, "initContainers", "spec", [&](const json& c, const std::string& cp) {
      pod.containers.push_back(parse_container(r, c, cp, /*init=*/true, pod));
    });
    r.each_object(*spec, "containers", "spec", [&](const json& c, const std::string& cp) {
      pod.containers.push_back(parse_container(r, c, cp, /*init=*/false, pod));
    });
  }
  if (const json* status = r.child(p, "status", "$", json::value_t::object)) {
    pod.phase = r.str(*status, "phase", "status");
    auto attach = [&](const json& s, const std::string& sp, bool init) {
      std::string name = r.str(s, "name", sp);
      for (Container& c : pod.containers) {
        if (c.name == name && c.init == init) c.status = parse_status(r, s, sp);
      }
    };
    r.each_object(*status, "initContainerStatuses", "status",
                  [&](const json& s, const std::string& sp) { attach(s, sp, true); });
    r.each_object(*status, "containerStatuses", "status",
                  [&](const json& s, const std::string& sp) { attach(s, sp, false); });
    r.each_object(*status, "conditions", "status", [&](const json& cond, const std::string& cp) {
      if (r.str(cond, "type", cp) == "Ready" && r.str(cond, "status", cp) == "False") {
        pod.not_ready_since = r.str(cond, "lastTransitionTime", cp);
      }
    });
  }
  if (r.failed()) return tl::unexpected(std::move(r).take_error());
  if (pod.name.empty()) return tl::unexpected(ParseError{"metadata.name: missing"});
  if (pod.containers.empty()) return tl::unexpected(ParseError{"spec.containers: the pod has no containers"});
  return pod;
}

namespace {

Event parse_event(Reader& r, const json& e, const std::string& path) {
  Event ev;
  ev.type = r.str(e, "type", path);
  ev.reason = r.str(e, "reason", path);
  std::string api = r.str(e, "apiVersion", path);
  if (api == "events.k8s.io/v1" || api == "events.k8s.io/v1beta1" || e.contains("regarding")) {
    // events.k8s.io/v1 Event field names (k8s.io/api/events/v1/types.go).
    ev.message = r.str(e, "note", path);
    if (const json* reg = r.child(e, "regarding", path, json::value_t::object)) {
      ev.involved_kind = r.str(*reg, "kind", path + ".regarding");
      ev.involved_name = r.str(*reg, "name", path + ".regarding");
      ev.involved_uid = r.str(*reg, "uid", path + ".regarding");
      ev.involved_field_path = r.str(*reg, "fieldPath", path + ".regarding");
    }
    ev.source_component = r.str(e, "reportingController", path);
    ev.count = 1;
    if (auto dc = r.integer(e, "deprecatedCount", path); dc && *dc > 0) ev.count = static_cast<int>(*dc);
    if (const json* series = r.child(e, "series", path, json::value_t::object)) {
      if (auto sc = r.integer(*series, "count", path + ".series"); sc && *sc > 0) ev.count = static_cast<int>(*sc);
      ev.last_timestamp = r.str(*series, "lastObservedTime", path + ".series");
    }
    ev.first_timestamp = r.str(e, "eventTime", path);
    if (ev.first_timestamp.empty()) ev.first_timestamp = r.str(e, "deprecatedFirstTimestamp", path);
    if (ev.last_timestamp.empty()) ev.last_timestamp = r.str(e, "deprecatedLastTimestamp", path);
    if (ev.last_timestamp.empty()) ev.last_timestamp = ev.first_timestamp;
    return ev;
  }
  ev.message = r.str(e, "message", path);
  if (const json* inv = r.child(e, "involvedObject", path, json::value_t::object)) {
    ev.involved_kind = r.str(*inv, "kind", path + ".involvedObject");
    ev.involved_name = r.str(*inv, "name", path + ".involvedObject");
    ev.involved_uid = r.str(*inv, "uid", path + ".involvedObject");
    ev.involved_field_path = r.str(*inv, "fieldPath", path + ".involvedObject");
  }
  if (const json* src = r.child(e, "source", path, json::value_t::object)) {
    ev.source_component = r.str(*src, "component", path + ".source");
  }
  if (ev.source_component.empty()) ev.source_component = r.str(e, "reportingComponent", path);
  ev.count = r.small_int(e, "count", path, 1);
  ev.first_timestamp = r.str(e, "firstTimestamp", path);
  ev.last_timestamp = r.str(e, "lastTimestamp", path);
  // Events created through events.k8s.io only have eventTime when read through core/v1.
  if (ev.first_timestamp.empty()) ev.first_timestamp = r.str(e, "eventTime", path);
  if (ev.last_timestamp.empty()) ev.last_timestamp = ev.first_timestamp;
  return ev;
}

}  // namespace

tl::expected<std::vector<Event>, ParseError> parse_events_json(std::string_view text) {
  auto doc = parse_document(text);
  if (!doc) return tl::unexpected(doc.error());
  Reader r;
  std::vector<Event> out;
  if (!doc->is_object())
    return tl::unexpected(ParseError{std::string("$: expected an EventList object, got ") + type_name(*doc)});
  std::string kind = r.str(*doc, "kind", "$");
  if (kind == "Event") {
    out.push_back(parse_event(r, *doc, "$"));
  } else if (kind == "EventList" || kind == "List") {
    r.each_object(*doc, "items", "$",
                  [&](const json& e, const std::string& ep) { out.push_back(parse_event(r, e, ep)); });
  } else {
    return tl::unexpected(ParseError{"$.kind: expected \"EventList\", \"List\" or \"Event\", got \"" + kind +
                                     "\" (use `kubectl get events --field-selector involvedObject.name=POD -o json`)"});
  }
  if (r.failed()) return tl::unexpected(std::move(r).take_error());
  return out;
}

std::vector<Event> events_for_pod(const std::vector<Event>& events, const Pod& pod) {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (!e.involved_kind.empty() && e.involved_kind != "Pod") continue;
    if (!e.involved_name.empty() && e.involved_name != pod.name) continue;
    if (!e.involved_uid.empty() && !pod.uid.empty() && e.involved_uid != pod.uid) continue;
    out.push_back(e);
  }
  return out;
}

std::vector<Event> events_for_container(const std::vector<Event>& pod_events, const Container& container) {
  // The kubelet sets involvedObject.fieldPath to "spec.containers{NAME}" or
  // "spec.initContainers{NAME}" for container events (pkg/kubelet/container/ref.go).
  const std::string want =
      std::string(container.init ? "spec.initContainers{" : "spec.containers{") + container.name + "}";
  std::vector<Event> out;
  for (const Event& e : pod_events) {
    if (e.involved_field_path.empty() || e.involved_field_path == want) out.push_back(e);
  }
  return out;
}

const EnvVar* Container::find_env(std::string_view env_name) const {
  const EnvVar* found = nullptr;
  for (const EnvVar& e : env) {
    if (e.name == env_name) found = &e;  // the last definition wins, as in the kubelet
  }
  return found;
}

const Terminated* Container::latest_termination() const {
  if (!status) return nullptr;
  if (status->terminated) return &*status->terminated;
  if (status->last_terminated) return &*status->last_terminated;
  return nullptr;
}

const Container* Pod::find_container(std::string_view container_name) const {
  for (const Container& c : containers) {
    if (c.name == container_name) return &c;
  }
  return nullptr;
}

const Container& Evidence::target() const {
  static const Container kEmpty{};
  const Container* c = pod.find_container(container);
  return c != nullptr ? *c : kEmpty;
}

}  // namespace crashdiag
