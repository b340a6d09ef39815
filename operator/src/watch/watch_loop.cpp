// One list+watch of one resource (issue 13 item 1: the watch stage). The pure WatchMachine
// (crashdiag/core/watch_machine.hpp) decides every request; this coroutine performs its commands:
// a LIST decoded as it streams, a watch read line by line, a backoff sleep. Items and events go
// to the resource's WatchSink (the stores in store/); nothing here knows what a pod is.

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/core/protobuf.hpp"
#include "daemon.hpp"
#include "daemon_internal.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "no_throw.hpp"
#include "watch_sink.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

double unix_seconds(core::WallTime t) {
  return std::chrono::duration<double>(t.since_origin()).count();
}

// Log helpers live outside coroutines (GCC 12 mishandles initializer lists of string literals
// inside coroutine bodies), one per happening.
void log_watch_failure(const std::string& resource, int status, const std::string& reason) {
  log(LogLevel::kWarn, "watch request failed",
      {{"resource", resource}, {"status", std::to_string(status)}, {"reason", reason}});
}
void log_forbidden(const std::string& resource, const std::string& path) {
  // 403: the ServiceAccount lacks the RBAC rule; say which, once.
  log(LogLevel::kWarn, "forbidden: grant the missing RBAC rule",
      {{"resource", resource},
       {"path", path},
       {"rule", "apiGroups: [\"\"], resources: [\"" + resource + "\"], verbs: [\"list\", \"watch\"]"}});
}
// `how`: "protobuf" or "json" for a list, "watch-list" for a streaming list (its events are JSON).
void log_synced(const std::string& resource, std::size_t objects, const char* how) {
  log(LogLevel::kInfo, "initial list synced",
      {{"resource", resource}, {"objects", std::to_string(objects)}, {"encoding", how}});
}

// A streaming list the server refused, said once per watch.
// - A 422 comes from a server without them (before 1.27, or the WatchList gate off); the watch
//   machine lists from then on.
// - A watch ERROR before the end bookmark comes from a server that has them but did not serve
//   this one. kube-apiserver 1.32 sends one when its etcd cannot answer progress requests (etcd
//   before 3.4.31 and 3.5.13; tests/data/k8s/watchlist/watchlist-no-progress-1.32.jsonl), with the
//   Status code 500 in an HTTP 200. client-go falls back to a list then and tries the streaming
//   list again at its next sync, and so does the watch machine.
void log_watch_list_refused(const std::string& resource, int status, const std::string& reason) {
  log(LogLevel::kInfo, "the server does not offer streaming lists; listing instead",
      {{"resource", resource}, {"status", std::to_string(status)}, {"reason", reason}});
}
void log_watch_list_error(const std::string& resource, int code, const std::string& reason) {
  log(LogLevel::kInfo, "the server answered a streaming list with a watch ERROR; listing instead",
      {{"resource", resource}, {"code", std::to_string(code)}, {"reason", reason}});
}

// The message of a watch ERROR event's Status, as kube::status_message reads a refused request's
// (the line as it came; ERROR lines are rare and small, so parsing one again costs nothing).
std::string watch_error_message(std::string_view line) {
  const auto event = nlohmann::json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("object")) return {};
  return kube::status_message(event["object"].dump());
}

}  // namespace

