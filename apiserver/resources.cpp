#include "resources.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <functional>

#include "api_status.hpp"

namespace crashdiag::fake {

using nlohmann::json;

namespace {

// discovery.StorageVersionHash: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>")
// (pods: "xPOwRZ+Yhw8=" in 01-discovery-api-v1).
std::string storage_version_hash(const std::string& group, const std::string& version, const std::string& kind) {
  const std::string gvk = group + "/" + version + "/" + kind;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(gvk.data(), gvk.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -6;
  for (std::size_t i = 0; i < 8; ++i) {
    val = (val << 8U) + digest[i];
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(val >> static_cast<unsigned>(bits)) & 0x3FU]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((val << 8U) >> static_cast<unsigned>(bits + 8)) & 0x3FU]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

ResourceType builtin(std::string group, std::string version, std::string plural, std::string kind,
                     std::vector<std::string> short_names, std::vector<std::string> categories) {
  ResourceType t;
  t.group = std::move(group);
  t.version = std::move(version);
  t.plural = std::move(plural);
  t.kind = std::move(kind);
  t.list_kind = t.kind + "List";
  t.short_names = std::move(short_names);
  t.categories = std::move(categories);
  return t;
}

json group_version_entry(const std::string& gv, const std::string& version) {
  json v = json::object();
  v["groupVersion"] = gv;
  v["version"] = version;
  return v;
}

const char* const kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "http://kubernetes.io/docs/user-guide/identifiers#names";
const char* const kCreationTimestampDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is "
    "represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

json column(const std::string& name, const std::string& type, const std::string& description, int priority = 0,
            const std::string& format = "") {
  json c = json::object();
  c["name"] = name;
  c["type"] = type;
  c["format"] = format;
  c["description"] = description;
  c["priority"] = priority;
  return c;
}

std::string str(const json& obj, const char* key, const std::string& fallback = "") {
  return obj.is_object() && obj.contains(key) && obj[key].is_string() ? obj[key].get<std::string>() : fallback;
}

std::string age(const json& obj, std::int64_t now) {
  auto t = parse_rfc3339(str(obj["metadata"], "creationTimestamp"));
  return t ? human_age(now - t->seconds) : "<unknown>";
}

// printPod (pkg/printers/internalversion), the common cases: init containers, waiting and
// terminated reasons, restarts with the time of the last one, Terminating.
json pod_cells(const json& pod, std::int64_t now) {
  const json& spec = pod.contains("spec") ? pod["spec"] : json::object();
  const json& status = pod.contains("status") ? pod["status"] : json::object();
  const std::size_t total = spec.contains("containers") ? spec["containers"].size() : 0;
  std::size_t ready = 0;
  std::int64_t restarts = 0;
  std::int64_t last_restart = 0;
  std::string reason = str(status, "reason", str(status, "phase"));
  auto note_restart = [&](const json& cs) {
    restarts += cs.value("restartCount", 0);
    if (cs.contains("lastState") && cs["lastState"].contains("terminated")) {
      if (auto t = parse_rfc3339(str(cs["lastState"]["terminated"], "finishedAt"))) {
        last_restart = std::max(last_restart, t->seconds);
      }
    }
  };
  bool initializing = false;
  if (status.contains("initContainerStatuses")) {
    const auto& inits = status["initContainerStatuses"];
    const std::size_t n = spec.contains("initContainers") ? spec["initContainers"].size() : inits.size();
    for (std::size_t i = 0; i < inits.size(); ++i) {
      const json& cs = inits[i];
      note_restart(cs);
      const json& state = cs.contains("state") ? cs["state"] : json::object();
      if (state.contains("terminated") && state["terminated"].value("exitCode", 0) == 0) continue;
      if (state.contains("terminated")) {
        const json& term = state["terminated"];
        reason = "Init:" + (str(term, "reason").empty() ? "ExitCode:" + std::to_string(term.value("exitCode", 0))
                                                        : str(term, "reason"));
      } else if (state.contains("waiting") && !str(state["waiting"], "reason").empty() &&
                 str(state["waiting"], "reason") != "PodInitializing") {
        reason = "Init:" + str(state["waiting"], "reason");
      } else {
        reason = "Init:" + std::to_string(i) + "/" + std::to_string(n);
      }
      initializing = true;
      break;
    }
  }
  if (!initializing && status.contains("containerStatuses")) {
    restarts = 0;
    last_restart = 0;
    if (status.contains("initContainerStatuses")) {
      for (const auto& cs : status["initContainerStatuses"]) note_restart(cs);
    }
    bool has_running = false;
    const auto& statuses = status["containerStatuses"];
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
      const json& cs = *it;
      note_restart(cs);
      const json& state = cs.contains("state") ? cs["state"] : json::object();
      if (state.contains("waiting") && !str(state["waiting"], "reason").empty()) {
        reason = str(state["waiting"], "reason");
      } else if (state.contains("terminated")) {
        const json& term = state["terminated"];
        reason =
            str(term, "reason").empty() ? "ExitCode:" + std::to_string(term.value("exitCode", 0)) : str(term, "reason");
      } else if (state.contains("running") && cs.value("ready", false)) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) reason = "Running";
  } else if (initializing && status.contains("containerStatuses")) {
    for (const auto& cs : status["containerStatuses"]) note_restart(cs);
  }
  if (pod["metadata"].contains("deletionTimestamp")) reason = "Terminating";
  std::string restarts_text = std::to_string(restarts);
  if (restarts > 0 && last_restart > 0) restarts_text += " (" + human_age(now - last_restart) + " ago)";
  json cells = json::array();
  cells.push_back(str(pod["metadata"], "name"));
  cells.push_back(std::to_string(ready) + "/" + std::to_string(total));
  cells.push_back(reason);
  cells.push_back(restarts_text);
  cells.push_back(age(pod, now));
  cells.push_back(str(status, "podIP", "<none>"));
  cells.push_back(str(spec, "nodeName", "<none>"));
  cells.push_back(str(status, "nominatedNodeName", "<none>"));
  cells.push_back("<none>");
  return cells;
}

json pod_columns() {
  json cols = json::array();
  cols.push_back(column("Name", "string", kNameDescription, 0, "name"));
  cols.push_back(column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."));
  cols.push_back(column("Status", "string", "The aggregate status of the containers in this pod."));
  cols.push_back(column("Restarts", "string",
                        "The number of times the containers in this pod have been restarted and when the last "
                        "container in this pod has restarted."));
  cols.push_back(column("Age", "string", kCreationTimestampDescription));
  cols.push_back(column("IP", "string",
                        "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
                        "allocated.",
                        1));
  cols.push_back(column("Node", "string",
                        "NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the "
                        "scheduler simply schedules this pod onto that node, assuming that it fits resource "
                        "requirements.",
                        1));
  cols.push_back(column("Nominated Node", "string",
                        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot "
                        "be scheduled right away as preemption victims receive their graceful termination periods.",
                        1));
  cols.push_back(
      column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1));
  return cols;
}

// printEvent: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE (+ wide columns).
json event_columns() {
  json cols = json::array();
  cols.push_back(
      column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."));
  cols.push_back(
      column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"));
  cols.push_back(column("Reason", "string",
                        "This should be a short, machine understandable string that gives the "
                        "reason for the transition into the object's current status."));
  cols.push_back(column("Object", "string", "The object that this event is about."));
  cols.push_back(column("Subobject", "string", "The field of the object the event is about.", 1));
  cols.push_back(column("Source", "string", "The component reporting this event.", 1));
  cols.push_back(column("Message", "string", "A human-readable description of the status of this operation."));
  cols.push_back(column("First Seen", "string", "The time at which the event was first recorded.", 1));
  cols.push_back(column("Count", "string", "The number of times this event has occurred.", 1));
  cols.push_back(column("Name", "string", kNameDescription, 1, "name"));
  return cols;
}

json event_cells(const json& ev, std::int64_t now) {
  auto since = [&](const char* key) {
    auto t = parse_rfc3339(str(ev, key));
    if (!t && ev.contains("eventTime")) t = parse_rfc3339(str(ev, "eventTime"));
    return t ? human_age(now - t->seconds) : std::string("<unknown>");
  };
  const json& involved = ev.contains("involvedObject") ? ev["involvedObject"] : json::object();
  std::string kind = str(involved, "kind");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string source = ev.contains("source") ? str(ev["source"], "component") : "";
  if (ev.contains("source") && !str(ev["source"], "host").empty()) source += ", " + str(ev["source"], "host");
  json cells = json::array();
  cells.push_back(since("lastTimestamp"));
  cells.push_back(str(ev, "type"));
  cells.push_back(str(ev, "reason"));
  cells.push_back(kind + "/" + str(involved, "name"));
  cells.push_back(str(involved, "fieldPath"));
  cells.push_back(source);
  cells.push_back(str(ev, "message"));
  cells.push_back(since("firstTimestamp"));
  cells.push_back(ev.value("count", 1));
  cells.push_back(str(ev["metadata"], "name"));
  return cells;
}

}  // namespace

ResourceRegistry::ResourceRegistry(Crd crd) {
  ResourceType pods = builtin("", "v1", "pods", "Pod", {"po"}, {"all"});
  pods.status_subresource = true;
  pods.log_subresource = true;
  pods.return_deleted_object = true;  // DELETE answers with the Pod (03-action4-delete-pod-grace0)
  pods.empty_object = nlohmann::json::parse(R"({"spec":{"containers":null},"status":{}})");
  types_.push_back(pods);
  // Namespaces exist implicitly (see FakeApiServer): listed and readable so that kubectl can tell
  // a missing object from a missing namespace.
  ResourceType namespaces = builtin("", "v1", "namespaces", "Namespace", {"ns"}, {});
  namespaces.namespaced = false;
  namespaces.status_subresource = true;
  namespaces.deletecollection = false;
  namespaces.empty_object = nlohmann::json::parse(R"({"spec":{},"status":{}})");
  types_.push_back(namespaces);
  ResourceType events = builtin("", "v1", "events", "Event", {"ev"}, {});
  events.allow_create_on_update = true;
  types_.push_back(events);
  // An empty pod template, as every workload's empty object has one.
  const std::string tmpl = R"("template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}})";
  // A DaemonSet's conversion to v1 writes its template generation as an annotation
  // (pkg/apis/apps/v1/conversion.go, appsv1.DeprecatedTemplateGeneration).
  for (const auto& [plural, kind, short_name, empty] : std::vector<std::array<std::string, 4>>{
           {"daemonsets", "DaemonSet", "ds",
            R"({"metadata":{"annotations":{"deprecated.daemonset.template.generation":"0"}},"spec":{"selector":null,)" +
                tmpl +
                R"(,"updateStrategy":{}},"status":{"currentNumberScheduled":0,"numberMisscheduled":0,)"
                R"("desiredNumberScheduled":0,"numberReady":0}})"},
           {"deployments", "Deployment", "deploy",
            R"({"spec":{"replicas":0,"selector":null,)" + tmpl + R"(,"strategy":{}},"status":{}})"},
           {"replicasets", "ReplicaSet", "rs",
            R"({"spec":{"replicas":0,"selector":null,)" + tmpl + R"(},"status":{"replicas":0}})"},
           {"statefulsets", "StatefulSet", "sts",
            R"({"spec":{"replicas":0,"selector":null,)" + tmpl +
                R"(,"serviceName":"","updateStrategy":{}},)"
                R"("status":{"replicas":0,"availableReplicas":0}})"}}) {
    ResourceType t = builtin("apps", "v1", plural, kind, {short_name}, {"all"});
    t.status_subresource = true;
    t.has_generation = true;
    t.empty_object = nlohmann::json::parse(empty);
    types_.push_back(t);
  }
  // A StatefulSet's and a DaemonSet's revisions (pkg/controller/history): no status, no
  // generation, in no category.
  types_.push_back(builtin("apps", "v1", "controllerrevisions", "ControllerRevision", {}, {}));
  ResourceType cronjobs = builtin("batch", "v1", "cronjobs", "CronJob", {"cj"}, {"all"});
  cronjobs.status_subresource = true;
  cronjobs.has_generation = true;
  cronjobs.empty_object =
      nlohmann::json::parse(R"({"spec":{"schedule":"","jobTemplate":{"metadata":{"creationTimestamp":null},"spec":{)" +
                            tmpl + R"(}}},"status":{}})");
  types_.push_back(cronjobs);
  ResourceType jobs = builtin("batch", "v1", "jobs", "Job", {}, {"all"});
  jobs.status_subresource = true;
  jobs.has_generation = true;
  jobs.empty_object = nlohmann::json::parse(R"({"spec":{)" + tmpl + R"(},"status":{}})");
  types_.push_back(jobs);
  // Leases may be created by PUT but never updated without a resourceVersion
  // (09-update-lease-without-rv-422).
  ResourceType leases = builtin("coordination.k8s.io", "v1", "leases", "Lease", {}, {});
  leases.allow_create_on_update = true;
  leases.allow_unconditional_update = false;
  types_.push_back(leases);
  // The pods behind a Service, one slice per (Service, address type), labelled
  // kubernetes.io/service-name (pkg/controller/endpointslice): no status, no generation.
  // After coordination.k8s.io, as kube-apiserver 1.26 lists its groups in /apis.
  types_.push_back(builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", {}, {}));

  auto shared = std::make_shared<const Crd>(std::move(crd));
  ResourceType cr;
  cr.group = shared->group;
  cr.version = shared->version;
  cr.plural = shared->plural;
  cr.singular = shared->singular;
  cr.kind = shared->kind;
  cr.list_kind = shared->list_kind;
  cr.namespaced = shared->namespaced;
  cr.short_names = shared->short_names;
  cr.categories = shared->categories;
  cr.status_subresource = shared->status_subresource;
  cr.custom = true;
  cr.has_generation = true;
  cr.allow_unconditional_update = false;  // custom resources require a resourceVersion on update
  cr.crd = shared;
  types_.push_back(cr);

  for (const auto& t : types_) {
    if (!t.group.empty() && std::find(groups_.begin(), groups_.end(), t.group) == groups_.end()) {
      groups_.push_back(t.group);
    }
  }
}

const ResourceType* ResourceRegistry::find(const std::string& api_version, const std::string& plural) const {
  for (const auto& t : types_) {
    if (t.api_version() == api_version && t.plural == plural) return &t;
  }
  return nullptr;
}

const ResourceType* ResourceRegistry::find_kind(const std::string& api_version, const std::string& kind) const {
  for (const auto& t : types_) {
    if (t.api_version() == api_version && t.kind == kind) return &t;
  }
  return nullptr;
}

bool ResourceRegistry::serves_group_version(const std::string& group_version) const {
  return std::any_of(types_.begin(), types_.end(),
                     [&](const ResourceType& t) { return t.api_version() == group_version; });
}

json ResourceRegistry::api_versions(const std::string& server_address) const {
  json out = json::object();
  out["kind"] = "APIVersions";
  out["versions"] = json::array({"v1"});
  json cidr = json::object();
  cidr["clientCIDR"] = "0.0.0.0/0";
  cidr["serverAddress"] = server_address;
  out["serverAddressByClientCIDRs"] = json::array({cidr});
  return out;
}

json ResourceRegistry::group_list() const {
  json out = json::object();
  out["kind"] = "APIGroupList";
  out["apiVersion"] = "v1";
  out["groups"] = json::array();
  for (const auto& g : groups_) {
    auto doc = group(g);
    doc->erase("kind");
    doc->erase("apiVersion");
    out["groups"].push_back(*doc);
  }
  return out;
}

std::optional<json> ResourceRegistry::group(const std::string& name) const {
  const ResourceType* first = nullptr;
  for (const auto& t : types_) {
    if (t.group == name && !name.empty()) {
      first = &t;
      break;
    }
  }
  if (first == nullptr) return std::nullopt;
  json out = json::object();
  out["kind"] = "APIGroup";
  out["apiVersion"] = "v1";
  out["name"] = name;
  out["versions"] = json::array({group_version_entry(first->api_version(), first->version)});
  out["preferredVersion"] = group_version_entry(first->api_version(), first->version);
  return out;
}

std::optional<json> ResourceRegistry::resource_list(const std::string& group_version) const {
  if (!serves_group_version(group_version)) return std::nullopt;
  json out = json::object();
  out["kind"] = "APIResourceList";
  if (group_version != "v1") out["apiVersion"] = "v1";  // /api/v1 has none (01-discovery-api-v1)
  out["groupVersion"] = group_version;
  out["resources"] = json::array();
  std::vector<const ResourceType*> sorted;
  for (const auto& t : types_) {
    if (t.api_version() == group_version) sorted.push_back(&t);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->plural < b->plural; });
  for (const ResourceType* t : sorted) {
    json r = json::object();
    r["name"] = t->plural;
    r["singularName"] = t->singular;
    r["namespaced"] = t->namespaced;
    r["kind"] = t->kind;
    // CRDs list their verbs in another order than built-ins (01-discovery-apis-fixtures.example.com-v1).
    r["verbs"] = t->custom
                     ? json::array({"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"})
                     : json::array({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"});
    if (!t->deletecollection) {
      auto& verbs = r["verbs"];
      verbs.erase(std::remove(verbs.begin(), verbs.end(), json("deletecollection")), verbs.end());
    }
    if (!t->short_names.empty()) r["shortNames"] = t->short_names;
    if (!t->categories.empty()) r["categories"] = t->categories;
    r["storageVersionHash"] = storage_version_hash(t->group, t->version, t->kind);
    out["resources"].push_back(r);
    auto sub = [&](const std::string& name, const json& verbs) {
      json s = json::object();
      s["name"] = t->plural + "/" + name;
      s["singularName"] = "";
      s["namespaced"] = t->namespaced;
      s["kind"] = t->kind;
      s["verbs"] = verbs;
      out["resources"].push_back(s);
    };
    if (t->log_subresource) sub("log", json::array({"get"}));
    if (t->status_subresource) sub("status", json::array({"get", "patch", "update"}));
  }
  return out;
}

namespace {

// "api/v1", "apis/crashdiag.io/v1alpha1": the keys of the OpenAPI v3 index.
std::string openapi_path(const ResourceType& t) {
  return t.group.empty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
}

// io.k8s.api.core.v1.Pod, io.crashdiag.v1alpha1.RootCauseAnalysis: the apiserver's definition names.
std::string definition_name(const ResourceType& t) {
  if (t.custom) {
    std::string reversed;
    std::size_t end = t.group.size();
    while (true) {
      const auto dot = t.group.rfind('.', end - 1);
      const std::size_t start = dot == std::string::npos ? 0 : dot + 1;
      reversed += (reversed.empty() ? "" : ".") + t.group.substr(start, end - start);
      if (dot == std::string::npos) break;
      end = dot;
    }
    return reversed + "." + t.version + "." + t.kind;
  }
  std::string group = t.group.empty() ? "core" : t.group.substr(0, t.group.find('.'));
  return "io.k8s.api." + group + "." + t.version + "." + t.kind;
}

json gvk_of(const ResourceType& t) {
  json g = json::object();
  g["group"] = t.group;
  g["version"] = t.version;
  g["kind"] = t.kind;
  return g;
}

json query_parameter(const std::string& name, const std::string& type) {
  json p = json::object();
  p["name"] = name;
  p["in"] = "query";
  p["schema"]["type"] = type;
  p["schema"]["uniqueItems"] = true;
  return p;
}

json operation(const ResourceType& t, const std::string& action, const std::string& verb_prefix, bool write) {
  json op = json::object();
  std::string group_camel = t.group.empty() ? "Core" : t.group.substr(0, t.group.find('.'));
  group_camel[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(group_camel[0])));
  std::string version = t.version;
  version[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(version[0])));
  op["operationId"] = verb_prefix + group_camel + version + (t.namespaced ? "Namespaced" : "") + t.kind;
  op["x-kubernetes-action"] = action;
  op["x-kubernetes-group-version-kind"] = gvk_of(t);
  op["parameters"] = json::array();
  if (write) {
    op["parameters"].push_back(query_parameter("dryRun", "string"));
    op["parameters"].push_back(query_parameter("fieldManager", "string"));
    op["parameters"].push_back(query_parameter("fieldValidation", "string"));
  }
  if (action == "patch") op["parameters"].push_back(query_parameter("force", "boolean"));
  json ref = json::object();
  ref["$ref"] = "#/components/schemas/" + definition_name(t);
  op["responses"]["200"]["description"] = "OK";
  op["responses"]["200"]["content"]["application/json"]["schema"] = ref;
  if (write) op["requestBody"]["content"]["application/json"]["schema"] = ref;
  return op;
}

}  // namespace

