#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fstream>
#include <sstream>

namespace crashdiag::kube {

namespace ssl = boost::asio::ssl;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

tl::expected<std::shared_ptr<ssl::context>, std::string> make_client_tls(const core::ClusterAccess& access,
                                                                         const std::string& client_cert_pem,
                                                                         const std::string& client_key_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  // TLS 1.2 is the floor the API server accepts by default (--tls-min-version VersionTLS12).
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (access.insecure_skip_tls_verify) {
    ctx->set_verify_mode(ssl::verify_none, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_peer, ec);
    std::string ca = access.ca_pem;
    if (ca.empty() && !access.ca_file.empty()) {
      ca = read_file(access.ca_file);
      if (ca.empty()) return tl::unexpected("certificate-authority " + access.ca_file + ": cannot read the file");
    }
    if (ca.empty()) {
      ctx->set_default_verify_paths(ec);  // a server with a publicly trusted certificate
    } else {
      ctx->add_certificate_authority(boost::asio::buffer(ca), ec);
      if (ec) return tl::unexpected("certificate-authority: not a PEM certificate (" + ec.message() + ")");
    }
  }
  if (!client_cert_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(client_cert_pem), ec);
    if (ec) return tl::unexpected("client-certificate: " + ec.message());
    ctx->use_private_key(boost::asio::buffer(client_key_pem), ssl::context::pem, ec);
    if (ec) return tl::unexpected("client-key: " + ec.message());
  }
  return ctx;
}

}  // namespace crashdiag::kube
