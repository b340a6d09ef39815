// The reflector cases as sequences: which requests the machine asks for, in which order,
// with which parameters, under an injected clock and random source.
#include <gtest/gtest.h>

#include "crashdiag/core/watch_machine.hpp"

namespace crashdiag::core {
namespace {

using namespace std::chrono_literals;

struct Harness {
  double random_value = 0.0;
  WatchMachine machine{WatchMachineConfig{}, [this] { return random_value; }};
  TimePoint now{0};
  std::vector<Command> step(const Input& in) { return machine.step(in, now); }
};

template <typename T>
const T& only(const std::vector<Command>& cmds, std::size_t index = 0) {
  EXPECT_GT(cmds.size(), index);
  EXPECT_TRUE(std::holds_alternative<T>(cmds.at(index))) << "command " << index << " has the wrong type";
  return std::get<T>(cmds.at(index));
}

TEST(WatchMachine, FirstListIsFromTheCacheAndPaginated) {
  Harness h;
  auto cmds = h.step(Start{});
  ASSERT_EQ(cmds.size(), 2U);
  only<BeginSnapshot>(cmds, 0);
  const auto& list = only<ListCommand>(cmds, 1);
  EXPECT_EQ(list.resource_version, "0");
  EXPECT_EQ(list.limit, 500);
  EXPECT_TRUE(list.continue_token.empty());

  cmds = h.step(ListPage{"236", "token-page-2"});
  const auto& page2 = only<ListCommand>(cmds);
  EXPECT_EQ(page2.continue_token, "token-page-2");
  EXPECT_EQ(page2.resource_version, "0");
  EXPECT_FALSE(h.machine.synced());

  cmds = h.step(ListPage{"236", ""});
  ASSERT_EQ(cmds.size(), 2U);
  only<CommitSnapshot>(cmds, 0);  // swapped in only after the last page
  const auto& watch = only<WatchCommand>(cmds, 1);
  EXPECT_EQ(watch.resource_version, "236");
  EXPECT_TRUE(watch.allow_bookmarks);
  EXPECT_TRUE(h.machine.synced());
}

TEST(WatchMachine, WatchTimeoutIsRandomBetween300And600Seconds) {
  for (double r : {0.0, 0.5, 0.999}) {
    Harness h;
    h.random_value = r;
    h.step(Start{});
    auto cmds = h.step(ListPage{"10", ""});
    const int timeout = std::get<WatchCommand>(cmds.at(1)).timeout_seconds;
    EXPECT_GE(timeout, 300);
    EXPECT_LT(timeout, 600);
    EXPECT_EQ(timeout, static_cast<int>(300 * (1 + r)));
  }
}

// The event's object comes back in its ApplyEvent (the sink keeps no "current event"); a
// bookmark, which is not applied, hands nothing back.
TEST(WatchMachine, AnAppliedEventCarriesItsObject) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"100", ""});
  auto cmds = h.step(WatchEvent{WatchEventType::kAdded, "101", 0, std::string("pod web-1")});
  ASSERT_EQ(cmds.size(), 1U);
  const auto* apply = std::get_if<ApplyEvent>(&cmds[0]);
  ASSERT_NE(apply, nullptr);
  const auto* object = std::any_cast<std::string>(&apply->object);
  ASSERT_NE(object, nullptr);
  EXPECT_EQ(*object, "pod web-1");
  EXPECT_TRUE(h.step(WatchEvent{WatchEventType::kBookmark, "102", 0, std::string("bookmark")}).empty());
}

TEST(WatchMachine, NormalCloseRewatchesFromTheLastResourceVersion) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"100", ""});
  only<ApplyEvent>(h.step(WatchEvent{WatchEventType::kModified, "105", 0, {}}));
  auto cmds = h.step(WatchClosed{});
  EXPECT_EQ(only<WatchCommand>(cmds).resource_version, "105");
}

TEST(WatchMachine, BookmarkOnlyMovesTheResourceVersion) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"100", ""});
  EXPECT_TRUE(h.step(WatchEvent{WatchEventType::kBookmark, "247", 0, {}}).empty());  // nothing to apply
  EXPECT_EQ(h.machine.resource_version(), "247");
  EXPECT_EQ(only<WatchCommand>(h.step(WatchClosed{})).resource_version, "247");
}

