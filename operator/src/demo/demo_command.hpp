// `crashdiag demo`: the README's first command. Starts the in-process API server (apiserver/) on a
// loopback port over TLS, replays the bundled incidents on it (pods start, fail, back off, recover,
// fail again), runs the real daemon against it exactly as `crashdiag run` would, prints the
// analyses as `kubectl get rca -A` does after each act, and keeps serving so that a real kubectl
// can look around with the kubeconfig it wrote.
#pragma once

#include <string>

namespace crashdiag {

struct DemoOptions {
  std::string kubeconfig_out = "crashdiag-demo.kubeconfig";
  std::string resolve_after = "15s";
  double exit_after = -1;  // seconds after the replay; negative: serve until SIGINT/SIGTERM
  std::string log_level = "warn";
  std::string metrics_bind_address = "127.0.0.1:0";
  std::string health_probe_bind_address = "127.0.0.1:0";
};

[[nodiscard]] int run_demo(const DemoOptions& options);

}  // namespace crashdiag
