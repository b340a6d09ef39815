// A tiny plain-HTTP/1.1 server for /metrics, /healthz and /readyz (Boost.Beast, C++20 coroutines).
// GET and HEAD only, no request bodies, headers at most 8 KiB, 10 s to send a request, at most 64
// connections: it faces kubelet probes and a Prometheus scraper, and anything else on the pod
// network must not be able to exhaust the daemon through it. Nothing throws out of a coroutine.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace crashdiag::http {

struct Reply {
  int status = 200;
  std::string content_type;  // empty: text/plain; charset=utf-8
  std::string body;
};

// Exact paths (the query string is ignored) to handlers. A handler runs on the server's executor,
// so it must be quick and not block; an exception from it is a 500.
using Handler = std::function<Reply()>;
using Routes = std::map<std::string, Handler, std::less<>>;

// A parsed --*-bind-address, controller-runtime's syntax: ":8080" (all interfaces), "127.0.0.1:8080",
// "[::1]:8080", "localhost:8080"; port 0 picks a free port.
struct BindAddress {
  std::string host;  // IP literal, no brackets; empty: all interfaces
  std::uint16_t port = 0;
};

// nullopt: the literal "0", which disables the server (controller-runtime's convention). The
// error is the cause only ("invalid port"); HttpServer::listen prefixes flag and value.
[[nodiscard]] tl::expected<std::optional<BindAddress>, std::string> parse_bind_address(std::string_view value);

struct ServerOptions {
  std::size_t max_header_bytes = std::size_t{8} * 1024;
  std::chrono::milliseconds read_timeout{10'000};   // to receive a whole request header, and between requests
  std::chrono::milliseconds write_timeout{10'000};  // to send a response
  std::size_t max_connections = 64;                 // beyond this a new connection is closed at once
};

class HttpServer {
 public:
  // `executor`'s execution context must outlive this object. The server serializes its own work
  // on a strand, so a multi-threaded context is fine.
  HttpServer(const boost::asio::any_io_executor& executor, Routes routes, ServerOptions options = {});
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  HttpServer(HttpServer&&) = delete;
  HttpServer& operator=(HttpServer&&) = delete;

  // Binds synchronously, so a bad flag or a taken port fails startup at once, then serves on the
  // executor. Returns the bound port, or nullopt when `bind_address` is "0" (disabled). `flag`
  // names the option in errors: `--metrics-bind-address ":99999": invalid port`. Call once.
  [[nodiscard]] tl::expected<std::optional<std::uint16_t>, std::string> listen(std::string_view flag,
                                                                               std::string_view bind_address);

  // Closes the listener and every open connection (asynchronously, on the server's strand).
  // Idempotent; callable from any thread.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the coroutines, which may outlive this object
};

}  // namespace crashdiag::http
