// The fake apiserver's internals, shared by its sources and included by nothing else: the object
// store and watch history (FakeApiServer::Impl), requests, responses and routes, and what one
// source defines for another. fake_apiserver.cpp holds the public FakeApiServer methods; requests
// go through fake_server.cpp (the TLS connections and the scripted faults), fake_router.cpp
// (routes, Accept negotiation, discovery), fake_reads.cpp, fake_writes.cpp and fake_watch.cpp;
// fake_util.cpp holds the small utilities.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api_status.hpp"
#include "fake_apiserver.hpp"
#include "field_selector.hpp"
#include "label_selector.hpp"
#include "resources.hpp"

namespace crashdiag::fake {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using nlohmann::json;

namespace detail {

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using Stream = beast::ssl_stream<beast::tcp_stream>;

// ---- fake_util.cpp ----------------------------------------------------------------------------

void coerce_utf8(std::string& s);
void coerce_utf8(json& v);
std::string url_decode(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string base64_encode(const std::string& in, bool url);
std::string base64url(const std::string& in);
std::optional<std::string> base64url_decode(const std::string& in);
std::string key_of(const json& obj);
json watch_event(const std::string& type, const json& object);
std::string watch_line(const json& ev);
json expired_event(const std::string& message);
json bookmark_event(const ResourceType& type, std::uint64_t rv);
json list_body(const std::string& kind, const std::string& api_version, std::uint64_t rv, json items);
std::string continue_token(std::uint64_t rv, const std::string& start);

}  // namespace detail

struct HistoryEntry {
  std::uint64_t rv;
  std::string resource;  // "pods", "events"
  std::string type;
  json object;
};

// One open watch waiting for the history to grow. A change marks it and cancels its timer, so a
// watch sleeps until there is something to send, its next bookmark or its timeout: no polling.
// `notified` (guarded by Impl::mu) covers a change that lands while the watch is still sending
// what it found: the watch checks it before it waits. The cancel is posted to the server's one io
// thread, where the watch itself runs, so it cannot overtake the wait it is meant to end.
struct WatchWaiter {
  explicit WatchWaiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool notified = false;
};

struct FakeApiServer::Impl {
  FakeApiServer* self = nullptr;
  FakeOptions options;
  std::unique_ptr<ResourceRegistry> registry;
  std::atomic<std::size_t> open_watches{0};
  std::atomic<std::size_t> connections{0};
  // Declared before the io_context: destroying it destroys the watches' suspended coroutines,
  // whose clean-up unregisters them here.
  std::mutex waiters_mu;
  std::set<std::shared_ptr<WatchWaiter>> waiters;
  // The streaming lists waiting for their end bookmark (awaiting_initial_events_end()), likewise
  // unregistered by a watch's clean-up.
  mutable std::mutex awaiting_mu;
  std::multiset<std::string> awaiting_end;
  asio::io_context ioc{1};
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  mutable std::mutex mu;
  std::uint64_t rv = 100;
  std::uint64_t compacted_rv = 0;
  std::map<std::string, std::map<std::string, json>> objects;  // resource path key -> ns/name -> object
  std::vector<HistoryEntry> history;                           // ascending resourceVersion
  std::map<std::string, std::string> logs;                     // ns/pod/container/previous|current
  std::vector<Fault> faults;
  std::vector<RecordedRequest> recorded;
  std::atomic<std::uint64_t> close_generation{0};
  std::atomic<std::uint64_t> bookmark_generation{0};  // send_bookmarks() calls
  std::mt19937_64 rng{std::random_device{}()};
  std::string started;                                     // creationTimestamp of the implicit namespaces
  std::map<std::string, NamespaceState> namespace_states;  // only those not kActive

  std::string accepted_token() const {
    if (options.token_file.empty()) return options.token;
    std::ifstream in(options.token_file);
    std::ostringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }

  std::string now() const { return options.clock ? options.clock() : now_rfc3339(); }
  std::int64_t now_seconds() const {
    auto t = parse_rfc3339(now());
    return t ? t->seconds : 0;
  }

  // A version 4 UUID, as the apiserver assigns metadata.uid. Caller holds mu.
  std::string new_uid() {
    const std::uint64_t a = rng();
    const std::uint64_t b = rng();
    std::array<char, 40> buf{};
    std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-4%03llx-%04llx-%012llx",
                  static_cast<unsigned long long>(a >> 32U), static_cast<unsigned long long>((a >> 16U) & 0xFFFFU),
                  static_cast<unsigned long long>(a & 0xFFFU),
                  static_cast<unsigned long long>(((b >> 48U) & 0x3FFFU) | 0x8000U),
                  static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf.data();
  }

