#include "incidents.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "crashdiag/embedded.hpp"

namespace crashdiag::demo {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// "2024-03-14T08:59:44Z" or "2024-03-14T08:41:27.050710Z": the two forms the API server writes
// (metav1.Time, metav1.MicroTime). Anything else is left alone, messages included.
bool looks_like_time(const std::string& s) {
  return s.size() >= 20 && s.size() <= 30 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
         s[16] == ':' && s.back() == 'Z';
}

void latest(const json& value, std::optional<core::WallTime>& out) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (!looks_like_time(s)) return;
    if (auto t = core::parse_time(s); t && (!out || *t > *out)) out = *t;
  } else if (value.is_structured()) {
    for (const auto& v : value) latest(v, out);
  }
}

void strip_server_fields(json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  object["metadata"].erase("resourceVersion");
  object["metadata"].erase("managedFields");
}

json running_state(core::WallTime now) {
  return {{"running", {{"startedAt", core::format_time(now)}}}};
}

void set_condition(json& pod, const std::string& type, bool status, core::WallTime now) {
  json& conditions = pod["status"]["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  for (auto& c : conditions) {
    if (c.value("type", "") != type) continue;
    c["status"] = status ? "True" : "False";
    c["lastTransitionTime"] = core::format_time(now);
    if (status) {
      c.erase("reason");
      c.erase("message");
    }
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", status ? "True" : "False"},
                        {"lastTransitionTime", core::format_time(now)},
                        {"lastProbeTime", nullptr}});
}

// Containers that were failing in the recording: waiting in a failure reason or terminated
// with a non-zero code (now or last time).
bool failing(const json& status) {
  const json waiting = status.value("state", json::object()).value("waiting", json::object());
  const std::string reason = waiting.value("reason", "");
  if (!reason.empty() && reason != "ContainerCreating" && reason != "PodInitializing") return true;
  const json term = status.value("state", json::object()).value("terminated", json::object());
  return term.value("exitCode", 0) != 0;
}

// Healthy since `now`: init containers completed (they ran before the app containers), app
// containers running and ready, the pod Running and Ready. `only_failing`: leave the containers
// that were not failing as they are.
void make_healthy(json& pod, core::WallTime now, bool only_failing) {
  json& status = pod["status"];
  status["phase"] = "Running";
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    if (!status.contains(key)) continue;
    const bool init = std::string(key) == "initContainerStatuses";
    for (auto& c : status[key]) {
      if (only_failing && !failing(c)) continue;
      if (init) {
        c["state"] = {{"terminated",
                       {{"exitCode", 0},
                        {"reason", "Completed"},
                        {"startedAt", core::format_time(now)},
                        {"finishedAt", core::format_time(now)}}}};
      } else {
        c["state"] = running_state(now);
        c["started"] = true;
      }
      c["ready"] = true;
    }
  }
  set_condition(pod, "Initialized", true, now);
  set_condition(pod, "ContainersReady", true, now);
  set_condition(pod, "Ready", true, now);
}

std::string strip_last_segment(const std::string& name) {
  const auto dash = name.rfind('-');
  return dash == std::string::npos ? name : name.substr(0, dash);
}

}  // namespace

std::vector<Incident> bundled_incidents() {
  std::map<std::string, Incident> by_name;
  for (const auto& f : embedded::examples()) {
    // "examples/<name>/<file>"
    const std::string path(f.path);
    const auto first = path.find('/');
    const auto second = path.find('/', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string name = path.substr(first + 1, second - first - 1);
    const std::string file = path.substr(second + 1);
    Incident& inc = by_name[name];
    inc.name = name;
    if (file == "previous.log") {
      inc.previous_log = std::string(f.text);
      continue;
    }
    json doc = json::parse(f.text, nullptr, false);
    if (doc.is_discarded()) throw std::runtime_error(path + " (compiled in) is not JSON");
    if (file == "pod.json") {
      inc.pod = std::move(doc);
    } else if (file == "events.json") {
      inc.events = doc.is_object() ? doc.value("items", json::array()) : doc;
    }
  }
  std::vector<Incident> out;
  for (auto& [name, inc] : by_name) {
    if (!inc.pod.is_object()) throw std::runtime_error("examples/" + name + " (compiled in) has no pod.json");
    if (!inc.events.is_array()) inc.events = json::array();
    out.push_back(std::move(inc));
  }
  return out;
}

void shift_times(json& value, milliseconds offset) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (!looks_like_time(s)) return;
    auto t = core::parse_time(s);
    if (!t) return;
    const bool micro = s.find('.') != std::string::npos;
    value = micro ? core::format_micro_time(*t + offset) : core::format_time(*t + offset);
  } else if (value.is_structured()) {
    for (auto& v : value) shift_times(v, offset);
  }
}

