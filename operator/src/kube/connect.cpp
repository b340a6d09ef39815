#include "connect.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tls.hpp"

namespace crashdiag::kube {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string kubeconfig_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string first(env);
    return first.substr(0, first.find(':'));
  }
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    std::string p = std::string(home) + "/.kube/config";
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

tl::expected<ClusterConnection, std::string> connect(const std::string& path, const std::string& context) {
  ClusterConnection c;
  if (!path.empty()) {
    auto text = read_file(path);
    if (!text) return tl::unexpected("kubeconfig " + path + ": cannot read the file");
    auto parsed = core::parse_kubeconfig(*text, path, context);
    if (!parsed) return tl::unexpected(parsed.error().to_string());
    c.access = *parsed;
  } else {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    auto parsed =
        core::in_cluster_access(host ? host : "", port ? port : "", "/var/run/secrets/kubernetes.io/serviceaccount");
    if (!parsed) {
      return tl::unexpected("no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and " +
                            parsed.error().to_string());
    }
    c.access = *parsed;
  }
  const core::ClusterAccess& access = c.access;
  std::string cert = access.client_cert_pem;
  std::string key = access.client_key_pem;
  if (cert.empty() && !access.client_cert_file.empty()) {
    auto cf = read_file(access.client_cert_file);
    auto kf = read_file(access.client_key_file);
    if (!cf || !kf) {
      return tl::unexpected(access.source + ": client-certificate " + access.client_cert_file + " or client-key " +
                            access.client_key_file + ": cannot read the file");
    }
    cert = *cf;
    key = *kf;
  }
  auto tls = make_client_tls(access, cert, key);
  if (!tls) return tl::unexpected(access.source + ": " + tls.error());
  auto endpoint = parse_server_url(access.server);
  if (!endpoint) return tl::unexpected(access.source + ": " + endpoint.error());
  endpoint->tls_server_name = access.tls_server_name;
  c.endpoint = *endpoint;
  c.tls = *tls;
  c.tokens = make_token_source(access);
  return c;
}

}  // namespace crashdiag::kube
