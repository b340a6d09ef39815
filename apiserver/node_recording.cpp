#include "node_recording.hpp"

#include <fstream>
#include <sstream>
#include <thread>

namespace crashdiag::fake {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::optional<std::string> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

tl::expected<json, RecordingError> read_json(const fs::path& p) {
  auto text = slurp(p);
  if (!text) return tl::unexpected(RecordingError{p.string(), "cannot read"});
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return tl::unexpected(RecordingError{p.string(), "not JSON"});
  return j;
}

tl::expected<std::vector<json>, RecordingError> read_items(const fs::path& p) {
  auto j = read_json(p);
  if (!j) return tl::unexpected(j.error());
  if (!j->contains("items") || !(*j)["items"].is_array()) {
    return tl::unexpected(RecordingError{p.string(), "not a List"});
  }
  return (*j)["items"].get<std::vector<json>>();
}

// The shared recorder wrote kubectl's stderr and then `exit=N` into NAME.err beside NAME.log; this
// project's own recording left it empty when kubectl succeeded.
bool kubectl_succeeded(const fs::path& err_file) {
  auto err = slurp(err_file);
  if (!err) return true;
  if (err->find("exit=") != std::string::npos) return err->find("exit=0") != std::string::npos;
  return err->find("Error from server") == std::string::npos;
}

}  // namespace

tl::expected<NodeRecording, RecordingError> load_node_recording(const fs::path& dir) {
  NodeRecording rec;
  rec.folder = dir.filename().string();
  if (rec.folder.empty()) rec.folder = dir.parent_path().filename().string();
  if (fs::exists(dir / "workloads.json")) {
    auto items = read_items(dir / "workloads.json");
    if (!items) return tl::unexpected(items.error());
    rec.workloads = std::move(*items);
  }
  auto events = read_items(dir / "events.json");
  if (!events) return tl::unexpected(events.error());
  rec.events = std::move(*events);
  if (fs::exists(dir / "pods.json")) {
    auto pods = read_items(dir / "pods.json");
    if (!pods) return tl::unexpected(pods.error());
    rec.pods = std::move(*pods);
  } else {
    auto pod = read_json(dir / "pod.json");
    if (!pod) return tl::unexpected(pod.error());
    rec.pods.push_back(std::move(*pod));
  }
  if (rec.pods.empty()) return tl::unexpected(RecordingError{(dir / "pods.json").string(), "no pods"});
  if (auto text = slurp(dir / "watch.ndjson")) {
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      json ev = json::parse(line, nullptr, false);
      if (ev.is_discarded() || !ev.contains("type") || !ev.contains("object")) {
        return tl::unexpected(
            RecordingError{(dir / "watch.ndjson").string(), "not a watch event: " + line.substr(0, 80)});
      }
      // The fake sends its own bookmarks; the recorded ones carry the real server's RVs.
      if (ev["type"] != "BOOKMARK") rec.watch.push_back(std::move(ev));
    }
  }
  // The logs belong to pod.json's pod, the one with the most restarts (the recorder's choice).
  json logged = rec.pods.front();
  if (rec.pods.size() > 1) {
    auto pod = read_json(dir / "pod.json");
    if (!pod) return tl::unexpected(pod.error());
    logged = std::move(*pod);
  }
  const std::string pod_name = logged["metadata"]["name"];
  for (const auto& c : logged["spec"]["containers"]) {
    const std::string name = c["name"];
    for (const bool previous : {true, false}) {
      const std::string base = std::string(previous ? "previous-" : "current-") + name;
      auto text = slurp(dir / (base + ".log"));
      if (!text) continue;
      RecordedLog log{pod_name, name, previous, std::nullopt};
      if (kubectl_succeeded(dir / (base + ".err"))) log.text = std::move(*text);
      rec.logs.push_back(std::move(log));
    }
  }
  // Older recordings keep only previous.log: `kubectl logs --previous` of the failing container,
  // which, in a one-container pod, is the first.
  if (rec.logs.empty() && fs::exists(dir / "previous.log")) {
    RecordedLog log{pod_name, logged["spec"]["containers"][0]["name"], true, std::nullopt};
    if (kubectl_succeeded(dir / "previous.err")) log.text = slurp(dir / "previous.log");
    rec.logs.push_back(std::move(log));
  }
  return rec;
}

void replay(FakeApiServer& server, const NodeRecording& recording, std::chrono::milliseconds step) {
  for (const auto& w : recording.workloads) server.add_object(w);
  for (const auto& e : recording.events) server.add_event(e);
  for (const auto& log : recording.logs) {
    if (!log.text) continue;  // kubectl failed: the fake gives the kubelet's 400
    const std::string ns = recording.pods.front()["metadata"]["namespace"];
    server.set_logs(ns, log.pod, log.container, log.previous, *log.text);
  }
  for (const auto& ev : recording.watch) {
    const json& pod = ev["object"];
    if (ev["type"] == "DELETED") {
      server.delete_pod(pod["metadata"]["namespace"], pod["metadata"]["name"]);
    } else {
      server.apply_pod(pod);
    }
    std::this_thread::sleep_for(step);
  }
  for (const auto& pod : recording.pods) server.apply_pod(pod);
}

}  // namespace crashdiag::fake
