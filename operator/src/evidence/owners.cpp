// Which workload a failure belongs to, and whether its owner silenced it (issue 13 item 1: part
// of the evidence stage). The owner index (store/owner_watch.cpp) answers without a request; a
// GET, cached, only for what it has not seen. ReplicaSet -> Deployment and Job -> CronJob are
// the links walked: an RCA is per workload users know, not per ReplicaSet.

#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "daemon.hpp"
#include "kinds.hpp"
#include "log.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

std::optional<core::WorkloadRef> Daemon::cached_workload(const core::CrashSignal& s) const {
  const std::size_t slash = s.workload.find('/');
  const std::string kind = s.workload.substr(0, slash);
  if (kind != "ReplicaSet" && kind != "Job") return std::nullopt;  // resolved without a lookup, in the worker
  const core::WorkloadRef direct{"", kind, s.workload.substr(slash + 1), s.workload_uid};
  if (const auto known = core::top_level_from(meta(kind), direct, s.namespace_); known.known) return known.workload;
  auto it = owner_cache_.find(s.namespace_ + "/" + s.workload);
  if (it == owner_cache_.end()) return std::nullopt;
  return it->second;
}

namespace {

std::string api_version_of(const std::string& kind) {
  // Another controller's kind: named, but no ownerReference (its group is unknown).
  const auto k = kube::kind_path(kind);
  return k ? std::string(k->api_version) : std::string();
}

core::WorkloadRef owner_of(const std::string& body, core::WorkloadRef fallback) {
  json obj = json::parse(body, nullptr, false);
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return fallback;
  const json& meta = obj["metadata"];
  if (fallback.uid.empty()) fallback.uid = json_fields::string_or(meta, "uid");
  if (!meta.contains("ownerReferences") || !meta["ownerReferences"].is_array()) return fallback;
  for (const auto& o : meta["ownerReferences"]) {
    if (!o.is_object() || !json_fields::bool_or(o, "controller", false)) continue;
    return core::WorkloadRef{json_fields::string_or(o, "apiVersion"), json_fields::string_or(o, "kind"),
                             json_fields::string_or(o, "name"), json_fields::string_or(o, "uid")};
  }
  return fallback;
}

}  // namespace

