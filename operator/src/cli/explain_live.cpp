#include "explain_live.hpp"
#include "crashdiag/model/json_fields.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "client.hpp"
#include "connect.hpp"
#include "crashdiag/classifiers/failing.hpp"
#include "crashdiag/core/rca.hpp"
#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/template_diff.hpp"
#include "explain_command.hpp"
#include "kinds.hpp"

namespace crashdiag {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

// kubectl's names and short names (kubectl api-resources) of what has pods.
const std::map<std::string, std::string_view>& kind_names() {
  static const std::map<std::string, std::string_view> kNames = {
      {"pod", "Pod"},
      {"pods", "Pod"},
      {"po", "Pod"},
      {"deployment", "Deployment"},
      {"deployments", "Deployment"},
      {"deploy", "Deployment"},
      {"statefulset", "StatefulSet"},
      {"statefulsets", "StatefulSet"},
      {"sts", "StatefulSet"},
      {"daemonset", "DaemonSet"},
      {"daemonsets", "DaemonSet"},
      {"ds", "DaemonSet"},
      {"replicaset", "ReplicaSet"},
      {"replicasets", "ReplicaSet"},
      {"rs", "ReplicaSet"},
      {"job", "Job"},
      {"jobs", "Job"},
  };
  return kNames;
}

// A workload's spec.selector as a labelSelector query value: matchLabels and matchExpressions
// (In, NotIn, Exists, DoesNotExist), as metav1.LabelSelectorAsSelector renders them.
std::optional<std::string> selector_of(const json& workload) {
  if (!workload.contains("spec") || !workload["spec"].contains("selector")) return std::nullopt;
  const json& sel = workload["spec"]["selector"];
  std::string out;
  auto add = [&](const std::string& r) { out += (out.empty() ? "" : ",") + r; };
  if (sel.contains("matchLabels") && sel["matchLabels"].is_object()) {
    for (const auto& [k, v] : sel["matchLabels"].items()) {
      if (v.is_string()) add(k + "=" + v.get<std::string>());
    }
  }
  if (sel.contains("matchExpressions") && sel["matchExpressions"].is_array()) {
    for (const auto& e : sel["matchExpressions"]) {
      const std::string key = json_fields::string_or(e, "key");
      const std::string op = json_fields::string_or(e, "operator");
      std::string values;
      if (e.contains("values") && e["values"].is_array()) {
        for (const auto& v : e["values"]) values += (values.empty() ? "" : ",") + v.get<std::string>();
      }
      if (op == "In") add(key + " in (" + values + ")");
      if (op == "NotIn") add(key + " notin (" + values + ")");
      if (op == "Exists") add(key);
      if (op == "DoesNotExist") add("!" + key);
    }
  }
  if (out.empty()) return std::nullopt;  // an empty selector selects every pod: not what is meant
  return out;
}

struct Gathered {
  std::vector<Pod> pods;
  std::vector<Event> events;
  std::map<std::string, LogTail> logs;       // "pod/container"
  std::optional<PreviousTemplate> previous;  // the revision before the failing pods' (what changed)
  std::string error;                         // the cluster said no
};

std::string refused(const char* what, const std::string& path,
                    const tl::expected<kube::Response, kube::TransportError>& r) {
  if (!r) return std::string(what) + " " + path + ": " + r.error().what;
  return std::string(what) + " " + path + ": HTTP " + std::to_string(r->status) + ": " + kube::status_message(r->body);
}

asio::awaitable<void> gather(kube::KubeClient& client, ExplainTarget target, std::string ns, ExplainLiveOptions options,
                             UnreadyPolicy unready, Gathered& out) {
  std::vector<json> raw_pods;  // as the server sent them: owners and labels name the revisions
  const kube::KindPath info = *kube::kind_path(target.kind);
  const std::string plural(info.plural);
  const std::string base = std::string(info.prefix) + "/namespaces/" + ns + "/" + plural + "/" + target.name;
  kube::Request get{http::verb::get, base, plural, "", ""};
  auto obj = co_await client.request(std::move(get));
  if (!obj || obj->status != 200) {
    out.error = obj && obj->status == 404 ? plural + " \"" + target.name + "\" not found in namespace " + ns
                                          : refused("GET", base, obj);
    co_return;
  }
  std::string events_query;
  if (target.kind == "Pod") {
    auto pods = parse_pods(obj->body);
    if (!pods) {
      out.error = "the pod from " + base + " does not parse: " + pods.error().what;
      co_return;
    }
    out.pods = std::move(*pods);
    raw_pods.push_back(json::parse(obj->body, nullptr, false));
    // Only this pod's Events (the apiserver's field selector for core/v1 Events).
    events_query = "?fieldSelector=" + kube::url_encode("involvedObject.name=" + target.name);
  } else {
    const json workload = json::parse(obj->body, nullptr, false);
    auto selector = selector_of(workload);
    if (!selector) {
      out.error = target.kind + " " + target.name + " has no spec.selector to find its pods by";
      co_return;
    }
    const std::string list_path = "/api/v1/namespaces/" + ns + "/pods?labelSelector=" + kube::url_encode(*selector);
    kube::Request list{http::verb::get, list_path, "pods", "", ""};
    auto listed = co_await client.request(std::move(list));
    if (!listed || listed->status != 200) {
      out.error = refused("GET", list_path, listed);
      co_return;
    }
    auto pods = parse_pods(listed->body);
    if (!pods) {
      out.error = "the pods of " + target.kind + " " + target.name + " do not parse: " + pods.error().what;
      co_return;
    }
    out.pods = std::move(*pods);
    const json items = json::parse(listed->body, nullptr, false);
    if (items.is_object() && items.contains("items") && items["items"].is_array()) {
      for (const auto& item : items["items"]) raw_pods.push_back(item);
    }
  }
  const std::string events_path = "/api/v1/namespaces/" + ns + "/events" + events_query;
  kube::Request ev{http::verb::get, events_path, "events", "", ""};
  auto events = co_await client.request(std::move(ev));
  if (events && events->status == 200) {
    if (auto parsed = parse_events_json(events->body)) out.events = std::move(*parsed);
  }
  // Each failing container's previous instance (what it said before it died); the current one
  // when it never restarted (the kubelet answers 400 for a missing previous instance).
  for (const Pod& pod : out.pods) {
    std::vector<const Container*> targets;
    if (!options.container.empty()) {
      if (const Container* c = pod.find_container(options.container)) targets.push_back(c);
    } else {
      targets = failing_containers(pod, unready);
    }
    // What changed (issue 15, item 1), as `run` says it: the template before the first failing
    // pod's revision. One list of the namespace's ReplicaSets or ControllerRevisions.
    if (!targets.empty() && !out.previous) {
      for (const json& raw : raw_pods) {
        if (!raw.is_object() || !raw.contains("metadata") ||
            json_fields::string_or(raw["metadata"], "name") != pod.name)
          continue;
        const auto list = revision_list_of(raw);
        if (!list) break;
        kube::Request revisions{http::verb::get, list->path, list->resource, "", ""};
        auto res = co_await client.request(std::move(revisions));
        if (res && res->status == 200) out.previous = previous_template_of(raw, json::parse(res->body, nullptr, false));
        break;
      }
    }
    for (const Container* c : targets) {
      for (const bool previous : {true, false}) {
        const std::string path = "/api/v1/namespaces/" + ns + "/pods/" + pod.name +
                                 "/log?container=" + kube::url_encode(c->name) + (previous ? "&previous=true" : "") +
                                 "&tailLines=" + std::to_string(options.tail_lines) +
                                 "&limitBytes=" + std::to_string(options.limit_bytes);
        kube::Request log{http::verb::get, path, "pods/log", "", ""};
        auto res = co_await client.request(std::move(log));
        if (res && res->status == 200) {
          out.logs[pod.name + "/" + c->name] = make_log_tail(res->body);
          break;
        }
      }
    }
  }
}

}  // namespace

