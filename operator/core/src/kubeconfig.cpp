#include "crashdiag/core/kubeconfig.hpp"
#include "crashdiag/model/json_fields.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <nlohmann/json.hpp>

namespace crashdiag::core {
namespace {

struct Fail {
  std::string field;
  std::string message;
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  return base_dir + "/" + file;
}

std::string get(const YAML::Node& node, const char* key, const std::string& field) {
  const YAML::Node v = node[key];
  if (!v || v.IsNull()) return {};
  if (!v.IsScalar()) throw Fail{field + "." + key, "expected a string"};
  return v.as<std::string>();
}

// Finds the entry `name` in a kubeconfig list like clusters: [{name: x, cluster: {...}}].
YAML::Node find_named(const YAML::Node& root, const char* list, const char* inner, const std::string& name,
                      const std::string& referenced_from) {
  const YAML::Node entries = root[list];
  if (entries && !entries.IsSequence()) throw Fail{list, "expected a list"};
  if (entries) {
    for (const auto& e : entries) {
      if (e["name"] && e["name"].as<std::string>() == name) {
        if (!e[inner] || !e[inner].IsMap()) throw Fail{std::string(list) + "[name=" + name + "]." + inner, "missing"};
        return e[inner];
      }
    }
  }
  throw Fail{referenced_from, "refers to " + std::string(inner) + " \"" + name + "\", which is not in " + list};
}

std::string decode_data(const std::string& b64, const std::string& field) {
  auto decoded = base64_decode(b64);
  if (!decoded) throw Fail{field, "is not valid base64"};
  return *decoded;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  static constexpr auto kTable = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
    return t;
  }();
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char ch : text) {
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
    if (ch == '=') {
      padding = true;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    const int v = kTable[static_cast<unsigned char>(ch)];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  if (bits >= 6) return std::nullopt;  // a dangling 6-bit group cannot be a byte
  return out;
}

tl::expected<ClusterAccess, ConfigError> parse_kubeconfig(std::string_view yaml, const std::string& path,
                                                          const std::string& context_override) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return tl::unexpected(ConfigError{path, "(document)", "not a kubeconfig (expected a YAML map)"});
    std::string context_name = context_override.empty() ? get(root, "current-context", "") : context_override;
    if (context_name.empty()) {
      return tl::unexpected(
          ConfigError{path, "current-context", "is not set; pass --context or run `kubectl config use-context`"});
    }
    const YAML::Node ctx = find_named(root, "contexts", "context", context_name,
                                      context_override.empty() ? "current-context" : "--context");
    const std::string cfield = "contexts[name=" + context_name + "].context";
    const std::string cluster_name = get(ctx, "cluster", cfield);
    if (cluster_name.empty()) throw Fail{cfield + ".cluster", "missing"};
    const std::string user_name = get(ctx, "user", cfield);
    const YAML::Node cluster = find_named(root, "clusters", "cluster", cluster_name, cfield + ".cluster");
    const std::string clfield = "clusters[name=" + cluster_name + "].cluster";
    const std::string base = dir_of(path);

    ClusterAccess a;
    a.source = "kubeconfig " + path + " (context " + context_name + ")";
    a.namespace_ = get(ctx, "namespace", cfield);
    if (a.namespace_.empty()) a.namespace_ = "default";
    a.server = get(cluster, "server", clfield);
    if (a.server.empty()) throw Fail{clfield + ".server", "missing"};
    if (a.server.rfind("https://", 0) != 0 && a.server.rfind("http://", 0) != 0) {
      throw Fail{clfield + ".server", "\"" + a.server + "\" is not an http(s) URL"};
    }
    a.tls_server_name = get(cluster, "tls-server-name", clfield);
    if (cluster["insecure-skip-tls-verify"])
      a.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].as<bool>();
    if (auto data = get(cluster, "certificate-authority-data", clfield); !data.empty()) {
      a.ca_pem = decode_data(data, clfield + ".certificate-authority-data");
    } else {
      a.ca_file = resolve(base, get(cluster, "certificate-authority", clfield));
    }
    if (!user_name.empty()) {
      const YAML::Node user = find_named(root, "users", "user", user_name, cfield + ".user");
      const std::string ufield = "users[name=" + user_name + "].user";
      if (auto d = get(user, "client-certificate-data", ufield); !d.empty()) {
        a.client_cert_pem = decode_data(d, ufield + ".client-certificate-data");
      } else {
        a.client_cert_file = resolve(base, get(user, "client-certificate", ufield));
      }
      if (auto d = get(user, "client-key-data", ufield); !d.empty()) {
        a.client_key_pem = decode_data(d, ufield + ".client-key-data");
      } else {
        a.client_key_file = resolve(base, get(user, "client-key", ufield));
      }
      const bool has_cert = !a.client_cert_pem.empty() || !a.client_cert_file.empty();
      const bool has_key = !a.client_key_pem.empty() || !a.client_key_file.empty();
      if (has_cert != has_key)
        throw Fail{ufield, "has a client certificate without a key, or a key without a certificate"};
      a.token = get(user, "token", ufield);
      if (a.token.empty()) a.token_file = resolve(base, get(user, "tokenFile", ufield));
      if (user["exec"]) {
        const YAML::Node e = user["exec"];
        const std::string efield = ufield + ".exec";
        ExecPlugin p;
        p.api_version = get(e, "apiVersion", efield);
        p.command = get(e, "command", efield);
        if (p.command.empty()) throw Fail{efield + ".command", "missing"};
        if (p.api_version != "client.authentication.k8s.io/v1" &&
            p.api_version != "client.authentication.k8s.io/v1beta1") {
          throw Fail{efield + ".apiVersion",
                     "\"" + p.api_version + "\" is not supported (use client.authentication.k8s.io/v1)"};
        }
        if (e["args"]) {
          for (const auto& arg : e["args"]) p.args.push_back(arg.as<std::string>());
        }
        if (e["env"]) {
          for (const auto& env : e["env"])
            p.env.emplace_back(get(env, "name", efield + ".env"), get(env, "value", efield + ".env"));
        }
        p.install_hint = get(e, "installHint", efield);
        // A command without a slash is looked up in PATH; a relative path is relative to the
        // kubeconfig's directory (clientcmd's ResolvePaths).
        if (p.command.find('/') != std::string::npos) p.command = resolve(base, p.command);
        a.exec = std::move(p);
      }
      if (user["auth-provider"]) {
        throw Fail{ufield + ".auth-provider",
                   "auth-provider plugins were removed from client-go in 1.26; use an exec plugin (e.g. "
                   "gke-gcloud-auth-plugin, kubelogin)"};
      }
    }
    return a;
  } catch (const Fail& f) {
    return tl::unexpected(ConfigError{path, f.field, f.message});
  } catch (const YAML::Exception& e) {
    return tl::unexpected(ConfigError{path, "line " + std::to_string(e.mark.line + 1), "invalid YAML: " + e.msg});
  }
}

