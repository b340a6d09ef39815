// The fake apiserver's writes (declared in fake_internal.hpp): decoding, pruning and validation,
// create, update, JSON/merge/strategic patches, server-side apply with managedFields, delete,
// NamespaceLifecycle's refusals, generated names, and handle_resource, which dispatches every
// non-watch request on a resource path to the reads or the writes.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_status.hpp"
#include "crashdiag/model/yaml_json.hpp"
#include "crd_schema.hpp"
#include "fake_internal.hpp"
#include "managed_fields.hpp"
#include "resources.hpp"

namespace crashdiag::fake::detail {

namespace {

// etcd's default --max-request-bytes (1.5 MiB): a larger write fails in etcd and the apiserver
// answers 500 "etcdserver: request is too large", no reason (tests/data/k8s-real/
// 22-create-podtemplate-2mib-etcd-too-large.http). The real request is the protobuf object plus
// the key; the fake measures the stored JSON, which is larger, so it refuses a little earlier.
constexpr std::size_t kEtcdMaxRequestBytes = std::size_t{1536} * 1024;

// ---- writes ---------------------------------------------------------------------------------
//
// Plain functions (no co_await): create, update, patch, apply and delete as the apiserver's
// generic registry runs them - decode, preconditions, strategy (PrepareForCreate/Update), field
// pruning, validation, managedFields, then the storage write, which is skipped when nothing
// changed (a no-op update keeps the resourceVersion and sends no watch event).

struct WriteContext {
  FakeApiServer::Impl& impl;
  const Route& r;
  const ResourceType& t;
  const Query& query;
  std::string manager;  // fieldManager, else the User-Agent's product (prefixFromUserAgent)
  std::string now;
  bool dry_run = false;
  std::vector<std::string> warnings;
};

Response write_response(const WriteContext& ctx, int code, const json& body, bool keep) {
  Response res = json_response(code, body, keep);
  for (const auto& w : ctx.warnings) {
    // RFC 7234 warn-text, as the apiserver's warning recorder writes it.
    std::string text;
    for (char c : w) {
      if (c == '"' || c == '\\') text.push_back('\\');
      text.push_back(c);
    }
    res.insert(http::field::warning, "299 - \"" + text + "\"");
  }
  return res;
}

FieldScope scope_for(const ResourceType& t, const std::string& sub) {
  if (sub == "status") return FieldScope::kStatusOnly;
  return t.status_subresource ? FieldScope::kAllButStatus : FieldScope::kAll;
}

std::string product_of(const std::string& user_agent) {
  std::string m = user_agent.substr(0, user_agent.find('/'));
  if (m.size() > 128) m.resize(128);
  return m;
}

// `<Kind> in version "<v>" cannot be handled as a <Kind>: <why>` - the decoder's 400.
json decode_error(const ResourceType& t, const std::string& why) {
  return bad_request(t.kind + " in version " + go_quote(t.version) + " cannot be handled as a " + t.kind + ": " + why);
}

std::string go_json_type(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  return "object";
}

// encoding/json's wording for a syntax error: "unexpected end of JSON input" when the text stops
// early (05-create-pod-malformed-json-400), else the offending character.
std::string go_json_syntax_error(const std::string& text) {
  try {
    const json parsed = json::parse(text);
    if (parsed.is_discarded()) return "unexpected end of JSON input";
  } catch (const json::parse_error& e) {
    if (e.byte >= text.size() + 1 || text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return "unexpected end of JSON input";
    }
    const char c = e.byte >= 1 && e.byte <= text.size() ? text[e.byte - 1] : '?';
    return std::string("invalid character '") + c + "' looking for beginning of value";
  } catch (const std::exception& e) {
    return e.what();
  }
  return "unexpected end of JSON input";
}

// The body of a create or update: JSON (or YAML), the object's kind and apiVersion defaulted
// from the URL and checked against it.
std::optional<json> decode_object(const WriteContext& ctx, const Request& req, json& error) {
  const std::string content_type(req[http::field::content_type]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  std::optional<json> body;
  if (media.empty() || media == "application/json") {
    json parsed = json::parse(req.body(), nullptr, false);
    if (parsed.is_discarded()) {
      const std::string snippet = req.body().size() <= 30 ? req.body() : req.body().substr(0, 30) + " ...";
      error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind +
                          "): couldn't get version/kind; json parse error: " + go_json_syntax_error(req.body()) + " (" +
                          snippet + ")");
      return std::nullopt;
    }
    body = std::move(parsed);
  } else if (media == "application/yaml") {
    std::string why;
    body = yaml_to_json(req.body(), &why);
    if (!body) {
      error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind + "): " + why);
      return std::nullopt;
    }
  } else {
    error =
        status_body(415, "UnsupportedMediaType",
                    std::string("the body of the request was in an unknown format - accepted media types include: ") +
                        (ctx.t.custom ? "application/json, application/yaml"
                                      : "application/json, application/yaml, application/vnd.kubernetes.protobuf"));
    return std::nullopt;
  }
  if (!body->is_object()) {
    error =
        decode_error(ctx.t, "json: cannot unmarshal " + go_json_type(*body) + " into Go value of type " + ctx.t.kind);
    return std::nullopt;
  }
  const std::string api_version = body->value("apiVersion", ctx.t.api_version());
  if (api_version != ctx.t.api_version()) {
    error = bad_request("the API version in the data (" + api_version + ") does not match the expected API version (" +
                        ctx.t.api_version() + ")");
    return std::nullopt;
  }
  const std::string kind = body->value("kind", ctx.t.kind);
  if (kind != ctx.t.kind) {
    // The decoder cannot turn another kind into this one (approximation of its message).
    error = bad_request("the object provided is unrecognized (must be of type " + ctx.t.kind + "): no kind " +
                        go_quote(kind) + " is registered for the endpoint of " + ctx.t.kind);
    return std::nullopt;
  }
  (*body)["apiVersion"] = ctx.t.api_version();
  (*body)["kind"] = ctx.t.kind;
  if (!body->contains("metadata") || !(*body)["metadata"].is_object()) (*body)["metadata"] = json::object();
  return body;
}

// Field validation (fieldValidation=Strict|Warn|Ignore, default Warn): what the schema does not
// declare is dropped; Strict makes it a 400, Warn a Warning header. Built-ins only get their
// ObjectMeta checked here (the fake has no schema for them).
std::optional<json> prune_fields(WriteContext& ctx, json& obj, bool patch) {
  std::vector<std::string> unknown;
  if (ctx.t.crd) {
    prune_unknown(ctx.t.crd->schema, obj, unknown);
  } else {
    json schema = json::object();
    schema["x-kubernetes-preserve-unknown-fields"] = true;
    prune_unknown(schema, obj, unknown);
  }
  if (unknown.empty()) return std::nullopt;
  std::sort(unknown.begin(), unknown.end());
  const std::string mode = ctx.query.get("fieldValidation");
  if (mode == "Ignore") return std::nullopt;
  if (mode == "Strict") {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + std::string("unknown field ") + go_quote(u);
    // Patches report the strict decoding error bare; creates and updates through the decoder.
    return patch ? bad_request("strict decoding error: " + list)
                 : decode_error(ctx.t, "strict decoding error: " + list);
  }
  for (const auto& u : unknown) ctx.warnings.push_back("unknown field " + go_quote(u));
  return std::nullopt;
}

// Typed fields of the built-ins crashdiag writes, as their Go structs decode them: label and
// annotation values are strings; Lease and Event times are metav1.Time (RFC 3339, stored to the
// second) and metav1.MicroTime (exactly six fractional digits, "2006-01-02T15:04:05.000000Z07:00").
std::optional<json> decode_typed_fields(const ResourceType& t, json& obj) {
  for (const char* map : {"labels", "annotations"}) {
    if (!obj["metadata"].contains(map) || obj["metadata"][map].is_null()) continue;
    if (!obj["metadata"][map].is_object()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(obj["metadata"][map]) +
                                 " into Go struct field ObjectMeta.metadata." + map + " of type map[string]string");
    }
    for (const auto& [k, v] : obj["metadata"][map].items()) {
      if (!v.is_string()) {
        return decode_error(t, "json: cannot unmarshal " + go_json_type(v) +
                                   " into Go struct field ObjectMeta.metadata." + map + " of type string");
      }
    }
  }
  auto time_field = [&](json& parent, const std::string& key, const std::string& go_field,
                        bool micro) -> std::optional<json> {
    if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return std::nullopt;
    if (!parent[key].is_string()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(parent[key]) + " into Go struct field " +
                                 go_field + " of type string");
    }
    const std::string s = parent[key].get<std::string>();
    auto ts = parse_rfc3339(s);
    if (!ts || (micro && ts->fraction_digits != 6)) {
      const std::string layout = micro ? "2006-01-02T15:04:05.000000Z07:00" : "2006-01-02T15:04:05Z07:00";
      const std::string rest = s.size() > 19 ? s.substr(19) : s;
      return decode_error(t, "parsing time " + go_quote(s) + " as " + go_quote(layout) + ": cannot parse " +
                                 go_quote(ts || s.size() > 19 ? rest : s) + " as " +
                                 go_quote(ts || s.size() > 19 ? (micro ? ".000000" : "Z07:00") : "2006"));
    }
    parent[key] = format_rfc3339(*ts, micro ? 6 : 0);
    return std::nullopt;
  };
  auto int_field = [&](json& parent, const std::string& key, const std::string& go_field) -> std::optional<json> {
    if (!parent.is_object() || !parent.contains(key) || parent[key].is_null() || parent[key].is_number_integer()) {
      return std::nullopt;
    }
    return decode_error(t, "json: cannot unmarshal " + go_json_type(parent[key]) + " into Go struct field " + go_field +
                               " of type int32");
  };
  if (t.kind == "Lease" && obj.contains("spec")) {
    json& spec = obj["spec"];
    if (!spec.is_object())
      return decode_error(
          t, "json: cannot unmarshal " + go_json_type(spec) + " into Go struct field Lease.spec of type v1.LeaseSpec");
    if (spec.contains("holderIdentity") && !spec["holderIdentity"].is_null() && !spec["holderIdentity"].is_string()) {
      return decode_error(t, "json: cannot unmarshal " + go_json_type(spec["holderIdentity"]) +
                                 " into Go struct field LeaseSpec.spec.holderIdentity of type string");
    }
    for (const char* k : {"leaseDurationSeconds", "leaseTransitions"}) {
      if (auto e = int_field(spec, k, std::string("LeaseSpec.spec.") + k)) return e;
    }
    for (const char* k : {"acquireTime", "renewTime"}) {
      if (auto e = time_field(spec, k, std::string("LeaseSpec.spec.") + k, true)) return e;
    }
  }
  if (t.kind == "Event") {
    for (const char* k : {"firstTimestamp", "lastTimestamp"}) {
      if (auto e = time_field(obj, k, std::string("Event.") + k, false)) return e;
    }
    if (auto e = time_field(obj, "eventTime", "Event.eventTime", true)) return e;
    if (obj.contains("series") && obj["series"].is_object()) {
      if (auto e = time_field(obj["series"], "lastObservedTime", "EventSeries.series.lastObservedTime", true)) return e;
    }
    if (auto e = int_field(obj, "count", "Event.count")) return e;
  }
  return std::nullopt;
}