std::optional<core::WallTime> recorded_at(const Incident& incident) {
  std::optional<core::WallTime> out;
  latest(incident.pod.value("status", json::object()), out);
  latest(incident.events, out);
  return out;
}

json failing_pod(const Incident& incident, core::WallTime now) {
  json pod = incident.pod;
  strip_server_fields(pod);
  if (auto at = recorded_at(incident)) shift_times(pod, now - *at);
  return pod;
}

std::vector<json> failing_events(const Incident& incident, core::WallTime now) {
  std::vector<json> out;
  const auto at = recorded_at(incident);
  for (json ev : incident.events) {
    strip_server_fields(ev);
    if (at) shift_times(ev, now - *at);
    out.push_back(std::move(ev));
  }
  return out;
}

json started_pod(const json& failing_pod_json, core::WallTime now) {
  json pod = failing_pod_json;
  pod["status"]["startTime"] = core::format_time(now);
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    if (!pod["status"].contains(key)) continue;
    for (auto& c : pod["status"][key]) {
      c["restartCount"] = 0;
      c["lastState"] = json::object();
    }
  }
  make_healthy(pod, now, false);
  return pod;
}

json recovered_pod(const json& current, core::WallTime now) {
  json pod = current;
  make_healthy(pod, now, true);  // the kubelet keeps restart counts and last terminations
  return pod;
}

json recurred_pod(const json& failing_pod_json, const json& current, core::WallTime now) {
  json pod = failing_pod_json;
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    if (!pod["status"].contains(key)) continue;
    const json& before = current["status"].value(key, json::array());
    for (auto& c : pod["status"][key]) {
      if (!failing(c)) continue;
      int restarts = c.value("restartCount", 0);
      for (const auto& b : before) {
        if (b.value("name", "") == c.value("name", "")) restarts = b.value("restartCount", restarts);
      }
      c["restartCount"] = restarts + 1;
      if (!c.contains("lastState") || !c["lastState"].contains("terminated")) continue;
      json& term = c["lastState"]["terminated"];
      if (term.is_object()) {
        term["startedAt"] = core::format_time(now - milliseconds(30'000));
        term["finishedAt"] = core::format_time(now);
      }
    }
  }
  return pod;
}

std::string failing_container(const json& pod) {
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& c : pod["status"].value(key, json::array())) {
      if (failing(c) || c.value("restartCount", 0) > 0) return c.value("name", "");
    }
  }
  return "";
}

std::vector<json> owner_objects(const json& pod) {
  const json& meta = pod["metadata"];
  const std::string ns = meta.value("namespace", "default");
  const json labels = meta.value("labels", json::object());
  std::vector<json> out;
  out.push_back({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  for (const auto& ref : meta.value("ownerReferences", json::array())) {
    const std::string kind = ref.value("kind", "");
    const std::string name = ref.value("name", "");
    json template_labels = labels;
    template_labels.erase("pod-template-hash");
    template_labels.erase("controller-revision-hash");
    template_labels.erase("statefulset.kubernetes.io/pod-name");
    template_labels.erase("apps.kubernetes.io/pod-index");
    const json spec = {{"replicas", 1},
                       {"selector", {{"matchLabels", template_labels}}},
                       {"template", {{"metadata", {{"labels", template_labels}}}, {"spec", pod["spec"]}}}};
    json owner = {{"metadata", {{"name", name}, {"namespace", ns}, {"uid", ref.value("uid", "")}, {"labels", labels}}},
                  {"spec", spec}};
    if (kind == "ReplicaSet") {
      const std::string deployment = strip_last_segment(name);
      const std::string deployment_uid = "demo-deployment-" + ns + "-" + deployment;
      owner["apiVersion"] = "apps/v1";
      owner["kind"] = "ReplicaSet";
      owner["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"},
                                                           {"kind", "Deployment"},
                                                           {"name", deployment},
                                                           {"uid", deployment_uid},
                                                           {"controller", true},
                                                           {"blockOwnerDeletion", true}}});
      json dep = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata", {{"name", deployment}, {"namespace", ns}, {"uid", deployment_uid}}},
                  {"spec", spec}};
      out.push_back(std::move(dep));
      out.push_back(std::move(owner));
    } else if (kind == "StatefulSet" || kind == "DaemonSet") {
      owner["apiVersion"] = "apps/v1";
      owner["kind"] = kind;
      if (kind == "DaemonSet") owner["spec"].erase("replicas");
      out.push_back(std::move(owner));
    } else if (kind == "Job") {
      owner["apiVersion"] = "batch/v1";
      owner["kind"] = "Job";
      owner["spec"].erase("replicas");
      owner["spec"].erase("selector");  // the Job controller generates it
      out.push_back(std::move(owner));
    }
  }
  return out;
}

