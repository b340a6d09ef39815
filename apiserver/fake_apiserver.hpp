// A protocol-faithful fake kube-apiserver for tests: real TLS on 127.0.0.1 port 0, real
// paths and JSON shapes (compare ../shared/k8s-fixtures), and strict where the real one is:
// 401 without the right bearer token, 400 for malformed continue tokens and for logs of a
// container with no previous instance, 410 Expired for compacted resourceVersions, Status
// bodies for errors and text/plain for unknown groups. Faults are scripted per path.
//
// Writes follow the apiserver's registry: POST/PUT/DELETE, JSON merge, strategic merge (built-ins)
// and JSON patches, server-side apply with managedFields and conflicts, optimistic concurrency
// (409 on a stale resourceVersion, 422 where an update needs one), status subresources that
// isolate .status, ObjectMeta validation and, for the RootCauseAnalysis CRD loaded from
// crd/rootcauseanalyses.crashdiag.io.yaml, pruning and openAPIV3Schema validation. Discovery
// (/version, /api, /apis, APIResourceLists) and server-side Tables are served so that a real
// kubectl works against it (see fake_main.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_certs.hpp"

namespace crashdiag::fake {

enum class FaultKind {
  kDropMidStream,    // watch: send the header and `after_events` events, then cut the TCP connection
  kStall,            // watch: send the header, then nothing (not even bookmarks)
  kGone,             // 410 Expired Status (list) or an ERROR event with code 410 (watch)
  kTooManyRequests,  // 429 text/plain with Retry-After: retry_after_seconds, as API Priority and Fairness
  kInternalError,    // 500 Status, in protobuf to a protobuf-first pod request
  kUnavailable,      // 503 JSON Status with Retry-After, as the shutdown filter (waitgroup.go)
  kConflict,         // 409 Conflict, the optimistic-lock Status of the addressed object
  kInvalid,          // 422 Invalid with one cause, as a validating webhook or a schema would refuse
  // 500 "failed to create typed patch object ... field not declared in schema": what a real
  // apiserver answers a server-side apply whose fields the schema does not know (kubernetes#122480).
  kApplyTypeError,
  // A pod log GET while the kubelet has already garbage-collected the container the status names:
  // 400 "unable to retrieve container logs for containerd://<id>" (kuberuntime_container.go
  // GetContainerLogs through the kubelet server's WriteError; ../shared/k8s-fixtures/node/README).
  kContainerLogsGone,
};

struct Fault {
  FaultKind kind = FaultKind::kInternalError;
  std::string path_contains;  // applies to requests whose target contains this
  bool watch_only = false;
  bool list_only = false;
  int times = 1;  // how many matching requests it hits
  int retry_after_seconds = 1;
  int after_events = 0;
};

// A namespace's lifecycle as NamespaceLifecycle admission sees it: kTerminating (deleted, held by
// finalizers: creates in it get 403 Forbidden with cause NamespaceTerminating, updates of what
// is there still succeed) and kGone (deleted: its objects are gone and creates get 404 NotFound
// for the namespace). tests/data/k8s-real/20-* and 21-* are the real server's answers.
enum class NamespaceState { kActive, kTerminating, kGone };

struct RecordedRequest {
  std::string method;
  std::string target;
  int status = 0;
  bool watch = false;
  std::string content_type;  // of the answer
};

struct FakeOptions {
  std::string token = "test-token";  // the bearer token the server accepts
  std::string token_file;            // if set, the accepted token is this file's content (rotation)
  // How often a quiet watch that asked for bookmarks gets one. The real server's watch cache
  // sends them about once a minute (k8s.io/apiserver/pkg/storage/cacher, defaultBookmarkFrequency;
  // ../shared/k8s-fixtures recordings): a test that needs them sooner says so.
  std::chrono::milliseconds bookmark_interval{60000};
  std::vector<std::string> subject_alt_names{"IP:127.0.0.1", "DNS:localhost"};
  bool serve_untrusted_certificate = false;  // a certificate from an unrelated CA
  // The CustomResourceDefinition served as crashdiag.io/v1alpha1 rootcauseanalyses: its schema,
  // printer columns and short names come from this file (the constructor throws if it is unusable);
  // empty: the shipped crd/rootcauseanalyses.crashdiag.io.yaml compiled into the binary.
  std::string crd_path;
  // "Now" as RFC 3339, for creationTimestamp, managedFields times, deletionTimestamp and the ages
  // in Tables; empty: the system clock.
  std::function<std::string()> clock;
  // Called on the server's thread before a response is written (watches: once, before the
  // stream's header; a scripted stream fault, kStall or kDropMidStream without after_events, is
  // not): lets a test make something happen while a client's request is in flight.
  std::function<void(const std::string& method, const std::string& target)> before_response;
  // Streaming lists (KEP-3157: a watch with sendInitialEvents=true and
  // resourceVersionMatch=NotOlderThan), as kube-apiserver 1.27+ serves them behind the WatchList
  // gate (alpha in 1.27, on by default in 1.32, off in 1.33, on again from 1.34): the current
  // objects as ADDED, then, for a watch that allowed bookmarks, a BOOKMARK annotated
  // k8s.io/initial-events-end, then changes. Off: a watch with resourceVersionMatch gets the 422
  // that kube-apiserver 1.26 answers (tests/data/k8s/watchlist/).
  bool watch_list = false;
  // When the end bookmark comes, which changed in 1.32 (kubernetes PR 127012):
  //   kAfterInitialEvents (1.32+): cacheWatcher.processInterval sends it right after the initial
  //     events, at the resourceVersion they were served at; changes come after it.
  //   kOnBookmarkTimer (1.27-1.31): Cacher.dispatchEvents sends it on its bookmark timer (about
  //     every second; nextBookmarkTime schedules a watcher still waiting for it at once), at the
  //     cache's resourceVersion then: changes made in between come before it. Here it comes
  //     `initial_events_end_after` after the initial events, or at send_bookmarks(); a watch
  //     whose timeoutSeconds ends first ends without it (the daemon then lists), so a test with
  //     short watches drives it with send_bookmarks().
  enum class InitialEventsEnd { kAfterInitialEvents, kOnBookmarkTimer };
  InitialEventsEnd initial_events_end = InitialEventsEnd::kAfterInitialEvents;
  std::chrono::milliseconds initial_events_end_after{1000};
  // Whether the server's etcd answers progress requests (RequestWatchProgress: etcd 3.4.31+ or
  // 3.5.13+, etcd-io/etcd issue 17507). Without it a 1.32 cacher refuses a streaming list that
  // allowed bookmarks with 200 and one ERROR event, code 500, and ends the stream (Cacher.Watch:
  // "client-go is going to fall back to a standard LIST on any error returned for watch-list
  // requests"; recorded in tests/data/k8s/watchlist/watchlist-no-progress-1.32.jsonl). Events,
  // which have no watch cache, are not refused.
  bool watch_list_progress_requests = true;
};

class FakeApiServer {
 public:
  explicit FakeApiServer(FakeOptions options = {});
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::string& ca_pem() const { return trusted_ca_pem_; }
  // Writes a kubeconfig for this server (token auth) and returns its path.
  std::string write_kubeconfig(const std::string& path) const;