tl::expected<ClusterAccess, ConfigError> in_cluster_access(const std::string& host, const std::string& port,
                                                           const std::string& secrets_dir) {
  if (host.empty() || port.empty()) {
    return tl::unexpected(ConfigError{"environment", "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT",
                                      "not set: not running in a pod; pass --kubeconfig"});
  }
  ClusterAccess a;
  const bool ipv6 = host.find(':') != std::string::npos;
  a.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  a.ca_file = secrets_dir + "/ca.crt";
  a.token_file = secrets_dir + "/token";
  a.source = "in-cluster";
  a.namespace_ = "default";
  return a;
}

tl::expected<ExecCredential, std::string> parse_exec_credential(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return tl::unexpected(std::string("the plugin's output is not JSON"));
  if (json_fields::string_or(j, "kind") != "ExecCredential")
    return tl::unexpected(std::string("the plugin's output is not an ExecCredential"));
  auto status = j.find("status");
  if (status == j.end() || !status->is_object()) return tl::unexpected(std::string("ExecCredential without status"));
  ExecCredential c;
  auto str = [&](const char* key) {
    auto it = status->find(key);
    return it != status->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  c.token = str("token");
  c.client_cert_pem = str("clientCertificateData");
  c.client_key_pem = str("clientKeyData");
  c.expiration = str("expirationTimestamp");
  if (c.token.empty() && c.client_cert_pem.empty())
    return tl::unexpected(std::string("ExecCredential has neither a token nor a client certificate"));
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return tl::unexpected(std::string("ExecCredential has a certificate without a key"));
  return c;
}

}  // namespace crashdiag::core