// ValidateEvent for core/v1 (legacy events without eventTime, and new-style ones with it).
void validate_event(const json& ev, std::vector<FieldError>& errors) {
  const std::string ns = ev["metadata"].value("namespace", "");
  const json involved =
      ev.contains("involvedObject") && ev["involvedObject"].is_object() ? ev["involvedObject"] : json::object();
  const std::string involved_ns = involved.value("namespace", "");
  const bool has_event_time = ev.contains("eventTime") && !ev["eventTime"].is_null();
  const FieldError mismatch{FieldError::Type::kInvalid, "involvedObject.namespace", involved_ns, std::nullopt,
                            "does not match event.namespace"};
  if (!has_event_time) {
    if (involved_ns.empty() ? !(ns.empty() || ns == "default") : ns != involved_ns) errors.push_back(mismatch);
    return;
  }
  if (involved_ns.empty() && ns != "default" && ns != "kube-system") errors.push_back(mismatch);
  auto required = [&](const char* key, const char* field, std::size_t limit) {
    const std::string v = ev.value(key, "");
    if (v.empty()) errors.push_back({FieldError::Type::kRequired, field, nullptr, std::nullopt, ""});
    if (limit > 0 && v.size() > limit) {
      errors.push_back({FieldError::Type::kInvalid, field, "", std::nullopt,
                        "can have at most " + std::to_string(limit) + " characters"});
    }
  };
  required("reportingComponent", "reportingComponent", 0);
  for (const auto& m : qualified_name_errors(ev.value("reportingComponent", ""))) {
    if (!ev.value("reportingComponent", "").empty()) {
      errors.push_back(
          {FieldError::Type::kInvalid, "reportingComponent", ev.value("reportingComponent", ""), std::nullopt, m});
    }
  }
  required("reportingInstance", "reportingInstance", 128);
  required("action", "action", 128);
  required("reason", "reason", 128);
  if (ev.value("message", "").size() > 1024) {
    errors.push_back({FieldError::Type::kInvalid, "message", "", std::nullopt, "can have at most 1024 characters"});
  }
}

}  // namespace

