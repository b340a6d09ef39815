#include "crashdiag/core/watch_machine.hpp"

namespace crashdiag::core {
namespace {

// std::visit over a closed set of alternatives, one lambda each, no default branch: a new
// input or state that is not handled is a compile error.
template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

bool expired(int status) {
  return status == 410;
}

}  // namespace

const char* state_name(const State& state) {
  return std::visit(Overloaded{[](const Idle&) { return "idle"; }, [](const Listing&) { return "listing"; },
                               [](const StreamingList&) { return "streaming-list"; },
                               [](const Watching&) { return "watching"; }, [](const BackingOff&) { return "backoff"; }},
                    state);
}

WatchEventType watch_event_type(std::string_view type) {
  return type == "ADDED"      ? WatchEventType::kAdded
         : type == "MODIFIED" ? WatchEventType::kModified
         : type == "DELETED"  ? WatchEventType::kDeleted
         : type == "BOOKMARK" ? WatchEventType::kBookmark
                              : WatchEventType::kError;
}

std::vector<Command> WatchMachine::start_list(const std::string& rv) {
  state_ = Listing{rv, ""};
  return {BeginSnapshot{}, ListCommand{rv, "", config_.page_limit}};
}

std::vector<Command> WatchMachine::start_sync(const std::string& rv) {
  if (!config_.watch_list || watch_list_refused_) return start_list(rv);
  state_ = StreamingList{};
  watch_events_ = 0;
  // client-go's watchList asks resourceVersion "" (the most recent state, consistently) until it
  // has synced and after an expiry, else the last synced version (NotOlderThan it). The "0" of a
  // first list means "any cached state", which is not what NotOlderThan is for.
  const int timeout = static_cast<int>(config_.min_watch_timeout_seconds * (1.0 + random_()));
  return {BeginSnapshot{}, WatchCommand{rv == "0" ? "" : rv, timeout, true, true}};
}

// A streaming list that ended before its initial-events-end bookmark: drop what was staged and
// list for this sync (watch_machine.hpp says when, and where client-go differs).
std::vector<Command> WatchMachine::fall_back_to_list() {
  std::vector<Command> out{DiscardSnapshot{}};
  auto list = start_list(relist_resource_version());
  out.insert(out.end(), list.begin(), list.end());
  return out;
}

// client-go relistResourceVersion(): "0" before the first sync (any cached state will do),
// the last synced version afterwards (served from the cache, not older than what we have),
// and "" (a consistent read from etcd) once that version is known to be expired.
std::string WatchMachine::relist_resource_version() const {
  if (expired_) return "";
  if (!synced_ || last_rv_.empty()) return "0";
  return last_rv_;
}

std::vector<Command> WatchMachine::start_watch() {
  state_ = Watching{};
  watch_events_ = 0;
  // client-go: timeoutSeconds = minWatchTimeout * (rand.Float64() + 1.0), spreading watch
  // renewals of many clients over time.
  const int timeout = static_cast<int>(config_.min_watch_timeout_seconds * (1.0 + random_()));
  return {WatchCommand{last_rv_, timeout, true}};
}

std::vector<Command> WatchMachine::back_off(const RequestFailed& failure, bool relist, TimePoint now) {
  Duration delay = backoff_.next(now, random_);
  // Retry-After (429 from API Priority and Fairness, 503/504) is the server's explicit request.
  if (failure.retry_after && *failure.retry_after > delay) delay = *failure.retry_after;
  state_ = BackingOff{relist};
  return {SleepCommand{delay}};
}

// An event of a streaming list before its initial-events-end bookmark (KEP-3157): the initial
// state comes as ADDED events, staged as list items; the bookmark commits them and the stream goes
// on as the watch.
std::vector<Command> WatchMachine::streaming_event(WatchEvent& event) {
  ++watch_events_;
  switch (event.type) {
    case WatchEventType::kAdded:
    case WatchEventType::kModified:
    case WatchEventType::kDeleted: {
      // Changes can come before the bookmark too (1.27-1.31's cacher sends it on its bookmark
      // timer, after whatever changed meanwhile; from 1.32, kubernetes PR 127012, it comes right
      // after the initial events), and client-go's watchHandler applies all three to its
      // temporary store: the sink stages or, for DELETED, unstages.
      std::vector<Command> out;
      out.emplace_back(StageEvent{std::move(event.object)});
      return out;
    }
    case WatchEventType::kBookmark:
      if (!event.initial_events_end) return {};
      if (!event.resource_version.empty()) last_rv_ = event.resource_version;
      synced_ = true;
      expired_ = false;
      state_ = Watching{};
      return {CommitSnapshot{}};
    case WatchEventType::kError: {
      if (expired(event.error_code)) {
        ++relists_;
        expired_ = true;
      }
      std::vector<Command> out{CloseWatch{}};
      auto list = fall_back_to_list();
      out.insert(out.end(), list.begin(), list.end());
      return out;
    }
  }
  return {};
}

std::vector<Command> WatchMachine::step(Input input, TimePoint now) {
  return std::visit(
      Overloaded{
          [&](const Start&) -> std::vector<Command> {
            if (!std::holds_alternative<Idle>(state_)) return {};
            return start_sync("0");
          },
          [&](const ListPage& page) -> std::vector<Command> {
            auto* listing = std::get_if<Listing>(&state_);
            if (listing == nullptr) return {};
            if (listing->continue_token.empty()) snapshot_rv_ = page.resource_version;
            if (!page.continue_token.empty()) {
              listing->continue_token = page.continue_token;
              return {ListCommand{listing->request_rv, page.continue_token, config_.page_limit}};
            }
            // Last page: every page carries the snapshot's resourceVersion; watch from it.
            last_rv_ = page.resource_version.empty() ? snapshot_rv_ : page.resource_version;
            synced_ = true;
            expired_ = false;
            std::vector<Command> out{CommitSnapshot{}};
            auto watch = start_watch();
            out.insert(out.end(), watch.begin(), watch.end());
            return out;
          },
          [&](const RequestFailed& failure) -> std::vector<Command> {
            return std::visit(Overloaded{[&](const Listing&) -> std::vector<Command> {
                                           std::vector<Command> out{DiscardSnapshot{}};
                                           if (expired(failure.http_status)) {
                                             // An expired continue token or list RV: list again at once, consistently
                                             // (resourceVersion=""), since the cache cannot serve that version.
                                             ++relists_;
                                             expired_ = true;
                                             auto again = start_list("");
                                             out.insert(out.end(), again.begin(), again.end());
                                             return out;
                                           }
                                           auto sleep = back_off(failure, true, now);
                                           out.insert(out.end(), sleep.begin(), sleep.end());
                                           return out;
                                         },
                                         [&](const StreamingList&) -> std::vector<Command> {
                                           if (failure.http_status == 422) {
                                             // The server does not know the request: 1.26 answers
                                             // 422 (resourceVersionMatch forbidden for a watch),
                                             // 1.27+ without the WatchList gate refuses too. (A 400,
                                             // a bad selector say, is not about streaming.)
                                             watch_list_refused_ = true;
                                             return fall_back_to_list();
                                           }
                                           if (expired(failure.http_status)) {
                                             ++relists_;
                                             expired_ = true;
                                             return fall_back_to_list();
                                           }
                                           if (failure.http_status == 0 && watch_events_ > 0)
                                             return fall_back_to_list();
                                           // Refused as any request could be (429, 5xx, 400, 401,
                                           // 403, no answer): back off and stream again.
                                           std::vector<Command> out{DiscardSnapshot{}};
                                           auto sleep = back_off(failure, true, now);
                                           out.insert(out.end(), sleep.begin(), sleep.end());
                                           return out;
                                         },
                                         [&](const Watching&) -> std::vector<Command> {
                                           if (expired(failure.http_status)) {
                                             ++relists_;
                                             expired_ = true;
                                             return start_sync("");
                                           }
                                           // A stream that had delivered events and then broke
                                           // (the connection dropped, no HTTP status) is
                                           // re-watched from the last RV at once: client-go's
                                           // watchHandler returns nil then and the reflector
                                           // watches again without backing off; only "very
                                           // short watch" (no event) is an error worth a backoff.
                                           // Else a watch dropped every few minutes (a load
                                           // balancer's idle cut, an apiserver rollout) would
                                           // climb the backoff to its 30 s cap and blind the
                                           // daemon for a minute each time (bench/soak.cpp).
                                           if (failure.http_status == 0 && watch_events_ > 0) return start_watch();
                                           return back_off(failure, false, now);
                                         },
                                         [&](const Idle&) -> std::vector<Command> { return {}; },
                                         [&](const BackingOff&) -> std::vector<Command> { return {}; }},
                              state_);
          },
          [&](WatchEvent& event) -> std::vector<Command> {
            if (std::holds_alternative<StreamingList>(state_)) return streaming_event(event);
            if (!std::holds_alternative<Watching>(state_)) return {};
            ++watch_events_;
            switch (event.type) {
              case WatchEventType::kAdded:
              case WatchEventType::kModified:
              case WatchEventType::kDeleted:
                if (!event.resource_version.empty()) last_rv_ = event.resource_version;
                {
                  // Not a braced list: its elements are const and would copy the object.
                  std::vector<Command> out;
                  out.emplace_back(ApplyEvent{std::move(event.object)});
                  return out;
                }
              case WatchEventType::kBookmark:
                // A bookmark carries only a resourceVersion: progress without a change.
                if (!event.resource_version.empty()) last_rv_ = event.resource_version;
                return {};
              case WatchEventType::kError:
                if (expired(event.error_code)) {
                  ++relists_;
                  expired_ = true;
                  std::vector<Command> out{CloseWatch{}};
                  auto relist = start_sync("");
                  out.insert(out.end(), relist.begin(), relist.end());
                  return out;
                }
                {
                  std::vector<Command> out{CloseWatch{}};
                  auto sleep = back_off(RequestFailed{event.error_code, std::nullopt, "watch ERROR event"}, false, now);
                  out.insert(out.end(), sleep.begin(), sleep.end());
                  return out;
                }
            }
            return {};
          },
          [&](const WatchClosed&) -> std::vector<Command> {
            if (std::holds_alternative<StreamingList>(state_)) return fall_back_to_list();
            if (!std::holds_alternative<Watching>(state_)) return {};
            return start_watch();  // normal end of a watch: re-watch from the last RV at once
          },
          [&](const TimerFired&) -> std::vector<Command> {
            auto* b = std::get_if<BackingOff>(&state_);
            if (b == nullptr) return {};
            if (b->relist || !synced_) return start_sync(relist_resource_version());
            return start_watch();
          },
          [&](const IdleDeadline&) -> std::vector<Command> {
            if (std::holds_alternative<StreamingList>(state_)) {
              std::vector<Command> out{CloseWatch{}};
              auto list = fall_back_to_list();
              out.insert(out.end(), list.begin(), list.end());
              return out;
            }
            if (!std::holds_alternative<Watching>(state_)) return {};
            std::vector<Command> out{CloseWatch{}};
            auto watch = start_watch();
            out.insert(out.end(), watch.begin(), watch.end());
            return out;
          },
      },
      input);
}

}  // namespace crashdiag::core
