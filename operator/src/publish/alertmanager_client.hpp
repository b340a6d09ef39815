// A small HTTP/1.1 client for Alertmanager's v2 API (POST and GET /api/v2/alerts), plain HTTP or
// HTTPS, on Boost.Beast with C++20 coroutines. Alertmanager in a cluster is usually plain HTTP on
// a Service (http://alertmanager-operated.monitoring:9093); HTTPS verifies the server against the
// system's CAs or the file --alertmanager-ca names, with SNI and hostname/IP checks as the API
// server client does. One connection per request: a batch goes out about once a minute, so
// keep-alive would buy nothing and a half-closed idle connection could cost a failed post.
// Nothing throws out of a coroutine: results are tl::expected with a typed error.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "crashdiag/core/alerts.hpp"

namespace crashdiag::daemon {

enum class AlertmanagerErrorKind { kResolve, kConnect, kTlsHandshake, kWrite, kRead, kTimeout };
[[nodiscard]] std::string_view to_string(AlertmanagerErrorKind kind);

struct AlertmanagerError {
  AlertmanagerErrorKind kind = AlertmanagerErrorKind::kConnect;
  std::string detail;  // the system's message, for the log
};

struct AlertmanagerReply {
  int status = 0;
  std::string body;  // bounded by max_body_bytes
};

struct AlertmanagerClientOptions {
  core::Duration connect_timeout{5'000};
  core::Duration request_timeout{10'000};  // write and read of one request, after connecting
  std::size_t max_body_bytes = std::size_t{8} << 20U;
  std::string user_agent = "crashdiag/0.1";
};

// TLS for https:// URLs: TLS 1.2+, peer verification against `ca_file` (PEM), or the system's
// CAs when it is empty. The error names the file.
[[nodiscard]] tl::expected<std::shared_ptr<boost::asio::ssl::context>, std::string> make_alertmanager_tls(
    const std::string& ca_file);

class AlertmanagerClient {
 public:
  // `tls` is required for an https:// URL and ignored for http://.
  AlertmanagerClient(boost::asio::any_io_executor executor, core::AlertmanagerUrl url,
                     std::shared_ptr<boost::asio::ssl::context> tls, AlertmanagerClientOptions options = {});

  // POST /api/v2/alerts with a JSON array of postableAlerts.
  [[nodiscard]] boost::asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> post_alerts(
      std::string body);
  // GET /api/v2/alerts (gettableAlerts: labels, annotations, endsAt, status.state, inhibitedBy).
  [[nodiscard]] boost::asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> get_alerts();
  // GET of another path under the URL's prefix ("/-/ready", "/metrics").
  [[nodiscard]] boost::asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> get(std::string path);

  // Ends the request in flight, if any, at once (it fails with kConnect/kWrite/kRead): shutting
  // down must not wait for a slow Alertmanager's timeouts.
  void cancel();

  [[nodiscard]] const core::AlertmanagerUrl& url() const { return url_; }

 private:
  [[nodiscard]] boost::asio::awaitable<tl::expected<AlertmanagerReply, AlertmanagerError>> send(
      boost::beast::http::verb verb, std::string target, std::string body);

  boost::asio::any_io_executor executor_;
  core::AlertmanagerUrl url_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  AlertmanagerClientOptions options_;
  // What the request in flight waits on, for cancel(); null between requests. Only touched on the
  // executor's thread.
  boost::asio::ip::tcp::resolver* resolving_ = nullptr;
  boost::beast::tcp_stream* active_ = nullptr;
};

}  // namespace crashdiag::daemon