// Validation on every write: ObjectMeta, then the type's own rules (the CRD's schema for
// custom resources).
std::vector<FieldError> validate_object(const ResourceType& t, const json& obj, bool creating) {
  std::vector<FieldError> errors;
  validate_object_meta(obj["metadata"], creating, errors);
  if (t.crd) validate_schema(t.crd->schema, obj, errors);
  if (t.kind == "Pod") {
    if (!obj.contains("spec") || !obj["spec"].contains("containers") || !obj["spec"]["containers"].is_array() ||
        obj["spec"]["containers"].empty()) {
      errors.push_back({FieldError::Type::kRequired, "spec.containers", nullptr, std::nullopt, ""});
    }
  }
  if (t.kind == "Event") validate_event(obj, errors);
  if (t.kind == "Lease" && obj.contains("spec") && obj["spec"].is_object()) {
    const json& spec = obj["spec"];
    if (spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer() &&
        spec["leaseDurationSeconds"].get<std::int64_t>() <= 0) {
      errors.push_back({FieldError::Type::kInvalid, "spec.leaseDurationSeconds", spec["leaseDurationSeconds"],
                        std::nullopt, "must be greater than 0"});
    }
    if (spec.contains("leaseTransitions") && spec["leaseTransitions"].is_number_integer() &&
        spec["leaseTransitions"].get<std::int64_t>() < 0) {
      errors.push_back({FieldError::Type::kInvalid, "spec.leaseTransitions", spec["leaseTransitions"], std::nullopt,
                        "must be greater than or equal to 0"});
    }
  }
  return errors;
}