TEST(WatchMachine, ExpiredErrorEventRelistsConsistently) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"1", ""});
  auto cmds = h.step(WatchEvent{WatchEventType::kError, "", 410, {}});
  ASSERT_EQ(cmds.size(), 3U);
  only<CloseWatch>(cmds, 0);
  only<BeginSnapshot>(cmds, 1);
  EXPECT_EQ(only<ListCommand>(cmds, 2).resource_version, "");  // not "0": the cache is too old
  EXPECT_EQ(h.machine.relists(), 1);
  cmds = h.step(ListPage{"300", ""});
  EXPECT_EQ(std::get<WatchCommand>(cmds.at(1)).resource_version, "300");
}

TEST(WatchMachine, Http410OnWatchOrContinueRelists) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"1", ""});
  auto cmds = h.step(RequestFailed{410, std::nullopt, "Expired"});
  EXPECT_EQ(only<ListCommand>(cmds, 1).resource_version, "");
  // An expired continue token mid-list: drop the partial snapshot and list again.
  h.step(ListPage{"5", "tok"});
  cmds = h.step(RequestFailed{410, std::nullopt, "Expired"});
  only<DiscardSnapshot>(cmds, 0);
  only<BeginSnapshot>(cmds, 1);
  EXPECT_TRUE(only<ListCommand>(cmds, 2).continue_token.empty());
}

TEST(WatchMachine, ListFailuresBackOffWithTheExactClientGoSequence) {
  Harness h;  // random 0: no jitter, so the sequence is exact
  h.step(Start{});
  std::vector<long> delays;
  for (int i = 0; i < 8; ++i) {
    auto cmds = h.step(RequestFailed{500, std::nullopt, "InternalError"});
    delays.push_back(static_cast<long>(std::get<SleepCommand>(cmds.back()).delay.count()));
    h.now += std::get<SleepCommand>(cmds.back()).delay;
    cmds = h.step(TimerFired{});
    EXPECT_EQ(only<ListCommand>(cmds, 1).resource_version, "0");  // never synced: any cached state
  }
  EXPECT_EQ(delays, (std::vector<long>{800, 1600, 3200, 6400, 12800, 25600, 30000, 30000}));
}

TEST(WatchMachine, JitterAddsUpToOneStep) {
  Harness h;
  h.random_value = 0.5;
  h.step(Start{});
  auto cmds = h.step(RequestFailed{503, std::nullopt, ""});
  EXPECT_EQ(std::get<SleepCommand>(cmds.back()).delay, 1200ms);  // 800 + 0.5 * 800
}

TEST(WatchMachine, BackoffResetsAfterTwoMinutesOfHealth) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"1", ""});
  for (int i = 0; i < 4; ++i) {
    h.step(RequestFailed{0, std::nullopt, "connection refused"});
    h.step(TimerFired{});
  }
  h.now += 121s;  // healthy for longer than 2 min
  auto cmds = h.step(RequestFailed{0, std::nullopt, "connection reset"});
  EXPECT_EQ(std::get<SleepCommand>(cmds.back()).delay, 800ms);
}

TEST(WatchMachine, RetryAfterIsHonouredWhenLongerThanTheBackoff) {
  Harness h;
  h.step(Start{});
  auto cmds = h.step(RequestFailed{429, 5000ms, "TooManyRequests"});
  EXPECT_EQ(std::get<SleepCommand>(cmds.back()).delay, 5000ms);
}

// A watch that fails before it delivered anything (refused, an HTTP error, a stream cut before
// its first event: client-go's "very short watch") backs off, then re-watches from the last RV
// without relisting. One that had delivered events and then broke is re-watched at once, as
// client-go's reflector does when watchHandler returns nil.
TEST(WatchMachine, WatchFailureBacksOffUnlessTheStreamHadDeliveredEvents) {
  struct Case {
    const char* label;
    bool event_first;  // an event (or a bookmark) arrived on this watch before the failure
    RequestFailed failure;
    bool backs_off;
  };
  for (const auto& c : {Case{"dropped after an event", true, RequestFailed{0, std::nullopt, "EOF"}, false},
                        Case{"dropped before any event", false, RequestFailed{0, std::nullopt, "EOF"}, true},
                        Case{"an HTTP 500 on the watch", false, RequestFailed{500, std::nullopt, "Internal"}, true},
                        Case{"an HTTP 429 after events", true, RequestFailed{429, 1000ms, "TooManyRequests"}, true}}) {
    Harness h;
    h.step(Start{});
    h.step(ListPage{"50", ""});
    if (c.event_first) h.step(WatchEvent{WatchEventType::kAdded, "51", 0, {}});
    auto cmds = h.step(c.failure);
    if (c.backs_off) {
      only<SleepCommand>(cmds);
      cmds = h.step(TimerFired{});
    }
    EXPECT_EQ(only<WatchCommand>(cmds).resource_version, c.event_first ? "51" : "50") << c.label;
    EXPECT_EQ(h.machine.relists(), 0) << c.label;
  }
}

