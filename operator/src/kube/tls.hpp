// TLS settings for talking to the API server, from a ClusterAccess.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <tl/expected.hpp>

#include "crashdiag/core/kubeconfig.hpp"

namespace crashdiag::kube {

// TLS 1.2+, peer verification against the cluster CA (never the system store for a cluster
// that names a CA), client certificate when configured. insecure-skip-tls-verify is honoured
// only because the kubeconfig says so; the caller logs a warning.
[[nodiscard]] tl::expected<std::shared_ptr<boost::asio::ssl::context>, std::string> make_client_tls(
    const core::ClusterAccess& access, const std::string& client_cert_pem, const std::string& client_key_pem);

}  // namespace crashdiag::kube
