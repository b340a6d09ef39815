// HTTPS client for the Kubernetes API on Boost.Beast + OpenSSL, C++20 coroutines.
// One Connection object owns a TLS stream; every operation has a deadline; SNI and hostname /
// IP-SAN verification are set explicitly; idle connections are reused (keep-alive); watch
// bodies are streamed line by line through a fixed buffer, never buffered whole. Nothing
// throws out of a coroutine: results are tl::expected.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <tuple>
#include <vector>

#include "crashdiag/core/rate_limiter.hpp"
#include "crashdiag/core/time.hpp"
#include "credentials.hpp"

namespace crashdiag::kube {

struct Endpoint {
  std::string host;  // name or IP literal (no brackets)
  std::string port;
  std::string tls_server_name;  // overrides host for SNI and verification
};

// Splits "https://host:port" (IPv6 in brackets) into an Endpoint.
[[nodiscard]] tl::expected<Endpoint, std::string> parse_server_url(const std::string& url);

// A query value, percent-encoded (RFC 3986 unreserved characters kept): continue tokens,
// label and field selectors, container names.
[[nodiscard]] std::string url_encode(std::string_view s);

struct Request {
  boost::beast::http::verb verb = boost::beast::http::verb::get;
  std::string target;    // path and query
  std::string resource;  // for accounting: "pods", "pods/log", "events", "replicasets"
  std::string body;
  std::string content_type;
  // Empty: application/json. Metadata-only lists and watches set client-go's metadata media types
  // (store/owner_watch.cpp).
  std::string accept = {};
};

// client-go's metadata client's media types, JSON only (k8s.io/client-go/metadata/metadata.go
// also offers protobuf first): the apiserver answers PartialObjectMetadataList for a list and
// PartialObjectMetadata objects in a watch; plain application/json last, so a server that cannot
// convert still answers (with full objects, which the metadata parser reads the same way).
inline constexpr const char* kMetadataListAccept =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
inline constexpr const char* kMetadataWatchAccept =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

struct Response {
  int status = 0;
  bool abandoned = false;    // watch only: the caller stopped reading
  std::string content_type;  // the answer's Content-Type: a pod list may come in protobuf
  std::string body;
  std::optional<core::Duration> retry_after;
};

// The message of a Status body (the apiserver's error answers), else the start of the body: what
// to show an operator when a request is refused.
[[nodiscard]] std::string status_message(const std::string& body);

// What failed below HTTP, for callers that act on it (an idle watch is re-opened quietly, a
// cancelled one is a shutdown) instead of comparing messages.
enum class TransportFailure {
  kResolve,       // the server's name did not resolve
  kConnect,       // TCP connect refused or timed out
  kTlsHandshake,  // the server's certificate or the handshake was refused
  kWrite,         // the request could not be sent
  kRead,          // the response (or a stream) broke off
  kTooLarge,      // a body or one watch event beyond ClientOptions' limits
  kIdle,          // a stream quiet past its idle deadline
  kCancelled,     // cancel_streams(): the daemon is stopping
  kNotSent,       // never sent (the caller's own placeholder)
};

struct TransportError {
  std::string what;  // for people: the operation and the system's message
  TransportFailure kind = TransportFailure::kRead;
};

struct ClientOptions {
  double qps = 20;  // --kube-api-qps, client-go's default is 5; we read more than we write
  int burst = 30;   // --kube-api-burst
  core::Duration connect_timeout{10'000};
  core::Duration request_timeout{30'000};
  std::size_t max_body_bytes = 64U << 20U;   // a single list page / object
  std::size_t max_event_bytes = 16U << 20U;  // one watch line; objects are capped at 1.5 MB in etcd
  int max_retries = 3;                       // on 429/503 with Retry-After, as client-go's rest client
  std::string user_agent = "crashdiag/0.1";
  // Injected; the token bucket (qps/burst) reads its monotonic reading. Request latencies are
  // measured on the process's steady clock: they report real elapsed time.
  core::Clock clock;
  // Called once per completed request (and once with code 0 for a transport failure), where
  // stats() counts it, with the lowercase verb: "watch" for watches, "list" for GETs of a
  // collection, else the HTTP method. `seconds`: from the attempt's start (after rate limiting)
  // to the full response; for a watch, to its response header. Must not block: it runs on the
  // client's executor.
  std::function<void(std::string_view verb, std::string_view resource, int code, double seconds)> on_request;
};

// Counts of requests by verb, resource and status code ("0" = no response).
class RequestStats {
 public:
  void count(const std::string& verb, const std::string& resource, int code);
  [[nodiscard]] std::map<std::tuple<std::string, std::string, int>, std::uint64_t> snapshot() const;
  [[nodiscard]] std::uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> counts_;
};

class Connection;

class KubeClient {
 public:
  KubeClient(boost::asio::any_io_executor executor, Endpoint endpoint, std::shared_ptr<boost::asio::ssl::context> tls,
             std::shared_ptr<TokenSource> tokens, const ClientOptions& options = {});
  ~KubeClient();

  // A request whose whole body is read (bounded by max_body_bytes).
  [[nodiscard]] boost::asio::awaitable<tl::expected<Response, TransportError>> request(Request request);

  // A watch: calls on_line for each newline-delimited JSON event as it arrives; on_line
  // returns false to abandon the stream (Response::abandoned). Returns the HTTP status when the
  // stream ends normally (200: the server closed it) or the error response (with its body)
  // when the server refused the watch. `idle_timeout` bounds the wait for the next bytes: a
  // stalled stream is a TransportError "idle".
  [[nodiscard]] boost::asio::awaitable<tl::expected<Response, TransportError>> watch(
      Request request, std::function<bool(std::string_view line)> on_line, core::Duration idle_timeout);

  // A GET whose body is handed to on_chunk as it arrives, never held whole: a LIST that a real
  // apiserver answers unpaged (resourceVersion=0 from the watch cache ignores `limit`) can be
  // hundreds of MB. on_chunk returns false to abandon the body (Response::abandoned). An error
  // status's Status body is read into Response::body (bounded). `idle_timeout` bounds the wait for
  // the next bytes.
  // `on_header`, if set, gets a 200 answer's Content-Type before the first chunk: the body's
  // encoding when Accept offered more than one (crashdiag/core/protobuf.hpp).
  [[nodiscard]] boost::asio::awaitable<tl::expected<Response, TransportError>> stream(
      Request request, std::function<bool(std::string_view chunk)> on_chunk, core::Duration idle_timeout,
      std::function<void(std::string_view content_type)> on_header = {});

  // Ends every watch and streamed list in flight now: their reads complete at once with the
  // TransportError "cancelled". For shutdown: a quiet watch on a real apiserver sees its next
  // bytes only at a bookmark (about once a minute) or at timeoutSeconds, so a stop that waits for
  // them outlives the pod's terminationGracePeriodSeconds (30 s by default) and is SIGKILLed
  // before it can release its Lease. Must be called on the client's executor.
  void cancel_streams();

  [[nodiscard]] RequestStats& stats() { return stats_; }
  [[nodiscard]] const Endpoint& endpoint() const { return endpoint_; }

 private:
  boost::asio::awaitable<tl::expected<std::unique_ptr<Connection>, TransportError>> connect();
  boost::asio::awaitable<void> rate_limit();
  boost::asio::awaitable<tl::expected<Response, TransportError>> stream_body(
      std::string verb, Request request, std::function<bool(std::string_view)> on_chunk, core::Duration idle_timeout,
      std::function<void(std::string_view)> on_header = {});
  void account(const std::string& stats_verb, std::string_view observed_verb, const std::string& resource, int code,
               std::chrono::steady_clock::time_point started);

  boost::asio::any_io_executor executor_;
  Endpoint endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<TokenSource> tokens_;
  ClientOptions options_;
  core::TokenBucket bucket_;
  std::vector<std::unique_ptr<Connection>> idle_;
  // Connections a watch or a streamed list is reading now. Shared with each reading frame: a
  // frame suspended in a read can be destroyed after the client (with its io_context).
  std::shared_ptr<std::set<Connection*>> streaming_ = std::make_shared<std::set<Connection*>>();
  RequestStats stats_;
};

}  // namespace crashdiag::kube