TEST(WatchMachine, FailedRelistAfterExpiryRetriesAConsistentRead) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"50", ""});
  h.step(WatchEvent{WatchEventType::kError, "", 410, {}});  // relist "" ...
  h.step(RequestFailed{503, std::nullopt, ""});             // ... which fails
  auto cmds = h.step(TimerFired{});
  EXPECT_EQ(only<ListCommand>(cmds, 1).resource_version, "");  // still expired: consistent read
}

TEST(WatchMachine, StalledStreamIsReopened) {
  Harness h;
  h.step(Start{});
  h.step(ListPage{"7", ""});
  auto cmds = h.step(IdleDeadline{});
  only<CloseWatch>(cmds, 0);
  EXPECT_EQ(only<WatchCommand>(cmds, 1).resource_version, "7");
}

TEST(WatchMachine, InputsOutOfPlaceAreIgnored) {
  Harness h;
  EXPECT_TRUE(h.step(TimerFired{}).empty());
  EXPECT_TRUE(h.step(WatchEvent{WatchEventType::kAdded, "1", 0, {}}).empty());
  EXPECT_TRUE(h.step(WatchClosed{}).empty());
  h.step(Start{});
  EXPECT_TRUE(h.step(Start{}).empty());
  EXPECT_STREQ(state_name(h.machine.state()), "listing");
}

// ---- streaming lists (KEP-3157; client-go's Reflector with UseWatchList) -------------------

struct StreamingHarness : Harness {
  StreamingHarness() {
    WatchMachineConfig config;
    config.watch_list = true;
    machine = WatchMachine{config, [this] { return random_value; }};
  }
};

WatchEvent bookmark(const std::string& rv, bool end) {
  WatchEvent ev{WatchEventType::kBookmark, rv, 0, {}};
  ev.initial_events_end = end;
  return ev;
}

// The sync is one watch: the initial ADDED events are staged as list items, the bookmark marked
// k8s.io/initial-events-end commits them, and the same stream goes on as the watch.
TEST(WatchMachineStreaming, InitialEventsAreStagedAndTheEndBookmarkCommitsThem) {
  StreamingHarness h;
  auto cmds = h.step(Start{});
  ASSERT_EQ(cmds.size(), 2U);
  only<BeginSnapshot>(cmds, 0);
  const auto& watch = only<WatchCommand>(cmds, 1);
  EXPECT_TRUE(watch.send_initial_events);
  EXPECT_TRUE(watch.allow_bookmarks);
  EXPECT_EQ(watch.resource_version, "");  // the most recent state, consistently: not "0"
  EXPECT_STREQ(state_name(h.machine.state()), "streaming-list");

  cmds = h.step(WatchEvent{WatchEventType::kAdded, "7", 0, std::string("pod a")});
  ASSERT_EQ(cmds.size(), 1U);
  EXPECT_EQ(std::any_cast<std::string>(only<StageEvent>(cmds).object), "pod a");
  // A change or a deletion before the end bookmark is handed to the sink too, which stages or
  // unstages it (1.27-1.31's cacher sends the bookmark on its timer, after what changed
  // meanwhile).
  cmds = h.step(WatchEvent{WatchEventType::kDeleted, "8", 0, std::string("pod b, deleted")});
  EXPECT_EQ(std::any_cast<std::string>(only<StageEvent>(cmds).object), "pod b, deleted");
  EXPECT_TRUE(h.step(bookmark("8", false)).empty());  // an ordinary bookmark: progress only
  EXPECT_FALSE(h.machine.synced());

  cmds = h.step(bookmark("9", true));
  ASSERT_EQ(cmds.size(), 1U);
  only<CommitSnapshot>(cmds);  // and no new request: the stream goes on
  EXPECT_TRUE(h.machine.synced());
  EXPECT_EQ(h.machine.resource_version(), "9");
  EXPECT_STREQ(state_name(h.machine.state()), "watching");

  cmds = h.step(WatchEvent{WatchEventType::kModified, "10", 0, std::string("pod a, restarted")});
  EXPECT_EQ(std::any_cast<std::string>(only<ApplyEvent>(cmds).object), "pod a, restarted");
  // A later sync (after the watch's resourceVersion expired) streams again, from "".
  cmds = h.step(RequestFailed{410, std::nullopt, "Expired"});
  only<BeginSnapshot>(cmds, 0);
  EXPECT_TRUE(only<WatchCommand>(cmds, 1).send_initial_events);
  EXPECT_EQ(only<WatchCommand>(cmds, 1).resource_version, "");
}

