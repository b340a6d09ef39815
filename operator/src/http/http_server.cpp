#include "http_server.hpp"
#include "log.hpp"
#include "no_throw.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <set>

namespace crashdiag::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
// After an accept error (EMFILE, ENOBUFS) retrying at once would spin; wait for resources to free.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// Bounds on draining a connection we close with its input unread (see session()).
constexpr std::chrono::milliseconds kLingerTime{1'000};
constexpr std::size_t kLingerBytes = std::size_t{64} * 1024;
constexpr std::size_t kLingerChunk = 4096;

}  // namespace

// Everything the coroutines touch; only ever used on `strand`.
struct HttpServer::State {
  State(const asio::any_io_executor& ex, Routes r, ServerOptions o)
      : strand(asio::make_strand(ex)), acceptor(strand), routes(std::move(r)), options(o) {}

  asio::strand<asio::any_io_executor> strand;
  tcp::acceptor acceptor;
  Routes routes;
  ServerOptions options;
  std::set<beast::tcp_stream*> connections;  // open sessions' streams, closed by stop()
  bool stopped = false;
};

tl::expected<std::optional<BindAddress>, std::string> parse_bind_address(std::string_view value) {
  if (value == "0") return std::nullopt;
  if (value.empty()) return tl::unexpected(std::string("empty address"));
  std::string_view host;
  std::string_view port;
  if (value.front() == '[') {
    const auto close = value.find(']');
    if (close == std::string_view::npos) return tl::unexpected(std::string("unterminated IPv6 address"));
    host = value.substr(1, close - 1);
    if (close + 1 >= value.size() || value[close + 1] != ':') return tl::unexpected(std::string("missing port"));
    port = value.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return tl::unexpected(std::string("brackets around a non-IPv6 host"));
  } else {
    const auto colon = value.rfind(':');
    if (colon == std::string_view::npos) return tl::unexpected(std::string("missing port"));
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return tl::unexpected(std::string("too many colons (put an IPv6 address in brackets)"));
    }
  }
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535) {
    return tl::unexpected(std::string("invalid port"));
  }
  BindAddress out;
  out.port = static_cast<std::uint16_t>(number);
  // Go resolves "localhost" for net.Listen; nothing else needs a resolver at startup.
  if (host == "localhost") host = "127.0.0.1";
  if (!host.empty()) {
    boost::system::error_code aec;
    const auto address = asio::ip::make_address(host, aec);
    if (aec) return tl::unexpected(std::string("invalid IP address \"").append(host).append("\""));
    out.host = address.to_string();
  }
  return out;
}

namespace {

using Response = bhttp::response<bhttp::string_body>;

// Outside the coroutines: a handler may throw, and a catch handler in a coroutine body is one of
// the places GCC 12 gets wrong.
// Either way the failure is logged and answered with a 500: a scrape or a probe that fails says so,
// and the server keeps serving.
Reply invoke(const Handler& handler) noexcept {
  try {
    return handler();
  } catch (const std::exception& e) {
    daemon::log(daemon::LogLevel::kError, "http handler failed", {{"error", e.what()}});
    return Reply{500, std::string(kTextPlain), std::string("internal error: ") + e.what() + "\n"};
  } catch (...) {
    daemon::log(daemon::LogLevel::kError, "http handler failed",
                {{"error", "an exception not derived from std::exception"}});
    return Reply{500, std::string(kTextPlain), "internal error\n"};
  }
}

Response make_response(const Reply& reply, unsigned version, bool keep_alive, bool head) {
  // A handler's nonsense status must not reach the status line.
  const int status = reply.status >= 100 && reply.status <= 599 ? reply.status : 500;
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::content_type, reply.content_type.empty() ? kTextPlain : std::string_view(reply.content_type));
  res.keep_alive(keep_alive);
  res.body() = reply.body;
  res.prepare_payload();
  // HEAD: the headers a GET would get, Content-Length included, without the body.
  if (head) res.body().clear();
  return res;
}

Response error_response(bhttp::status status, std::string_view text, unsigned version) {
  Reply reply{static_cast<int>(status), std::string(kTextPlain), std::string(text) + "\n"};
  return make_response(reply, version, false, false);
}

// What to answer a request whose header has been read. `has_body`: the parser expects a body,
// which we never read, so the connection closes after the answer.
Response respond(const Routes& routes, const bhttp::request<bhttp::empty_body>& req, bool has_body) {
  const unsigned version = req.version();
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    Response res = error_response(bhttp::status::method_not_allowed, "method not allowed", version);
    res.set(bhttp::field::allow, "GET, HEAD");
    return res;
  }
  if (has_body) return error_response(bhttp::status::payload_too_large, "request body not accepted", version);
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  const auto it = routes.find(path);
  if (it == routes.end()) return error_response(bhttp::status::not_found, "not found", version);
  return make_response(invoke(it->second), version, req.keep_alive(), req.method() == bhttp::verb::head);
}

// Whether a failed header read deserves an answer: a malformed or oversized request does (the
// client is waiting), a closed or silent connection does not.
std::optional<Response> read_error_response(const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    return error_response(bhttp::status::request_header_fields_too_large, "request header too large", 11);
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return error_response(bhttp::status::bad_request, "bad request", 11);
  }
  return std::nullopt;
}

