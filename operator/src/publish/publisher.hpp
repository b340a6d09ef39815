// Executes the writes the pure RcaTracker asks for: the RootCauseAnalysis (server-side apply,
// fieldManager crashdiag), its status (server-side apply on the status subresource), the pod
// annotations (JSON merge patch, only when they change) and the Kubernetes Events (created once
// per pod and cause, then their count raised).
//
// Failure policy, per write: 409 → re-read, then apply again; 400/422, and the 500 a real
// apiserver gives an apply the schema cannot type (kubernetes#122480) → the server's message is
// logged and counted and that exact content is not sent again; other 5xx, 429 and transport
// errors → retried with exponential back-off at most `max_attempts` times. Content identical to
// what was last written is not sent at all.
//
// A namespace being deleted refuses every create in it (403, cause NamespaceTerminating) and,
// once gone, answers 404 for the namespace (tests/data/k8s-real/20-*, 21-*): neither will ever
// accept the write. The first such answer is logged once; everything queued for that namespace
// is dropped, its RCAs are forgotten by the tracker, and new writes for it are dropped without a
// request for `closed_namespace_memory` (a namespace of that name may be created again later).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "client.hpp"
#include "crashdiag/core/rca.hpp"

namespace crashdiag::metrics {
class Metrics;
}

