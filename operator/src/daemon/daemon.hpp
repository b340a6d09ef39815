// `crashdiag run`: watches Pods and Events, detects new failures, gathers their evidence once
// per failure, diagnoses it and publishes the result. Thin I/O around the pure core
// (WatchMachine, PodStore, detect_crashes, RcaTracker, Classifier); the writes themselves are the
// Publisher's. Every replica watches; only the leader diagnoses and writes (set_leading).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "classifier_holder.hpp"
#include "client.hpp"
#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/dependency.hpp"
#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/core/owner_index.hpp"
#include "crashdiag/core/pod_store.hpp"
#include "crashdiag/core/rca.hpp"
#include "crashdiag/core/shard.hpp"
#include "crashdiag/core/spec_findings.hpp"
#include "crashdiag/core/watch_machine.hpp"
#include "crashdiag/core/work_queue.hpp"
#include "crashdiag/model/evidence.hpp"
#include "evidence_gatherer.hpp"
#include "publisher.hpp"

namespace crashdiag::daemon {

struct DiagnosisRecord {
  core::CrashSignal signal;
  std::string workload;  // top-level owner: "Deployment/web", "CronJob/nightly", "Pod/debug"
  ContainerDiagnosis diagnosis;
  std::uint64_t occurrences = 1;
  std::string rca;  // the RootCauseAnalysis it was published as
  core::RcaChange change = core::RcaChange::kIdentified;
};

struct DaemonOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  // Compare a new failure's pod template with the workload's previous revision (ReplicaSets,
  // ControllerRevisions) and say what changed: two requests per new RCA (--what-changed).
  bool what_changed = true;
  // A failure on a dependency (connection refused, DNS, TLS, auth) names the Service; one
  // EndpointSlice list per new such RCA finds the workload behind it, and links this RCA to
  // that workload's own (status.causedBy) or says the dependency is up (--link-dependencies).
  bool link_dependencies = true;
  std::vector<std::string> exclude_namespaces;  // never diagnosed (--exclude-namespaces)
  // --shard/--total-shards: this replica diagnoses and writes only the failures of the
  // namespaces it owns (crashdiag/core/shard.hpp); every shard watches all pods.
  core::Shard shard;
  // Metadata-only list+watch of ReplicaSets, Jobs, the top-level workloads and Namespaces
  // (--watch-owners, issue 14 item 3): a failing pod's workload and its crashdiag.io/ignore are
  // then known without a request. Off, or before those watches sync, or for an object not seen
  // yet: one GET each, as below.
  bool watch_owners = true;
  // Diagnoses wait at start-up for the owner watches' first lists, at most this long.
  core::Duration owner_sync_wait{10'000};
  // crashdiag.io/ignore: "true" on a workload or a namespace, when read with a GET (no owner
  // watch, or an object it has not seen), is trusted this long.
  core::Duration ignore_cache_ttl{60'000};
  std::string label_selector;
  core::Duration idle_timeout{90'000};  // bookmarks arrive about every minute
  // A LIST is decoded as it streams; these bound one item and the wait for the next bytes.
  // Objects are at most 1.5 MB in etcd (--max-request-bytes); 16 MiB leaves room for any encoding.
  std::size_t max_list_item_bytes = 16U << 20U;
  // Pod lists in protobuf where the server offers it (--pod-list-encoding). The apiserver encodes
  // a pod list in protobuf in about half the time of JSON, 28% fewer bytes (docs/benchmarks.md,
  // "Would protobuf pay?"). The pod watch stays JSON: its event's JSON is the pod a diagnosis
  // reads, which saves a GET per incident; list items carry no such JSON either way.
  bool pod_list_protobuf = true;
  core::Duration list_read_timeout{30'000};
  core::Duration evidence_delay{2'000};  // let the kubelet's Events for the failure arrive
  // A container that runs but has not been Ready this long is failing (--unready-after): its
  // readiness probe keeps failing (crashdiag/model/failure.hpp).
  core::Duration unready_after{300'000};
  int log_tail_lines = 500;
  int log_limit_bytes = 256 * 1024;
  // A log GET that meets the kubelet's transient "unable to retrieve container logs" is tried
  // once more after this.
  std::chrono::milliseconds log_retry_delay{1000};
  int max_concurrent_diagnoses = 4;  // bounds log fetches in flight
  std::size_t max_events_per_pod = 64;
  core::Random random;  // injected; defaults to a seeded PRNG
  std::function<void(const DiagnosisRecord&)> on_diagnosis;
  std::function<void(const core::CrashSignal&)> on_signal;  // a watch event revealed a failure (benchmarks)
  core::WatchMachineConfig watch;
  // Publishing.
  bool start_leading = true;           // false with --leader-elect: wait for set_leading(true)
  std::string instance = "crashdiag";  // reportingInstance of Events (the pod name in a cluster)
  core::RcaOptions rca;
  PublisherOptions publisher;
  // Both readings, injected (tests move time themselves): the work queue and the watches run on
  // the monotonic one, what is written (lastSeen, Event times, --unready-after) on the wall one.
  core::Clock clock;
  core::Duration resolve_check_interval{1'000};
  // /healthz fails when a watch made no progress for this long; default: the idle deadline plus a
  // minute (the idle timer should have restarted it long before, so the loop is wedged).
  std::optional<core::Duration> health_deadline;
  metrics::Metrics* metrics = nullptr;
};

class Daemon {
 public:
  // A fixed classifier, which must outlive the daemon.
  Daemon(boost::asio::io_context& ioc, kube::KubeClient& client, const Classifier& classifier, DaemonOptions options);
  // The classifier in `classifiers` at the time of each diagnosis (live rule reload).
  Daemon(boost::asio::io_context& ioc, kube::KubeClient& client, ClassifierHolder& classifiers, DaemonOptions options);
  ~Daemon();

  // Runs the watches, the diagnosis workers and the publisher until stop(). After stop() the
  // leader finishes the writes in flight before run() returns.
  boost::asio::awaitable<void> run();
  void stop();
  // The injected clock moved (a test's ManualClock, an atomic wall reading): the daemon's sleeps
  // were computed from the old reading, so run() and the queue's delayer look again at once. The
  // process's own clocks never need this: its timers run on the same steady clock.
  void time_moved();
  // Leader election: only the leader diagnoses and writes. Taking over reads the RCAs that exist
  // so counts continue; losing it forgets everything queued.
  void set_leading(bool leading);
  [[nodiscard]] bool leading() const { return leading_; }

  [[nodiscard]] bool synced() const;
  // A watch that made no progress for longer than its idle deadline plus a grace period is stuck
  // (the idle timer should have restarted it); `why` names it.
  [[nodiscard]] bool healthy(std::string* why = nullptr) const;
  [[nodiscard]] const core::RcaTracker& tracker() const { return tracker_; }
  [[nodiscard]] const Publisher& publisher() const { return *publisher_; }
  [[nodiscard]] std::size_t pods() const { return pods_.size(); }
  [[nodiscard]] std::uint64_t diagnoses() const { return diagnoses_; }
  [[nodiscard]] std::uint64_t signals() const { return signals_; }
  // Failures silenced by crashdiag.io/ignore or --exclude-namespaces.
  [[nodiscard]] std::uint64_t ignored() const { return ignored_; }
  [[nodiscard]] std::size_t pods_with_events() const;
  // What a test needs to know that the daemon has caught up and finished, instead of sleeping
  // (tests/daemon/daemon_harness.hpp, settle()): the resourceVersion each watch has reached, for
  // the watches whose first list is in (a refused watch never reaches anything), and whether
  // nothing is queued, waiting out its delay, being diagnosed, having its spec read, or waiting
  // to be written. Periodic work (the resolve check, resyncs) is not counted.
  [[nodiscard]] std::vector<std::string> watch_versions() const;
  [[nodiscard]] bool quiet() const;

  // A failure to diagnose, kept beside the work queue under its dedupe key (the queue holds keys
  // only, as controller-runtime's does).
  struct Job {
    core::CrashSignal signal;
    std::string pod_json;  // the object that revealed the failure; empty: GET it
  };
  class WatchSink;
  class PodHandler;
  class EventHandler;
  class MetaHandler;

 private:
  Daemon(boost::asio::io_context& ioc, kube::KubeClient& client, std::unique_ptr<ClassifierHolder> own,
         ClassifierHolder* shared, DaemonOptions options);
  // One list+watch: where, what is asked for, and where items and events go.
  struct WatchSpec {
    std::string resource;  // for logs, metrics and request accounting: "pods", "replicasets"
    std::string path;
    WatchSink* sink = nullptr;
    std::string list_accept;   // empty: application/json
    std::string watch_accept;  // empty: application/json
    std::string selector;      // "&labelSelector=..." or empty
    bool required = true;      // readiness waits for its first list
    // Ask for the list in protobuf, JSON as the fallback (Options::pod_list_protobuf).
    bool list_protobuf = false;
    // May sync by a streaming list when WatchMachineConfig::watch_list is on.
    bool may_stream = true;
  };
  // The stages, in the order a failure passes through them; each group's file is named.
  // -- watch/watch_loop.cpp: one list+watch, performing the WatchMachine's commands.
  boost::asio::awaitable<void> watch_loop(WatchSpec spec);
  // -- store/owner_watch.cpp: the metadata watches, and what they answer.
  std::vector<WatchSpec> owner_watches();
  [[nodiscard]] const core::MetaStore* meta(const std::string& kind) const;
  // A Deployment's pod whose ReplicaSet is the only one its Deployment owns: there is no earlier
  // revision to compare with, and the list of ReplicaSets can be skipped. False when unknown.
  [[nodiscard]] bool no_earlier_revision(const nlohmann::json& pod, const std::string& ns) const;
  // -- detect/detect.cpp: a pod record's change to failures, and --unready-after deadlines.
  [[nodiscard]] core::DetectOptions detect_options(bool deadline_check = false) const;
  void detect(const core::PodRecord* old, const core::PodRecord& now, const std::string& pod_json);
  void check_unready_deadlines();
  // The resolve check's question: does a pod of the RCA still fail?
  [[nodiscard]] bool still_failing(const core::RcaState& rca) const;
  // -- detect/spec_findings.cpp (issue 15, item 3): the first pod seen of a workload whose record
  // says "a datastore with a claim" has its spec looked at once for data off the claim; a
  // finding is a Warning Event on the top-level workload. Leader only.
  void look_at_spec(const core::PodRecord& pod, const std::string& pod_json);
  boost::asio::awaitable<void> check_spec(std::string key, std::string ns, std::string pod_name, std::string owner_kind,
                                          std::string owner_name, std::string owner_uid, std::string pod_json);
  void update_findings_gauge();
  // -- queue/diagnosis_queue.cpp: the filters before the queue, the workers and the delayer.
  // `count`: a failure observed now (false when re-walking the store after taking over).
  void enqueue(const core::CrashSignal& signal, std::string pod_json, bool count = true);
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> delayer();
  // The work queue's time: the injected monotonic clock, which Metrics::work_queue() reads too.
  [[nodiscard]] core::TimePoint queue_now() const { return options_.clock.now(); }
  // -- evidence/owners.cpp: the workload a failure belongs to, and its owner's silence.
  // The workload, when known without a request.
  [[nodiscard]] std::optional<core::WorkloadRef> cached_workload(const core::CrashSignal& s) const;
  // pod_event: the watch event that revealed the failure (else the pod is read), for its
  // pod-template-hash label when the ReplicaSet cannot be read.
  boost::asio::awaitable<core::WorkloadRef> top_level_workload(std::string ns, std::string kind, std::string name,
                                                               std::string uid, std::string pod, std::string pod_event);
  // The workload or its namespace carries crashdiag.io/ignore: "true".
  boost::asio::awaitable<bool> silenced(std::string ns, core::WorkloadRef workload);
  boost::asio::awaitable<bool> annotated_ignore(std::string path, std::string resource);
  // -- evidence/evidence_gatherer.hpp: evidence_ below, a type of its own.
  // -- diagnose/diagnose.cpp: a job from the queue to a diagnosis.
  boost::asio::awaitable<void> diagnose(Job job);
  boost::asio::awaitable<void> classify_and_record(core::CrashSignal s, core::RcaTarget target, Evidence ev);
  // -- diagnose/dependencies.cpp (issue 15, item 2): the workloads behind a Service a failure names.
  struct DependencyState {
    DependencyRef ref;
    std::string error;  // not readable: why
    int endpoints = 0;
    int ready = 0;
    std::vector<core::WorkloadRef> workloads;
  };
  boost::asio::awaitable<DependencyState> resolve_dependency(DependencyRef ref);
  // Before the diagnosis is recorded: what the dependency is doing, as an evidence note.
  static void note_dependency(const DependencyState& dep, ContainerDiagnosis& diagnosis, bool has_rca);
  // After: link RCA `rca` to the dependency's RCA, or wait for one, or unlink when none applies.
  void link_dependency(const std::string& rca, const std::optional<DependencyState>& dep, core::RcaChange change);
  // A new or reopened RCA `rca`: the dependents waiting for its workload are linked to it.
  void link_waiting_dependents(const std::string& rca);
  // A resolved RCA: its dependents lose the link.
  void unlink_dependents(const std::string& rca);
  // -- publish/rca_record.cpp: the tracker's verdict to the publisher.
  // A repeat (no diagnosis) or a failure diagnosed meanwhile.
  void record(const core::CrashSignal& s, const core::RcaTarget& target, const ContainerDiagnosis* diagnosis);
  // A diagnosis of a new or changed cause, with the dependency it names.
  void record_diagnosis(const core::CrashSignal& s, const core::RcaTarget& target, ContainerDiagnosis diagnosis,
                        const std::optional<DependencyState>& dependency);
  void update_active_gauge();
  void wake_resolve_check();
  // A workload's deletion (an owner watch's DELETED, or a bare pod's): its RCAs go with it.
  void workload_deleted(const std::string& kind, const core::MetaRecord& rec);
  void forget_rcas(const std::vector<std::string>& names);
  void bare_pod_deleted(const core::PodRecord& pod);
  // -- daemon/daemon.cpp: leadership won; read the RCAs earlier leaders wrote.
  boost::asio::awaitable<void> take_over();
  [[nodiscard]] core::WallTime wall_now() const { return options_.clock.wall_now(); }

  boost::asio::io_context& ioc_;
  kube::KubeClient& client_;
  std::unique_ptr<ClassifierHolder> own_classifiers_;  // the fixed-classifier constructor's
  ClassifierHolder& classifiers_;
  DaemonOptions options_;
  core::PodStore pods_;
  std::unique_ptr<PodHandler> pod_handler_;
  std::unique_ptr<EventHandler> event_handler_;
  std::unique_ptr<EvidenceGatherer> evidence_;  // reads event_handler_, tracker_ and meta_
  // The failures to diagnose, by dedupe key (core/work_queue.hpp, client-go's rules): a key is
  // handed to one worker at a time; one added while it is diagnosed is handed out again after,
  // with the jobs that arrived meanwhile. New failures wait out DaemonOptions::evidence_delay in
  // the queue (add_after, client-go's delaying queue), not in a worker: with the wait inside a
  // worker, max_concurrent_diagnoses workers over a 2 s delay capped diagnoses at 2 a second,
  // whatever the cluster and the server could do (bench/soak.cpp found it).
  core::WorkQueue queue_;
  // The jobs gathered under each key the queue holds: the first failure seen (with the pod JSON
  // that revealed it), then the replicas failing the same way before a worker took the key, which
  // only count once it is recorded. A worker takes them all with the key.
  std::map<std::string, std::vector<Job>> jobs_;
  // Idle workers wait on this timer, which never expires: queueing a job cancels the wait
  // (asio's timer-as-condition-variable), so a worker is woken by work, never by polling.
  std::unique_ptr<boost::asio::steady_timer> work_ready_;
  // delayer()'s sleep: until the queue's next due time (WorkQueue::next_due), or new work.
  std::unique_ptr<boost::asio::steady_timer> delay_wake_;
  // run()'s sleep: until its next due time, or cancelled by whatever gives it work.
  std::shared_ptr<boost::asio::steady_timer> loop_wake_;
  // The first of the daemon's coroutines to end by an exception, and why ("watch pods: ..."):
  // logged when it happens and reported by healthy(). Shared: the completion handler may run
  // after the daemon is gone, when the io_context is torn down.
  std::shared_ptr<std::string> died_ = std::make_shared<std::string>();
  // A dependency's workload ("ns/Kind/name") that fails without an RCA yet -> the dependent RCAs
  // to link when it gets one, each with how the dependency was named.
  std::map<std::string, std::map<std::string, std::string>> waiting_links_;
  std::map<std::string, core::WorkloadRef> owner_cache_;  // "ns/ReplicaSet/name" -> top-level workload
  std::map<std::string, core::MetaStore> meta_;           // kind -> what its metadata watch holds
  std::vector<std::unique_ptr<WatchSink>> meta_handlers_;
  std::size_t owner_watches_unsettled_ = 0;  // owner watches whose first list is neither in nor failed
  std::unique_ptr<boost::asio::steady_timer>
      owners_settled_;  // cancelled when none is left  // one MetaHandler per owner watch
  struct IgnoreEntry {
    bool ignored = false;
    core::WallTime until{0};
  };
  std::map<std::string, IgnoreEntry> ignore_cache_;  // an object's path -> its crashdiag.io/ignore
  std::uint64_t ignored_ = 0;                        // failures not diagnosed because silenced
  core::RcaTracker tracker_;
  core::FindingTracker spec_findings_;  // workloads looked at, and what was found (leader only)
  std::unique_ptr<Publisher> publisher_;
  std::set<core::RcaTracker::CountKey> gauge_series_;  // every series ever set
  std::vector<bool> synced_;                           // per watch: the first list has been committed (readiness)
  std::vector<bool> required_;                         // per watch: readiness waits for it
  std::vector<core::TimePoint> activity_;              // per watch: last sign of life
  std::vector<std::string> watch_names_;
  std::vector<std::string> versions_;  // per watch: the machine's resourceVersion (watch_versions())
  // Spec reads in flight (check_spec): shared, as its completion handler may run when the
  // io_context is torn down after the daemon.
  std::shared_ptr<std::size_t> spec_checks_ = std::make_shared<std::size_t>(0);
  bool leading_ = false;
  // run() sleeps with the resolve check scheduled: only while leading with an Active RCA. A record
  // that makes one Active while it is not wakes run() to schedule it.
  bool resolve_scheduled_ = false;
  bool take_over_pending_ = false;
  bool stopping_ = false;
  std::uint64_t diagnoses_ = 0;
  std::uint64_t signals_ = 0;
  std::set<std::string> warned_forbidden_;
  // When unready pods become failing: (unix seconds, pod key). Looked at by run()'s loop. A set:
  // every update of an unready pod names the same deadline, and each entry reports once.
  std::set<std::pair<std::int64_t, std::string>> unready_deadlines_;
};

}  // namespace crashdiag::daemon
