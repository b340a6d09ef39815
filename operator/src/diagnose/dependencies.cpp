// Issue 15, item 2: what a failing container depends on. A diagnosis that blames a dependency
// names a Service (crashdiag/classifiers/dependency.hpp); one EndpointSlice list finds the pods
// behind it and the store their workload. When that workload has an Active RCA, the dependent
// RCA is linked to it (status.causedBy): on-call sees one cause and its consequences, and the
// shipped alerts page on the cause only. When it is up, the note says so: the client's address,
// credentials or a NetworkPolicy are then where to look.
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "daemon.hpp"
#include "kinds.hpp"
#include "log.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxWaitingLinks = 4096;

std::string workload_key(const std::string& ns, const core::WorkloadRef& w) {
  return ns + "/" + w.kind + "/" + w.name;
}

std::string service_words(const DependencyRef& ref) {
  return "Service " + ref.namespace_ + "/" + ref.service + (ref.where.empty() ? "" : " (" + ref.where + ")");
}

std::string workloads_words(const std::vector<core::WorkloadRef>& workloads) {
  std::string out;
  for (const auto& w : workloads) out += (out.empty() ? "" : ", ") + w.display();
  return out;
}

}  // namespace

asio::awaitable<Daemon::DependencyState> Daemon::resolve_dependency(DependencyRef ref) {
  DependencyState dep;
  dep.ref = ref;
  // The EndpointSlice controller labels each slice with its Service's name
  // (discovery.k8s.io/v1, kubernetes.io/service-name; pkg/controller/endpointslice), and lists
  // every pod the selector matches, ready or not (conditions.ready), so a crash-looping
  // database still appears behind its Service.
  const std::string path = "/apis/discovery.k8s.io/v1/namespaces/" + ref.namespace_ + "/endpointslices?labelSelector=" +
                           kube::url_encode("kubernetes.io/service-name=" + ref.service);
  kube::Request req{http::verb::get, path, "endpointslices", "",
                    ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  auto res = co_await client_.request(std::move(req));
  if (!res || res->status != 200) {
    dep.error = res ? "HTTP " + std::to_string(res->status) : res.error().what;
    co_return dep;
  }
  const json list = json::parse(res->body, nullptr, false);
  if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
    dep.error = "the EndpointSlice list does not parse";
    co_return dep;
  }
  std::vector<std::pair<std::string, std::string>> pods;  // namespace, name
  for (const auto& slice : list["items"]) {
    if (!slice.is_object() || !slice.contains("endpoints") || !slice["endpoints"].is_array()) continue;
    for (const auto& ep : slice["endpoints"]) {
      if (!ep.is_object()) continue;
      ++dep.endpoints;
      // "A nil value should be interpreted as ready" (EndpointConditions.ready, discovery/v1).
      const bool ready = !ep.contains("conditions") || !ep["conditions"].is_object() ||
                         !ep["conditions"].contains("ready") || !ep["conditions"]["ready"].is_boolean() ||
                         ep["conditions"]["ready"].get<bool>();
      dep.ready += ready ? 1 : 0;
      if (!ep.contains("targetRef") || !ep["targetRef"].is_object()) continue;
      const json& t = ep["targetRef"];
      if (json_fields::string_or(t, "kind") != "Pod") continue;
      pods.emplace_back(json_fields::string_or(t, "namespace", ref.namespace_), json_fields::string_or(t, "name"));
    }
  }
  for (const auto& [ns, name] : pods) {
    const std::optional<core::PodRecord> pod = pods_.find(ns + "/" + name);
    if (!pod) continue;  // outside what this replica watches
    core::WorkloadRef w{"v1", "Pod", pod->name, pod->uid};
    if (!pod->owner_kind.empty()) {
      // Named, then moved: GCC 12 PR 99576 double-destroys temporaries in co_await.
      std::string pod_ns = pod->namespace_;
      std::string kind = pod->owner_kind;
      std::string owner = pod->owner_name;
      std::string uid = pod->owner_uid;
      std::string pod_name = pod->name;
      std::string no_event;
      w = co_await top_level_workload(std::move(pod_ns), std::move(kind), std::move(owner), std::move(uid),
                                      std::move(pod_name), std::move(no_event));
    }
    const bool seen = std::any_of(dep.workloads.begin(), dep.workloads.end(), [&](const core::WorkloadRef& have) {
      return have.kind == w.kind && have.name == w.name;
    });
    if (!seen) dep.workloads.push_back(std::move(w));
  }
  co_return dep;
}