tl::expected<ExplainTarget, std::string> parse_explain_target(const std::vector<std::string>& words) {
  std::string type = "pod";
  std::string name;
  if (words.size() == 1) {
    const std::string& w = words[0];
    if (const auto slash = w.find('/'); slash != std::string::npos) {
      type = w.substr(0, slash);
      name = w.substr(slash + 1);
    } else {
      name = w;
    }
  } else if (words.size() == 2) {
    type = words[0];
    name = words[1];
  } else {
    return tl::unexpected(std::string("give one pod or workload: pod NAME, deploy/NAME (TYPE NAME or TYPE/NAME)"));
  }
  std::string lower;
  for (char c : type) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  // "deployment.apps" and "deployments.v1.apps": the group suffix kubectl accepts.
  lower = lower.substr(0, lower.find('.'));
  auto it = kind_names().find(lower);
  if (it == kind_names().end()) {
    return tl::unexpected(
        "\"" + type + "\": not a kind crashdiag explains (pod, deployment, statefulset, daemonset, replicaset, job)");
  }
  if (name.empty() || name.find('/') != std::string::npos) return tl::unexpected("\"" + name + "\": not a name");
  return ExplainTarget{std::string(it->second), name};
}

int run_explain_live(const ExplainLiveOptions& options, const Classifier& classifier, std::ostream& out,
                     std::ostream& err) {
  auto target = parse_explain_target(options.target);
  if (!target) {
    err << "crashdiag explain: " << target.error() << "\n";
    return 2;
  }
  const auto unready_after = core::parse_duration(options.unready_after);
  if (!unready_after) {
    err << "crashdiag explain: --unready-after \"" << options.unready_after << "\": not a duration\n";
    return 2;
  }
  auto connection = kube::connect(kube::kubeconfig_path(options.kubeconfig), options.context);
  if (!connection) {
    err << "crashdiag explain: " << connection.error() << "\n";
    return 2;
  }
  const std::string ns = options.namespace_.empty() ? connection->access.namespace_ : options.namespace_;
  UnreadyPolicy unready;
  unready.unready_after_seconds = std::chrono::duration_cast<std::chrono::seconds>(*unready_after).count();
  unready.now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  asio::io_context ioc(1);
  kube::KubeClient client(ioc.get_executor(), connection->endpoint, connection->tls, connection->tokens);
  Gathered gathered;
  bool done = false;
  asio::co_spawn(ioc, gather(client, *target, ns, options, unready, gathered), [&](const std::exception_ptr& e) {
    done = true;
    if (e) gathered.error = "reading the cluster failed unexpectedly";
  });
  ioc.run();
  if (!done || !gathered.error.empty()) {
    err << "crashdiag explain: " << (gathered.error.empty() ? "reading the cluster did not finish" : gathered.error)
        << "\n";
    return 1;
  }
  if (gathered.pods.empty()) {
    err << "crashdiag explain: " << target->kind << " " << target->name << " has no pods in namespace " << ns << "\n";
    return 1;
  }
  auto logs_for = [&](const Pod& pod, const Container& c) {
    auto it = gathered.logs.find(pod.name + "/" + c.name);
    return it == gathered.logs.end() ? LogTail{} : it->second;
  };
  auto diagnoses =
      explain_pods(gathered.pods, gathered.events, logs_for, options.container, unready, classifier, gathered.previous);
  if (!diagnoses) {
    err << "crashdiag explain: " << diagnoses.error() << "\n";
    return 2;
  }
  if (diagnoses->empty()) {
    Diagnosis none;
    none.namespace_ = ns;
    none.pod = std::to_string(gathered.pods.size()) + " pods of " + target->kind + " " + target->name;
    diagnoses->push_back(std::move(none));
  }
  out << render(*diagnoses, options.format);
  return 0;
}

}  // namespace crashdiag
