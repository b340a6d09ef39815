// The daemon's footprint on a big cluster: a fake API server in a child process holds N pods
// (150,000 by default); the daemon lists and watches them over TLS. Reported: initial sync
// time, resident memory after the sync (and its growth over the process baseline), list
// requests made, then, after 10 workloads start crash-looping, API requests per diagnosed
// incident and whether any list was repeated (there must be none: no periodic relists).
// The baseline in the same run: a raw LIST of the same pods from the same server with the same
// client, bytes discarded (issue 14 item 2). Each Deployment (ten replicas) has its ReplicaSet,
// which the owner index watches as a cluster's would.
// Usage: crashdiag_sync_bench [pods]

#include <sys/resource.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "cluster_objects.hpp"
#include "daemon.hpp"
#include "fake_apiserver.hpp"
#include "forked_fake.hpp"
#include "log.hpp"
#include "rule_loader.hpp"

namespace {

using nlohmann::json;

// A pod shaped like a Deployment's replica in a real cluster (labels, annotations, owner,
// two containers with env, probes, resources, managed fields): about 4 KB of JSON.
// User + system CPU of this thread (RUSAGE_THREAD) or process (RUSAGE_SELF), in seconds.
double cpu_seconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Ten replicas per Deployment, 200 namespaces.
std::string app_of(int i) {
  return "svc-" + std::to_string(i / 10);
}
std::string ns_of(int i) {
  return "team-" + std::to_string((i / 10) % 200);
}

json realistic_pod(int i, bool crashing) {
  const std::string ns = ns_of(i);
  const std::string app = app_of(i);
  json container = {
      {"name", "app"},
      {"image", "registry.example.com/" + app + ":1.4." + std::to_string(i % 7)},
      {"ports", json::array({{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}})},
      {"env", json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                           {{"name", "DB_HOST"}, {"value", "postgres." + ns + ".svc"}}})},
      {"resources",
       {{"limits", {{"memory", "512Mi"}, {"cpu", "500m"}}}, {"requests", {{"memory", "256Mi"}, {"cpu", "100m"}}}}},
      {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}},
      {"readinessProbe", {{"httpGet", {{"path", "/ready"}, {"port", 8080}}}, {"periodSeconds", 5}}},
      {"terminationMessagePath", "/dev/termination-log"},
      {"imagePullPolicy", "IfNotPresent"}};
  json owner = {{"apiVersion", "apps/v1"},
                {"kind", "ReplicaSet"},
                {"name", app + "-6f7d8c9b5"},
                {"uid", "rs-" + app},
                {"controller", true}};
  json pod = crashdiag::fake::make_pod(ns, app + "-6f7d8c9b5-" + std::to_string(i), container, owner);
  pod["metadata"]["labels"] = {{"app", app}, {"pod-template-hash", "6f7d8c9b5"}, {"team", ns}};
  pod["metadata"]["annotations"] = {{"kubectl.kubernetes.io/restartedAt", "2026-11-01T10:00:00Z"},
                                    {"prometheus.io/scrape", "true"}};
  pod["metadata"]["managedFields"] = json::array({{{"manager", "kube-controller-manager"},
                                                   {"operation", "Update"},
                                                   {"apiVersion", "v1"},
                                                   {"time", "2026-11-01T10:00:00Z"},
                                                   {"fieldsType", "FieldsV1"},
                                                   {"fieldsV1",
                                                    {{"f:metadata", {{"f:labels", {{"f:app", json::object()}}}}},
                                                     {"f:spec", {{"f:containers", json::object()}}}}}}});
  pod["spec"]["containers"].push_back({{"name", "proxy"},
                                       {"image", "envoyproxy/envoy:v1.30.1"},
                                       {"args", json::array({"-c", "/etc/envoy/envoy.yaml"})}});
  json statuses = json::array();
  for (const char* name : {"app", "proxy"}) {
    json st = {{"name", name},
               {"ready", true},
               {"restartCount", 0},
               {"started", true},
               {"image", "registry.example.com/x"},
               {"imageID", "registry.example.com/x@sha256:0123456789abcdef"},
               {"containerID", "containerd://0123456789abcdef0123456789abcdef"},
               {"state", {{"running", {{"startedAt", "2026-11-01T10:00:05Z"}}}}},
               {"lastState", json::object()}};
    if (crashing && std::string(name) == "app") {
      st["ready"] = false;
      st["restartCount"] = 3;
      st["state"] = {
          {"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s restarting failed container"}}}};
      st["lastState"] = {
          {"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}, {"finishedAt", "2026-11-22T04:00:00Z"}}}};
    }
    statuses.push_back(st);
  }
  pod["status"]["containerStatuses"] = statuses;
  pod["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", crashing ? "False" : "True"}}});
  pod["status"]["podIP"] = "10.244." + std::to_string(i % 250) + "." + std::to_string(i % 200);
  return pod;
}

}  // namespace

