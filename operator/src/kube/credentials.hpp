// Where the bearer token (or client certificate) comes from, and when to read it again.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <tl/expected.hpp>

#include "crashdiag/core/kubeconfig.hpp"

namespace crashdiag::kube {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The token to send now ("" for none).
  [[nodiscard]] virtual std::string token() = 0;
  // The server answered 401: the token is stale; read or fetch it again before the retry.
  virtual void invalidate() = 0;
};

class StaticToken final : public TokenSource {
 public:
  explicit StaticToken(std::string token) : token_(std::move(token)) {}
  std::string token() override { return token_; }
  void invalidate() override {}

 private:
  std::string token_;
};

// The projected service-account token rotates (the kubelet refreshes it at 80% of its
// lifetime, about hourly): re-read the file at least every 60 s and after a 401, and keep the
// previous token if a read fails (the kubelet replaces the file atomically, but a read can
// still race with a volume remount) — client-go's cachingTokenSource does the same.
class TokenFile final : public TokenSource {
 public:
  explicit TokenFile(std::string path, std::chrono::seconds max_age = std::chrono::seconds(60))
      : path_(std::move(path)), max_age_(max_age) {}
  std::string token() override;
  void invalidate() override;
  [[nodiscard]] int reads() const { return reads_; }

 private:
  std::string path_;
  std::chrono::seconds max_age_;
  std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point read_at_{};
  bool stale_ = true;
  int reads_ = 0;
};

// client.authentication.k8s.io exec plugin (EKS aws, GKE gke-gcloud-auth-plugin, AKS
// kubelogin): runs the command, caches the ExecCredential until its expirationTimestamp (or
// until a 401 when it has none).
class ExecTokenSource final : public TokenSource {
 public:
  explicit ExecTokenSource(core::ExecPlugin plugin) : plugin_(std::move(plugin)) {}
  std::string token() override;
  void invalidate() override;
  // Runs the plugin now; the error says what failed and the plugin's install hint.
  [[nodiscard]] tl::expected<core::ExecCredential, std::string> run();

 private:
  core::ExecPlugin plugin_;
  std::mutex mu_;
  std::optional<core::ExecCredential> cached_;
  std::chrono::system_clock::time_point expires_{};
};

[[nodiscard]] std::shared_ptr<TokenSource> make_token_source(const core::ClusterAccess& access);

}  // namespace crashdiag::kube
