// `crashdiag explain pod NAME` / `explain deploy/NAME`: the same report as `explain -f`, read from
// the cluster through the kubeconfig exactly as `crashdiag run` reads it (the pod, its Events,
// each failing container's previous log). Also what `kubectl crashdiag explain ...` runs when
// the binary is installed as the kubectl plugin `kubectl-crashdiag`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/report.hpp"

namespace crashdiag {

struct ExplainLiveOptions {
  std::vector<std::string> target;  // ["pod", "NAME"], ["pod/NAME"], ["NAME"], ["deploy/NAME"], ...
  std::string namespace_;           // -n; default: the context's namespace
  std::string kubeconfig;           // --kubeconfig; default: $KUBECONFIG, ~/.kube/config
  std::string context;              // --context
  std::string container;            // -c
  OutputFormat format = OutputFormat::kText;
  std::string unready_after = "5m";
  int tail_lines = 500;  // what `crashdiag run` reads (DaemonOptions::log_tail_lines, log_limit_bytes)
  int limit_bytes = 256 * 1024;
};

// What to read: a pod, or a workload whose pods are found by its selector.
struct ExplainTarget {
  std::string kind;  // "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"
  std::string name;
};

// kubectl's forms: TYPE NAME, TYPE/NAME, or a bare NAME (a pod), with kubectl's short names.
// Error: a type crashdiag does not read, or not one name.
[[nodiscard]] tl::expected<ExplainTarget, std::string> parse_explain_target(const std::vector<std::string>& words);

// Exit codes: 0 explained (or nothing failing), 1 the cluster said no (not found, forbidden,
// unreachable), 2 bad flags or kubeconfig.
[[nodiscard]] int run_explain_live(const ExplainLiveOptions& options, const Classifier& classifier, std::ostream& out,
                                   std::ostream& err);

}  // namespace crashdiag
