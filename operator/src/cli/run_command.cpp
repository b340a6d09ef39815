#include "run_command.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <random>

#include "alert_sink.hpp"
#include "alertmanager_client.hpp"
#include "client.hpp"
#include "connect.hpp"
#include "crashdiag/classifiers/categories.hpp"
#include "crashdiag/core/alerts.hpp"
#include "crashdiag/core/kubeconfig.hpp"
#include "crashdiag/core/rca.hpp"
#include "daemon.hpp"
#include "http_server.hpp"
#include "leader_elector.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "rule_loader.hpp"
#include "rule_reloader.hpp"
#include "tls.hpp"

namespace crashdiag {

namespace {

using kube::read_file;

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// The replica's name in Events (reportingInstance): the pod name via the downward API
// (POD_NAME), else the hostname, which is the pod name in a cluster.
std::string instance_name() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  if (auto host = read_file("/proc/sys/kernel/hostname")) {
    std::string h = *host;
    while (!h.empty() && (h.back() == '\n' || h.back() == ' ')) h.pop_back();
    if (!h.empty()) return h;
  }
  return "crashdiag";
}

std::vector<std::string> category_ids() {
  std::vector<std::string> out;
  for (const auto& c : categories()) out.emplace_back(c.id);
  return out;
}

}  // namespace

