// Issue 15, item 3, before any restart: a datastore whose data directory is not on the claim its
// pod mounts runs healthy and loses everything at its next restart (the data_reinitialized RCA
// says so afterwards). The spec shows it in advance, so the daemon looks once per workload: when
// it first sees a pod of that workload whose slim record says "a datastore with a claim"
// (ContainerRecord::datastore_pvc; every other pod costs nothing), it parses that pod's JSON (from
// the watch event at hand, else one GET), runs the pure check (crashdiag/classifiers/
// spec_findings.hpp) and tells a finding as a Warning Event on the top-level workload, written by
// the publisher like the Events on pods. Only the leader looks and writes.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "crashdiag/classifiers/spec_findings.hpp"
#include "crashdiag/model/parse.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

// Log helpers outside coroutines (GCC 12 and initializer lists of string literals there).
void log_spec_unread(const std::string& ns, const std::string& pod, const std::string& why) {
  log(LogLevel::kDebug, "spec not read; looked at again with the next pod of the workload",
      {{"namespace", ns}, {"pod", pod}, {"error", why}});
}
void log_finding(const std::string& ns, const core::WorkloadRef& w, const SpecFinding& f) {
  log(LogLevel::kWarn, "data not persisted: told on the workload",
      {{"namespace", ns},
       {"workload", w.display()},
       {"container", f.container},
       {"mount", f.mount},
       {"data", f.data_dir}});
}

// The Pod of a watch line ({"type": ..., "object": {...}}) or of a GET's body.
tl::expected<Pod, ParseError> pod_of(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return tl::unexpected(ParseError{"the pod is not JSON"});
  if (doc.is_object() && doc.contains("object") && doc["object"].is_object()) return pod_from_json(doc["object"]);
  return pod_from_json(doc);
}

}  // namespace

void Daemon::look_at_spec(const core::PodRecord& pod, const std::string& pod_json) {
  if (!leading_ || pod.ignored || pod.deleting) return;
  if (std::none_of(pod.containers.begin(), pod.containers.end(),
                   [](const core::ContainerRecord& c) { return c.datastore_pvc; })) {
    return;
  }
  if (!core::owns(options_.shard, pod.namespace_) ||
      std::find(options_.exclude_namespaces.begin(), options_.exclude_namespaces.end(), pod.namespace_) !=
          options_.exclude_namespaces.end()) {
    return;
  }
  // The pod's own controller: a Deployment's new ReplicaSet (a rollout, perhaps the fix) is looked
  // at again; its Event, named after the finding, is not written twice.
  const std::string key =
      pod.namespace_ + "/" + (pod.owner_kind.empty() ? "Pod/" + pod.name : pod.owner_kind + "/" + pod.owner_name);
  if (!spec_findings_.first_look(key)) return;
  asio::co_spawn(ioc_,
                 check_spec(key, pod.namespace_, pod.name, pod.owner_kind.empty() ? "Pod" : pod.owner_kind,
                            pod.owner_kind.empty() ? pod.name : pod.owner_name,
                            pod.owner_kind.empty() ? pod.uid : pod.owner_uid, pod_json),
                 [checks = spec_checks_](const std::exception_ptr&) { --*checks; });
  ++*spec_checks_;
}

asio::awaitable<void> Daemon::check_spec(std::string key, std::string ns, std::string pod_name, std::string owner_kind,
                                         std::string owner_name, std::string owner_uid, std::string pod_json) {
  if (pod_json.empty()) {
    // Found by a list or a take-over: the object is not at hand; one GET per workload.
    kube::Request req{http::verb::get, "/api/v1/namespaces/" + ns + "/pods/" + pod_name, "pods", "",
                      ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    auto res = co_await client_.request(std::move(req));
    if (!res || res->status != 200) {
      spec_findings_.forget(key);
      log_spec_unread(ns, pod_name, res ? "HTTP " + std::to_string(res->status) : res.error().what);
      co_return;
    }
    pod_json = std::move(res->body);
  }
  auto pod = pod_of(pod_json);
  if (!pod) {
    spec_findings_.forget(key);
    log_spec_unread(ns, pod_name, pod.error().what);
    co_return;
  }
  const std::vector<SpecFinding> found = find_unpersisted_data(*pod);
  // Nothing found and nothing counted here: no request at all (the common, healthy case).
  if (found.empty() && !spec_findings_.counted_in(ns)) co_return;
  const core::WorkloadRef workload = co_await top_level_workload(ns, std::move(owner_kind), std::move(owner_name),
                                                                 std::move(owner_uid), pod_name, pod_json);
  if (!leading_) co_return;
  if (!found.empty() && co_await silenced(ns, workload)) co_return;
  if (!leading_) co_return;
  std::set<std::string> labels;
  for (const SpecFinding& f : found) {
    labels.insert(f.finding);
    core::WorkloadFinding wf{ns, workload, std::string(core::kDataNotPersistedReason),
                             f.container + "/" + f.mount_field + "/" + f.mount + "/" + f.data_dir, f.message()};
    publisher_->submit_workload_event(ns, core::finding_event(wf, options_.instance, wall_now()));
    log_finding(ns, workload, f);
  }
  spec_findings_.record(ns, workload.display(), labels);
  update_findings_gauge();
}

void Daemon::update_findings_gauge() {
  if (options_.metrics == nullptr) return;
  for (const auto& [key, n] : spec_findings_.counts()) options_.metrics->set_spec_findings(key.first, key.second, n);
}

}  // namespace crashdiag::daemon