// What ends a streaming list before its bookmark, and what the machine does next.
TEST(WatchMachineStreaming, WhatEndsItEarlyDecidesBetweenListingAndStreamingAgain) {
  enum class Next { kListFromNowOn, kListThisTime, kBackOffThenStream };
  struct Case {
    const char* name;
    Input input;
    bool events_before;  // an ADDED event arrived first
    Next next;
    std::string list_rv;  // for a list: the resourceVersion it asks
  };
  const std::vector<Case> cases{
      // kube-apiserver 1.26: 422 "resourceVersionMatch is forbidden for watch" (recorded).
      {"422 from a server without the feature", RequestFailed{422, std::nullopt, "Invalid"}, false,
       Next::kListFromNowOn, "0"},
      {"400 (a bad selector, say)", RequestFailed{400, std::nullopt, "BadRequest"}, false, Next::kBackOffThenStream,
       ""},
      {"410 Expired", RequestFailed{410, std::nullopt, "Expired"}, false, Next::kListThisTime, ""},
      {"an ERROR event", WatchEvent{WatchEventType::kError, "", 500, {}}, true, Next::kListThisTime, "0"},
      {"an ERROR event with 410", WatchEvent{WatchEventType::kError, "", 410, {}}, true, Next::kListThisTime, ""},
      {"the stream closed", WatchClosed{}, true, Next::kListThisTime, "0"},
      {"the stream stalled", IdleDeadline{}, true, Next::kListThisTime, "0"},
      {"the connection broke mid-stream", RequestFailed{0, std::nullopt, "reset"}, true, Next::kListThisTime, "0"},
      {"no answer", RequestFailed{0, std::nullopt, "refused"}, false, Next::kBackOffThenStream, ""},
      {"429", RequestFailed{429, 3000ms, "TooManyRequests"}, false, Next::kBackOffThenStream, ""},
      {"503", RequestFailed{503, std::nullopt, "ServiceUnavailable"}, false, Next::kBackOffThenStream, ""},
      {"403", RequestFailed{403, std::nullopt, "Forbidden"}, false, Next::kBackOffThenStream, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    StreamingHarness h;
    h.step(Start{});
    if (c.events_before) h.step(WatchEvent{WatchEventType::kAdded, "5", 0, std::string("pod a")});
    auto cmds = h.step(c.input);
    ASSERT_FALSE(cmds.empty());
    std::size_t i = 0;
    if (std::holds_alternative<CloseWatch>(cmds[i])) ++i;
    only<DiscardSnapshot>(cmds, i++);  // never a half-staged store
    if (c.next == Next::kBackOffThenStream) {
      only<SleepCommand>(cmds, i);
      cmds = h.step(TimerFired{});
      only<BeginSnapshot>(cmds, 0);
      EXPECT_TRUE(only<WatchCommand>(cmds, 1).send_initial_events);
      EXPECT_FALSE(h.machine.watch_list_refused());
      continue;
    }
    only<BeginSnapshot>(cmds, i++);
    EXPECT_EQ(only<ListCommand>(cmds, i).resource_version, c.list_rv);
    EXPECT_EQ(h.machine.watch_list_refused(), c.next == Next::kListFromNowOn);
    // After that list, the watch; and the next sync (an expiry) streams again unless refused.
    h.step(ListPage{"20", ""});
    cmds = h.step(RequestFailed{410, std::nullopt, "Expired"});
    only<BeginSnapshot>(cmds, 0);
    if (c.next == Next::kListFromNowOn) {
      only<ListCommand>(cmds, 1);
    } else {
      EXPECT_TRUE(only<WatchCommand>(cmds, 1).send_initial_events);
    }
  }
}

// Off (the default), nothing streams: the first sync is the RV=0 list.
TEST(WatchMachineStreaming, OffByDefault) {
  Harness h;
  auto cmds = h.step(Start{});
  EXPECT_EQ(only<ListCommand>(cmds, 1).resource_version, "0");
  cmds = h.step(ListPage{"3", ""});
  EXPECT_FALSE(only<WatchCommand>(cmds, 1).send_initial_events);
}

}  // namespace
}  // namespace crashdiag::core
