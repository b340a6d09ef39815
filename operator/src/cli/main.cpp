// crashdiag: explains why Kubernetes containers crash-loop.
#include <CLI/CLI.hpp>
#include <iostream>

#include "demo_command.hpp"
#include "explain_command.hpp"
#include "explain_live.hpp"
#include "rule_loader.hpp"
#include "rules_command.hpp"
#include "run_command.hpp"

int main(int argc, char** argv) {
  using namespace crashdiag;
  // Installed as kubectl-crashdiag on $PATH it is a kubectl plugin: `kubectl crashdiag explain pod
  // NAME` runs it with the words after "crashdiag" (kubectl's plugin mechanism).
  const std::string self = argc > 0 ? std::string(argv[0]) : "crashdiag";
  const bool plugin = self.substr(self.find_last_of('/') + 1) == "kubectl-crashdiag";
  CLI::App app{"crashdiag: explains why Kubernetes containers crash-loop, with the evidence quoted and the fix",
               plugin ? "kubectl crashdiag" : "crashdiag"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("crashdiag ") + CRASHDIAG_VERSION);

  std::vector<std::string> rules_dirs;
  bool no_default_rules = false;

  ExplainOptions explain;
  std::string output = "text";
  std::string examples_dir;
  ExplainLiveOptions live;
  auto* cmd_explain = app.add_subcommand(
      "explain",
      "Explain a failing pod or workload: from the cluster (explain pod NAME, explain deploy/NAME), or from "
      "kubectl's JSON, its previous logs and its Events (-f)");
  cmd_explain->add_option("target", live.target,
                          "pod NAME, pod/NAME, NAME, or a workload: deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME "
                          "(read through the kubeconfig as `crashdiag run` reads the cluster)");
  cmd_explain->add_option("-n,--namespace", live.namespace_, "Namespace (default: the context's)");
  cmd_explain->add_option("--kubeconfig", live.kubeconfig, "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)");
  cmd_explain->add_option("--context", live.context, "Kubeconfig context (default: current-context)");
  cmd_explain->add_option("-f,--filename", explain.pod_file,
                          "kubectl get pod NAME -o json|yaml, a List of pods, or docker inspect output; - for stdin");
  cmd_explain->add_option("--logs", explain.logs_file,
                          "Previous container logs (kubectl logs NAME --previous, or docker logs NAME)");
  cmd_explain->add_option("--events", explain.events_file,
                          "Events JSON (kubectl get events --field-selector involvedObject.name=NAME -o json)");
  cmd_explain->add_option("--previous-template", explain.previous_template_file,
                          "The pod template that ran before (ReplicaSet, Deployment, ControllerRevision, PodTemplate "
                          "or Pod; JSON or YAML): say what changed since");
  cmd_explain->add_option("-c,--container", explain.container, "Explain this container (default: every failing one)");
  cmd_explain->add_option("--unready-after", explain.unready_after,
                          "A container running but not Ready this long is failing (Go duration)");
  cmd_explain->add_option("-o,--output", output, "Output format")->check(CLI::IsMember({"text", "json", "yaml"}));
  cmd_explain->add_option("--examples", examples_dir,
                          "Explain every example directory under DIR (pod.json, previous.log, events.json)");
  cmd_explain->add_option("--rules-dir", rules_dirs, "Additional rule directory (repeatable)");
  cmd_explain->add_flag("--no-default-rules", no_default_rules, "Do not load the shipped rule packs");

  auto* cmd_rules = app.add_subcommand("rules", "Inspect and test rule packs");
  cmd_rules->require_subcommand(1);
  std::vector<std::string> test_dirs;
  auto* cmd_rules_test = cmd_rules->add_subcommand("test", "Run every rule's examples, like `promtool test rules`");
  cmd_rules_test->add_option("dirs", test_dirs, "Rule directories")->required();
  auto* cmd_rules_list = cmd_rules->add_subcommand("list", "List the loaded rules");
  cmd_rules_list->add_option("--rules-dir", rules_dirs, "Additional rule directory (repeatable)");
  cmd_rules_list->add_flag("--no-default-rules", no_default_rules, "Do not load the shipped rule packs");

  RunOptions run;
  auto* cmd_run = app.add_subcommand("run", "Watch the cluster and diagnose every failing container (the daemon)");
  cmd_run->add_option("--kubeconfig", run.kubeconfig,
                      "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)");
  cmd_run->add_option("--context", run.context, "Kubeconfig context (default: current-context)");
  cmd_run
      ->add_option("-n,--namespace,--namespaces", run.namespaces,
                   "Watch only these namespaces (comma-separated or repeated; default: all)")
      ->delimiter(',');
  cmd_run->add_option("--what-changed", run.what_changed,
                      "Say what changed in a failing workload's pod template since its previous revision (lists "
                      "ReplicaSets and ControllerRevisions when an RCA is new; default true)");
  cmd_run->add_option("--watch-owners", run.watch_owners,
                      "Keep a metadata-only list+watch of ReplicaSets, Jobs, workloads and namespaces, so that a "
                      "failure's workload and crashdiag.io/ignore cost no request (false: one GET each per failure; "
                      "default true)");
  cmd_run->add_option("--watch-list", run.watch_list,
                      "Sync each watch by a streaming list (sendInitialEvents, KEP-3157) where the server offers "
                      "it, a list where it does not (default false: on a real 1.32 (beta.0) server it synced 20,000 "
                      "pods 6 times slower than the protobuf list)");
  cmd_run->add_option("--link-dependencies", run.link_dependencies,
                      "Link an RCA whose container fails on a Service it names to the RCA of the workload behind "
                      "that Service (status.causedBy; lists its EndpointSlices when an RCA is new; default true)");
  cmd_run
      ->add_option("--exclude-namespaces", run.exclude_namespaces,
                   "Never diagnose pods of these namespaces (comma-separated or repeated)")
      ->delimiter(',');
  cmd_run
      ->add_option("--publish", run.publish,
                   "What to write: rca (RootCauseAnalysis objects), annotation (crashdiag.io/rca and "
                   "crashdiag.io/root-cause on the pod), event (an Event on the pod); comma-separated. Metrics "
                   "are always served. A pod, workload or namespace annotated crashdiag.io/ignore: \"true\" is "
                   "never diagnosed")
      ->delimiter(',')
      ->check(CLI::IsMember({"rca", "annotation", "event"}))
      ->capture_default_str();
  cmd_run->add_option("-l,--selector", run.selector, "Label selector for the pods to watch");
  cmd_run
      ->add_option("--pod-list-encoding", run.pod_list_encoding,
                   "Encoding asked for pod lists: protobuf (the apiserver encodes it at about half JSON's cost; "
                   "JSON where it is not offered) or json")
      ->check(CLI::IsMember({"protobuf", "json"}))
      ->capture_default_str();
  cmd_run->add_option("--shard", run.shard,
                      "This replica's shard, 0..total-1, or \"ordinal\" for a StatefulSet pod's ordinal: it "
                      "diagnoses only the namespaces whose hash falls on it");
  cmd_run->add_option("--total-shards", run.total_shards, "How many shards split the cluster (1: not sharded)")
      ->check(CLI::Range(1, 1024));
  cmd_run->add_option("--log-format", run.log_format, "Log format")->check(CLI::IsMember({"text", "json"}));
  cmd_run->add_option("--log-level", run.log_level, "debug, info, warn or error");
  cmd_run->add_option("--kube-api-qps", run.qps, "Client-side request rate limit (requests per second)");
  cmd_run->add_option("--kube-api-burst", run.burst, "Client-side request burst");
  cmd_run
      ->add_option("--publish-concurrency", run.publish_concurrency,
                   "Writes (RCAs, their status, annotations, Events) in flight at once; each object's stay in order")
      ->check(CLI::Range(1, 64));
  cmd_run->add_option("--rules-dir", run.rules_dirs, "Additional rule directory (repeatable)");
  cmd_run->add_option("--metrics-bind-address", run.metrics_bind_address,
                      "Address the /metrics endpoint binds to (\":8080\", \"127.0.0.1:8080\"; \"0\" disables)");
  cmd_run->add_option("--health-probe-bind-address", run.health_probe_bind_address,
                      "Address /healthz and /readyz bind to (\"0\" disables)");
  cmd_run->add_flag("--leader-elect", run.leader_elect,
                    "Elect a leader on a coordination.k8s.io Lease; only the leader writes (run 2+ replicas)");
  cmd_run->add_option("--leader-election-namespace", run.leader_election_namespace,
                      "Namespace of the Lease (default: the pod's namespace)");
  cmd_run->add_option("--leader-election-id", run.leader_election_id, "Name of the Lease");
  cmd_run->add_option("--resolve-after", run.resolve_after,
                      "Mark an analysis Resolved after its pods ran this long without the failure (Go duration)");
  cmd_run->add_option("--unready-after", run.unready_after,
                      "A container running but not Ready this long is failing (Go duration)");
  cmd_run->add_option("--evidence-delay", run.evidence_delay,
                      "Wait this long after a failure is seen before gathering its evidence, so the kubelet's "
                      "Events about it have arrived (Go duration)");
  cmd_run->add_option(
      "--rules-reload-interval", run.rules_reload_interval,
      "How often --rules-dir is re-read; a change is compiled and, if valid, takes effect (0 disables)");
  cmd_run->add_option("--alertmanager-url", run.alertmanager_url,
                      "Also post each analysis to this Alertmanager's v2 API as an alert, resolved when the "
                      "analysis resolves (http:// or https://, e.g. http://alertmanager.monitoring:9093)");
  cmd_run->add_option("--alertmanager-ca", run.alertmanager_ca,
                      "PEM CA bundle that signs an https:// Alertmanager's certificate (default: the system's)");
  cmd_run->add_option("--alertmanager-resend-interval", run.alertmanager_resend_interval,
                      "Re-send firing alerts this often; each is valid for 3 intervals (Go duration)");

  DemoOptions demo;
  auto* cmd_demo = app.add_subcommand(
      "demo", "Replay the bundled incidents on an in-process API server and diagnose them; serves kubectl");
  cmd_demo->add_option("--kubeconfig-out", demo.kubeconfig_out, "Where to write the kubeconfig for kubectl");
  cmd_demo->add_option("--resolve-after", demo.resolve_after, "--resolve-after of the daemon (shortened for the demo)");
  cmd_demo
      ->add_option("--exit-after", demo.exit_after,
                   "Exit this many seconds after the replay ends (default: serve until Ctrl-C)")
      ->check(CLI::Range(0.0, 86'400.0));
  cmd_demo->add_option("--log-level", demo.log_level, "The daemon's log level (debug, info, warn or error)");
  cmd_demo->add_option("--metrics-bind-address", demo.metrics_bind_address, "Address /metrics binds to");
  cmd_demo->add_option("--health-probe-bind-address", demo.health_probe_bind_address,
                       "Address /healthz and /readyz bind to");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (cmd_explain->parsed()) {
    const int sources =
        (live.target.empty() ? 0 : 1) + (explain.pod_file.empty() ? 0 : 1) + (examples_dir.empty() ? 0 : 1);
    if (sources != 1) {
      std::cerr << "crashdiag explain: give one of: pod NAME (or deploy/NAME ...), -f POD.json, --examples DIR\n";
      return 2;
    }
    auto classifier = make_classifier(rules_dirs, !no_default_rules);
    if (!classifier) {
      std::cerr << "crashdiag: " << classifier.error() << "\n";
      return 2;
    }
    const OutputFormat format = output == "json"   ? OutputFormat::kJson
                                : output == "yaml" ? OutputFormat::kYaml
                                                   : OutputFormat::kText;
    if (!examples_dir.empty()) return run_explain_examples(examples_dir, *classifier, format, std::cout, std::cerr);
    if (!live.target.empty()) {
      live.format = format;
      live.container = explain.container;
      live.unready_after = explain.unready_after;
      return run_explain_live(live, *classifier, std::cout, std::cerr);
    }
    explain.format = format;
    return run_explain(explain, *classifier, std::cin, std::cout, std::cerr);
  }
  if (cmd_run->parsed()) return run_daemon(run);
  if (cmd_rules_test->parsed()) return run_rules_test(test_dirs, std::cout, std::cerr);
  if (cmd_rules_list->parsed()) return run_rules_list(rules_dirs, !no_default_rules, std::cout, std::cerr);
  if (cmd_demo->parsed()) return run_demo(demo);
  return 2;
}