json openapi_v3_index(const ResourceRegistry& registry) {
  json paths = json::object();
  for (const auto& t : registry.all()) {
    const std::string p = openapi_path(t);
    paths[p]["serverRelativeURL"] = "/openapi/v3/" + p + "?hash=" + storage_version_hash(p, "openapi", "v3");
  }
  json out = json::object();
  out["paths"] = std::move(paths);
  return out;
}

std::optional<json> openapi_v3_document(const ResourceRegistry& registry, const std::string& group_version_path) {
  json doc = json::object();
  doc["openapi"] = "3.0.0";
  doc["info"]["title"] = "Kubernetes";
  doc["info"]["version"] = "v1.26.1";
  doc["paths"] = json::object();
  doc["components"]["schemas"] = json::object();
  bool found = false;
  for (const auto& t : registry.all()) {
    if (openapi_path(t) != group_version_path) continue;
    found = true;
    const std::string base = "/" + group_version_path + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
    json& item = doc["paths"][base + "/{name}"];
    item["get"] = operation(t, "get", "read", false);
    item["put"] = operation(t, "put", "replace", true);
    item["patch"] = operation(t, "patch", "patch", true);
    item["delete"] = operation(t, "delete", "delete", false);
    doc["paths"][base]["get"] = operation(t, "list", "list", false);
    doc["paths"][base]["post"] = operation(t, "post", "create", true);
    if (t.status_subresource) {
      json& status = doc["paths"][base + "/{name}/status"];
      status["get"] = operation(t, "get", "read", false);
      status["put"] = operation(t, "put", "replace", true);
      status["patch"] = operation(t, "patch", "patch", true);
    }
    json schema = t.crd ? t.crd->schema : json::object();
    if (!t.crd) {
      schema["type"] = "object";
      schema["x-kubernetes-preserve-unknown-fields"] = true;
    }
    schema["x-kubernetes-group-version-kind"] = json::array({gvk_of(t)});
    doc["components"]["schemas"][definition_name(t)] = std::move(schema);
  }
  if (!found) return std::nullopt;
  return doc;
}

