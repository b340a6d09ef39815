// A real kubelet's crash loop, as recorded in tests/data/node/<folder> (from
// ../shared/k8s-fixtures/node: kube-apiserver and kubelet 1.26.1 on containerd 1.6 / runc 1.1),
// loaded and replayed into the fake API server: the workloads, the Events, the logs kubectl read
// (or the kubelet's refusal), and the pods - through the recorded watch stream when there is one,
// with its timing compressed, then in their final recorded state.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "fake_apiserver.hpp"

namespace crashdiag::fake {

struct RecordedLog {
  std::string pod;
  std::string container;
  bool previous = true;
  // What `kubectl logs` printed; nullopt when it failed (its .err file has a non-zero exit): the
  // fake then answers as the kubelet did, 400 "previous terminated container ... not found".
  std::optional<std::string> text;
};

struct NodeRecording {
  std::string folder;
  std::vector<nlohmann::json> workloads;  // workloads.json: the Deployment and its ReplicaSet
  std::vector<nlohmann::json> events;     // events.json
  std::vector<nlohmann::json> watch;      // watch.ndjson's ADDED/MODIFIED/DELETED events, BOOKMARKs left out
  std::vector<nlohmann::json> pods;       // pods.json (else pod.json): the final state
  std::vector<RecordedLog> logs;
};

struct RecordingError {
  std::string file;
  std::string message;
};

[[nodiscard]] tl::expected<NodeRecording, RecordingError> load_node_recording(const std::filesystem::path& dir);

// Stores the workloads, Events and logs, then plays the watch stream's pod changes `step` apart
// (the real stream spans 90 s) and finally applies the recorded final pods. Blocks while it plays.
void replay(FakeApiServer& server, const NodeRecording& recording, std::chrono::milliseconds step);

}  // namespace crashdiag::fake