std::vector<Step> timeline(const std::vector<Incident>& incidents, milliseconds resolve_after) {
  using Kind = Step::Kind;
  std::vector<Step> steps;
  auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < incidents.size(); ++i) {
      if (incidents[i].name == name) return i;
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < incidents.size(); ++i)
    steps.push_back({milliseconds(0), Kind::kStart, i, "", Step::Await::kNothing, {}});
  // Failures arrive a quarter of a second apart, as a bad rollout reaches its pods.
  milliseconds t(2'000);
  for (std::size_t i = 0; i < incidents.size(); ++i) {
    steps.push_back({t, Kind::kFail, i, "", Step::Await::kNothing, {}});
    t += milliseconds(250);
  }
  // The daemon waits 2 s for the kubelet's Events, then diagnoses and publishes.
  t += milliseconds(6'000);
  steps.push_back({t, Kind::kShow, 0, "every failure diagnosed", Step::Await::kAllDiagnosed, {}});
  std::vector<std::size_t> recovering;
  for (const char* name : {"db-connection-refused", "dns-dependency", "oom-java-heap"}) {
    if (auto i = index_of(name)) recovering.push_back(*i);
  }
  t += milliseconds(2'000);
  for (std::size_t i : recovering) steps.push_back({t, Kind::kRecover, i, "", Step::Await::kNothing, {}});
  // Resolution needs resolve_after without the failure, checked every second.
  t += resolve_after + milliseconds(3'000);
  steps.push_back(
      {t, Kind::kShow, 0, "three recovered: their analyses are Resolved", Step::Await::kResolved, recovering});
  if (auto oom = index_of("oom-java-heap")) {
    t += milliseconds(2'000);
    steps.push_back({t, Kind::kRecur, *oom, "", Step::Await::kResolved, {*oom}});
    t += milliseconds(5'000);
    steps.push_back({t,
                     Kind::kShow,
                     0,
                     "the OOM came back: its analysis is Active again, COUNT 2, history Reopened",
                     Step::Await::kRecounted,
                     {*oom}});
  }
  return steps;
}

std::string render_table(const json& table, bool all_namespaces, bool wide) {
  std::vector<std::size_t> shown;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (all_namespaces) header.emplace_back("NAMESPACE");
  const json columns = table.value("columnDefinitions", json::array());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (!wide && columns[i].value("priority", 0) > 0) continue;
    shown.push_back(i);
    std::string name = columns[i].value("name", "");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    header.push_back(std::move(name));
  }
  rows.push_back(header);
  for (const auto& r : table.value("rows", json::array())) {
    std::vector<std::string> row;
    if (all_namespaces) {
      row.push_back(r.value("object", json::object()).value("metadata", json::object()).value("namespace", ""));
    }
    const json cells = r.value("cells", json::array());
    for (std::size_t i : shown) {
      const json cell = i < cells.size() ? cells[i] : json();
      row.push_back(cell.is_string() ? cell.get<std::string>() : cell.is_null() ? "<none>" : cell.dump());
    }
    rows.push_back(std::move(row));
  }
  if (rows.size() == 1) return "No resources found\n";
  // kubectl's tabwriter: minimum cell width 6, padding 3, the last column unpadded.
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], std::max<std::size_t>(row[i].size() + 3, 6));
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace crashdiag::demo
