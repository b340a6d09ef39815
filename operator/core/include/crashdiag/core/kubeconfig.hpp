// Cluster access configuration from a kubeconfig (pure parsing; the I/O layer reads the files
// it names and runs exec plugins). Follows clientcmd's rules (k8s.io/client-go/tools/clientcmd):
// current-context unless a context is given; relative file paths resolve against the
// kubeconfig's directory; *-data fields hold base64 PEM and win over the file fields; token
// wins over tokenFile; an exec plugin supplies credentials when present.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace crashdiag::core {

struct ExecPlugin {
  std::string api_version;  // client.authentication.k8s.io/v1 (v1beta1 accepted)
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
};

struct ClusterAccess {
  std::string server;  // https://host:port
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string ca_pem;  // from certificate-authority-data
  std::string ca_file;
  std::string client_cert_pem;
  std::string client_cert_file;
  std::string client_key_pem;
  std::string client_key_file;
  std::string token;
  std::string token_file;
  std::optional<ExecPlugin> exec;
  std::string namespace_;  // the context's namespace, "default" if none
  std::string source;      // "kubeconfig /path (context ctx)" or "in-cluster", for messages
};

struct ConfigError {
  std::string file;
  std::string field;  // e.g. contexts[name=prod].context.cluster
  std::string message;
  [[nodiscard]] std::string to_string() const { return file + ": " + field + ": " + message; }
};

[[nodiscard]] tl::expected<ClusterAccess, ConfigError> parse_kubeconfig(std::string_view yaml, const std::string& path,
                                                                        const std::string& context_override);

// In-cluster: the API server address from KUBERNETES_SERVICE_HOST/_PORT (IPv6 hosts bracketed),
// with the service account's token, CA and namespace files
// (/var/run/secrets/kubernetes.io/serviceaccount, rest.InClusterConfig in client-go).
[[nodiscard]] tl::expected<ClusterAccess, ConfigError> in_cluster_access(const std::string& host,
                                                                         const std::string& port,
                                                                         const std::string& secrets_dir);

// RFC 4648 base64 (standard alphabet, padding optional, whitespace ignored).
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

// The ExecCredential a plugin printed: status.token or client certificate/key, and when they
// expire (client.authentication.k8s.io/v1; an absent expirationTimestamp means "until a 401").
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string expiration;  // RFC 3339, empty = no expiry
};
[[nodiscard]] tl::expected<ExecCredential, std::string> parse_exec_credential(std::string_view json);

}  // namespace crashdiag::core
