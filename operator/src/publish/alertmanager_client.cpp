#include "alertmanager_client.hpp"
#include "no_throw.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "connect.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::chrono::steady_clock::duration to_steady(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

AlertmanagerError error(AlertmanagerErrorKind kind, const boost::system::error_code& ec) {
  // beast::tcp_stream reports its expired deadline as error::timeout, whichever step it cut.
  if (ec == beast::error::timeout) return AlertmanagerError{AlertmanagerErrorKind::kTimeout, ec.message()};
  return AlertmanagerError{kind, ec.message()};
}

// Writes the request and reads the whole (bounded) response on an open stream of either kind.
template <typename Stream>
asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> exchange(Stream& stream,
                                                                             http::request<http::string_body> req,
                                                                             const AlertmanagerClientOptions& o) {
  beast::get_lowest_layer(stream).expires_after(to_steady(o.request_timeout));
  auto [wec, written] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) co_return tl::unexpected(error(AlertmanagerErrorKind::kWrite, wec));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(o.max_body_bytes);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  if (rec) co_return tl::unexpected(error(AlertmanagerErrorKind::kRead, rec));
  auto res = parser.release();
  co_return AlertmanagerReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace

void AlertmanagerClient::cancel() {
  if (resolving_ != nullptr) resolving_->cancel();
  if (active_ != nullptr) active_->cancel();
}

std::string_view to_string(AlertmanagerErrorKind kind) {
  switch (kind) {
    case AlertmanagerErrorKind::kResolve:
      return "resolve";
    case AlertmanagerErrorKind::kConnect:
      return "connect";
    case AlertmanagerErrorKind::kTlsHandshake:
      return "tls_handshake";
    case AlertmanagerErrorKind::kWrite:
      return "write";
    case AlertmanagerErrorKind::kRead:
      return "read";
    case AlertmanagerErrorKind::kTimeout:
      return "timeout";
  }
  return "error";
}

tl::expected<std::shared_ptr<ssl::context>, std::string> make_alertmanager_tls(const std::string& ca_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return tl::unexpected("the system's CA certificates: " + ec.message());
    return ctx;
  }
  const auto pem = kube::read_file(ca_file);
  if (!pem || pem->empty()) return tl::unexpected("--alertmanager-ca " + ca_file + ": cannot read the file");
  ctx->add_certificate_authority(asio::buffer(*pem), ec);
  if (ec) return tl::unexpected("--alertmanager-ca " + ca_file + ": not a PEM certificate (" + ec.message() + ")");
  return ctx;
}

AlertmanagerClient::AlertmanagerClient(asio::any_io_executor executor, core::AlertmanagerUrl url,
                                       std::shared_ptr<ssl::context> tls, AlertmanagerClientOptions options)
    : executor_(std::move(executor)), url_(std::move(url)), tls_(std::move(tls)), options_(std::move(options)) {}

// Arguments to co_await calls are named locals: GCC 12 destroys temporaries there twice (PR 99576).
asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> AlertmanagerClient::post_alerts(std::string body) {
  std::string target = url_.alerts_path();
  co_return co_await send(http::verb::post, std::move(target), std::move(body));
}

asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> AlertmanagerClient::get_alerts() {
  std::string target = url_.alerts_path();
  std::string body;
  co_return co_await send(http::verb::get, std::move(target), std::move(body));
}

asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> AlertmanagerClient::get(std::string path) {
  std::string target = url_.path_prefix + path;
  std::string body;
  co_return co_await send(http::verb::get, std::move(target), std::move(body));
}

asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> AlertmanagerClient::send(http::verb verb,
                                                                                             std::string target,
                                                                                             std::string body) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host,
          url_.host.find(':') != std::string::npos ? "[" + url_.host + "]:" + url_.port : url_.host + ":" + url_.port);
  req.set(http::field::user_agent, options_.user_agent);
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();

  tcp::resolver resolver(executor_);
  resolving_ = &resolver;
  auto [rec, results] = co_await resolver.async_resolve(url_.host, url_.port, kNoThrow);
  resolving_ = nullptr;
  if (rec) co_return tl::unexpected(AlertmanagerError{AlertmanagerErrorKind::kResolve, rec.message()});

  // active_ is set and cleared around the awaits by hand, not by a guard object: a frame destroyed
  // with its io_context must not write into a client that may be gone by then.
  if (!url_.tls || !tls_) {
    beast::tcp_stream stream(executor_);
    active_ = &stream;
    stream.expires_after(to_steady(options_.connect_timeout));
    auto [cec, ep] = co_await stream.async_connect(results, kNoThrow);
    if (cec) {
      active_ = nullptr;
      co_return tl::unexpected(error(AlertmanagerErrorKind::kConnect, cec));
    }
    auto out = co_await exchange(stream, std::move(req), options_);
    active_ = nullptr;
    co_return out;
  }

  beast::ssl_stream<beast::tcp_stream> stream(executor_, *tls_);
  SSL* native = stream.native_handle();
  // SNI must not carry an IP literal (RFC 6066 section 3); verification then checks the IP SAN.
  if (!is_ip_literal(url_.host)) SSL_set_tlsext_host_name(native, url_.host.c_str());
  X509_VERIFY_PARAM* param = SSL_get0_param(native);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip_literal(url_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), 0);
  }
  auto& lowest = beast::get_lowest_layer(stream);
  active_ = &lowest;
  lowest.expires_after(to_steady(options_.connect_timeout));
  auto [cec, ep] = co_await lowest.async_connect(results, kNoThrow);
  if (cec) {
    active_ = nullptr;
    co_return tl::unexpected(error(AlertmanagerErrorKind::kConnect, cec));
  }
  lowest.expires_after(to_steady(options_.connect_timeout));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (hec) {
    active_ = nullptr;
    co_return tl::unexpected(error(AlertmanagerErrorKind::kTlsHandshake, hec));
  }
  auto out = co_await exchange(stream, std::move(req), options_);
  active_ = nullptr;
  co_return out;
}

}  // namespace crashdiag::daemon
