// The fake apiserver's reads (declared in fake_internal.hpp): pod logs, get and list of any served
// resource with label and field selectors, pagination with continue tokens, server-side Tables
// and PartialObjectMetadata, and the implicit namespaces.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api_status.hpp"
#include "fake_internal.hpp"
#include "field_selector.hpp"
#include "label_selector.hpp"
#include "pod_protobuf.hpp"
#include "resources.hpp"

namespace crashdiag::fake::detail {

json partial_metadata(const json& obj) {
  json partial = json::object();
  partial["kind"] = "PartialObjectMetadata";
  partial["apiVersion"] = "meta.k8s.io/v1";
  partial["metadata"] = obj.contains("metadata") ? obj["metadata"] : json::object();
  return partial;
}

namespace {

json implicit_namespace(const FakeApiServer::Impl& impl, const std::string& name) {
  // The shape of a created Namespace (00-create-namespace-fx).
  std::array<char, 40> uid{};
  const std::size_t h = std::hash<std::string>{}("namespace/" + name);
  std::snprintf(uid.data(), uid.size(), "%08zx-0000-4000-8000-%012zx", h & 0xFFFFFFFFU, (h >> 16U) & 0xFFFFFFFFFFFFU);
  json ns = json::object();
  ns["kind"] = "Namespace";
  ns["apiVersion"] = "v1";
  ns["metadata"]["name"] = name;
  ns["metadata"]["uid"] = uid.data();
  ns["metadata"]["resourceVersion"] = "1";
  ns["metadata"]["creationTimestamp"] = impl.started;
  ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
  ns["spec"]["finalizers"] = json::array({"kubernetes"});
  ns["status"]["phase"] = "Active";
  return ns;
}

// Namespaces are implicit in the fake: the four every cluster has, every namespace an object
// lives in, and Namespace objects created explicitly. Creates are accepted in any namespace but
// those set_namespace_state() made Terminating or Gone (namespace_refusal). Caller holds mu.
std::map<std::string, json> known_namespaces(FakeApiServer::Impl& impl) {
  std::map<std::string, json> out;
  for (const char* n : {"default", "kube-node-lease", "kube-public", "kube-system"}) {
    out["/" + std::string(n)] = implicit_namespace(impl, n);
  }
  for (const auto& [resource, store] : impl.objects) {
    if (resource == "namespaces") continue;
    for (const auto& [key, obj] : store) {
      const std::string ns = obj["metadata"].value("namespace", "");
      if (!ns.empty() && out.count("/" + ns) == 0) out["/" + ns] = implicit_namespace(impl, ns);
    }
  }
  for (const auto& [key, obj] : impl.objects["namespaces"]) out[key] = obj;
  return out;
}

}  // namespace

const std::map<std::string, json>& stored_objects(FakeApiServer::Impl& impl, const Route& r,
                                                  std::map<std::string, json>& scratch) {
  if (r.kind != "Namespace") return impl.objects[r.resource];
  scratch = known_namespaces(impl);
  return scratch;
}

Response handle_logs(FakeApiServer::Impl& impl, const Route& r, const Query& query, bool keep) {
  json pod;
  {
    std::lock_guard lock(impl.mu);
    auto& pods = impl.objects["pods"];
    auto it = pods.find(r.ns + "/" + r.name);
    if (it != pods.end()) pod = it->second;
  }
  if (pod.is_null()) return status_response(not_found_status("", "pods", r.name), keep);
  std::string container = query.get("container");
  std::vector<std::string> names;
  for (const auto& c : pod["spec"]["containers"]) names.push_back(c["name"]);
  if (pod["spec"].contains("initContainers")) {
    for (const auto& c : pod["spec"]["initContainers"]) names.push_back(c["name"]);
  }
  if (container.empty() && pod["spec"]["containers"].size() == 1) container = names[0];
  if (std::find(names.begin(), names.end(), container) == names.end()) {
    std::string choices;
    for (const auto& n : names) choices += (choices.empty() ? "" : " ") + n;
    const std::string msg = container.empty() ? "a container name must be specified for pod " + r.name +
                                                    ", choose one of: [" + choices + "]"
                                              : "container " + container + " is not valid for pod " + r.name;
    return json_response(400, bad_request(msg), keep);
  }
  const bool previous = query.flag("previous");
  std::optional<std::string> text;
  {
    std::lock_guard lock(impl.mu);
    auto it = impl.logs.find(r.ns + "/" + r.name + "/" + container + (previous ? "/previous" : "/current"));
    if (it != impl.logs.end()) text = it->second;
  }
  if (!text && previous) {
    // The kubelet's answer when there is no previous instance (08-pod-log fixtures).
    return json_response(
        400, bad_request("previous terminated container \"" + container + "\" in pod \"" + r.name + "\" not found"),
        keep);
  }
  std::string body = text.value_or("");
  if (auto tail = query.get("tailLines"); !tail.empty()) {
    long n = 0;
    std::from_chars(tail.data(), tail.data() + tail.size(), n);
    std::size_t pos = body.size();
    long seen = 0;
    if (!body.empty() && body.back() == '\n') --pos;
    while (pos > 0 && seen < n) {
      --pos;
      if (body[pos] == '\n') ++seen;
    }
    if (seen == n && pos < body.size()) body = body.substr(body[pos] == '\n' ? pos + 1 : pos);
  }
  if (auto limit = query.get("limitBytes"); !limit.empty()) {
    std::size_t n = body.size();
    std::from_chars(limit.data(), limit.data() + limit.size(), n);
    if (body.size() > n) body.resize(n);
  }
  return text_response(200, std::move(body), keep);
}

Response handle_get(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table,
                    bool keep) {
  json obj;
  {
    std::lock_guard lock(impl.mu);
    auto& store = impl.objects[r.resource];
    auto it = store.find(r.ns + "/" + r.name);
    if (it != store.end()) obj = it->second;
    if (r.kind == "Namespace") {
      auto known = known_namespaces(impl);
      if (auto ns = known.find("/" + r.name); ns != known.end()) obj = ns->second;
    }
  }
  if (obj.is_null()) return status_response(not_found_status(r.type->group, r.type->plural, r.name), keep);
  if (!table.empty()) {
    json t = make_table(*r.type, {obj}, table, query.get("includeObject"), impl.now_seconds());
    t["metadata"]["resourceVersion"] = obj["metadata"].value("resourceVersion", "");
    return json_response(200, t, keep);
  }
  return json_response(200, obj, keep);
}

// The resource's plural, which decides the field labels it supports ("pods", "events").
std::string plural_of(const Route& r) {
  return r.resource.substr(r.resource.rfind('/') + 1);
}

Response handle_list(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table,
                     const MetadataView& view, bool keep, bool protobuf) {
  if (view.refused) {
    // The Go type of the list in the message: the internal package's name (apps, batch, core),
    // unstructured for custom resources. Indented, as the real one is.
    const std::string package = r.type->custom          ? std::string("unstructured")
                                : r.type->group.empty() ? std::string("core")
                                                        : r.type->group.substr(0, r.type->group.find('.'));
    const std::string go_type = "*" + package + "." + (r.type->custom ? std::string("Unstructured") : r.kind) + "List";
    Response res = json_response(406, json::object(), keep);
    res.body() =
        status_body(406, "NotAcceptable",
                    "you requested PartialObjectMetadata, but the requested object is a list (" + go_type + ")")
            .dump(2);
    res.prepare_payload();
    return res;
  }
  std::uint64_t snapshot_rv = 0;
  std::string start_after;
  if (auto cont = query.get("continue"); !cont.empty()) {
    auto decoded = base64url_decode(cont);
    json token = decoded ? json::parse(*decoded, nullptr, false) : json();
    if (!decoded || token.is_discarded() || !token.is_object() || token.value("v", "") != "meta.k8s.io/v1" ||
        !token.contains("rv") || !token["rv"].is_number_unsigned() || !token.contains("start") ||
        !token["start"].is_string()) {
      return json_response(400, bad_request("invalid continue token"), keep);
    }
    snapshot_rv = token["rv"].get<std::uint64_t>();
    start_after = token["start"].get<std::string>();
    bool gone = false;
    {
      std::lock_guard lock(impl.mu);
      gone = snapshot_rv < impl.compacted_rv;
    }
    if (gone) {
      return json_response(
          410,
          status_body(410, "Expired",
                      "The provided continue parameter is too old to display a consistent list result."),
          keep);
    }
  }
  auto selector = parse_label_selector(query.get("labelSelector"));
  if (!selector) return json_response(400, bad_request(selector.error().message), keep);
  auto fields = parse_field_selector(query.get("fieldSelector"), plural_of(r));
  if (!fields) return json_response(400, bad_request(fields.error().message), keep);
  std::size_t limit = 0;
  if (auto l = query.get("limit"); !l.empty()) std::from_chars(l.data(), l.data() + l.size(), limit);
  // resourceVersion=0 without a continue token is served from the watch cache, which ignores
  // `limit`: the whole list in one body (shouldDelegateList, k8s.io/apiserver/pkg/storage/cacher/
  // cacher.go, v1.26; ../shared/k8s-fixtures/04-list-pods-rv0-from-cache-200.json).
  if (query.get("resourceVersion") == "0" && query.get("continue").empty()) limit = 0;
  json items = json::array();
  std::vector<json> objects;
  std::string next_start;
  std::size_t remaining = 0;
  {
    std::lock_guard lock(impl.mu);
    if (snapshot_rv == 0) snapshot_rv = impl.rv;
    std::map<std::string, json> namespaces;
    for (const auto& [k, obj] : stored_objects(impl, r, namespaces)) {
      if (!r.ns.empty() && obj["metadata"].value("namespace", "") != r.ns) continue;
      // Filtered before paging, as etcd3's store does.
      if (!selector->matches(obj) || !fields->matches(obj)) continue;
      if (!start_after.empty() && k <= start_after) continue;
      if (limit > 0 && items.size() == limit) {
        ++remaining;
        continue;
      }
      if (!table.empty()) objects.push_back(obj);
      if (!view.as.empty()) {
        items.push_back(partial_metadata(obj));  // each item says its kind (12-list-replicasets-metadata-rv0)
        next_start = k;
        continue;
      }
      json item = obj;
      item.erase("kind");  // list items carry no kind/apiVersion (02-list-pods-limit3-page1)
      item.erase("apiVersion");
      items.push_back(std::move(item));
      next_start = k;
    }
  }
  json list = list_body(r.kind + "List", r.api_version, snapshot_rv, std::move(items));
  if (r.type->custom) list["kind"] = r.type->list_kind;
  if (!view.as.empty()) {
    list["kind"] = "PartialObjectMetadataList";
    list["apiVersion"] = "meta.k8s.io/v1";
  }
  if (remaining > 0) {
    list["metadata"]["continue"] = continue_token(snapshot_rv, next_start);
    list["metadata"]["remainingItemCount"] = remaining;
  } else if (r.type->custom) {
    list["metadata"]["continue"] = "";  // CR lists serialize the empty continue (06-list-widgets)
  }
  if (!table.empty()) {
    json t = make_table(*r.type, objects, table, query.get("includeObject"), impl.now_seconds());
    t["metadata"] = list["metadata"];
    if (t["metadata"].value("continue", "").empty()) t["metadata"].erase("continue");
    return json_response(200, t, keep);
  }
  if (protobuf && r.kind == "Pod" && view.as.empty()) {
    // tests/data/k8s/pb/list-exact.pb: the same list in protobuf (pod_protobuf.hpp says what of it).
    Response res = json_response(200, json::object(), keep);
    res.set(http::field::content_type, "application/vnd.kubernetes.protobuf");
    res.body() = encode_pod_list_protobuf(list);
    res.prepare_payload();
    return res;
  }
  return json_response(200, list, keep);
}

}  // namespace crashdiag::fake::detail