int main(int argc, char** argv) {
  const int pods = argc > 1 ? std::atoi(argv[1]) : 150000;
  // "watch-list": the fake serves streaming lists (1.32+'s timing) and the daemon syncs pods and
  // owners by them (--watch-list); the raw baseline stays the same JSON LIST.
  const bool watch_list = argc > 2 && std::string_view(argv[2]) == "watch-list";
  if (argc > 2 && !watch_list && std::string_view(argv[2]) != "list") {
    std::fprintf(stderr, "usage: crashdiag_sync_bench [pods] [list|watch-list]\n");
    return 2;
  }
  crashdiag::fake::FakeOptions fake_options;
  fake_options.watch_list = watch_list;
  auto fake = crashdiag::bench::ForkedFake::start(
      [pods](crashdiag::fake::FakeApiServer& server) {
        for (int i = 0; i < pods; ++i) {
          server.apply_pod(realistic_pod(i, false));
          if (i % 10 != 0) continue;
          server.put_object("/apis/apps/v1", "deployments", crashdiag::bench::deployment(ns_of(i), app_of(i)));
          server.put_object("/apis/apps/v1", "replicasets", crashdiag::bench::replicaset(ns_of(i), app_of(i)));
        }
        server.compact();  // keep only the current state, as etcd would after compaction
      },
      [](crashdiag::fake::FakeApiServer& server, char cmd) {
        if (cmd != 'c') return;
        for (int w = 0; w < 10; ++w) {
          json p = realistic_pod(w * 10, true);
          server.apply_pod(p);
          server.set_logs(p["metadata"]["namespace"], p["metadata"]["name"], "app", true,
                          "INFO start\nINFO warming cache\n");
        }
      },
      fake_options);
  if (!fake) return 1;

  crashdiag::daemon::configure_logging(crashdiag::daemon::LogFormat::kText, crashdiag::daemon::LogLevel::kError);
  auto classifier = crashdiag::make_classifier({});
  if (!classifier) return 1;
  boost::asio::io_context ioc(1);
  auto client_ptr = fake->client(ioc);
  crashdiag::kube::KubeClient& client = *client_ptr;
  std::atomic<int> diagnosed{0};
  crashdiag::daemon::DaemonOptions options;
  options.evidence_delay = std::chrono::milliseconds(100);
  // JSON, as the raw LIST below: the fake's protobuf carries only the fields the daemon reads
  // (apiserver/pod_protobuf.hpp), so its bodies are far smaller than a real server's and a
  // protobuf sync against it would flatter the ratio. The protobuf sync is measured against a real
  // kube-apiserver (bench/real_sync/measure.sh, docs/benchmarks.md).
  options.pod_list_protobuf = false;
  options.watch.watch_list = watch_list;
  options.on_diagnosis = [&](const crashdiag::daemon::DiagnosisRecord&) { diagnosed++; };
  crashdiag::daemon::Daemon daemon(ioc, client, *classifier, options);
  // One raw LIST of the pods, every byte read and thrown away: the baseline (issue 14 item 2).
  // Posts to the io_context; `wait` runs it on this thread when nothing else runs it yet.
  auto raw_list = [&](bool wait) -> std::pair<double, std::uint64_t> {
    std::promise<std::uint64_t> done;
    auto result = done.get_future();
    const auto raw_start = std::chrono::steady_clock::now();
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
          std::uint64_t bytes = 0;
          crashdiag::kube::Request req;
          req.target = "/api/v1/pods?limit=500&resourceVersion=0";
          req.resource = "raw-list";
          auto r = co_await client.stream(
              std::move(req),
              [&bytes](std::string_view chunk) {
                bytes += chunk.size();
                return true;
              },
              std::chrono::seconds(120));
          done.set_value(r && r->status == 200 ? bytes : 0);
        },
        boost::asio::detached);
    if (wait) {
      ioc.run();
      ioc.restart();
    }
    const std::uint64_t bytes = result.get();
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - raw_start).count(), bytes};
  };
  // The fake server's first list of a big store is slower than the next ones: its allocator
  // touches gigabytes of fresh pages to build the body (7.7 GB resident at 150,000 pods; seen with
  // ps while the sync ran, the server at one full core and the daemon at 1%). Whichever request
  // comes first pays it, so one raw LIST warms the server before anything is timed.
  const auto [cold_s, cold_bytes] = raw_list(true);
  if (cold_bytes == 0) return 1;
  const long baseline = crashdiag::bench::rss_kib();
  const auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(ioc, daemon.run(), boost::asio::detached);
  std::atomic<bool> synced{false};
  std::thread runner([&] { ioc.run(); });
  // CPU time of the daemon's thread (the io_context's only one): what the client side costs,
  // apart from the server that shares the machine.
  auto daemon_cpu_s = [&] {
    std::promise<double> p;
    boost::asio::post(ioc, [&] { p.set_value(cpu_seconds(RUSAGE_THREAD)); });
    return p.get_future().get();
  };
  while (!synced) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::promise<bool> p;
    boost::asio::post(ioc, [&] { p.set_value(daemon.synced()); });
    synced = p.get_future().get();
  }
  const double sync_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double sync_cpu_s = daemon_cpu_s();
  const long rss = crashdiag::bench::rss_kib();
  auto count = [&](const std::string& verb, const std::string& resource) {
    std::uint64_t n = 0;
    for (const auto& [k, v] : client.stats().snapshot()) {
      if (std::get<0>(k) == verb && std::get<1>(k) == resource) n += v;
    }
    return n;
  };
  // The baseline: the same LIST the daemon's reflector made (resourceVersion=0, which the server
  // answers whole from its cache), from the same server over the same client and TLS, every byte
  // read and thrown away. Best of two, so the ratio does not flatter the daemon.
  double raw_s = 0;
  double raw_cpu_s = 0;
  std::uint64_t raw_bytes = 0;
  for (int run = 0; run < 2; ++run) {
    const double cpu_before = daemon_cpu_s();
    const auto [s, bytes] = raw_list(false);
    if (bytes == 0) return 1;
    raw_bytes = bytes;
    if (run == 0 || s < raw_s) raw_s = s;
    const double cpu = daemon_cpu_s() - cpu_before;
    if (run == 0 || cpu < raw_cpu_s) raw_cpu_s = cpu;
  }
  // Idle: nothing changes for 10 s. The daemon's loops are woken by work (watch lines, deadlines),
  // not by timers, so a quiet cluster should cost it next to nothing (issue 13 item 3).
  constexpr int kIdleSeconds = 10;
  const double idle_before = cpu_seconds(RUSAGE_SELF);
  std::this_thread::sleep_for(std::chrono::seconds(kIdleSeconds));
  const double idle_cpu_s = cpu_seconds(RUSAGE_SELF) - idle_before;
  // Lists stream (KubeClient::stream), accounted under the verb the apiserver's metrics use.
  const std::uint64_t lists_at_sync = count("list", "pods");
  const std::uint64_t total_at_sync = client.stats().total();
  const auto by_kind_at_sync = client.stats().snapshot();
  // The client's requests by verb, resource and status, less those of `since`.
  auto print_requests = [&](std::FILE* out, const char* prefix, const decltype(by_kind_at_sync)& since) {
    for (const auto& [k, v] : client.stats().snapshot()) {
      const auto before = since.find(k);
      const std::uint64_t n = v - (before == since.end() ? 0 : before->second);
      if (n == 0) continue;
      std::fprintf(out, "%s%s %s %d: %llu\n", prefix, std::get<0>(k).c_str(), std::get<1>(k).c_str(), std::get<2>(k),
                   static_cast<unsigned long long>(n));
    }
  };
  fake->send('c');
  for (int waited = 0; diagnosed < 10 && waited < 3000; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (diagnosed < 10) print_requests(stderr, "request ", {});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::uint64_t after = client.stats().total();
  const std::uint64_t lists_after = count("list", "pods");
  boost::asio::post(ioc, [&] { daemon.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ioc.stop();
  runner.join();
  fake->stop();
  std::printf("sync by: %s\n", watch_list ? "streaming list (--watch-list)" : "list");
  std::printf("pods: %d\ninitial sync: %.2f s\nrss after sync: %.1f MiB (baseline %.1f MiB, growth %.1f MiB)\n", pods,
              sync_s, rss / 1024.0, baseline / 1024.0, (rss - baseline) / 1024.0);
  std::printf("bytes per pod above baseline: %.0f\n", static_cast<double>(rss - baseline) * 1024.0 / pods);
  std::printf("raw LIST of the same pods, same client, body discarded: %.2f s (%.1f MB); the first, cold: %.2f s\n",
              raw_s, static_cast<double>(raw_bytes) / 1e6, cold_s);
  std::printf("sync / raw LIST: %.2f (wall clock: mostly the server's serialisation, in the same two cores)\n",
              sync_s / raw_s);
  std::printf("daemon thread CPU: sync %.2f s (all lists, decode, store, detection), raw LIST read %.2f s => %.2f\n",
              sync_cpu_s, raw_cpu_s, sync_cpu_s / raw_cpu_s);
  std::printf("idle, %d pods, nothing changing: %.1f ms of CPU in %d s (%.3f%% of a core)\n", pods, idle_cpu_s * 1e3,
              kIdleSeconds, idle_cpu_s * 100.0 / kIdleSeconds);
  std::printf("list requests for the initial sync: %llu (%s)\n", static_cast<unsigned long long>(lists_at_sync),
              watch_list ? "the pods came by their streaming list" : "resourceVersion=0: the server ignores limit=500");
  std::printf(
      "incidents diagnosed: %d\nAPI requests after the sync: %llu => %.2f per incident (logs %llu, replicasets %llu, "
      "pods %llu)\n",
      diagnosed.load(), static_cast<unsigned long long>(after - total_at_sync),
      static_cast<double>(after - total_at_sync) / diagnosed.load(),
      static_cast<unsigned long long>(count("GET", "pods/log")),
      static_cast<unsigned long long>(count("GET", "replicasets")),
      static_cast<unsigned long long>(lists_after - lists_at_sync));
  std::printf("pod lists after the sync (periodic relists): %llu\n",
              static_cast<unsigned long long>(lists_after - lists_at_sync));
  // Every request after the sync by verb, resource and status (issue 14 item 3: the breakdown).
  print_requests(stdout, "  after the sync: ", by_kind_at_sync);
  return 0;
}