namespace {

json pod_initial_status(const json& pod) {
  // PrepareForCreate: phase Pending and the QoS class of the requests and limits.
  bool any = false;
  bool guaranteed = true;
  if (pod.contains("spec") && pod["spec"].contains("containers") && pod["spec"]["containers"].is_array()) {
    for (const auto& c : pod["spec"]["containers"]) {
      const json res = c.contains("resources") && c["resources"].is_object() ? c["resources"] : json::object();
      const json req = res.contains("requests") ? res["requests"] : json::object();
      const json lim = res.contains("limits") ? res["limits"] : json::object();
      if (!req.empty() || !lim.empty()) any = true;
      for (const char* r : {"cpu", "memory"}) {
        if (!lim.contains(r) || (req.contains(r) && req[r] != lim[r])) guaranteed = false;
      }
    }
  }
  json status = json::object();
  status["phase"] = "Pending";
  status["qosClass"] = !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
  return status;
}

// rest.BeforeCreate + the type's PrepareForCreate.
void prepare_for_create(WriteContext& ctx, json& obj) {
  json& meta = obj["metadata"];
  if (ctx.t.namespaced) meta["namespace"] = ctx.r.ns;
  meta["uid"] = ctx.impl.new_uid();
  meta["creationTimestamp"] = ctx.now;
  for (const char* k : {"deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) meta.erase(k);
  if (ctx.t.has_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  if (ctx.t.status_subresource) {
    if (ctx.t.custom) {
      obj.erase("status");  // the status subresource owns it: dropped on create
    } else if (ctx.t.kind == "Pod") {
      obj["status"] = pod_initial_status(obj);
    } else {
      obj["status"] = json::object();
    }
  }
}

json without_meta_and_status(json obj) {
  obj.erase("metadata");
  obj.erase("status");
  return obj;
}

// rest.BeforeUpdate + the type's PrepareForUpdate: system metadata comes from the stored object;
// the main resource cannot change .status when a status subresource exists, and the status
// subresource changes nothing but .status (pods also take labels and annotations there).
// generation moves with every change outside metadata and status.
void prepare_for_update(const WriteContext& ctx, const json& old, json& obj, const std::string& sub) {
  if (sub == "status") {
    json next = old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    if (ctx.t.kind == "Pod") {
      for (const char* k : {"labels", "annotations"}) {
        if (obj["metadata"].contains(k)) {
          next["metadata"][k] = obj["metadata"][k];
        } else {
          next["metadata"].erase(k);
        }
      }
    }
    obj = std::move(next);
    return;
  }
  json& meta = obj["metadata"];
  const json& old_meta = old["metadata"];
  for (const char* k : {"name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "managedFields", "resourceVersion"}) {
    if (old_meta.contains(k)) {
      meta[k] = old_meta[k];
    } else {
      meta.erase(k);
    }
  }
  meta.erase("selfLink");
  if (ctx.t.status_subresource) {
    if (old.contains("status")) {
      obj["status"] = old["status"];
    } else {
      obj.erase("status");
    }
  }
  if (ctx.t.has_generation && without_meta_and_status(obj) != without_meta_and_status(old)) {
    meta["generation"] = old_meta.value("generation", 0) + 1;
  }
}

}  // namespace

json optimistic_lock_conflict(const ResourceType& t, const std::string& name) {
  return conflict_status(t.group, t.plural, name,
                         "the object has been modified; please apply your changes to the latest version and try again");
}

namespace {

// metadata.resourceVersion and metadata.uid in a body are preconditions.
std::optional<json> check_preconditions(const ResourceType& t, const json& meta, const json& old) {
  const json& old_meta = old["metadata"];
  if (meta.contains("uid") && meta["uid"].is_string() && !meta["uid"].get<std::string>().empty() &&
      meta["uid"] != old_meta.value("uid", "")) {
    return conflict_status(t.group, t.plural, old_meta.value("name", ""),
                           "Precondition failed: UID in precondition: " + meta["uid"].get<std::string>() +
                               ", UID in object meta: " + old_meta.value("uid", ""));
  }
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string() &&
      !meta["resourceVersion"].get<std::string>().empty() &&
      meta["resourceVersion"] != old_meta.value("resourceVersion", "")) {
    return optimistic_lock_conflict(t, old_meta.value("name", ""));
  }
  return std::nullopt;
}

bool same_ignoring_times(json a, json b) {
  for (json* o : {&a, &b}) {
    if (!(*o)["metadata"].contains("managedFields")) continue;
    for (auto& e : (*o)["metadata"]["managedFields"]) e.erase("time");
  }
  return a == b;
}

// The storage write's own limit (kEtcdMaxRequestBytes).
bool too_large_for_etcd(const json& obj) {
  return obj.dump(-1, ' ', false, json::error_handler_t::replace).size() > kEtcdMaxRequestBytes;
}

json etcd_too_large() {
  return status_body(500, "", "etcdserver: request is too large");
}

// The end of every update: managedFields, the no-op check, then the write (unless dryRun).
Response commit_update(WriteContext& ctx, const json& old, json obj, const std::vector<ManagerEntry>& managers,
                       bool keep) {
  if (managers.empty()) {
    obj["metadata"].erase("managedFields");
  } else {
    obj["metadata"]["managedFields"] = encode_managed_fields(managers);
  }
  if (same_ignoring_times(old, obj)) return write_response(ctx, 200, old, keep);  // no-op: no write, no event
  if (ctx.dry_run) return write_response(ctx, 200, obj, keep);
  if (too_large_for_etcd(obj)) return status_response(etcd_too_large(), keep);
  ctx.impl.change(ctx.r.resource, "MODIFIED", obj);
  return write_response(ctx, 200, ctx.impl.objects[ctx.r.resource][key_of(obj)], keep);
}

// NamespaceLifecycle admission, which looks at creates only: into a namespace being terminated
// 403 Forbidden (cause NamespaceTerminating), into one that is gone 404 for the namespace
// (staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go, v1.26;
// tests/data/k8s-real/20-terminating-*-403 and 21-gone-*-404). It runs as admission, before the
// object is validated. Caller holds mu.
std::optional<json> namespace_refusal(const WriteContext& ctx, const std::string& name) {
  if (!ctx.t.namespaced || ctx.r.ns.empty()) return std::nullopt;
  auto it = ctx.impl.namespace_states.find(ctx.r.ns);
  if (it == ctx.impl.namespace_states.end() || it->second == NamespaceState::kActive) return std::nullopt;
  if (it->second == NamespaceState::kTerminating) {
    return namespace_terminating_status(ctx.t.group, ctx.t.plural, name, ctx.r.ns);
  }
  return not_found_status("", "namespaces", ctx.r.ns);
}

Response commit_create(WriteContext& ctx, json obj, bool keep) {
  auto& store = ctx.impl.objects[ctx.r.resource];
  if (store.count(key_of(obj)) > 0) {
    return status_response(already_exists_status(ctx.t.group, ctx.t.plural, obj["metadata"].value("name", "")), keep);
  }
  if (ctx.dry_run) return write_response(ctx, 201, obj, keep);
  if (too_large_for_etcd(obj)) return status_response(etcd_too_large(), keep);
  ctx.impl.change(ctx.r.resource, "ADDED", obj);
  return write_response(ctx, 201, store[key_of(obj)], keep);
}

ManagerEntry update_identity(const WriteContext& ctx, const std::string& operation) {
  ManagerEntry who;
  who.manager = ctx.manager;
  who.operation = operation;
  who.subresource = ctx.r.sub == "status" ? "status" : "";
  who.api_version = ctx.t.api_version();
  who.time = ctx.now;
  return who;
}

std::string generated_name(FakeApiServer::Impl& impl, const std::string& prefix) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";  // utilrand.String's
  std::string out = prefix;
  for (int i = 0; i < 5; ++i) out.push_back(kAlphabet[impl.rng() % kAlphabet.size()]);
  return out;
}

// Create (POST, and PUT of a missing object where the type allows it). Caller holds mu.
Response create_object(WriteContext& ctx, json obj, bool keep) {
  json& meta = obj["metadata"];
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string() &&
      !meta["resourceVersion"].get<std::string>().empty() && ctx.r.name.empty()) {
    // The storage layer's refusal: a plain error, so 500 without a reason.
    return status_response(status_body(500, "", "resourceVersion should not be set on objects to be created"), keep);
  }
  meta.erase("resourceVersion");
  meta.erase("managedFields");
  if (meta.value("name", "").empty() && !meta.value("generateName", "").empty()) {
    meta["name"] = generated_name(ctx.impl, meta["generateName"].get<std::string>());
  }
  if (auto refused = namespace_refusal(ctx, meta.value("name", ""))) return status_response(*refused, keep);
  if (auto err = prune_fields(ctx, obj, false)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  prepare_for_create(ctx, obj);
  auto errors = validate_object(ctx.t, obj, true);
  if (!errors.empty()) {
    return status_response(invalid_status(ctx.t.group, ctx.t.kind, obj["metadata"].value("name", ""), errors), keep);
  }
  auto managers = update_managers(json::object(), obj, scope_for(ctx.t, ""), {}, update_identity(ctx, "Update"));
  if (!managers.empty()) obj["metadata"]["managedFields"] = encode_managed_fields(managers);
  return commit_create(ctx, std::move(obj), keep);
}

Response handle_create(WriteContext& ctx, const Request& req, bool keep) {
  if (!ctx.r.name.empty() || (ctx.t.namespaced && ctx.r.ns.empty())) {
    return status_response(method_not_allowed(), keep);  // 05-post-to-pod-item-405
  }
  json error;
  auto obj = decode_object(ctx, req, error);
  if (!obj) return status_response(error, keep);
  const std::string ns = (*obj)["metadata"].value("namespace", ctx.r.ns);
  if (ns != ctx.r.ns) {
    return json_response(
        400, bad_request("the namespace of the provided object does not match the namespace sent on the request"),
        keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  return create_object(ctx, std::move(*obj), keep);
}

std::optional<json> check_name(const json& meta, const Route& r) {
  const std::string name = meta.value("name", "");
  if (name != r.name) {
    return bad_request("the name of the object (" + name + ") does not match the name on the URL (" + r.name + ")");
  }
  const std::string ns = meta.value("namespace", "");
  if (!ns.empty() && ns != r.ns) {
    return bad_request("the namespace of the object (" + ns + ") does not match the namespace on the request (" + r.ns +
                       ")");
  }
  return std::nullopt;
}

Response handle_update(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty()) return status_response(method_not_allowed(), keep);
  json error;
  auto obj = decode_object(ctx, req, error);
  if (!obj) return status_response(error, keep);
  if (auto err = check_name((*obj)["metadata"], ctx.r)) return status_response(*err, keep);
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) {
    if (ctx.t.allow_create_on_update && ctx.r.sub.empty()) {
      (*obj)["metadata"].erase("resourceVersion");
      return create_object(ctx, std::move(*obj), keep);
    }
    return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  }
  const json old = it->second;
  const json& meta = (*obj)["metadata"];
  if (!ctx.t.allow_unconditional_update && meta.value("resourceVersion", "").empty()) {
    // The registry's message names the resource, not the kind (09-update-lease-without-rv-422).
    FieldError e{FieldError::Type::kInvalid, "metadata.resourceVersion", 0, std::string("0x0"),
                 "must be specified for an update"};
    return status_response(invalid_status(ctx.t.group, ctx.t.plural, ctx.r.name, {e}), keep);
  }
  if (auto err = check_preconditions(ctx.t, meta, old)) return status_response(*err, keep);
  if (auto err = prune_fields(ctx, *obj, false)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, *obj)) return status_response(*err, keep);
  prepare_for_update(ctx, old, *obj, ctx.r.sub);
  auto errors = validate_object(ctx.t, *obj, false);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  auto managers = update_managers(old, *obj, scope_for(ctx.t, ctx.r.sub),
                                  decode_managed_fields(old["metadata"].value("managedFields", json::array())),
                                  update_identity(ctx, "Update"));
  return commit_update(ctx, old, std::move(*obj), managers, keep);
}

// Integral floats become integers, as the apply decoder's YAML -> JSON -> unstructured round
// trip makes them (1.0 is stored as 1).
void normalize_numbers(json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -9e15 && d < 9e15) {
      v = static_cast<std::int64_t>(d);
    }
  } else if (v.is_structured()) {
    for (auto& item : v) normalize_numbers(item);
  }
}

