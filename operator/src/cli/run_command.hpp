#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace crashdiag {

struct RunOptions {
  std::string kubeconfig;  // --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster
  std::string context;
  std::vector<std::string> namespaces;
  std::vector<std::string> exclude_namespaces;
  bool what_changed =
      true;  // --what-changed: compare with the previous revision (lists ReplicaSets, ControllerRevisions)
  // --link-dependencies: link an RCA failing on a Service to the RCA behind it (lists EndpointSlices)
  bool link_dependencies = true;
  bool watch_owners = true;
  // --watch-list: sync by streaming list (WatchMachineConfig::watch_list).
  bool watch_list = false;
  std::vector<std::string> publish = {"rca", "annotation", "event"};  // what is written (--publish)
  // --shard N (or "ordinal": the trailing number of the pod's name, a StatefulSet's ordinal) and
  // --total-shards M.
  std::string shard = "0";
  int total_shards = 1;
  std::string selector;
  // --pod-list-encoding: "protobuf" asks for pod lists in protobuf (JSON as fallback), "json" only JSON.
  std::string pod_list_encoding = "protobuf";
  std::string log_format = "text";
  std::string log_level = "info";
  double qps = 20;
  int burst = 30;
  int publish_concurrency = 4;
  std::vector<std::string> rules_dirs;
  std::string metrics_bind_address = ":8080";       // "0" disables
  std::string health_probe_bind_address = ":8081";  // "0" disables
  bool leader_elect = false;
  std::string leader_election_namespace;  // default: the pod's namespace in-cluster
  std::string leader_election_id = "crashdiag-leader";
  std::string resolve_after = "10m";
  std::string rules_reload_interval = "10s";  // how often --rules-dir is re-read; "0" disables
  std::string evidence_delay = "2s";          // wait after a failure is seen, for the kubelet's Events
  std::string unready_after = "5m";           // running but not Ready this long is failing
  // --alertmanager-url: post RCAs to Alertmanager's v2 API as alerts (empty: off); --alertmanager-ca
  // for an https:// URL signed by a private CA; how often firing alerts are sent again.
  std::string alertmanager_url;
  std::string alertmanager_ca;
  std::string alertmanager_resend_interval = "1m";
  // Called once both endpoints are bound (0: disabled) and before the daemon starts (the demo).
  std::function<void(std::uint16_t metrics_port, std::uint16_t health_port)> on_started;
};

// Runs the daemon until SIGTERM/SIGINT. Startup problems (kubeconfig, rules, TLS material)
// exit 2 with a message naming the file and field.
[[nodiscard]] int run_daemon(const RunOptions& options);

}  // namespace crashdiag
