#include "http_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "eventually.hpp"

namespace crashdiag::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kFlag = "--metrics-bind-address";

// A server on its own io_context thread, as in the daemon; the test talks to it over real
// sockets with blocking Beast calls.
class Server {
 public:
  explicit Server(Routes routes, ServerOptions options = {})
      : server_(ioc_.get_executor(), std::move(routes), options) {}
  ~Server() {
    // stop() must end every session and the accept loop: with the work guard gone, run() only
    // returns once nothing is left, so a leak here hangs the test.
    server_.stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  Server(Server&&) = delete;
  Server& operator=(Server&&) = delete;

  tl::expected<std::optional<std::uint16_t>, std::string> listen(std::string_view address) {
    auto port = server_.listen(kFlag, address);
    if (port && *port) thread_ = std::thread([this] { ioc_.run(); });
    return port;
  }
  HttpServer& server() { return server_; }

 private:
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
  HttpServer server_;
  std::thread thread_;
};

Routes test_routes() {
  Routes routes;
  routes["/metrics"] = [] { return Reply{200, std::string(kMetricsType), "crashdiag_leader 1\n"}; };
  routes["/healthz"] = [] { return Reply{200, "", "ok\n"}; };
  routes["/readyz"] = [] { return Reply{503, "", "not synced\n"}; };
  routes["/boom"] = []() -> Reply { throw std::runtime_error("handler failed"); };
  return routes;
}

class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(const std::string& raw) { asio::write(socket_, asio::buffer(raw)); }
  bhttp::response<bhttp::string_body> request(bhttp::verb verb, const std::string& target) {
    bhttp::request<bhttp::empty_body> req{verb, target, 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(socket_, req);
    return read();
  }
  bhttp::response<bhttp::string_body> read(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
    bhttp::read(socket_, buffer_, parser);
    return parser.release();
  }
  // True when the server closed the connection (EOF or reset) instead of answering.
  bool closed_by_server() {
    std::array<char, 256> buf{};
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buf), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// The status of a GET on a fresh connection; nullopt when the server closed it unanswered.
std::optional<unsigned> try_get(std::uint16_t port, const std::string& target) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return std::nullopt;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "localhost");
  bhttp::write(s, req, ec);
  if (ec) return std::nullopt;
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buffer, res, ec);
  if (ec) return std::nullopt;
  return res.result_int();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto port = server_.listen("127.0.0.1:0");
    ASSERT_TRUE(port) << port.error();
    ASSERT_TRUE(*port);
    port_ = **port;
  }
  Server server_{test_routes()};
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, ServesMetricsOverARealSocket) {
  Client c(port_);
  auto res = c.request(bhttp::verb::get, "/metrics");
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_EQ(res[bhttp::field::content_type], kMetricsType);
  EXPECT_EQ(res.body(), "crashdiag_leader 1\n");
  EXPECT_TRUE(res.keep_alive());
}

TEST_F(HttpServerTest, Responses) {
  struct Case {
    bhttp::verb verb;
    const char* target;
    unsigned status;
    const char* body;
  };
  const Case cases[] = {
      {bhttp::verb::get, "/healthz", 200, "ok\n"},
      {bhttp::verb::get, "/readyz", 503, "not synced\n"},
      {bhttp::verb::get, "/metrics?name[]=x", 200, "crashdiag_leader 1\n"},  // the query is ignored
      {bhttp::verb::get, "/nope", 404, "not found\n"},
      {bhttp::verb::get, "/metrics/", 404, "not found\n"},
      {bhttp::verb::post, "/metrics", 405, "method not allowed\n"},
      {bhttp::verb::delete_, "/healthz", 405, "method not allowed\n"},
      {bhttp::verb::get, "/boom", 500, "internal error: handler failed\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    Client client(port_);
    auto res = client.request(c.verb, c.target);
    EXPECT_EQ(res.result_int(), c.status);
    EXPECT_EQ(res.body(), c.body);
    if (c.status == 405) {
      EXPECT_EQ(res[bhttp::field::allow], "GET, HEAD");
    }
  }
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  Client c(port_);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.request(bhttp::verb::get, "/healthz").result_int(), 200U);
}