  // Cluster state. Each change gets the next resourceVersion and a watch event.
  void apply_pod(nlohmann::json pod);  // ADDED or MODIFIED
  void delete_pod(const std::string& ns, const std::string& name);
  void delete_object(const std::string& resource, const std::string& ns,
                     const std::string& name);  // e.g. an expired Event
  void add_event(nlohmann::json event);         // core/v1 Event
  void put_object(const std::string& api_prefix, const std::string& plural,
                  nlohmann::json object);  // e.g. "/apis/apps/v1", "replicasets"
  // Stores any object the fake serves, found by its apiVersion and kind (Pods as apply_pod does),
  // filling in uid, creationTimestamp and generation when absent; custom resources must pass the
  // CRD's schema. Throws std::invalid_argument for an unknown kind or an invalid object.
  void add_object(nlohmann::json object);
  // The stored objects (of one namespace, or all) and one stored object; resource as in
  // delete_object: "pods", "coordination.k8s.io/v1/leases", "crashdiag.io/v1alpha1/rootcauseanalyses".
  [[nodiscard]] std::vector<nlohmann::json> list_objects(const std::string& resource, const std::string& ns = "") const;
  [[nodiscard]] std::optional<nlohmann::json> get_object(const std::string& resource, const std::string& ns,
                                                         const std::string& name) const;
  // The server-side Table kubectl would receive for a list of `plural` in `api_version` (e.g.
  // "crashdiag.io/v1alpha1", "rootcauseanalyses"), of one namespace or all; nullopt for an unknown
  // resource; rows carry their object's metadata (includeObject=Metadata, as kubectl asks for).
  // `crashdiag demo` prints it as `kubectl get` would.
  [[nodiscard]] std::optional<nlohmann::json> table(const std::string& api_version, const std::string& plural,
                                                    const std::string& ns = "") const;
  void set_logs(const std::string& ns, const std::string& pod, const std::string& container, bool previous,
                std::string text);
  // kGone also deletes every object of the namespace (a watch event each), as the namespace
  // controller does before the namespace goes.
  void set_namespace_state(const std::string& ns, NamespaceState state);
  void compact();  // forget watch history: older resourceVersions now get 410
  void inject(Fault fault);
  void close_watches();  // end every open watch normally, as the server's timeout would
  // Every open watch that asked for bookmarks gets one now, at the current resourceVersion, as
  // it would at its next bookmark time. A client that has seen it has seen every change before
  // it: tests use it as a barrier ("the daemon has caught up") instead of sleeping.
  void send_bookmarks();
  // The targets of the streaming lists that have sent their initial events and not yet the end
  // bookmark (FakeOptions::InitialEventsEnd::kOnBookmarkTimer): a test changes objects inside
  // that window, then ends it with send_bookmarks().
  [[nodiscard]] std::vector<std::string> awaiting_initial_events_end() const;

  [[nodiscard]] std::vector<RecordedRequest> requests() const;
  [[nodiscard]] std::uint64_t resource_version() const;
  [[nodiscard]] std::size_t open_watches() const;
  [[nodiscard]] std::size_t connections() const;  // completed TLS handshakes

  struct Impl;

 private:
  FakeOptions options_;
  std::string trusted_ca_pem_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

// A pod object with the shape the apiserver returns, crash-looping or running as told.
nlohmann::json make_pod(const std::string& ns, const std::string& name, const nlohmann::json& spec_container,
                        const nlohmann::json& owner = nullptr);

}  // namespace crashdiag::fake