void Daemon::note_dependency(const DependencyState& dep, ContainerDiagnosis& diagnosis, bool has_rca) {
  const std::string service = service_words(dep.ref);
  std::string note;
  // `db.example` is a Service only if the namespace "example" has it: say nothing of hosts that
  // may never have been Services (a refusal there is most likely a namespace not watched).
  if (dep.ref.namespace_explicit && (!dep.error.empty() || dep.endpoints == 0)) return;
  if (!dep.error.empty()) {
    note = service + " could not be resolved to its pods: " + dep.error;
  } else if (dep.endpoints == 0) {
    note = service + " has no endpoints: no such Service in " + dep.ref.namespace_ + ", or no pod matches its selector";
  } else if (has_rca) {
    return;  // the link says it: status.causedBy and the summary
  } else if (dep.ready == dep.endpoints) {
    note = service + " has " + std::to_string(dep.ready) + " of " + std::to_string(dep.endpoints) + " endpoints ready" +
           (dep.workloads.empty() ? "" : " (" + workloads_words(dep.workloads) + ")") +
           ": the dependency is up, so the client's address, credentials or a NetworkPolicy is the likelier cause";
  } else {
    note = service + " has " + std::to_string(dep.ready) + " of " + std::to_string(dep.endpoints) + " endpoints ready" +
           (dep.workloads.empty() ? "" : " (" + workloads_words(dep.workloads) + ")") +
           ": the dependency is not ready either";
  }
  // First: what the dependency does is the next thing to read (other notes are about gaps).
  diagnosis.evidence_notes.insert(diagnosis.evidence_notes.begin(), std::move(note));
}

void Daemon::link_dependency(const std::string& rca, const std::optional<DependencyState>& dep,
                             core::RcaChange change) {
  const core::RcaState* self = tracker_.find(rca);
  if (self == nullptr) return;
  for (auto it = waiting_links_.begin(); it != waiting_links_.end();) {
    it->second.erase(rca);
    it = it->second.empty() ? waiting_links_.erase(it) : std::next(it);
  }
  std::string cause;
  std::string via;
  if (dep) {
    via = service_words(dep->ref);
    for (const auto& w : dep->workloads) {
      if (w.kind == self->target.workload.kind && w.name == self->target.workload.name &&
          dep->ref.namespace_ == self->target.namespace_) {
        continue;  // its own Service: not another workload's failure
      }
      if (const core::RcaState* other = tracker_.active_for_workload(dep->ref.namespace_, w.kind, w.name)) {
        cause = other->name;
        break;
      }
    }
    // Not ready and no RCA yet (its failure is still being diagnosed, or it only starts
    // slowly): link when one appears.
    // Bounded: waiting entries go when linked or when the dependent resolves; past the bound a
    // dependent is linked only by its next diagnosis.
    if (cause.empty() && dep->ready < dep->endpoints && waiting_links_.size() < kMaxWaitingLinks) {
      for (const auto& w : dep->workloads) waiting_links_[workload_key(dep->ref.namespace_, w)][rca] = via;
    }
  }
  auto update = tracker_.link(rca, cause, via);
  if (!update || update->change == core::RcaChange::kUnchanged) return;
  if (!cause.empty()) {
    log(LogLevel::kInfo, "linked to the failing dependency's root-cause analysis",
        {{"rca", rca}, {"caused_by", cause}, {"via", via}});
  }
  // A news update of the same RCA is being published anyway and renders the link with it.
  if (change == core::RcaChange::kUnchanged || change == core::RcaChange::kRepeated) publisher_->submit(*update);
  update_active_gauge();
}

void Daemon::link_waiting_dependents(const std::string& rca) {
  if (waiting_links_.empty()) return;
  const core::RcaState* state = tracker_.find(rca);
  if (state == nullptr || !state->active) return;
  auto it = waiting_links_.find(workload_key(state->target.namespace_, state->target.workload));
  if (it == waiting_links_.end()) return;
  const auto dependents = std::move(it->second);
  waiting_links_.erase(it);
  bool changed = false;
  for (const auto& [dependent, via] : dependents) {
    auto update = tracker_.link(dependent, rca, via);
    if (!update || update->change == core::RcaChange::kUnchanged) continue;
    log(LogLevel::kInfo, "linked to the failing dependency's root-cause analysis",
        {{"rca", dependent}, {"caused_by", rca}, {"via", via}});
    publisher_->submit(*update);
    changed = true;
  }
  if (changed) update_active_gauge();
}

void Daemon::unlink_dependents(const std::string& rca) {
  for (const auto& update : tracker_.unlink_dependents(rca)) publisher_->submit(update);
  // A resolved dependent waits for nothing.
  for (auto it = waiting_links_.begin(); it != waiting_links_.end();) {
    it->second.erase(rca);
    it = it->second.empty() ? waiting_links_.erase(it) : std::next(it);
  }
}

}  // namespace crashdiag::daemon
