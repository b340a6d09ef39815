#include "client.hpp"

#include "crashdiag/core/protobuf.hpp"
#include "log.hpp"
#include "no_throw.hpp"

#include <nlohmann/json.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>

namespace crashdiag::kube {

std::string status_message(const std::string& body) {
  // A client that put protobuf first in Accept gets its errors as a protobuf Status too.
  if (auto pb = core::pb::parse_status(body)) {
    if (!pb->message.empty()) return pb->message;
    return pb->reason.empty() ? "Status " + std::to_string(pb->code)
                              : pb->reason + " (" + std::to_string(pb->code) + ")";
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  // Not a Status: the text/plain 429 of Priority and Fairness ("Too many requests, please try
  // again later.\n"), the 404 of an unknown group. Its first 300 bytes, without the newline.
  std::string text = body.substr(0, 300);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.pop_back();
  return text;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;       // one read of a watch body
constexpr std::size_t kReadBufferBytes = std::size_t{64} * 1024;  // a response buffer: a whole TLS record and more
constexpr std::size_t kMaxErrorBody = std::size_t{64} * 1024;     // a refused watch's Status body

std::chrono::steady_clock::duration to_steady(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4U]);
      out.push_back(kHex[c & 15U]);
    }
  }
  return out;
}

tl::expected<Endpoint, std::string> parse_server_url(const std::string& url) {
  std::string rest;
  std::string default_port;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    default_port = "443";
  } else {
    return tl::unexpected("server \"" + url + "\": only https:// is supported");
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  Endpoint e;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return tl::unexpected("server \"" + url + "\": unterminated IPv6 address");
    e.host = rest.substr(1, close - 1);
    e.port = close + 1 < rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : default_port;
  } else {
    auto colon = rest.rfind(':');
    e.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    e.port = colon == std::string::npos ? default_port : rest.substr(colon + 1);
  }
  if (e.host.empty()) return tl::unexpected("server \"" + url + "\": no host");
  return e;
}

void RequestStats::count(const std::string& verb, const std::string& resource, int code) {
  std::lock_guard lock(mu_);
  ++counts_[{verb, resource, code}];
}

std::map<std::tuple<std::string, std::string, int>, std::uint64_t> RequestStats::snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::uint64_t RequestStats::total() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (const auto& [k, v] : counts_) n += v;
  return n;
}

