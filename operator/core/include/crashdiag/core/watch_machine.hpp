// The list/watch state machine of one resource (Pods, Events), pure: every transition lives in
// step(), which takes the current input and returns the commands for the I/O loop to carry
// out. Modelled on client-go's Reflector (tools/cache/reflector.go) and kube-rs' watcher
// (kube-runtime/src/watcher.rs):
//
//   - the first list asks resourceVersion=0 (served from the apiserver's watch cache), paged
//     with limit=500 and continue; pages of one list are a consistent snapshot, and the store
//     swaps it in only after the last page;
//   - then a watch from the list's resourceVersion with allowWatchBookmarks=true and
//     timeoutSeconds random in [300, 600) (client-go: minWatchTimeout * (1 + rand));
//   - a watch that ends normally (the server's timeout) is re-opened at once from the last
//     resourceVersion seen; a BOOKMARK only moves that resourceVersion;
//   - 410 Gone / Expired, as an HTTP status or as an ERROR event carrying a Status with code 410,
//     means the resourceVersion was compacted: relist, this time with resourceVersion="" (a
//     consistent read from etcd), since the cache cannot serve a version that old;
//   - other failures back off (0.8 s doubling to 30 s, jitter, reset after 2 min healthy),
//     honouring Retry-After when the server sends one (429, 5xx);
//   - a stream that delivers nothing, not even a bookmark, for longer than the idle deadline is
//     treated as stalled and re-opened.
//
// With `watch_list` set, a sync is a streaming list instead (KEP-3157, as client-go's Reflector
// asks it in watchList): one watch with sendInitialEvents=true, resourceVersionMatch=NotOlderThan
// and bookmarks, from resourceVersion "" (a consistent snapshot) or the last synced version. The
// server sends every object as an ADDED event, staged like list items (a change or a deletion
// before the end is staged or unstaged too, as client-go's watchHandler applies them to its
// temporary store), then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`, at which the
// snapshot is committed and the same stream goes on as the watch. crashdiag's own rules for what
// ends a streaming list early (client-go's differ, noted):
//   - 422: the server does not know the request (kube-apiserver 1.26: "resourceVersionMatch is
//     forbidden for watch", tests/data/k8s/watchlist/): list from then on. client-go tries again
//     at its next ListAndWatch; a server gains the feature only by an upgrade, which a restart of
//     crashdiag then picks up.
//   - 410, an ERROR event, a stream closed, stalled or broken before the bookmark: discard and
//     list for this sync. client-go streams again on 410 and on a close, and lists on the rest.
//   - 429, 5xx, 400, 401, 403 or no answer: back off and stream again (client-go lists on 5xx,
//     400, 401 and 403).
#pragma once

#include <any>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crashdiag/core/backoff.hpp"

namespace crashdiag::core {

// ---- inputs -------------------------------------------------------------------------------
struct Start {};
struct ListPage {
  std::string resource_version;  // the list's metadata.resourceVersion
  std::string continue_token;    // empty on the last page
};
struct RequestFailed {
  int http_status = 0;  // 0: no HTTP response (connection refused/reset, TLS, timeout)
  std::optional<Duration> retry_after;
  std::string reason;  // Status.reason or the transport error, for logs
};
enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
// A watch line's "type" (metav1.WatchEvent); anything else reads as an error.
[[nodiscard]] WatchEventType watch_event_type(std::string_view type);
struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  std::string resource_version;  // object's metadata.resourceVersion (not for ERROR)
  int error_code = 0;            // ERROR events: the Status code (410 = expired)
  // The decoded object, opaque to the machine: handed back in ApplyEvent when the event is to be
  // applied, as kube-rs's watcher::Event<K> carries its K, so the sink keeps no "current event"
  // between parsing a line and applying it. Empty for BOOKMARK and ERROR.
  std::any object;
  // BOOKMARK: its object carries the annotation k8s.io/initial-events-end: "true", the end of a
  // streaming list's initial events.
  bool initial_events_end = false;
};
struct WatchClosed {};   // the server ended the stream normally (timeoutSeconds elapsed)
struct TimerFired {};    // the backoff sleep the machine asked for is over
struct IdleDeadline {};  // the I/O loop saw no bytes on the watch for idle_timeout

