// The evidence stage: evidence_gatherer.hpp says what it gathers and why.
#include "evidence_gatherer.hpp"

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "crashdiag/model/json_fields.hpp"
#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/template_diff.hpp"
#include "log.hpp"
#include "no_throw.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

void log_gather_failed(const core::CrashSignal& s, const std::string& what) {
  log(LogLevel::kWarn, "cannot gather evidence",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"error", what}});
}
// The diagnosis goes ahead without the log, and says so in its evidence notes.
void log_logs_unavailable(const core::CrashSignal& s, const std::string& why) {
  log(LogLevel::kWarn, "logs unavailable",
      {{"namespace", s.namespace_}, {"pod", s.pod}, {"container", s.container}, {"reason", why}});
}

}  // namespace

// Issue 15, item 1: the template of the revision before the failing one
// (crashdiag/model/template_diff.hpp says where each workload keeps them). One list of the
// namespace's ReplicaSets or ControllerRevisions, only when a workload's RCA is new and the owner
// index does not already show a single revision. nullopt: a first revision, another kind of
// owner, or nothing readable.
EvidenceGatherer::EvidenceGatherer(asio::io_context& ioc, kube::KubeClient& client, EvidenceOptions options,
                                   EventsOf events, RcaExists rca_exists, NoEarlierRevision no_earlier_revision)
    : ioc_(ioc),
      client_(client),
      options_(options),
      events_(std::move(events)),
      rca_exists_(std::move(rca_exists)),
      no_earlier_revision_(std::move(no_earlier_revision)) {}

asio::awaitable<std::optional<PreviousTemplate>> EvidenceGatherer::previous_template(std::string pod_text,
                                                                                     std::string ns) {
  std::optional<PreviousTemplate> none;
  const json pod = json::parse(pod_text, nullptr, false);
  const auto list = revision_list_of(pod);
  if (!list || no_earlier_revision_(pod, ns)) co_return none;
  kube::Request list_req{http::verb::get, list->path, list->resource, "",
                         ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
  auto res = co_await client_.request(std::move(list_req));
  if (!res || res->status != 200) {
    log(LogLevel::kWarn, "cannot read the workload's revisions",
        {{"namespace", ns},
         {"pod", pod.is_object() && pod.contains("metadata") ? json_fields::string_or(pod["metadata"], "name") : ""},
         {"error", res ? "HTTP " + std::to_string(res->status) : res.error().what}});
    co_return none;
  }
  co_return previous_template_of(pod, json::parse(res->body, nullptr, false));
}

asio::awaitable<std::optional<Evidence>> EvidenceGatherer::gather(core::CrashSignal s, std::string pod_json,
                                                                  std::string rca) {
  std::optional<Evidence> none;
  // The evidence delay was waited out before the job reached a worker (delayer()).
  // The full pod: from the watch event that revealed the failure, else one GET.
  std::string pod_text;
  if (!pod_json.empty()) {
    json line = json::parse(pod_json, nullptr, false);
    if (line.is_object() && line.contains("object")) pod_text = line["object"].dump();
  }
  if (pod_text.empty()) {
    kube::Request res_req{http::verb::get, "/api/v1/namespaces/" + s.namespace_ + "/pods/" + s.pod, "pods", "",
                          ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    auto res = co_await client_.request(std::move(res_req));
    if (!res || res->status != 200) {
      log_gather_failed(s, res ? "GET pod: HTTP " + std::to_string(res->status) : res.error().what);
      co_return none;
    }
    pod_text = std::move(res->body);
  }
  auto pod = parse_pod_json(pod_text);
  if (!pod) {
    log_gather_failed(s, pod.error().what);
    co_return none;
  }
  Evidence ev;
  ev.pod = std::move(*pod);
  ev.container = s.container;
  // Previous logs exist only when a previous instance terminated; a StartError container never
  // ran, so there is nothing to fetch (its evidence is the termination message and events).
  const Container* c = ev.pod.find_container(s.container);
  const bool never_ran =
      c != nullptr && c->status && c->status->last_terminated && c->status->last_terminated->reason == "StartError";
  // The failed instance's log is the evidence: the previous container's whenever there is one,
  // even if the container runs again now (its current log is of a healthy restart, or of the
  // next attempt that has not failed yet). Without a previous instance, a container that
  // terminated (a Job's only run) or runs unready has only its current log.
  const bool running_now = c != nullptr && c->status && c->status->running;
  const bool has_previous = c != nullptr && c->status && c->status->last_terminated;
  // A Restarted signal (a datastore with a claim running again) is the exception: the new
  // instance's log is what shows whether it found its data or initialised an empty database.
  const bool want_previous = !s.current_log && (s.has_previous_termination || has_previous) && !never_ran;
  const bool want_current = s.current_log || (!want_previous && !never_ran &&
                                              (running_now || (c != nullptr && c->status && c->status->terminated)));
  if (want_previous || want_current) {
    const std::string target =
        "/api/v1/namespaces/" + s.namespace_ + "/pods/" + s.pod + "/log?container=" + kube::url_encode(s.container) +
        (want_previous ? "&previous=true" : "") + "&tailLines=" + std::to_string(options_.log_tail_lines) +
        "&limitBytes=" + std::to_string(options_.log_limit_bytes);
    for (int attempt = 0; attempt < 2; ++attempt) {
      kube::Request res_req{http::verb::get, target, "pods/log", "",
                            ""};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      auto res = co_await client_.request(std::move(res_req));
      if (res && res->status == 200) {
        ev.logs = make_log_tail(res->body);
        ev.logs.unavailable.clear();
        ev.logs.current_instance = want_current;
        break;
      }
      ev.logs.unavailable =
          res ? "HTTP " + std::to_string(res->status) + ": " + kube::status_message(res->body) : res.error().what;
      // For a few seconds around a restart the kubelet has garbage-collected the dead container
      // while the status still names it: "unable to retrieve container logs for containerd://..."
      // (../shared/k8s-fixtures/node/README.md). It succeeds a moment later: one more try.
      const bool transient = res && ev.logs.unavailable.find("unable to retrieve container logs") != std::string::npos;
      if (!transient || attempt == 1) {
        log_logs_unavailable(s, ev.logs.unavailable);
        break;
      }
      asio::steady_timer wait(ioc_, options_.log_retry_delay);
      co_await wait.async_wait(kNoThrow);
    }
  }
  ev.events = events_for_pod(events_(ev.pod.uid), ev.pod);
  // Looked up here, after the requests above: another worker may have recorded the RCA meanwhile.
  if (options_.what_changed && !rca_exists_(rca)) {
    std::string pod_copy = pod_text;  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    std::string ns = s.namespace_;
    ev.previous = co_await previous_template(std::move(pod_copy), std::move(ns));
  }
  std::optional<Evidence> gathered(std::move(ev));
  co_return gathered;
}

}  // namespace crashdiag::daemon