void drop_nulls(json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (it->is_null()) {
        it = v.erase(it);
      } else {
        drop_nulls(*it);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& item : v) drop_nulls(item);
  }
}

// Server-side apply (application/apply-patch+yaml).
Response handle_apply(WriteContext& ctx, const Request& req, bool keep) {
  std::optional<json> config;
  const std::string& body = req.body();
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '{') {
    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) config = std::move(parsed);
  }
  if (!config) {
    std::string why;
    config = yaml_to_json(body, &why);
    if (!config) return status_response(bad_request("error decoding YAML: " + why), keep);
  }
  if (!config->is_object()) {
    return status_response(bad_request("error decoding YAML: json: cannot unmarshal " + go_json_type(*config) +
                                       " into Go value of type map[string]interface {}"),
                           keep);
  }
  normalize_numbers(*config);
  drop_nulls(*config);
  if (!config->contains("metadata") || !(*config)["metadata"].is_object()) (*config)["metadata"] = json::object();
  json& meta = (*config)["metadata"];
  if (meta.contains("managedFields")) return status_response(bad_request("metadata.managedFields must be nil"), keep);
  const std::string api_version = config->value("apiVersion", "");
  if (api_version != ctx.t.api_version()) {
    return status_response(bad_request("Incorrect version specified in apply patch. Specified patch version: " +
                                       api_version + ", expected: " + ctx.t.api_version()),
                           keep);
  }
  const std::string kind = config->value("kind", "");
  if (kind != ctx.t.kind) {
    // Approximation: the real apiserver fails decoding the applied object as this kind.
    return status_response(bad_request("the kind in the apply patch (" + kind + ") does not match the kind of " +
                                       qualified_resource(ctx.t.group, ctx.t.plural) + " (" + ctx.t.kind + ")"),
                           keep);
  }
  if (auto err = check_name(meta, ctx.r)) return status_response(*err, keep);
  if (ctx.t.crd) {
    // structured-merge-diff converts the configuration with the CRD's schema first: a field the
    // schema does not declare (or a wrong type) fails the whole apply - with a plain error, so
    // 500 without a reason, whatever fieldValidation says (kubernetes/kubernetes#122480).
    auto errs = typed_conversion_errors(ctx.t.crd->schema, *config);
    if (!errs.empty()) {
      std::string text = errs.size() == 1 ? errs[0] : "errors:";
      if (errs.size() > 1) {
        for (const auto& e : errs) text += "\n  " + e;
      }
      return status_response(status_body(500, "",
                                         "failed to create typed patch object (" + ctx.r.ns + "/" + ctx.r.name + "; " +
                                             ctx.t.api_version() + ", Kind=" + ctx.t.kind + "): " + text),
                             keep);
    }
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  const bool creating = it == store.end();
  if (creating && ctx.r.sub == "status") {
    return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  }
  if (creating) {
    if (auto refused = namespace_refusal(ctx, ctx.r.name)) return status_response(*refused, keep);
  }
  const json old = creating ? json::object() : it->second;
  if (!creating) {
    if (auto err = check_preconditions(ctx.t, meta, old)) return status_response(*err, keep);
  }
  meta.erase("resourceVersion");
  meta.erase("uid");
  const FieldScope scope = scope_for(ctx.t, ctx.r.sub);
  json live = old;
  if (!creating) live["metadata"].erase("managedFields");
  auto managers = creating ? std::vector<ManagerEntry>{}
                           : decode_managed_fields(old["metadata"].value("managedFields", json::array()));
  ManagerEntry who = update_identity(ctx, "Apply");
  ApplyOutcome outcome = apply_config(live, *config, scope, std::move(managers), who, ctx.query.flag("force"));
  if (!outcome.conflicts.empty() && !ctx.query.flag("force")) {
    return status_response(apply_conflict_status(outcome.conflicts), keep);
  }
  json obj = std::move(outcome.object);
  obj["apiVersion"] = ctx.t.api_version();
  obj["kind"] = ctx.t.kind;
  obj["metadata"]["name"] = ctx.r.name;
  if (ctx.t.namespaced) obj["metadata"]["namespace"] = ctx.r.ns;
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  if (creating) {
    prepare_for_create(ctx, obj);
  } else {
    prepare_for_update(ctx, old, obj, ctx.r.sub);
  }
  auto errors = validate_object(ctx.t, obj, creating);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  if (creating) {
    if (!outcome.managers.empty()) obj["metadata"]["managedFields"] = encode_managed_fields(outcome.managers);
    return commit_create(ctx, std::move(obj), keep);
  }
  return commit_update(ctx, old, std::move(obj), outcome.managers, keep);
}