// One TLS connection to the API server.
class Connection {
 public:
  Connection(asio::any_io_executor ex, ssl::context& ctx) : stream(ex, ctx) {
    // Beast sizes each read by the buffer's free space (read_size: max(512, capacity - size),
    // capped at 65,536), and a flat_buffer left at the size of a response header never grows
    // past it: a 145 MB list arrived ~680 bytes per read, 213,000 SSL reads and as many trips
    // through the scheduler instead of one per 16 KiB TLS record (an SSL read returns at most
    // one; strace and perf against a real kube-apiserver). With room for a whole record, each
    // is read in one go.
    buffer.reserve(kReadBufferBytes);
  }
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

KubeClient::KubeClient(asio::any_io_executor executor, Endpoint endpoint, std::shared_ptr<ssl::context> tls,
                       std::shared_ptr<TokenSource> tokens, const ClientOptions& options)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      tls_(std::move(tls)),
      tokens_(std::move(tokens)),
      options_(options),
      bucket_(options.qps, options.burst) {}

KubeClient::~KubeClient() = default;

void KubeClient::cancel_streams() {
  // tcp_stream::cancel completes the pending read with operation_aborted; stream_body returns.
  for (Connection* conn : *streaming_) beast::get_lowest_layer(conn->stream).cancel();
}

asio::awaitable<tl::expected<std::unique_ptr<Connection>, TransportError>> KubeClient::connect() {
  auto conn = std::make_unique<Connection>(executor_, *tls_);
  const std::string& name = endpoint_.tls_server_name.empty() ? endpoint_.host : endpoint_.tls_server_name;
  SSL* native = conn->stream.native_handle();
  // SNI must not carry an IP literal (RFC 6066 section 3); verification then checks the IP SAN.
  if (!is_ip_literal(name)) SSL_set_tlsext_host_name(native, name.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(native);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  }
  tcp::resolver resolver(executor_);
  auto [rec, results] = co_await resolver.async_resolve(endpoint_.host, endpoint_.port, kNoThrow);
  if (rec)
    co_return tl::unexpected(
        TransportError{"resolve " + endpoint_.host + ": " + rec.message(), TransportFailure::kResolve});
  auto& lowest = beast::get_lowest_layer(conn->stream);
  lowest.expires_after(to_steady(options_.connect_timeout));
  auto [cec, ep] = co_await lowest.async_connect(results, kNoThrow);
  if (cec)
    co_return tl::unexpected(TransportError{"connect " + endpoint_.host + ":" + endpoint_.port + ": " + cec.message(),
                                            TransportFailure::kConnect});
  lowest.expires_after(to_steady(options_.connect_timeout));
  auto [hec] = co_await conn->stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (hec)
    co_return tl::unexpected(
        TransportError{"TLS handshake with " + name + ": " + hec.message(), TransportFailure::kTlsHandshake});
  co_return conn;
}

void KubeClient::account(const std::string& stats_verb, std::string_view observed_verb, const std::string& resource,
                         int code, std::chrono::steady_clock::time_point started) {
  stats_.count(stats_verb, resource, code);
  if (!options_.on_request) return;
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
  // The observer feeds metrics; a failure there must not fail (or escape) the request's coroutine.
  // It is logged, and the request goes on. Only std::exception is caught: the observer is ours and
  // throws nothing else, and anything else is a bug that should stop the process, not vanish.
  try {
    options_.on_request(observed_verb, resource, code, seconds.count());
  } catch (const std::exception& e) {
    daemon::log(daemon::LogLevel::kWarn, "request observer failed", {{"resource", resource}, {"error", e.what()}});
  }
}

asio::awaitable<void> KubeClient::rate_limit() {
  const core::Duration wait = bucket_.reserve(options_.clock.now());
  if (wait.count() > 0) {
    asio::steady_timer timer(executor_, to_steady(wait));
    co_await timer.async_wait(kNoThrow);
  }
}

namespace {

// The verb the request observer reports: the lowercase HTTP method, except that a GET of a
// collection is "list", as the API server's own apiserver_request_total tells them apart (a list
// costs the server far more than a get). Collection paths: /api/v1/{resource},
// /apis/{group}/{version}/{resource}, each optionally under namespaces/{ns}/.
std::string observed_verb(const Request& r) {
  std::string verb(http::to_string(r.verb));
  for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (r.verb != http::verb::get) return verb;
  std::string_view path(r.target);
  path = path.substr(0, path.find('?'));
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  std::size_t prefix = 0;
  if (!segments.empty() && segments[0] == "api") prefix = 2;
  if (!segments.empty() && segments[0] == "apis") prefix = 3;
  if (prefix == 0 || segments.size() <= prefix) return verb;
  std::size_t rest = segments.size() - prefix;
  // namespaces/{ns}/{resource}...; "namespaces" alone or namespaces/{name} is the namespace itself
  if (segments[prefix] == "namespaces" && rest >= 3) rest -= 2;
  return rest == 1 ? "list" : verb;
}

http::request<http::string_body> build(const Request& r, const Endpoint& e, const std::string& token,
                                       const ClientOptions& o) {
  http::request<http::string_body> req{r.verb, r.target, 11};
  req.set(http::field::host,
          e.host.find(':') != std::string::npos ? "[" + e.host + "]:" + e.port : e.host + ":" + e.port);
  req.set(http::field::user_agent, o.user_agent);
  req.set(http::field::accept, r.accept.empty() ? std::string("application/json") : r.accept);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!r.body.empty()) {
    req.set(http::field::content_type, r.content_type.empty() ? "application/json" : r.content_type);
    req.body() = r.body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace

asio::awaitable<tl::expected<Response, TransportError>> KubeClient::request(Request r) {
  const std::string verb(http::to_string(r.verb));
  const std::string observed = observed_verb(r);
  for (int attempt = 0;; ++attempt) {
    co_await rate_limit();
    const auto started = std::chrono::steady_clock::now();
    std::unique_ptr<Connection> conn;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      auto c = co_await connect();
      if (!c) {
        account(verb, observed, r.resource, 0, started);
        co_return tl::unexpected(c.error());
      }
      conn = std::move(*c);
    }
    auto req = build(r, endpoint_, tokens_->token(), options_);
    auto& lowest = beast::get_lowest_layer(conn->stream);
    lowest.expires_after(to_steady(options_.request_timeout));
    auto [wec, wn] = co_await http::async_write(conn->stream, req, kNoThrow);
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    boost::system::error_code rec;
    if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(conn->stream, conn->buffer, parser, kNoThrow);
    if (wec || rec) {
      // A reused keep-alive connection may have been closed by the server in the meantime;
      // one fresh attempt is safe for the idempotent GETs we send.
      if (attempt == 0 && r.verb == http::verb::get) continue;
      account(verb, observed, r.resource, 0, started);
      co_return tl::unexpected(TransportError{(wec ? wec : rec).message(), wec ? TransportFailure::kWrite
                                                                           : rec == http::error::body_limit
                                                                               ? TransportFailure::kTooLarge
                                                                               : TransportFailure::kRead});
    }
    auto res = parser.release();
    Response out;
    out.status = static_cast<int>(res.result_int());
    if (auto it = res.find(http::field::content_type); it != res.end()) out.content_type = std::string(it->value());
    out.body = std::move(res.body());
    if (auto it = res.find(http::field::retry_after); it != res.end())
      out.retry_after = core::parse_retry_after(it->value());
    account(verb, observed, r.resource, out.status, started);
    if (res.keep_alive()) idle_.push_back(std::move(conn));
    if (out.status == 401 && attempt == 0) {
      tokens_->invalidate();  // rotated token: read it again and retry once
      continue;
    }
    if ((out.status == 429 || out.status == 503) && out.retry_after && attempt < options_.max_retries) {
      asio::steady_timer timer(executor_, to_steady(std::min(*out.retry_after, core::Duration(10'000))));
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    co_return out;
  }
}

asio::awaitable<tl::expected<Response, TransportError>> KubeClient::watch(Request r,
                                                                          std::function<bool(std::string_view)> on_line,
                                                                          core::Duration idle_timeout) {
  // Split the stream into lines; an event may span chunks and a chunk may hold several events.
  std::string line;
  std::optional<TransportError> too_large;
  auto on_chunk = [&](std::string_view data) {
    while (!data.empty()) {
      auto nl = data.find('\n');
      if (nl == std::string_view::npos) {
        line.append(data);
        if (line.size() > options_.max_event_bytes) {
          too_large = TransportError{"watch event larger than " + std::to_string(options_.max_event_bytes) + " bytes",
                                     TransportFailure::kTooLarge};
          return false;
        }
        return true;
      }
      line.append(data.substr(0, nl));
      if (!line.empty() && !on_line(line)) return false;
      line.clear();
      data.remove_prefix(nl + 1);
    }
    return true;
  };
  auto res = co_await stream_body("watch", std::move(r), on_chunk, idle_timeout);
  if (too_large) co_return tl::unexpected(*too_large);
  if (res && !res->abandoned && res->status == 200 && !line.empty()) res->abandoned = !on_line(line);
  co_return res;
}

asio::awaitable<tl::expected<Response, TransportError>> KubeClient::stream(
    Request r, std::function<bool(std::string_view)> on_chunk, core::Duration idle_timeout,
    std::function<void(std::string_view)> on_header) {
  const std::string verb = observed_verb(r);
  co_return co_await stream_body(verb, std::move(r), std::move(on_chunk), idle_timeout, std::move(on_header));
}

asio::awaitable<tl::expected<Response, TransportError>> KubeClient::stream_body(
    std::string verb, Request r, std::function<bool(std::string_view)> on_chunk, core::Duration idle_timeout,
    std::function<void(std::string_view)> on_header) {
  co_await rate_limit();
  const auto started = std::chrono::steady_clock::now();
  auto c = co_await connect();
  if (!c) {
    account(verb, verb, r.resource, 0, started);
    co_return tl::unexpected(c.error());
  }
  auto conn = std::move(*c);
  // Registered while this frame reads from it, so that cancel_streams() can end the read; the
  // guard unregisters it on every way out (the connection is destroyed with `conn`).
  streaming_->insert(conn.get());
  struct Unregister {
    std::shared_ptr<std::set<Connection*>> set;
    Connection* conn;
    ~Unregister() { set->erase(conn); }
  } unregister{streaming_, conn.get()};
  auto req = build(r, endpoint_, tokens_->token(), options_);
  auto& lowest = beast::get_lowest_layer(conn->stream);
  lowest.expires_after(to_steady(options_.request_timeout));
  auto [wec, wn] = co_await http::async_write(conn->stream, req, kNoThrow);
  if (wec) {
    account(verb, verb, r.resource, 0, started);
    co_return tl::unexpected(TransportError{wec.message(), TransportFailure::kWrite});
  }
  // Read the header first; an error status comes with a small Status body read whole.
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // the body is unbounded; the caller bounds what it keeps
  auto [hec, hn] = co_await http::async_read_header(conn->stream, conn->buffer, parser, kNoThrow);
  if (hec) {
    account(verb, verb, r.resource, 0, started);
    co_return tl::unexpected(
        TransportError{"reading " + verb + " response header: " + hec.message(), TransportFailure::kRead});
  }
  Response out;
  out.status = static_cast<int>(parser.get().result_int());
  if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
    out.retry_after = core::parse_retry_after(it->value());
  }
  if (auto it = parser.get().find(http::field::content_type); it != parser.get().end())
    out.content_type = std::string(it->value());
  account(verb, verb, r.resource, out.status, started);
  if (out.status == 401) tokens_->invalidate();
  if (out.status == 200 && on_header) on_header(out.content_type);
  std::array<char, kChunkBytes> chunk{};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest.expires_after(to_steady(idle_timeout));
    // read_some, not read: with a buffer_body, async_read would wait until the 64 KiB buffer is
    // full, holding back a quiet stream's events until the watch ends.
    auto [rec, rn] = co_await http::async_read_some(conn->stream, conn->buffer, parser, kNoThrow);
    if (rec == http::error::need_buffer) rec = {};
    if (rec) {
      if (rec == beast::error::timeout) co_return tl::unexpected(TransportError{"idle", TransportFailure::kIdle});
      if (rec == asio::error::operation_aborted)
        co_return tl::unexpected(TransportError{"cancelled", TransportFailure::kCancelled});
      co_return tl::unexpected(TransportError{verb + " stream: " + rec.message(), rec == http::error::body_limit
                                                                                      ? TransportFailure::kTooLarge
                                                                                      : TransportFailure::kRead});
    }
    const std::size_t got = chunk.size() - parser.get().body().size;
    std::string_view data(chunk.data(), got);
    if (out.status != 200) {
      if (out.body.size() < kMaxErrorBody) out.body.append(data);
      continue;
    }
    if (!data.empty() && !on_chunk(data)) {
      out.abandoned = true;
      co_return out;  // the connection closes with `conn`
    }
  }
  co_return out;
}

}  // namespace crashdiag::kube
