#include "run_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client.hpp"
#include "crashdiag/core/kubeconfig.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "rule_loader.hpp"
#include "tls.hpp"

namespace crashdiag {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// --kubeconfig, $KUBECONFIG (first entry), ~/.kube/config; empty means in-cluster.
std::string kubeconfig_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string first(env);
    return first.substr(0, first.find(':'));
  }
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    std::string p = std::string(home) + "/.kube/config";
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

}  // namespace

int run_daemon(const RunOptions& o) {
  daemon::LogLevel level = daemon::LogLevel::kInfo;
  if (!daemon::parse_log_level(o.log_level, level)) {
    std::cerr << "crashdiag run: --log-level " << o.log_level << ": use debug, info, warn or error\n";
    return 2;
  }
  daemon::configure_logging(o.log_format == "json" ? daemon::LogFormat::kJson : daemon::LogFormat::kText, level);

  core::ClusterAccess access;
  const std::string path = kubeconfig_path(o.kubeconfig);
  if (!path.empty()) {
    auto text = read_file(path);
    if (!text) {
      std::cerr << "crashdiag run: kubeconfig " << path << ": cannot read the file\n";
      return 2;
    }
    auto parsed = core::parse_kubeconfig(*text, path, o.context);
    if (!parsed) {
      std::cerr << "crashdiag run: " << parsed.error().to_string() << "\n";
      return 2;
    }
    access = *parsed;
  } else {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    auto parsed =
        core::in_cluster_access(host ? host : "", port ? port : "", "/var/run/secrets/kubernetes.io/serviceaccount");
    if (!parsed) {
      std::cerr << "crashdiag run: no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and "
                << parsed.error().to_string() << "\n";
      return 2;
    }
    access = *parsed;
  }
  std::string cert = access.client_cert_pem;
  std::string key = access.client_key_pem;
  if (cert.empty() && !access.client_cert_file.empty()) {
    auto c = read_file(access.client_cert_file);
    auto k = read_file(access.client_key_file);
    if (!c || !k) {
      std::cerr << "crashdiag run: " << access.source << ": client-certificate " << access.client_cert_file
                << " or client-key " << access.client_key_file << ": cannot read the file\n";
      return 2;
    }
    cert = *c;
    key = *k;
  }
  auto tls = kube::make_client_tls(access, cert, key);
  if (!tls) {
    std::cerr << "crashdiag run: " << access.source << ": " << tls.error() << "\n";
    return 2;
  }
  if (access.insecure_skip_tls_verify) {
    daemon::log(daemon::LogLevel::kWarn, "TLS verification disabled by the kubeconfig (insecure-skip-tls-verify)",
                {{"source", access.source}});
  }
  auto endpoint = kube::parse_server_url(access.server);
  if (!endpoint) {
    std::cerr << "crashdiag run: " << access.source << ": " << endpoint.error() << "\n";
    return 2;
  }
  endpoint->tls_server_name = access.tls_server_name;
  auto classifier = make_classifier(o.rules_dirs);
  if (!classifier) {
    std::cerr << "crashdiag: " << classifier.error() << "\n";
    return 2;
  }

  boost::asio::io_context ioc(1);
  kube::ClientOptions client_options;
  client_options.qps = o.qps;
  client_options.burst = o.burst;
  kube::KubeClient client(ioc.get_executor(), *endpoint, *tls, kube::make_token_source(access), client_options);
  daemon::DaemonOptions options;
  options.namespaces = o.namespaces;
  options.label_selector = o.selector;
  daemon::Daemon d(ioc, client, *classifier, options);
  daemon::log(daemon::LogLevel::kInfo, "starting",
              {{"server", access.server},
               {"source", access.source},
               {"rules", std::to_string(classifier->engine().rules().size())}});

  // SIGTERM (the kubelet stopping the pod) and SIGINT end the loops; in-flight requests are
  // abandoned with the io_context, nothing here needs flushing yet.
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    daemon::log(daemon::LogLevel::kInfo, "shutting down", {{"signal", std::to_string(sig)}});
    d.stop();
  });
  boost::asio::co_spawn(ioc, d.run(), [&](const std::exception_ptr&) { ioc.stop(); });
  ioc.run();
  daemon::log(daemon::LogLevel::kInfo, "stopped", {{"diagnoses", std::to_string(d.diagnoses())}});
  return 0;
}

}  // namespace crashdiag