namespace crashdiag::daemon {

class AlertSink;

struct PublisherOptions {
  std::string field_manager = "crashdiag";
  core::Duration status_interval{10'000};  // repeats update the status at most this often
  core::Duration event_interval{60'000};   // and an Event's count at most this often
  int max_attempts = 5;
  // Writes in flight at once (--publish-concurrency). One writer sends one request and waits for
  // the answer, so a burst of incidents ran at a tenth of what the same client manages in a plain
  // loop of applies (docs/benchmarks.md, issue 14 item 4): the server and the client took turns.
  // Each lane takes the next due write whose object no other lane is writing; the client pools a
  // connection per request in flight. Writes of one object stay in order: never two at once.
  int lanes = 4;
  core::Duration retry_base{1'000};
  core::Duration retry_cap{30'000};
  // Injected; the daemon passes its own. Retries, the per-object intervals and the memory of a
  // closed namespace run on its monotonic reading, so a step of the wall clock (NTP) neither
  // delays nor hurries a write; nothing the publisher writes carries its own reading of time
  // (the RCA tracker stamped the objects when it recorded them).
  core::Clock clock;
  std::function<void(const std::string& rca)> on_rca_written;  // the server accepted an RCA write (benchmarks)
  // Which outputs the cluster owner wants (--publish): the RootCauseAnalysis objects, the pod
  // annotations, the Events on the pod. Metrics are always kept.
  bool publish_rca = true;
  bool publish_annotation = true;
  bool publish_event = true;
  core::Duration closed_namespace_memory{300'000};
  // A namespace was found being deleted or gone and its RCAs forgotten (the daemon refreshes its
  // active-RCA gauge).
  std::function<void(const std::string& ns)> on_namespace_closed;
  // --alertmanager-url: RCAs are also posted to Alertmanager as alerts (alert_sink.hpp). Not
  // owned; runs on its own coroutine, which run() starts, so it never holds up these writes.
  AlertSink* alerts = nullptr;
};

// The annotations a pod carries now (from the pod store), so unchanged ones are not patched.
using AnnotationLookup =
    std::function<std::optional<std::pair<std::string, std::string>>(const std::string& ns, const std::string& pod)>;

struct PublishStats {
  std::uint64_t rca_writes = 0;
  std::uint64_t status_writes = 0;
  std::uint64_t annotation_writes = 0;
  std::uint64_t event_creates = 0;
  std::uint64_t event_updates = 0;
  std::uint64_t skipped = 0;
  std::uint64_t rejected = 0;  // 400/422 or out of attempts
  std::uint64_t dropped = 0;   // for a namespace being deleted or gone
};

class Publisher {
 public:
  Publisher(boost::asio::io_context& ioc, kube::KubeClient& client, core::RcaTracker& tracker, PublisherOptions options,
            metrics::Metrics* metrics, AnnotationLookup annotations);

  // Queues what an occurrence changed. Identified/Changed/Reopened/Resolved are written at once;
  // plain repeats wait for status_interval.
  void submit(const core::RcaUpdate& update);
  void resolved(const std::string& name);
  // The RCAs' workload was deleted and the tracker forgot them (RcaTracker::forget_workload):
  // their queued writes and what was last written go too. The garbage collector deletes the
  // objects; a write still queued would only recreate one with an owner that is gone.
  void forget(const std::vector<std::string>& names);
  // A Warning Event on a workload (core::finding_event): created once, through the same queue,
  // retries and failure policy as the Events on pods; a 409 means it was told already.
  void submit_workload_event(const std::string& ns, core::EventWrite event);

  // Writes until stop(); nothing is written while `may_write()` is false (not the leader).
  boost::asio::awaitable<void> run(std::function<bool()> may_write);
  void stop();
  // New work, or the leadership changed: the writer loop (and the alert sink) looks again now.
  void wake();
  // Leadership lost: forget everything queued and written (a new term starts from the cluster).
  void reset();

  [[nodiscard]] bool idle() const;  // nothing queued and nothing in flight
  [[nodiscard]] const PublishStats& stats() const { return stats_; }
  // Events whose last write is remembered (to space out their count bumps); bounded by the Event
  // rate over one event_interval.
  [[nodiscard]] std::size_t events_remembered() const { return event_written_.size(); }

 private:
  struct Pending {
    core::TimePoint not_before{0};
    int attempts = 0;
    // Set from one counter by every submit: a write that began before the latest submit may have
    // sent older content, so its entry stays dirty instead of being erased when it completes.
    // One counter for the publisher, not one per entry: an entry forgotten and submitted again
    // while its write is on the wire starts afresh, and must still not look unchanged.
    std::uint64_t generation = 0;
    // Identified, changed, reopened or resolved since its last write: written before repeats
    // (which only move counters) when both are due, so a new cause is not queued behind them.
    bool news = false;
  };
  struct PodJob {
    core::PodWrites writes;
    core::TimePoint not_before{0};
    int attempts = 0;
    bool annotated = false;
    bool workload = false;  // an Event on a workload: no pod to look up or annotate
  };
  // kDropped: the namespace is being deleted or gone (close_namespace has run).
  enum class Outcome { kDone, kRetry, kGiveUp, kDropped };

  // One writer; run() starts options_.lanes of them.
  boost::asio::awaitable<void> lane(std::size_t index, std::function<bool()> may_write);
  // The next due RCA (news first) and the next due pod job that no lane is writing; end()/npos
  // when there is none.
  std::map<std::string, Pending>::iterator next_rca(core::TimePoint now);
  std::size_t next_pod(core::TimePoint now) const;
  static std::string pod_key(const PodJob& job);
  void wake_lanes();
  boost::asio::awaitable<Outcome> write_rca(std::string name);
  boost::asio::awaitable<Outcome> write_pod(PodJob& job);
  boost::asio::awaitable<Outcome> write_event(core::PodWrites& writes);
  Outcome classify(const std::string& object, const std::string& ns, const std::string& name, int status,
                   const std::string& body);
  void close_namespace(const std::string& ns, const std::string& object, int status, const std::string& message);
  [[nodiscard]] bool closed(const std::string& ns);
  void schedule_retry(Pending& p, core::TimePoint now);

  kube::KubeClient& client_;
  core::RcaTracker& tracker_;
  PublisherOptions options_;
  metrics::Metrics* metrics_;
  AnnotationLookup annotations_;
  std::map<std::string, Pending> dirty_;         // RCA name -> when to write
  std::map<std::string, std::size_t> written_;   // RCA name -> hash of the last applied object
  std::map<std::string, std::size_t> statuses_;  // RCA name -> hash of the last applied status
  std::map<std::string, core::TimePoint> last_status_;
  std::deque<PodJob> pods_;
  std::map<std::string, core::TimePoint> event_written_;  // event name -> last write
  std::size_t next_event_sweep_ = 256;                    // event_written_'s size at which to drop expired entries
  std::map<std::string, core::TimePoint> closed_;         // namespace -> when found being deleted
  // What the lanes are writing: RCA names, and pods (namespace/name) or workload Events. Kept
  // apart from dirty_/pods_ because those entries may be forgotten and submitted again while
  // their write is on the wire.
  std::set<std::string> rcas_in_flight_;
  std::set<std::string> pods_in_flight_;
  bool stopping_ = false;
  std::uint64_t next_generation_ = 0;
  // Raised by reset(): a pod write that was on the wire when leadership was lost is not queued
  // again for its retry (the new term starts from the cluster).
  std::uint64_t term_ = 0;
  boost::asio::io_context& ioc_;
  // Each lane sleeps on its own timer until the earliest write it could take is due, or wake()
  // cancels them all: woken by work, not by polling. (One shared timer would not do: setting its
  // expiry cancels the other lanes' waits, and they would wake each other in turn for ever.)
  std::vector<std::unique_ptr<boost::asio::steady_timer>> wake_;
  PublishStats stats_;
};

}  // namespace crashdiag::daemon