asio::awaitable<void> Daemon::watch_loop(WatchSpec spec) {
  // Nothing in this frame may refer to the daemon from a destructor: pending frames are
  // destroyed with the io_context, which may outlive the daemon.
  core::WatchMachineConfig watch_config = options_.watch;
  watch_config.watch_list = watch_config.watch_list && spec.may_stream;
  core::WatchMachine machine(watch_config, options_.random);
  const std::string& resource = spec.resource;
  const std::string& path = spec.path;
  WatchSink& sink = *spec.sink;
  const std::size_t watch_index = synced_.size();
  synced_.push_back(false);
  required_.push_back(spec.required);
  activity_.push_back(options_.clock.now());
  watch_names_.push_back(path);
  versions_.emplace_back();
  auto restarted = [this, &resource](const char* why) {
    if (options_.metrics != nullptr) options_.metrics->watch_restart(resource, why);
  };
  const std::string& selector = spec.selector;
  // An optional watch (the owner index) is settled once its first list is in or has failed:
  // diagnoses wait for that at start-up (Daemon::owners_settled), as client-go controllers wait
  // for their informers to sync, but never for a watch the server refuses (RBAC without it).
  bool settled = spec.required;
  auto settle = [&] {
    if (settled) return;
    settled = true;
    if (--owner_watches_unsettled_ == 0) owners_settled_->cancel();
  };

  std::deque<core::Command> commands;
  const char* synced_how = "json";  // the last sync's encoding or kind, for the "synced" line
  // crashdiag_watch_last_event_timestamp_seconds at most once a second: a relist-sized burst of
  // watch lines should not take the metrics family's lock per line for a value alerts read in
  // minutes.
  double last_event_reported = 0;
  auto feed = [&](const core::Input& in) {
    activity_[watch_index] = options_.clock.now();
    for (auto& c : machine.step(in, options_.clock.now())) commands.push_back(std::move(c));
    versions_[watch_index] = machine.resource_version();
  };
  // The server answered, but not with 200: tell the machine (it backs off, or relists on 410).
  auto refused = [&](const kube::Response& res) {
    if (res.status == 403 && warned_forbidden_.insert(resource).second) log_forbidden(resource, path);
    const std::string reason = kube::status_message(res.body);
    log_watch_failure(resource, res.status, reason);
    restarted(res.status == 410 ? "expired" : "http");
    feed(core::RequestFailed{res.status, res.retry_after, reason});
  };
  auto commit = [&](const char* how) {
    log_synced(resource, sink.commit(), how);
    synced_[watch_index] = true;
    settle();
  };
  bool told_watch_list_refused = false;
  feed(core::Start{});
  while (!stopping_) {
    if (commands.empty()) break;  // cannot happen: every state asks for the next request
    core::Command cmd = std::move(commands.front());
    commands.pop_front();
    if (auto* list = std::get_if<core::ListCommand>(&cmd)) {
      std::string target =
          path + "?limit=" + std::to_string(list->limit) + "&resourceVersion=" + list->resource_version + selector;
      if (!list->continue_token.empty()) target += "&continue=" + kube::url_encode(list->continue_token);
      kube::Request res_req{http::verb::get, target, resource, "", "",
                            spec.list_accept};  // named: GCC 12 PR 99576 double-destroys temporaries in co_await
      // Decoded as it streams in, item by item: with resourceVersion=0 a real apiserver ignores
      // `limit` and sends the whole list in one body (ListDecoder's comment has the source).
      core::ListDecoder decoder(options_.max_list_item_bytes, [&](std::string_view item) { sink.stage(item); });
      // The server answers in protobuf only what the Accept offered it for; a protobuf body to a
      // JSON-only Accept goes to the JSON decoder, which calls it malformed.
      core::pb::ListDecoder pb_decoder(options_.max_list_item_bytes,
                                       [&](std::string_view item) { sink.stage_protobuf(item); });
      bool protobuf = false;
      std::optional<core::ListDecodeError> decode_error;
      auto res = co_await client_.stream(
          std::move(res_req),
          [&](std::string_view chunk) {
            activity_[watch_index] = options_.clock.now();
            decode_error = protobuf ? pb_decoder.feed(chunk) : decoder.feed(chunk);
            return !decode_error && !stopping_;
          },
          options_.list_read_timeout,
          [&](std::string_view content_type) {
            protobuf = spec.list_protobuf && core::pb::encoding_of(content_type) == core::pb::Encoding::kProtobuf;
          });
      if (stopping_) break;  // cancelled by stop(): not a failure to report
      if (!res) {
        log_watch_failure(resource, 0, res.error().what);
        feed(core::RequestFailed{0, std::nullopt, res.error().what});
        settle();
        continue;
      }
      if (res->status != 200) {
        refused(*res);
        settle();
        continue;
      }
      if (stopping_) break;
      if (!decode_error) decode_error = protobuf ? pb_decoder.finish() : decoder.finish();
      if (decode_error) {
        const std::string why(core::to_string(*decode_error));
        log_watch_failure(resource, 200, why);
        feed(core::RequestFailed{0, std::nullopt, why});
        settle();
        continue;
      }
      synced_how = protobuf ? "protobuf" : "json";
      const std::string rv = protobuf ? pb_decoder.resource_version() : decoder.resource_version();
      const std::string cont = protobuf ? pb_decoder.continue_token() : decoder.continue_token();
      feed(core::ListPage{rv, cont});
    } else if (auto* watch = std::get_if<core::WatchCommand>(&cmd)) {
      std::string target =
          path + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(watch->timeout_seconds) +
          "&resourceVersion=" + watch->resource_version + selector;
      // A streaming list (KEP-3157), as client-go's watchList asks it.
      if (watch->send_initial_events) target += "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan";
      const bool streaming = watch->send_initial_events;
      kube::Request watch_req{http::verb::get, target, resource, "", "", spec.watch_accept};  // named: GCC 12 PR 99576
      auto res = co_await client_.watch(
          std::move(watch_req),
          [&](std::string_view line) {
            activity_[watch_index] = options_.clock.now();
            auto ev = sink.parse(line, resource);
            if (!ev) return true;
            if (const double now_s = unix_seconds(wall_now());
                options_.metrics != nullptr && now_s - last_event_reported >= 1.0) {
              options_.metrics->watch_event(resource, now_s);
              last_event_reported = now_s;
            }
            if (ev->type == core::WatchEventType::kError) {
              restarted(ev->error_code == 410 ? "expired" : "error");
              // Before the end bookmark: the streaming list itself was refused, and the machine
              // lists instead. Said once per watch, as the 422 is.
              if (std::holds_alternative<core::StreamingList>(machine.state()) && !told_watch_list_refused) {
                told_watch_list_refused = true;
                log_watch_list_error(resource, ev->error_code, watch_error_message(line));
              }
            }
            for (auto& c : machine.step(std::move(*ev), options_.clock.now())) {
              if (auto* apply = std::get_if<core::ApplyEvent>(&c)) {
                sink.apply(std::move(apply->object));
              } else if (auto* staged = std::get_if<core::StageEvent>(&c)) {
                sink.stage_event(std::move(staged->object));
              } else if (std::holds_alternative<core::CommitSnapshot>(c)) {
                // The initial-events-end bookmark: the sync is complete and this stream goes on.
                commit(streaming ? "watch-list" : synced_how);
              } else if (std::holds_alternative<core::CloseWatch>(c)) {
                // keep the rest of the machine's commands (relist or backoff) for the loop
                continue;
              } else {
                commands.push_back(std::move(c));
              }
            }
            versions_[watch_index] = machine.resource_version();
            return commands.empty() && !stopping_;  // anything queued means: leave this stream
          },
          options_.idle_timeout);
      if (!commands.empty() || stopping_) continue;  // the machine already decided what is next
      if (!res) {
        if (streaming) settle();
        restarted(res.error().kind == kube::TransportFailure::kIdle ? "idle" : "error");
        feed(res.error().kind == kube::TransportFailure::kIdle
                 ? core::Input{core::IdleDeadline{}}
                 : core::Input{core::RequestFailed{0, std::nullopt, res.error().what}});
        continue;
      }
      if (res->status != 200) {
        if (streaming) settle();  // as a refused list settles: diagnoses do not wait on it
        if (streaming && res->status == 422) {
          const std::string reason = kube::status_message(res->body);
          // A server without streaming lists (kube-apiserver before 1.27, or without the WatchList
          // gate) refuses the parameters: not a failure, the machine lists from now on.
          if (!told_watch_list_refused) {
            told_watch_list_refused = true;
            log_watch_list_refused(resource, res->status, reason);
          }
          feed(core::RequestFailed{res->status, res->retry_after, reason});
          continue;
        }
        refused(*res);
        continue;
      }
      restarted("closed");
      feed(core::WatchClosed{});
    } else if (auto* sleep = std::get_if<core::SleepCommand>(&cmd)) {
      asio::steady_timer timer(ioc_, std::chrono::duration_cast<std::chrono::steady_clock::duration>(sleep->delay));
      co_await timer.async_wait(kNoThrow);
      feed(core::TimerFired{});
    } else if (std::holds_alternative<core::BeginSnapshot>(cmd)) {
      sink.begin();
    } else if (std::holds_alternative<core::CommitSnapshot>(cmd)) {
      commit(synced_how);
    } else if (std::holds_alternative<core::DiscardSnapshot>(cmd)) {
      sink.discard();
    } else if (auto* apply = std::get_if<core::ApplyEvent>(&cmd)) {
      sink.apply(std::move(apply->object));
    } else if (auto* staged = std::get_if<core::StageEvent>(&cmd)) {
      sink.stage_event(std::move(staged->object));
    }
  }
}

}  // namespace crashdiag::daemon