namespace {

// The pod-template-hash label the Deployment controller puts on a ReplicaSet's pods and into its
// name: when the ReplicaSet's name is "<x>-<that label>", x is the Deployment (any hash form,
// including the decimal one of clusters before 1.8's SafeEncodeString).
std::optional<std::string> deployment_by_label(const std::string& rs, const std::string& pod_event) {
  if (pod_event.empty()) return std::nullopt;
  const json ev = json::parse(pod_event, nullptr, false);
  const json* obj = ev.is_object() && ev.contains("object") ? &ev["object"] : &ev;
  if (!obj->is_object() || !obj->contains("metadata") || !(*obj)["metadata"].is_object()) return std::nullopt;
  const json& meta = (*obj)["metadata"];
  if (!meta.contains("labels") || !meta["labels"].is_object()) return std::nullopt;
  const auto it = meta["labels"].find("pod-template-hash");
  if (it == meta["labels"].end() || !it->is_string()) return std::nullopt;
  const std::string suffix = "-" + it->get<std::string>();
  if (suffix.size() < 2 || rs.size() <= suffix.size() ||
      rs.compare(rs.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  return rs.substr(0, rs.size() - suffix.size());
}

std::optional<std::string> deployment_of_replicaset(const std::string& rs) {
  const auto dash = rs.rfind('-');
  if (dash == std::string::npos || dash == 0) return std::nullopt;
  const std::string_view hash = std::string_view(rs).substr(dash + 1);
  constexpr std::string_view kSafe = "bcdfghjklmnpqrstvwxz2456789";
  if (hash.size() < 6 || hash.size() > 10) return std::nullopt;
  for (char c : hash) {
    if (kSafe.find(c) == std::string_view::npos) return std::nullopt;
  }
  return rs.substr(0, dash);
}

}  // namespace

asio::awaitable<core::WorkloadRef> Daemon::top_level_workload(std::string ns, std::string kind, std::string name,
                                                              std::string uid, std::string pod, std::string pod_event) {
  // ReplicaSet -> Deployment and Job -> CronJob: the controllers users know. Looked up on
  // demand and cached: one GET per ReplicaSet or Job, not per failure.
  core::WorkloadRef direct{api_version_of(kind), kind, name, uid};
  if (kind != "ReplicaSet" && kind != "Job") co_return direct;
  // The owner index first (no request); a GET only when it cannot say.
  if (const auto known = core::top_level_from(meta(kind), direct, ns); known.known) co_return known.workload;
  const std::string key = ns + "/" + kind + "/" + name;
  if (auto it = owner_cache_.find(key); it != owner_cache_.end()) co_return it->second;
  const kube::KindPath k = *kube::kind_path(kind);
  const std::string plural(k.plural);
  kube::Request res_req{http::verb::get, std::string(k.prefix) + "/namespaces/" + ns + "/" + plural + "/" + name,
                        plural, "", ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  auto res = co_await client_.request(std::move(res_req));
  if (!res || res->status != 200) {
    // Not cached: asked again next time. Meanwhile the name convention, so that one Deployment
    // never becomes two RCAs (one under its ReplicaSet's name): the Deployment controller names
    // its ReplicaSets "<deployment>-<pod-template-hash>" (pkg/controller/deployment/sync.go,
    // getNewReplicaSet; the hash is rand.SafeEncodeString of a uint32, 6-10 characters of
    // "bcdfghjklmnpqrstvwxz2456789"). The uid is unknown, so no ownerReference is written.
    // The pod's own pod-template-hash label first: it says which suffix is the hash.
    if (kind == "ReplicaSet") {
      if (pod_event.empty() && !pod.empty()) {  // found by a list: one GET, only on this rare path
        kube::Request pod_req{http::verb::get, "/api/v1/namespaces/" + ns + "/pods/" + pod, "pods", "",
                              ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
        auto got = co_await client_.request(std::move(pod_req));
        if (got && got->status == 200) pod_event = std::move(got->body);
      }
      auto deployment = deployment_by_label(name, pod_event);
      if (!deployment) deployment = deployment_of_replicaset(name);
      if (deployment) co_return core::WorkloadRef{"apps/v1", "Deployment", *deployment, ""};
    }
    co_return direct;
  }
  core::WorkloadRef top = owner_of(res->body, direct);
  owner_cache_[key] = top;
  if (owner_cache_.size() > 4096) owner_cache_.erase(owner_cache_.begin());  // bounded, as ignore_cache_
  co_return top;
}

namespace {

// Where a top-level workload is read: built-in controllers only (another controller's custom
// resource is named by its ownerReference, but its plural is unknown without discovery).
std::optional<std::pair<std::string, std::string>> workload_path(const core::WorkloadRef& w, const std::string& ns) {
  const auto k = kube::kind_path(w.kind);
  if (!k || k->kind == "Pod" || w.name.empty()) return std::nullopt;
  return std::make_pair(std::string(k->prefix) + "/namespaces/" + ns + "/" + std::string(k->plural) + "/" + w.name,
                        std::string(k->plural));
}

bool ignore_annotation(const std::string& body) {
  json obj = json::parse(body, nullptr, false);
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return false;
  const json& meta = obj["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].is_object()) return false;
  const auto it = meta["annotations"].find(std::string(core::kIgnoreAnnotation));
  return it != meta["annotations"].end() && it->is_string() && it->get<std::string>() == "true";
}

}  // namespace

asio::awaitable<bool> Daemon::annotated_ignore(std::string path, std::string resource) {
  const core::WallTime now = wall_now();
  if (auto it = ignore_cache_.find(path); it != ignore_cache_.end() && now < it->second.until) {
    co_return it->second.ignored;
  }
  kube::Request req{http::verb::get, path, resource, "", ""};  // named: GCC 12 PR 99576
  auto res = co_await client_.request(std::move(req));
  // Not readable (gone, or RBAC without the grant): not silenced, and not asked again until the
  // entry expires, so a failing workload does not turn into a GET per restart.
  const bool ignored = res && res->status == 200 && ignore_annotation(res->body);
  if (!res || res->status != 200) {
    log(LogLevel::kDebug, "crashdiag.io/ignore not read",
        {{"object", path}, {"error", res ? "HTTP " + std::to_string(res->status) : res.error().what}});
  }
  ignore_cache_[path] = IgnoreEntry{ignored, now + options_.ignore_cache_ttl};
  if (ignore_cache_.size() > 4096) ignore_cache_.erase(ignore_cache_.begin());
  co_return ignored;
}

asio::awaitable<bool> Daemon::silenced(std::string ns, core::WorkloadRef workload) {
  // Namespaces are cluster-scoped: a daemon confined to --namespace runs under RoleBindings that
  // cannot read them (403), and its owner chose the namespaces already.
  if (options_.namespaces.empty()) {
    const auto known = core::ignored_in(meta("Namespace"), "", ns);  // the owner index, if it knows
    if (known ? *known : co_await annotated_ignore("/api/v1/namespaces/" + ns, "namespaces")) co_return true;
  }
  auto path = workload_path(workload, ns);
  if (!path) co_return false;
  if (const auto known = core::ignored_in(meta(workload.kind), ns, workload.name)) co_return *known;
  co_return co_await annotated_ignore(path->first, path->second);
}

}  // namespace crashdiag::daemon
