// From a kubeconfig (or the in-cluster service account) to what KubeClient needs: the endpoint,
// the TLS context and the token source. Shared by `crashdiag run` and `crashdiag explain pod`.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "client.hpp"
#include "crashdiag/core/kubeconfig.hpp"
#include "credentials.hpp"

namespace crashdiag::kube {

struct ClusterConnection {
  core::ClusterAccess access;  // what the kubeconfig said (its source names it in messages)
  Endpoint endpoint;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::shared_ptr<TokenSource> tokens;
};

// A whole small file (a kubeconfig, a certificate, the service account's namespace); nullopt if
// it cannot be read.
[[nodiscard]] std::optional<std::string> read_file(const std::string& path);

// The kubeconfig kubectl would use: --kubeconfig, else $KUBECONFIG's first entry, else
// ~/.kube/config; empty when none exists (then in-cluster).
[[nodiscard]] std::string kubeconfig_path(const std::string& flag);

// Reads the kubeconfig at `path` (context `context`, or its current-context), or, when `path`
// is empty, the pod's service account. The error names the file and field.
[[nodiscard]] tl::expected<ClusterConnection, std::string> connect(const std::string& path, const std::string& context);

}  // namespace crashdiag::kube