json version_info() {
  json v = json::object();
  v["major"] = "1";
  v["minor"] = "26";
  v["gitVersion"] = "v1.26.1";
  v["gitCommit"] = "8f94681cd294aa8cfd3407b8191f6c70214973a4";
  v["gitTreeState"] = "archive";
  v["buildDate"] = "2026-11-22T03:01:50Z";
  v["goVersion"] = "go1.19.8";
  v["compiler"] = "gc";
  v["platform"] = "linux/amd64";
  return v;
}

json make_table(const ResourceType& type, const std::vector<json>& objects, const std::string& table_version,
                const std::string& include_object, std::int64_t now_seconds) {
  json columns = json::array();
  std::function<json(const json&)> cells;
  if (type.crd) {
    columns.push_back(column("Name", "string", kNameDescription, 0, "name"));
    for (const auto& c : type.crd->columns)
      columns.push_back(column(c.name, c.type, c.description, c.priority, c.format));
    const auto crd = type.crd;
    cells = [crd, now_seconds](const json& obj) {
      json row = json::array();
      row.push_back(str(obj["metadata"], "name"));
      for (const auto& c : crd->columns) row.push_back(printer_cell(c, obj, now_seconds));
      return row;
    };
  } else if (type.kind == "Pod") {
    columns = pod_columns();
    cells = [now_seconds](const json& obj) { return pod_cells(obj, now_seconds); };
  } else if (type.kind == "Event") {
    columns = event_columns();
    cells = [now_seconds](const json& obj) { return event_cells(obj, now_seconds); };
  } else if (type.kind == "Lease") {
    columns.push_back(column("Name", "string", kNameDescription, 0, "name"));
    columns.push_back(
        column("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."));
    columns.push_back(column("Age", "string", kCreationTimestampDescription));
    cells = [now_seconds](const json& obj) {
      json row = json::array();
      row.push_back(str(obj["metadata"], "name"));
      row.push_back(obj.contains("spec") ? str(obj["spec"], "holderIdentity", "<none>") : "<none>");
      row.push_back(age(obj, now_seconds));
      return row;
    };
  } else {
    // rest.NewDefaultTableConvertor.
    columns.push_back(column("Name", "string", kNameDescription, 0, "name"));
    columns.push_back(column("Created At", "date", kCreationTimestampDescription));
    cells = [](const json& obj) {
      json row = json::array();
      row.push_back(str(obj["metadata"], "name"));
      row.push_back(str(obj["metadata"], "creationTimestamp"));
      return row;
    };
  }
  json table = json::object();
  table["kind"] = "Table";
  table["apiVersion"] = "meta.k8s.io/" + table_version;
  table["metadata"] = json::object();
  table["columnDefinitions"] = std::move(columns);
  table["rows"] = json::array();
  for (const auto& obj : objects) {
    json row = json::object();
    row["cells"] = cells(obj);
    if (include_object == "Object") {
      row["object"] = obj;
    } else if (include_object != "None") {
      json partial = json::object();
      partial["kind"] = "PartialObjectMetadata";
      partial["apiVersion"] = "meta.k8s.io/" + table_version;
      partial["metadata"] = obj["metadata"];
      row["object"] = std::move(partial);
    }
    table["rows"].push_back(std::move(row));
  }
  return table;
}

}  // namespace crashdiag::fake