json patch_decode_error(const std::string& body) {
  return bad_request("error decoding patch: " + go_json_syntax_error(body));  // 05-merge-patch-pod-malformed-json-400
}

Response handle_patch(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty()) return status_response(method_not_allowed(), keep);
  const std::string content_type(req[http::field::content_type]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  const bool apply = media == "application/apply-patch+yaml";
  // PatchOptions validation comes first (ValidatePatchOptions).
  if (apply && ctx.query.get("fieldManager").empty()) {
    FieldError e{FieldError::Type::kRequired, "fieldManager", nullptr, std::nullopt, "is required for apply patch"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (!apply && ctx.query.has("force")) {
    FieldError e{FieldError::Type::kForbidden, "force", nullptr, std::nullopt,
                 "may not be specified for non-apply patch"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (ctx.query.get("fieldManager").size() > 128) {
    FieldError e{FieldError::Type::kTooLong, "fieldManager", ctx.query.get("fieldManager"), std::nullopt,
                 "may not be longer than 128"};
    return status_response(invalid_status("meta.k8s.io", "PatchOptions", "", {e}), keep);
  }
  if (apply) return handle_apply(ctx, req, keep);
  const bool merge = media == "application/merge-patch+json";
  // Strategic merge patch is applied as a JSON merge patch: list items are not merged by key.
  const bool strategic = !ctx.t.custom && media == "application/strategic-merge-patch+json";
  const bool json_patch = media == "application/json-patch+json";
  if (!merge && !strategic && !json_patch) {
    return json_response(
        415,
        status_body(415, "UnsupportedMediaType",
                    std::string("the body of the request was in an unknown format - accepted media types include: ") +
                        (ctx.t.custom ? "application/json-patch+json, application/merge-patch+json, "
                                        "application/apply-patch+yaml"
                                      : "application/json-patch+json, application/merge-patch+json, "
                                        "application/strategic-merge-patch+json, application/apply-patch+yaml")),
        keep);
  }
  json patch = json::parse(req.body(), nullptr, false);
  if (patch.is_discarded()) return status_response(patch_decode_error(req.body()), keep);
  if (json_patch && !patch.is_array()) {
    return status_response(
        bad_request("json: cannot unmarshal " + go_json_type(patch) + " into Go value of type jsonpatch.Patch"), keep);
  }
  if (!json_patch && !patch.is_object()) {
    return status_response(bad_request("error decoding patch: json: cannot unmarshal " + go_json_type(patch) +
                                       " into Go value of type map[string]interface {}"),
                           keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  const json old = it->second;
  json obj = old;
  if (json_patch) {
    try {
      obj = old.patch(patch);
    } catch (const std::exception& e) {
      json details = json::object();
      json cause = json::object();
      cause["reason"] = "UnexpectedServerResponse";
      cause["message"] = e.what();
      details["causes"] = json::array({cause});
      return status_response(
          status_body(422, "Invalid", "the server rejected our request due to an error in our request", details), keep);
    }
  } else {
    obj.merge_patch(patch);
  }
  if (!obj.is_object()) return status_response(patch_decode_error(""), keep);
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  // A resourceVersion or uid the patch sets is a precondition (05-merge-patch-widget-stale-rv-409-conflict).
  if (auto err = check_preconditions(ctx.t, obj["metadata"], old)) return status_response(*err, keep);
  if (auto err = check_name(obj["metadata"], ctx.r)) return status_response(*err, keep);
  if (obj.value("apiVersion", "") != ctx.t.api_version() || obj.value("kind", "") != ctx.t.kind) {
    obj["apiVersion"] = ctx.t.api_version();
    obj["kind"] = ctx.t.kind;
  }
  if (auto err = prune_fields(ctx, obj, true)) return status_response(*err, keep);
  if (auto err = decode_typed_fields(ctx.t, obj)) return status_response(*err, keep);
  prepare_for_update(ctx, old, obj, ctx.r.sub);
  auto errors = validate_object(ctx.t, obj, false);
  if (!errors.empty()) return status_response(invalid_status(ctx.t.group, ctx.t.kind, ctx.r.name, errors), keep);
  auto managers = update_managers(old, obj, scope_for(ctx.t, ctx.r.sub),
                                  decode_managed_fields(old["metadata"].value("managedFields", json::array())),
                                  update_identity(ctx, "Update"));
  return commit_update(ctx, old, std::move(obj), managers, keep);
}

json delete_success(const ResourceType& t, const json& obj) {
  json details = json::object();
  details["name"] = obj["metadata"].value("name", "");
  if (!t.group.empty()) details["group"] = t.group;
  details["kind"] = t.plural;  // "Yes we set Kind field to resource." (06-delete-widget-w3)
  details["uid"] = obj["metadata"].value("uid", "");
  json s = json::object();
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = json::object();
  s["status"] = "Success";
  s["details"] = std::move(details);
  return s;
}

Response handle_delete(WriteContext& ctx, const Request& req, bool keep) {
  if (ctx.r.name.empty() || !ctx.r.sub.empty()) return status_response(method_not_allowed(), keep);
  json options = req.body().empty() ? json::object() : json::parse(req.body(), nullptr, false);
  if (options.is_discarded() || !options.is_object()) {
    return status_response(bad_request("the object provided is unrecognized (must be of type DeleteOptions)"), keep);
  }
  std::lock_guard lock(ctx.impl.mu);
  auto& store = ctx.impl.objects[ctx.r.resource];
  auto it = store.find(ctx.r.ns + "/" + ctx.r.name);
  if (it == store.end()) return status_response(not_found_status(ctx.t.group, ctx.t.plural, ctx.r.name), keep);
  json obj = it->second;
  if (options.contains("preconditions") && options["preconditions"].is_object()) {
    const json& pre = options["preconditions"];
    const json& meta = obj["metadata"];
    if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != meta.value("uid", "")) {
      return status_response(
          conflict_status(ctx.t.group, ctx.t.plural, ctx.r.name,
                          "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                              ", UID in object meta: " + meta.value("uid", "")),
          keep);
    }
    if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
        pre["resourceVersion"] != meta.value("resourceVersion", "")) {
      return status_response(
          conflict_status(
              ctx.t.group, ctx.t.plural, ctx.r.name,
              "Precondition failed: ResourceVersion in precondition: " + pre["resourceVersion"].get<std::string>() +
                  ", ResourceVersion in object meta: " + meta.value("resourceVersion", "")),
          keep);
    }
  }
  if (ctx.dry_run) return json_response(200, ctx.t.return_deleted_object ? obj : delete_success(ctx.t, obj), keep);
  const bool finalizers = obj["metadata"].contains("finalizers") && !obj["metadata"]["finalizers"].empty();
  if (finalizers || ctx.t.return_deleted_object) {
    // Graceful deletion: deletionTimestamp first (MODIFIED). With finalizers the object stays until
    // they are removed; pods go at once, as with gracePeriodSeconds=0 (03-action4-delete-pod-grace0).
    if (!obj["metadata"].contains("deletionTimestamp")) {
      obj["metadata"]["deletionTimestamp"] = ctx.now;
      obj["metadata"]["deletionGracePeriodSeconds"] = 0;
      ctx.impl.change(ctx.r.resource, "MODIFIED", obj);
      obj = store[key_of(obj)];
    }
    if (finalizers) return json_response(200, obj, keep);
  }
  ctx.impl.change(ctx.r.resource, "DELETED", obj);
  return json_response(200, ctx.t.return_deleted_object ? obj : delete_success(ctx.t, obj), keep);
}

}  // namespace

// Every non-watch request on a resource path. Never throws: anything unexpected is a 500 Status.
Response handle_resource(FakeApiServer::Impl& impl, const Route& r, const Request& req, const Query& query, bool keep) {
  try {
    const ResourceType& t = *r.type;
    if (!r.sub.empty() && !(r.sub == "status" && t.status_subresource) && !(r.sub == "log" && t.log_subresource)) {
      // pods/binding, deployments/scale, ...: not served by the fake.
      return status_response(resource_not_found(), keep);
    }
    const std::string accept(req[http::field::accept]);
    if (req.method() == http::verb::get) {
      if (r.sub == "log") return handle_logs(impl, r, query, keep);
      const std::string table = table_version(accept);
      if (!r.name.empty()) return handle_get(impl, r, query, table, keep);
      // Its errors are put in protobuf by the caller (serve, fake_server.cpp), as every pod error.
      return handle_list(impl, r, query, table, metadata_view(accept, true), keep, protobuf_preferred(accept));
    }
    if (r.sub == "log") return status_response(method_not_allowed(), keep);
    WriteContext ctx{impl, r, t, query, {}, impl.now(), query.get("dryRun") == "All", {}};
    ctx.manager =
        query.has("fieldManager") ? query.get("fieldManager") : product_of(std::string(req[http::field::user_agent]));
    const std::string validation = query.get("fieldValidation");
    if (!validation.empty() && validation != "Ignore" && validation != "Warn" && validation != "Strict") {
      const char* options_kind = req.method() == http::verb::post    ? "CreateOptions"
                                 : req.method() == http::verb::patch ? "PatchOptions"
                                                                     : "UpdateOptions";
      FieldError e{FieldError::Type::kNotSupported, "fieldValidation", validation, std::nullopt,
                   "supported values: \"Ignore\", \"Strict\", \"Warn\""};
      return status_response(invalid_status("meta.k8s.io", options_kind, "", {e}), keep);
    }
    switch (req.method()) {
      case http::verb::post:
        return handle_create(ctx, req, keep);
      case http::verb::put:
        return handle_update(ctx, req, keep);
      case http::verb::patch:
        return handle_patch(ctx, req, keep);
      case http::verb::delete_:
        return handle_delete(ctx, req, keep);
      default:
        return status_response(method_not_allowed(), keep);
    }
  } catch (const std::exception& e) {
    return status_response(status_body(500, "InternalError", std::string("Internal error occurred: ") + e.what()),
                           keep);
  }
}

}  // namespace crashdiag::fake::detail
