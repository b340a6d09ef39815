// The fake apiserver's watch streams (declared in fake_internal.hpp): the initial ADDED events or
// the history since a resourceVersion, selector transitions as the watch cache sends them,
// bookmarks, the 410 after a compaction, timeouts, and watch events as Tables or metadata.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fake_internal.hpp"
#include "field_selector.hpp"
#include "label_selector.hpp"
#include "resources.hpp"

namespace crashdiag::fake::detail {

namespace {

// Whether the object of history[i] matched `selector` before that change: its latest earlier
// version in the history (none: it did not exist, or it was created before the history began
// and never changed since, which a watch from that point has not seen either).
bool previously_matched(const std::vector<HistoryEntry>& history, std::size_t i,
                        const std::function<bool(const json&)>& matches) {
  const json& meta = history[i].object["metadata"];
  const std::string ns = meta.value("namespace", "");
  const std::string name = meta.value("name", "");
  for (std::size_t j = i; j-- > 0;) {
    const HistoryEntry& h = history[j];
    if (h.resource != history[i].resource) continue;
    const json& m = h.object["metadata"];
    if (m.value("name", "") != name || m.value("namespace", "") != ns) continue;
    return h.type != "DELETED" && matches(h.object);
  }
  return false;
}

// A watch event as a Table with one row (kubectl get -w): only the first carries the column
// definitions (01-table-watch-widgets-rv0-stream).
json table_event(const FakeApiServer::Impl& impl, const ResourceType& t, const json& ev, const std::string& version,
                 const std::string& include_object, bool first) {
  if (!ev.contains("object") || ev["type"] == "BOOKMARK" || ev["type"] == "ERROR") return ev;
  try {
    json table = make_table(t, {ev["object"]}, version, include_object, impl.now_seconds());
    table["metadata"]["resourceVersion"] = ev["object"]["metadata"].value("resourceVersion", "");
    if (!first) table["columnDefinitions"] = nullptr;
    return watch_event(ev["type"].get<std::string>(), table);
  } catch (const std::exception&) {
    return ev;  // an object the printer cannot handle (set up by a test): sent as it is
  }
}

}  // namespace

// A watch stream, once serve has checked the request (resourceVersion and selectors parsed): the
// header, the initial ADDED events (resourceVersion unset or 0) or the history after `from`, then
// changes, bookmarks and the 410 after a compaction until the timeout or close_watches().
asio::awaitable<void> watch_stream(FakeApiServer::Impl& impl, Stream& stream, const Request& req, const Query& query,
                                   const Route& r, std::uint64_t from, bool initial, bool streaming_list,
                                   const LabelSelector& selector, const FieldSelector& fields, int cut_after_events) {
  auto& lowest = beast::get_lowest_layer(stream);
  const std::string target(req.target());
  const std::string method(req.method_string());
  // Both selectors as one filter, as the watch cache applies them (storage.SelectionPredicate).
  const bool filtered = !selector.requirements.empty() || !fields.requirements.empty();
  const std::function<bool(const json&)> matches = [&](const json& o) {
    return selector.matches(o) && fields.matches(o);
  };
  const bool bookmarks = query.flag("allowWatchBookmarks");
  int timeout_s = 1800;
  if (auto t = query.get("timeoutSeconds"); !t.empty()) std::from_chars(t.data(), t.data() + t.size(), timeout_s);
  const std::string table = table_version(std::string(req[http::field::accept]));
  // A metadata watch sends each object, bookmarks included, as PartialObjectMetadata
  // (tests/data/k8s/12-watch-replicasets-metadata-stream.events.jsonl).
  const bool metadata_only = !metadata_view(std::string(req[http::field::accept]), false).as.empty();
  const std::string include_object = query.get("includeObject");
  bool first_table_event = true;
  if (impl.options.before_response) impl.options.before_response(method, target);
  impl.record(method, target, 200, true);
  http::response<http::empty_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-cache, private");
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  lowest.expires_never();
  auto [whec, whn] = co_await http::async_write_header(stream, sr, kNoThrow);
  if (whec) co_return;
  // Read before the watch counts as open: a send_bookmarks() made once a caller sees it open
  // is never missed.
  std::uint64_t bookmarks_asked = impl.bookmark_generation.load();
  impl.open_watches++;
  struct Closer {
    std::atomic<std::size_t>& n;
    ~Closer() { n--; }
  } closer{impl.open_watches};
  auto send = [&](const json& ev) -> asio::awaitable<bool> {
    std::string line;
    if (metadata_only && ev.contains("object") && ev.value("type", "") != "ERROR") {
      json partial = partial_metadata(ev["object"]);
      if (ev.value("type", "") == "BOOKMARK") partial["metadata"]["creationTimestamp"] = nullptr;
      line = watch_line(watch_event(ev["type"].get<std::string>(), partial));
    } else if (table.empty()) {
      line = watch_line(ev);
    } else {
      line = watch_line(table_event(impl, *r.type, ev, table, include_object, first_table_event));
      if (ev.value("type", "") != "BOOKMARK" && ev.value("type", "") != "ERROR") first_table_event = false;
    }
    auto chunk = http::make_chunk(asio::buffer(line));
    auto [ec, n] = co_await asio::async_write(stream, chunk, kNoThrow);
    if (ec) co_return false;
    // FaultKind::kDropMidStream with after_events: the connection breaks after that many events
    // (bookmarks do not count), with no terminating chunk, as a proxy or a restarted apiserver
    // leaves it.
    if (cut_after_events >= 0 && ev.value("type", "") != "BOOKMARK" && --cut_after_events == 0) {
      beast::get_lowest_layer(stream).socket().close();
      co_return false;
    }
    co_return true;
  };
  std::uint64_t last = from;
  std::vector<json> pending;
  {
    std::lock_guard lock(impl.mu);
    if (streaming_list && bookmarks && !impl.options.watch_list_progress_requests && r.resource != "events") {
      // An etcd without progress requests: the 1.32 cacher refuses the streaming list as a watch
      // ERROR (FakeOptions::watch_list_progress_requests; watchlist-no-progress-1.32.jsonl).
      // Events have no watch cache by default (pkg/kubeapiserver/default_storage_factory_builder.go):
      // their watches go to etcd's watcher, which has no such check.
      pending.push_back(watch_event("ERROR", status_body(500, "InternalError",
                                                         "a watch stream was requested by the client but the "
                                                         "required storage feature RequestWatchProgress is disabled")));
      last = UINT64_MAX;
    } else if (!initial && from < impl.compacted_rv) {
      pending.push_back(
          expired_event("too old resource version: " + std::to_string(from) + " (" + std::to_string(impl.rv) + ")"));
      last = UINT64_MAX;
    } else if (initial) {
      // The objects a list would have, implicit namespaces included: a real cluster's namespaces
      // are objects, and its list and its watch's initial events agree.
      std::map<std::string, json> namespaces;
      for (const auto& [k, obj] : stored_objects(impl, r, namespaces)) {
        if ((r.ns.empty() || obj["metadata"].value("namespace", "") == r.ns) && matches(obj))
          pending.push_back(watch_event("ADDED", obj));
      }
      last = impl.rv;
    }
  }
  // A streaming list's initial events end with a bookmark annotated k8s.io/initial-events-end
  // (metav1.InitialEventsAnnotationKey; k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go,
  // convertToWatchEvent annotates the first bookmark a watcher sends), only for a watch that
  // allowed bookmarks (1.32+: setInitialEventsEndBookmarkIfRequested checks
  // AllowWatchBookmarks; 1.27-1.31: only such watchers are registered for bookmarks). When it
  // comes: FakeOptions::InitialEventsEnd.
  const bool end_timed = impl.options.initial_events_end == FakeOptions::InitialEventsEnd::kOnBookmarkTimer;
  bool end_pending = streaming_list && bookmarks && last != UINT64_MAX;
  auto end_bookmark = [&](std::uint64_t at) {
    json end = bookmark_event(*r.type, at);
    end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] = "true";
    // 1.32 also annotates it with the empty list the items would have made, in the response's
    // encoding, base64 (k8s.io/apiserver/pkg/endpoints/handlers/response.go, watchListTransformer;
    // recorded in tests/data/k8s/watchlist/watchlist-served-*-1.32.jsonl). The 1.27-1.31 timing
    // is not recorded and has no blueprint here.
    // Written out, not dumped: the server's field order is part of the bytes encoded.
    if (!end_timed) {
      const std::string list_kind = metadata_only ? "PartialObjectMetadataList" : r.type->list_kind;
      const std::string list_version = metadata_only ? "meta.k8s.io/v1" : r.api_version;
      end["object"]["metadata"]["annotations"]["kubernetes.io/initial-events-list-blueprint"] = base64_encode(
          "{\"kind\":\"" + list_kind + "\",\"apiVersion\":\"" + list_version + "\",\"metadata\":{},\"items\":null}\n",
          false);
    }
    return end;
  };
  if (end_pending && !end_timed) {
    pending.push_back(end_bookmark(last));
    end_pending = false;
  }
  for (const auto& ev : pending) {
    if (!co_await send(ev)) co_return;
  }
  if (last == UINT64_MAX) {
    auto last_chunk = http::make_chunk_last();
    co_await asio::async_write(stream, last_chunk, kNoThrow);
    co_return;
  }
  // Listed in awaiting_initial_events_end() from here until the end bookmark is sent or the
  // stream ends. Under Impl::awaiting_mu, declared before the io_context as waiters_mu is: the
  // server's destructor destroys a suspended watch, and with it this, after the members declared
  // later are gone.
  struct Awaiting {
    FakeApiServer::Impl& impl;
    std::string target;
    bool listed = false;
    void set(bool on) {
      if (on == listed) return;
      std::lock_guard lock(impl.awaiting_mu);
      if (on) {
        impl.awaiting_end.insert(target);
      } else if (auto it = impl.awaiting_end.find(target); it != impl.awaiting_end.end()) {
        impl.awaiting_end.erase(it);
      }
      listed = on;
    }
    ~Awaiting() { set(false); }
  } awaiting{impl, target};
  awaiting.set(end_pending);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  auto next_bookmark = std::chrono::steady_clock::now() +
                       (end_pending ? impl.options.initial_events_end_after : impl.options.bookmark_interval);
  const std::uint64_t generation = impl.close_generation.load();
  auto waiter = std::make_shared<WatchWaiter>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(impl.waiters_mu);
    impl.waiters.insert(waiter);
  }
  struct Unregister {
    FakeApiServer::Impl& impl;
    std::shared_ptr<WatchWaiter> w;
    ~Unregister() {
      std::lock_guard lock(impl.waiters_mu);
      impl.waiters.erase(w);
    }
  } unregister{impl, waiter};
  for (;;) {
    std::vector<json> events;
    std::uint64_t current = 0;
    std::uint64_t asked = 0;
    bool expired = false;
    {
      std::lock_guard lock(impl.mu);
      waiter->notified = false;
      // Read before the history: a change made before a send_bookmarks() call that this read
      // sees is in the history read below, so it is sent before that bookmark.
      asked = impl.bookmark_generation.load();
      current = impl.rv;
      if (last < impl.compacted_rv) {
        expired = true;
      } else {
        // The history is in resourceVersion order: start after what this watch has sent.
        const auto first = std::partition_point(impl.history.begin(), impl.history.end(),
                                                [&](const HistoryEntry& h) { return h.rv <= last; });
        for (auto i = static_cast<std::size_t>(first - impl.history.begin()); i < impl.history.size(); ++i) {
          const HistoryEntry& h = impl.history[i];
          if (h.resource != r.resource) continue;
          if (!r.ns.empty() && h.object["metadata"].value("namespace", "") != r.ns) continue;
          if (!filtered) {
            events.push_back(watch_event(h.type, h.object));
            continue;
          }
          // With a selector the watch cache compares the object before and after the change
          // (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go, convertToWatchEvent): one
          // that starts matching arrives as ADDED, one that stops matching as DELETED.
          const bool now = h.type != "DELETED" && matches(h.object);
          const bool before = previously_matched(impl.history, i, matches);
          if (h.type == "DELETED") {
            if (before || matches(h.object)) events.push_back(watch_event("DELETED", h.object));
          } else if (now && !before) {
            events.push_back(watch_event("ADDED", h.object));
          } else if (now) {
            events.push_back(watch_event(h.type, h.object));
          } else if (before) {
            events.push_back(watch_event("DELETED", h.object));
          }
        }
      }
    }
    if (expired) {
      const json gone = expired_event("too old resource version");
      co_await send(gone);
      break;
    }
    for (const auto& ev : events) {
      if (!co_await send(ev)) co_return;
      last = std::stoull(ev["object"]["metadata"]["resourceVersion"].get<std::string>());
    }
    if (last < current) last = current;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || impl.close_generation.load() != generation) break;
    if (bookmarks && (now >= next_bookmark || asked != bookmarks_asked)) {
      bookmarks_asked = asked;
      // After the changes just sent, at the resourceVersion the history was read at (the
      // cacher's bookmarks carry its last processed resourceVersion), the end bookmark of a timed
      // streaming list too.
      const json bm = end_pending ? end_bookmark(last) : bookmark_event(*r.type, last);
      if (!co_await send(bm)) co_return;
      end_pending = false;
      awaiting.set(false);
      next_bookmark = now + impl.options.bookmark_interval;
    }
    {
      std::lock_guard lock(impl.mu);
      if (waiter->notified) continue;  // changed while we were sending: look again first
    }
    waiter->timer.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
    co_await waiter->timer.async_wait(kNoThrow);
  }
  auto last_chunk = http::make_chunk_last();
  co_await asio::async_write(stream, last_chunk, kNoThrow);
}

}  // namespace crashdiag::fake::detail