// Keeps a session's stream in State::connections for exactly its life, also when the frame is
// destroyed unfinished (its io_context shut down).
class Registration {
 public:
  Registration(HttpServer::State& state, beast::tcp_stream& stream) : state_(state), stream_(&stream) {
    state_.connections.insert(stream_);
  }
  ~Registration() { state_.connections.erase(stream_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  Registration(Registration&&) = delete;
  Registration& operator=(Registration&&) = delete;

 private:
  HttpServer::State& state_;
  beast::tcp_stream* stream_;
};

asio::awaitable<void> session(std::shared_ptr<HttpServer::State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const Registration registration(*state, stream);
  // Room for one maximal header plus a little of what may follow it (a pipelined request).
  beast::flat_buffer buffer(state->options.max_header_bytes * 2);
  bool linger = false;
  while (!state->stopped) {
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state->options.max_header_bytes));
    stream.expires_after(state->options.read_timeout);
    auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    std::optional<Response> res;
    if (rec) {
      res = read_error_response(rec);
    } else {
      res = respond(state->routes, parser.get(), !parser.is_done());
      if (!parser.is_done()) res->keep_alive(false);
    }
    if (!res || state->stopped) break;
    stream.expires_after(state->options.write_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, *res, kNoThrow);
    if (wec) break;
    if (!res->keep_alive()) {
      linger = true;
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  // Closing with unread input (a rejected body, the rest of an oversized header) makes the kernel
  // send a reset, which can destroy the answer before the client reads it. So, after an answer
  // that ends the connection, drain briefly until the client closes its side.
  std::array<char, kLingerChunk> discard{};
  auto discard_buffer = asio::buffer(discard);
  std::size_t drained = 0;
  if (linger) stream.expires_after(kLingerTime);
  while (linger && !state->stopped && drained < kLingerBytes) {
    auto [dec, dn] = co_await stream.async_read_some(discard_buffer, kNoThrow);
    if (dec) break;
    drained += dn;
  }
  stream.close();
}

asio::awaitable<void> accept_loop(std::shared_ptr<HttpServer::State> state) {
  while (!state->stopped) {
    auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
    if (state->stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      asio::steady_timer timer(state->strand, kAcceptBackoff);
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    // Over the limit the connection is closed at once rather than queued: a probe then fails
    // fast and retries instead of timing out behind connections that may never finish.
    if (state->connections.size() >= state->options.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    asio::co_spawn(state->strand, session(state, std::move(socket)), asio::detached);
  }
}

// Opens, binds and listens, or says why not. `dual_stack`: [::] accepting IPv4 too, as
// Go's ":port" does.
boost::system::error_code open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, bool dual_stack) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  // Not for sharing the port: so a restarted daemon can bind while old connections sit in TIME_WAIT.
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && dual_stack) acceptor.set_option(asio::ip::v6_only(false), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

std::string endpoint_text(const tcp::endpoint& e) {
  const std::string host = e.address().to_string();
  return (e.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(e.port());
}

}  // namespace

HttpServer::HttpServer(const asio::any_io_executor& executor, Routes routes, ServerOptions options)
    : state_(std::make_shared<State>(executor, std::move(routes), options)) {}

HttpServer::~HttpServer() {
  stop();
}

tl::expected<std::optional<std::uint16_t>, std::string> HttpServer::listen(std::string_view flag,
                                                                           std::string_view bind_address) {
  const std::string prefix = std::string(flag) + " \"" + std::string(bind_address) + "\": ";
  auto parsed = parse_bind_address(bind_address);
  if (!parsed) return tl::unexpected(prefix + parsed.error());
  if (!*parsed) return std::nullopt;
  if (state_->acceptor.is_open()) return tl::unexpected(prefix + "already listening");
  const BindAddress& bind = **parsed;
  tcp::endpoint endpoint;
  boost::system::error_code ec;
  if (bind.host.empty()) {
    endpoint = tcp::endpoint(tcp::v6(), bind.port);
    ec = open_acceptor(state_->acceptor, endpoint, true);
    // A pod without IPv6 (disabled in the kernel) cannot open or bind [::]; IPv4 is all there is.
    if (ec == asio::error::address_family_not_supported || ec == boost::system::errc::address_not_available) {
      boost::system::error_code ignored;
      state_->acceptor.close(ignored);
      endpoint = tcp::endpoint(tcp::v4(), bind.port);
      ec = open_acceptor(state_->acceptor, endpoint, false);
    }
  } else {
    endpoint = tcp::endpoint(asio::ip::make_address(bind.host), bind.port);
    ec = open_acceptor(state_->acceptor, endpoint, false);
  }
  if (ec) {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
    return tl::unexpected(prefix + "listen on " + endpoint_text(endpoint) + ": " + ec.message());
  }
  const std::uint16_t port = state_->acceptor.local_endpoint(ec).port();
  asio::co_spawn(state_->strand, accept_loop(state_), asio::detached);
  return port;
}

void HttpServer::stop() {
  asio::dispatch(state_->strand, [state = state_] {
    state->stopped = true;
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    // Closing cancels the sessions' pending reads and writes; each then ends and unregisters.
    for (beast::tcp_stream* stream : state->connections) stream->socket().close(ignored);
  });
}

}  // namespace crashdiag::http