  std::optional<Fault> take_fault(const std::string& target, bool watch) {
    std::lock_guard lock(mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (target.find(it->path_contains) == std::string::npos) continue;
      if (it->watch_only && !watch) continue;
      if (it->list_only && watch) continue;
      Fault f = *it;
      if (--it->times <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  void record(const std::string& method, const std::string& target, int status, bool watch,
              std::string content_type = "application/json") {
    std::lock_guard lock(mu);
    recorded.push_back({method, target, status, watch, std::move(content_type)});
  }

  void change(const std::string& resource, const std::string& type, json object) {
    // caller holds mu
    detail::coerce_utf8(object);
    ++rv;
    object["metadata"]["resourceVersion"] = std::to_string(rv);
    auto& store = objects[resource];
    if (type == "DELETED") {
      store.erase(detail::key_of(object));
    } else {
      store[detail::key_of(object)] = object;
    }
    history.push_back({rv, resource, type, std::move(object)});
    wake_watches();
  }

  void wake_watches() {
    // caller holds mu (it guards `notified`)
    std::lock_guard lock(waiters_mu);
    for (const auto& w : waiters) {
      w->notified = true;
      asio::post(ioc, [w] { w->timer.cancel(); });
    }
  }
};

namespace detail {

using Response = http::response<http::string_body>;
using Request = http::request<http::string_body>;

struct Query {
  std::map<std::string, std::string> params;
  [[nodiscard]] std::string get(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? "" : it->second;
  }
  [[nodiscard]] bool has(const std::string& k) const { return params.count(k) > 0; }
  [[nodiscard]] bool flag(const std::string& k) const {
    auto v = get(k);
    return v == "1" || v == "true";
  }
};

// Which resource a path names; nullopt for paths that do not exist.
struct Route {
  const ResourceType* type = nullptr;
  std::string resource;  // the key of Impl::objects: "pods", "apps/v1/replicasets"...
  std::string kind;
  std::string api_version;
  std::string ns;
  std::string name;
  std::string sub;
  bool known_group = true;
};

// The metadata-only view client-go's metadata informers ask for
// (k8s.io/client-go/metadata/metadata.go): `application/json;as=PartialObjectMetadataList;
// g=meta.k8s.io;v=v1` for lists, `...;as=PartialObjectMetadata;...` for gets and watches
// (apiserver endpoints/handlers/response.go, transformResponseObject). The first acceptable range
// wins, as the apiserver's negotiation does; "" means the plain object. A list asked only "as"
// PartialObjectMetadata is refused with 406 (tests/data/k8s/12-list-replicasets-as-object-
// metadata-406.json): `refused` says so.
struct MetadataView {
  std::string as;  // "", "PartialObjectMetadata" or "PartialObjectMetadataList"
  bool refused = false;
};

// ---- fake_router.cpp --------------------------------------------------------------------------

Response json_response(int status, const json& body, bool keep_alive);
Response text_response(int status, std::string body, bool keep_alive);
Response page_not_found(bool keep);
Response status_response(const json& status, bool keep);
json bad_request(const std::string& message);
json method_not_allowed();
json resource_not_found();
Query parse_query(std::string_view q);
std::optional<Route> route(const ResourceRegistry& registry, const std::string& path);
std::string table_version(const std::string& accept);
MetadataView metadata_view(const std::string& accept, bool list);
// The client prefers protobuf: the first media type in Accept the server can answer is
// application/vnd.kubernetes.protobuf (the apiserver's negotiation takes the client's order).
bool protobuf_preferred(const std::string& accept);
// Re-encodes a JSON Status answer as the protobuf Status the real server sends a client that put
// protobuf first (responsewriters.ErrorNegotiated negotiates an error as it does an object; a 400,
// a 401 and a 410 recorded in tests/data/k8s/pb/). Other bodies (the text/plain 429) are left.
void status_in_protobuf(Response& res);
std::optional<Response> discovery(const FakeApiServer::Impl& impl, const std::string& path, const Request& req,
                                  bool keep, std::uint16_t port);

// ---- fake_reads.cpp ---------------------------------------------------------------------------

json partial_metadata(const json& obj);
// The stored objects a list of `r`, or a watch's initial events, read: Impl::objects, or for
// Namespaces every one the fake knows (implicit ones included), built into `scratch`. Caller
// holds mu.
const std::map<std::string, json>& stored_objects(FakeApiServer::Impl& impl, const Route& r,
                                                  std::map<std::string, json>& scratch);
Response handle_logs(FakeApiServer::Impl& impl, const Route& r, const Query& query, bool keep);
Response handle_get(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table, bool keep);
std::string plural_of(const Route& r);
Response handle_list(FakeApiServer::Impl& impl, const Route& r, const Query& query, const std::string& table,
                     const MetadataView& view, bool keep, bool protobuf = false);

// ---- fake_writes.cpp --------------------------------------------------------------------------

std::vector<FieldError> validate_object(const ResourceType& t, const json& obj, bool creating);
json optimistic_lock_conflict(const ResourceType& t, const std::string& name);
Response handle_resource(FakeApiServer::Impl& impl, const Route& r, const Request& req, const Query& query, bool keep);

// ---- fake_watch.cpp ---------------------------------------------------------------------------

asio::awaitable<void> watch_stream(FakeApiServer::Impl& impl, Stream& stream, const Request& req, const Query& query,
                                   const Route& r, std::uint64_t from, bool initial, bool streaming_list,
                                   const LabelSelector& selector, const FieldSelector& fields,
                                   int cut_after_events = -1);

// ---- fake_server.cpp --------------------------------------------------------------------------

asio::awaitable<void> accept_loop(FakeApiServer::Impl& impl, std::uint16_t port);

}  // namespace detail

}  // namespace crashdiag::fake