TEST_F(HttpServerTest, HeadHasGetsHeadersWithoutBody) {
  Client c(port_);
  c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = c.read(true);
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_EQ(res[bhttp::field::content_length], "19");
  EXPECT_EQ(res[bhttp::field::content_type], kMetricsType);
  // The connection stays usable: no stray body bytes precede the next answer.
  EXPECT_EQ(c.request(bhttp::verb::get, "/healthz").body(), "ok\n");
}

TEST_F(HttpServerTest, OversizedHeaderIsRejected) {
  Client c(port_);
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(std::size_t{9} * 1024, 'a') + "\r\n\r\n");
  auto res = c.read();
  EXPECT_EQ(res.result_int(), 431U);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(HttpServerTest, HeaderJustUnderTheLimitIsServed) {
  Client c(port_);
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(std::size_t{7} * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 200U);
}

TEST_F(HttpServerTest, RequestBodyIsRejected) {
  struct Case {
    const char* name;
    std::string raw;
  };
  const Case cases[] = {
      {"content-length", "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
      {"chunked", "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Client client(port_);
    client.send(c.raw);
    auto res = client.read();
    EXPECT_EQ(res.result_int(), 413U);
    EXPECT_FALSE(res.keep_alive());
  }
}

TEST_F(HttpServerTest, MalformedRequestIsBadRequest) {
  Client c(port_);
  c.send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 400U);
}

TEST(HttpServer, SilentConnectionTimesOut) {
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  Server server(test_routes(), options);
  auto port = server.listen("127.0.0.1:0");
  ASSERT_TRUE(port && *port);
  Client c(**port);
  c.send("GET /metrics HTTP/1.1\r\n");  // and never the rest
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpServer, ConnectionsBeyondTheLimitAreClosed) {
  ServerOptions options;
  options.max_connections = 2;
  Server server(test_routes(), options);
  auto port = server.listen("127.0.0.1:0");
  ASSERT_TRUE(port && *port);
  auto first = std::make_unique<Client>(**port);
  Client second(**port);
  // An answered request proves each session is registered before the next connection arrives.
  ASSERT_EQ(first->request(bhttp::verb::get, "/healthz").result_int(), 200U);
  ASSERT_EQ(second.request(bhttp::verb::get, "/healthz").result_int(), 200U);
  Client third(**port);
  EXPECT_TRUE(third.closed_by_server());
  // A freed slot is usable again.
  first.reset();
  // The server releases the slot asynchronously; until then a new connection is closed.
  EXPECT_TRUE(testing::eventually([&] { return try_get(**port, "/healthz") == 200U; }, std::chrono::seconds(5)));
}

TEST(HttpServer, StopClosesListenerAndConnections) {
  auto server = std::make_unique<Server>(test_routes());
  auto port = server->listen("127.0.0.1:0");
  ASSERT_TRUE(port && *port);
  Client idle(**port);
  ASSERT_EQ(idle.request(bhttp::verb::get, "/healthz").result_int(), 200U);
  server.reset();  // stop() and join: hangs if a session or the accept loop survived
  EXPECT_TRUE(idle.closed_by_server());
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), **port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST(HttpServer, ParseBindAddress) {
  struct Case {
    const char* value;
    bool ok;
    bool disabled;
    const char* host;
    std::uint16_t port;
    const char* error;
  };
  const Case cases[] = {
      {":8080", true, false, "", 8080, ""},
      {"127.0.0.1:0", true, false, "127.0.0.1", 0, ""},
      {"[::1]:0", true, false, "::1", 0, ""},
      {"[::]:9090", true, false, "::", 9090, ""},
      {"0.0.0.0:8081", true, false, "0.0.0.0", 8081, ""},
      {"localhost:8080", true, false, "127.0.0.1", 8080, ""},
      {":65535", true, false, "", 65535, ""},
      {"0", true, true, "", 0, ""},
      {"abc", false, false, "", 0, "missing port"},
      {"", false, false, "", 0, "empty address"},
      {":99999", false, false, "", 0, "invalid port"},
      {":", false, false, "", 0, "invalid port"},
      {":80a", false, false, "", 0, "invalid port"},
      {":-1", false, false, "", 0, "invalid port"},
      {"1.2.3.4.5:80", false, false, "", 0, "invalid IP address \"1.2.3.4.5\""},
      {"example.com:80", false, false, "", 0, "invalid IP address \"example.com\""},
      {"::1:8080", false, false, "", 0, "too many colons (put an IPv6 address in brackets)"},
      {"[::1]", false, false, "", 0, "missing port"},
      {"[::1:8080", false, false, "", 0, "unterminated IPv6 address"},
      {"[127.0.0.1]:80", false, false, "", 0, "brackets around a non-IPv6 host"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    auto got = parse_bind_address(c.value);
    ASSERT_EQ(got.has_value(), c.ok) << (got ? "" : got.error());
    if (!c.ok) {
      EXPECT_EQ(got.error(), c.error);
      continue;
    }
    ASSERT_EQ(!got->has_value(), c.disabled);
    if (c.disabled) continue;
    EXPECT_EQ((*got)->host, c.host);
    EXPECT_EQ((*got)->port, c.port);
  }
}

TEST(HttpServer, ListenErrorsNameFlagValueAndCause) {
  struct Case {
    const char* value;
    const char* error;
  };
  const Case cases[] = {
      {":99999", "--metrics-bind-address \":99999\": invalid port"},
      {"abc", "--metrics-bind-address \"abc\": missing port"},
      {"1.2.3.4.5:80", "--metrics-bind-address \"1.2.3.4.5:80\": invalid IP address \"1.2.3.4.5\""},
  };
  for (const Case& c : cases) {
    Server server(test_routes());
    auto got = server.listen(c.value);
    ASSERT_FALSE(got) << c.value;
    EXPECT_EQ(got.error(), c.error);
  }
}

TEST(HttpServer, ZeroDisables) {
  Server server(test_routes());
  auto got = server.listen("0");
  ASSERT_TRUE(got) << got.error();
  EXPECT_FALSE(got->has_value());
}

TEST(HttpServer, PortInUseFailsFast) {
  Server first(test_routes());
  auto port = first.listen("127.0.0.1:0");
  ASSERT_TRUE(port && *port);
  Server second(test_routes());
  const std::string address = "127.0.0.1:" + std::to_string(**port);
  auto got = second.listen(address);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(),
            "--metrics-bind-address \"" + address + "\": listen on " + address + ": Address already in use");
}

TEST(HttpServer, ListensOnAllInterfaces) {
  Server server(test_routes());
  auto port = server.listen(":0");
  ASSERT_TRUE(port) << port.error();
  ASSERT_TRUE(*port);
  Client c(**port);  // over IPv4 loopback, so [::] (when used) is dual-stack
  EXPECT_EQ(c.request(bhttp::verb::get, "/healthz").result_int(), 200U);
}

TEST(HttpServer, ListensOnIpv6Loopback) {
  Server server(test_routes());
  auto port = server.listen("[::1]:0");
  if (!port) GTEST_SKIP() << "no IPv6 here: " << port.error();
  ASSERT_TRUE(*port);
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("::1"), **port));
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/healthz", 11};
  req.set(bhttp::field::host, "[::1]");
  bhttp::write(s, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buffer, res);
  EXPECT_EQ(res.result_int(), 200U);
}

}  // namespace
}  // namespace crashdiag::http