using Input = std::variant<Start, ListPage, RequestFailed, WatchEvent, WatchClosed, TimerFired, IdleDeadline>;

// ---- commands -----------------------------------------------------------------------------
struct ListCommand {
  std::string resource_version;  // "0" first, "" after an expiry
  std::string continue_token;
  int limit = 500;
};
struct WatchCommand {
  std::string resource_version;
  int timeout_seconds = 300;
  bool allow_bookmarks = true;
  // A streaming list: sendInitialEvents=true&resourceVersionMatch=NotOlderThan.
  bool send_initial_events = false;
};
struct SleepCommand {
  Duration delay{0};
};
struct BeginSnapshot {};    // start collecting a fresh list into a staging store
struct CommitSnapshot {};   // the list is complete: swap it in atomically
struct DiscardSnapshot {};  // a list failed midway: drop what was staged
struct ApplyEvent {         // apply this watch event's object to the store
  std::any object;          // WatchEvent::object, moved
};
struct StageEvent {  // a streaming list's initial event: stage its object, as a list item
  std::any object;   // WatchEvent::object, moved
};
struct CloseWatch {};  // abandon the current stream (stalled, or error event)

using Command = std::variant<ListCommand, WatchCommand, SleepCommand, BeginSnapshot, CommitSnapshot, DiscardSnapshot,
                             ApplyEvent, StageEvent, CloseWatch>;

// ---- states -------------------------------------------------------------------------------
struct Idle {};
struct Listing {
  std::string request_rv;  // "0" or ""
  std::string continue_token;
};
struct StreamingList {};  // a watch with sendInitialEvents: staging until the initial-events-end bookmark
struct Watching {};
struct BackingOff {
  bool relist = false;  // after the sleep: list again (else re-watch from the last RV)
};
using State = std::variant<Idle, Listing, StreamingList, Watching, BackingOff>;

struct WatchMachineConfig {
  int page_limit = 500;
  int min_watch_timeout_seconds = 300;  // client-go minWatchTimeout = 5 min
  BackoffPolicy backoff;
  bool watch_list = false;  // sync by streaming list where the server offers it
};

class WatchMachine {
 public:
  WatchMachine(WatchMachineConfig config, Random random)
      : config_(config), random_(std::move(random)), backoff_(config.backoff) {}

  // The single transition function. `now` is monotonic time, used only for the backoff reset.
  // By value: a watch event's object moves into its ApplyEvent.
  [[nodiscard]] std::vector<Command> step(Input input, TimePoint now);

  [[nodiscard]] const State& state() const { return state_; }
  [[nodiscard]] const std::string& resource_version() const { return last_rv_; }
  // True once the first complete list has been committed (readiness).
  [[nodiscard]] bool synced() const { return synced_; }
  [[nodiscard]] int relists() const { return relists_; }
  // The server refused a streaming list as a request it does not know: syncs are lists from then on.
  [[nodiscard]] bool watch_list_refused() const { return watch_list_refused_; }

 private:
  // A sync: a streaming list where configured and not refused, else a (paged) list.
  std::vector<Command> start_sync(const std::string& rv);
  std::vector<Command> start_list(const std::string& rv);
  std::vector<Command> fall_back_to_list();
  std::vector<Command> streaming_event(WatchEvent& event);
  std::vector<Command> start_watch();
  [[nodiscard]] std::string relist_resource_version() const;
  std::vector<Command> back_off(const RequestFailed& failure, bool relist, TimePoint now);

  WatchMachineConfig config_;
  Random random_;
  Backoff backoff_;
  State state_ = Idle{};
  std::string last_rv_;
  std::string snapshot_rv_;
  bool synced_ = false;
  bool expired_ = false;
  int relists_ = 0;
  int watch_events_ = 0;  // events (bookmarks too) on the current watch: it was established
  bool watch_list_refused_ = false;
};

[[nodiscard]] const char* state_name(const State& state);

}  // namespace crashdiag::core
