// `crashdiag run`: watches Pods and Events, detects new failures, gathers their evidence once
// and diagnoses them. Thin I/O around the pure core (WatchMachine, PodStore, detect_crashes,
// CrashDeduper, Classifier); until publishing lands each diagnosis is one structured log line.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client.hpp"
#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/core/pod_store.hpp"
#include "crashdiag/core/watch_machine.hpp"
#include "crashdiag/model/evidence.hpp"

namespace crashdiag::daemon {

struct DiagnosisRecord {
  core::CrashSignal signal;
  std::string workload;  // top-level owner: "Deployment/web", "CronJob/nightly", "Pod/debug"
  ContainerDiagnosis diagnosis;
  std::uint64_t occurrences = 1;
};

struct DaemonOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  std::string label_selector;
  core::Duration idle_timeout{90'000};   // bookmarks arrive about every minute
  core::Duration evidence_delay{2'000};  // let the kubelet's Events for the failure arrive
  int log_tail_lines = 500;
  int log_limit_bytes = 256 * 1024;
  int max_concurrent_diagnoses = 4;  // bounds log fetches in flight
  std::size_t max_events_per_pod = 64;
  core::Random random;  // injected; defaults to a seeded PRNG
  std::function<void(const DiagnosisRecord&)> on_diagnosis;
  core::WatchMachineConfig watch;
};

class Daemon {
 public:
  Daemon(boost::asio::io_context& ioc, kube::KubeClient& client, const Classifier& classifier, DaemonOptions options);
  ~Daemon();

  // Runs the watches and the diagnosis workers until stop().
  boost::asio::awaitable<void> run();
  void stop();

  [[nodiscard]] bool synced() const;
  [[nodiscard]] std::size_t pods() const { return pods_.size(); }
  [[nodiscard]] std::uint64_t diagnoses() const { return diagnoses_; }
  [[nodiscard]] std::uint64_t signals() const { return signals_; }
  [[nodiscard]] std::size_t pods_with_events() const;

  struct Job {
    core::CrashSignal signal;
    std::string pod_json;  // the object that revealed the failure; empty: GET it
  };
  class PodHandler;
  class EventHandler;

 private:
  boost::asio::awaitable<void> watch_loop(std::string resource, std::string path, PodHandler* pods,
                                          EventHandler* events);
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> diagnose(Job job);
  boost::asio::awaitable<std::string> top_level_workload(std::string ns, std::string kind, std::string name);
  void enqueue(const core::CrashSignal& signal, std::string pod_json);

  boost::asio::io_context& ioc_;
  kube::KubeClient& client_;
  const Classifier& classifier_;
  DaemonOptions options_;
  core::PodStore pods_;
  core::CrashDeduper dedupe_;
  std::unique_ptr<PodHandler> pod_handler_;
  std::unique_ptr<EventHandler> event_handler_;
  std::deque<Job> queue_;
  std::map<std::string, std::string> owner_cache_;
  std::vector<bool> synced_;  // per watch: the first list has been committed (readiness)
  bool stopping_ = false;
  std::uint64_t diagnoses_ = 0;
  std::uint64_t signals_ = 0;
  std::set<std::string> warned_forbidden_;
};

}  // namespace crashdiag::daemon