int run_daemon(const RunOptions& o) {
  daemon::LogLevel level = daemon::LogLevel::kInfo;
  if (!daemon::parse_log_level(o.log_level, level)) {
    std::cerr << "crashdiag run: --log-level " << o.log_level << ": use debug, info, warn or error\n";
    return 2;
  }
  daemon::configure_logging(o.log_format == "json" ? daemon::LogFormat::kJson : daemon::LogFormat::kText, level);
  // Flags first: a typo fails at once, before any file or the network is touched.
  auto duration_flag = [](const char* flag, const std::string& value,
                          const char* examples) -> std::optional<core::Duration> {
    auto d = core::parse_duration(value);
    if (!d)
      std::cerr << "crashdiag run: " << flag << " \"" << value << "\": not a duration; use e.g. " << examples << "\n";
    return d;
  };
  const auto resolve_after = duration_flag("--resolve-after", o.resolve_after, "10m, 90s or 1h30m");
  const auto reload_interval =
      duration_flag("--rules-reload-interval", o.rules_reload_interval, "10s or 1m, or 0 to disable");
  const auto evidence_delay = duration_flag("--evidence-delay", o.evidence_delay, "2s or 500ms, or 0 for none");
  const auto unready_after = duration_flag("--unready-after", o.unready_after, "5m or 90s");
  const auto resend_interval =
      duration_flag("--alertmanager-resend-interval", o.alertmanager_resend_interval, "1m or 30s");
  if (!resolve_after || !reload_interval || !evidence_delay || !unready_after || !resend_interval) return 2;
  if (resend_interval->count() <= 0) {
    std::cerr << "crashdiag run: --alertmanager-resend-interval must be more than 0\n";
    return 2;
  }
  std::optional<core::AlertmanagerUrl> alertmanager_url;
  std::shared_ptr<boost::asio::ssl::context> alertmanager_tls;
  if (!o.alertmanager_url.empty()) {
    auto url = core::parse_alertmanager_url(o.alertmanager_url);
    if (!url) {
      std::cerr << "crashdiag run: --alertmanager-url \"" << o.alertmanager_url << "\": " << core::describe(url.error())
                << "\n";
      return 2;
    }
    if (url->tls) {
      auto tls = daemon::make_alertmanager_tls(o.alertmanager_ca);
      if (!tls) {
        std::cerr << "crashdiag run: " << tls.error() << "\n";
        return 2;
      }
      alertmanager_tls = std::move(*tls);
    } else if (!o.alertmanager_ca.empty()) {
      std::cerr << "crashdiag run: --alertmanager-ca is for an https:// --alertmanager-url\n";
      return 2;
    }
    alertmanager_url = std::move(*url);
  } else if (!o.alertmanager_ca.empty()) {
    std::cerr << "crashdiag run: --alertmanager-ca needs --alertmanager-url\n";
    return 2;
  }
  core::Shard shard{0, o.total_shards};
  {
    std::string text = o.shard;
    if (text == "ordinal") {
      // A StatefulSet's pods are <name>-<ordinal> (POD_NAME, else the hostname).
      const std::string pod = instance_name();
      text = pod.substr(pod.find_last_of('-') + 1);
    }
    int value = -1;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || value >= o.total_shards) {
      std::cerr << "crashdiag run: --shard \"" << o.shard << "\""
                << (o.shard == "ordinal" ? " (from " + instance_name() + ")" : "") << ": need 0.."
                << (o.total_shards - 1) << " for --total-shards " << o.total_shards << "\n";
      return 2;
    }
    shard.index = value;
  }

  auto connection = kube::connect(kube::kubeconfig_path(o.kubeconfig), o.context);
  if (!connection) {
    std::cerr << "crashdiag run: " << connection.error() << "\n";
    return 2;
  }
  const core::ClusterAccess& access = connection->access;
  if (access.insecure_skip_tls_verify) {
    daemon::log(daemon::LogLevel::kWarn, "TLS verification disabled by the kubeconfig (insecure-skip-tls-verify)",
                {{"source", access.source}});
  }
  // The directories' files are read once: the classifier is compiled from exactly what the
  // reloader then compares against.
  auto dir_sources = read_rule_dirs(o.rules_dirs);
  if (!dir_sources) {
    std::cerr << "crashdiag: cannot load rules: " << dir_sources.error().to_string() << "\n";
    return 2;
  }
  auto classifier = compile_classifier(with_builtin(*dir_sources, true));
  if (!classifier) {
    std::cerr << "crashdiag: " << classifier.error() << "\n";
    return 2;
  }
  const std::size_t loaded_rules = classifier->engine().rules().size();
  daemon::ClassifierHolder classifiers(std::make_shared<const Classifier>(std::move(*classifier)));

  std::string lease_namespace = o.leader_election_namespace;
  if (o.leader_elect && lease_namespace.empty()) {
    auto ns = read_file(std::string(kServiceAccountDir) + "/namespace");
    if (!ns) {
      std::cerr << "crashdiag run: --leader-elect needs --leader-election-namespace when not running in a pod ("
                << kServiceAccountDir << "/namespace is missing)\n";
      return 2;
    }
    lease_namespace = *ns;
  }

  boost::asio::io_context ioc(1);
  metrics::Metrics metrics(category_ids(), CRASHDIAG_VERSION);
  kube::ClientOptions client_options;
  client_options.qps = o.qps;
  client_options.burst = o.burst;
  client_options.on_request = [&metrics](std::string_view verb, std::string_view resource, int code, double seconds) {
    metrics.api_request(verb, resource, code, seconds);
  };
  kube::KubeClient client(ioc.get_executor(), connection->endpoint, connection->tls, connection->tokens,
                          client_options);
  daemon::DaemonOptions options;
  options.namespaces = o.namespaces;
  options.exclude_namespaces = o.exclude_namespaces;
  options.what_changed = o.what_changed;
  options.link_dependencies = o.link_dependencies;
  options.watch_owners = o.watch_owners;
  options.watch.watch_list = o.watch_list;
  options.shard = shard;
  auto publishes = [&o](const char* what) {
    return std::find(o.publish.begin(), o.publish.end(), what) != o.publish.end();
  };
  options.publisher.publish_rca = publishes("rca");
  options.publisher.publish_annotation = publishes("annotation");
  options.publisher.publish_event = publishes("event");
  options.publisher.lanes = o.publish_concurrency;
  options.label_selector = o.selector;
  options.pod_list_protobuf = o.pod_list_encoding == "protobuf";
  options.metrics = &metrics;
  options.instance = instance_name();
  options.rca.resolve_after = *resolve_after;
  options.evidence_delay = *evidence_delay;
  options.unready_after = *unready_after;
  options.start_leading = !o.leader_elect;
  // Declared before the daemon, whose publisher points at it, so it outlives it.
  std::unique_ptr<daemon::AlertmanagerClient> alertmanager;
  std::unique_ptr<daemon::AlertSink> alert_sink;
  if (alertmanager_url) {
    alertmanager =
        std::make_unique<daemon::AlertmanagerClient>(ioc.get_executor(), *alertmanager_url, alertmanager_tls);
    daemon::AlertSinkOptions sink_options;
    sink_options.alerts.resend_interval = *resend_interval;
    alert_sink = std::make_unique<daemon::AlertSink>(ioc, *alertmanager, sink_options, &metrics);
    options.publisher.alerts = alert_sink.get();
  }
  daemon::Daemon d(ioc, client, classifiers, options);
  metrics.set_rules_loaded(static_cast<double>(loaded_rules));
  RuleReloader reloader(o.rules_dirs, true, classifiers, loaded_rules, *dir_sources);
  boost::asio::steady_timer reload_timer(ioc);

  // Bind both endpoints before anything else runs: a taken port is a startup error.
  http::HttpServer metrics_server(
      ioc.get_executor(),
      http::Routes{{"/metrics", [&metrics] {
                      return http::Reply{200, std::string(metrics::kContentType), metrics.serialize()};
                    }}});
  auto metrics_port = metrics_server.listen("--metrics-bind-address", o.metrics_bind_address);
  if (!metrics_port) {
    std::cerr << "crashdiag run: " << metrics_port.error() << "\n";
    return 2;
  }
  http::HttpServer health_server(
      ioc.get_executor(),
      http::Routes{{"/healthz",
                    [&d] {
                      std::string why;
                      return d.healthy(&why) ? http::Reply{200, "", "ok\n"} : http::Reply{500, "", why + "\n"};
                    }},
                   {"/readyz", [&d] {
                      return d.synced() ? http::Reply{200, "", "ok\n"}
                                        : http::Reply{503, "", "waiting for the first list of pods and events\n"};
                    }}});
  auto health_port = health_server.listen("--health-probe-bind-address", o.health_probe_bind_address);
  if (!health_port) {
    std::cerr << "crashdiag run: " << health_port.error() << "\n";
    return 2;
  }
  // The bound ports (port 0 picks one), so probes and scrapers can be pointed at them.
  auto port_text = [](const std::optional<std::uint16_t>& port) { return port ? std::to_string(*port) : "off"; };

  std::unique_ptr<daemon::LeaderElector> elector;
  if (o.leader_elect) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    core::Random random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
    daemon::LeaderElectorOptions eo;
    eo.election.namespace_ = lease_namespace;
    // One leader per shard: each shard's replicas elect among themselves.
    eo.election.name =
        shard.total > 1 ? o.leader_election_id + "-shard-" + std::to_string(shard.index) : o.leader_election_id;
    eo.election.identity = daemon::make_leader_identity(random);
    eo.random = random;
    eo.on_started_leading = [&d, &metrics] {
      metrics.set_leader(true);
      d.set_leading(true);
    };
    eo.on_stopped_leading = [&d, &metrics] {
      metrics.set_leader(false);
      d.set_leading(false);
    };
    if (auto bad = core::validate(eo.election)) {
      std::cerr << "crashdiag run: leader election: " << *bad << "\n";
      return 2;
    }
    elector = std::make_unique<daemon::LeaderElector>(ioc, client, std::move(eo));
  } else {
    metrics.set_leader(true);
  }
  daemon::log(daemon::LogLevel::kInfo, "starting",
              {{"server", access.server},
               {"source", access.source},
               {"rules", std::to_string(loaded_rules)},
               {"instance", options.instance},
               {"metrics_port", port_text(*metrics_port)},
               {"health_port", port_text(*health_port)},
               {"leader_elect", o.leader_elect ? "true" : "false"},
               {"alertmanager", alertmanager_url ? alertmanager_url->display() : "off"}});

  // SIGTERM (the kubelet stopping the pod): stop watching, let the publisher finish the writes
  // in flight, then release the lease so another replica takes over at once instead of after
  // the lease expires. The whole shutdown is bounded to 10 s (the pod's default grace period is
  // 30 s; the lease must be free well within it).
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer shutdown_deadline(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    daemon::log(daemon::LogLevel::kInfo, "shutting down", {{"signal", std::to_string(sig)}});
    reload_timer.cancel();
    d.stop();
    shutdown_deadline.expires_after(std::chrono::seconds(10));
    shutdown_deadline.async_wait([&](const boost::system::error_code& tec) {
      if (!tec) ioc.stop();
    });
  });
  bool elector_done = elector == nullptr;
  bool daemon_done = false;
  auto finish = [&] {
    if (!daemon_done || !elector_done) return;
    metrics_server.stop();
    health_server.stop();
    shutdown_deadline.cancel();
    reload_timer.cancel();
    signals.cancel();
  };
  if (elector) {
    boost::asio::co_spawn(ioc, elector->run(), [&](const std::exception_ptr&) {
      elector_done = true;
      finish();
    });
  }
  // Custom rules reload live: a ConfigMap update reaches the mounted directory within the kubelet's
  // sync period (about a minute), and the next poll picks it up.
  if (!o.rules_dirs.empty() && reload_interval->count() > 0) {
    boost::asio::co_spawn(
        ioc,
        reload_rules_every(
            reloader, reload_timer, std::chrono::milliseconds(reload_interval->count()),
            [&metrics](const ReloadResult& r) {
              const bool ok = r.kind == ReloadResult::Kind::kReloaded;
              metrics.rules_reload(ok);
              metrics.set_rules_loaded(static_cast<double>(r.rules));
              if (ok) {
                daemon::log(daemon::LogLevel::kInfo, "rules reloaded", {{"rules", std::to_string(r.rules)}});
              } else {
                daemon::log(daemon::LogLevel::kError, "rules reload failed; keeping the last good rule set",
                            {{"error", r.error}, {"rules", std::to_string(r.rules)}});
              }
            }),
        boost::asio::detached);
  }
  if (o.on_started) o.on_started(metrics_port->value_or(0), health_port->value_or(0));
  boost::asio::co_spawn(ioc, d.run(), [&](const std::exception_ptr&) {
    daemon_done = true;
    if (elector) elector->stop();  // writes are done: release the lease
    finish();
  });
  ioc.run();
  daemon::log(daemon::LogLevel::kInfo, "stopped", {{"diagnoses", std::to_string(d.diagnoses())}});
  return 0;
}

}  // namespace crashdiag
