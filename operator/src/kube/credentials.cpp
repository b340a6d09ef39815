#include "credentials.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

extern char** environ;

namespace crashdiag::kube {

std::string TokenFile::token() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (stale_ || now - read_at_ >= max_age_) {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    std::string t = text.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    ++reads_;
    if (!t.empty()) token_ = std::move(t);  // keep the old token if the read failed
    read_at_ = now;
    stale_ = false;
  }
  return token_;
}

void TokenFile::invalidate() {
  std::lock_guard lock(mu_);
  stale_ = true;
}

namespace {

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

tl::expected<core::ExecCredential, std::string> ExecTokenSource::run() {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return tl::unexpected(std::string("exec plugin: pipe failed"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  std::vector<std::string> args{plugin_.command};
  args.insert(args.end(), plugin_.args.begin(), plugin_.args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The plugin inherits our environment plus its own variables and KUBERNETES_EXEC_INFO, which
  // tells it the API version and that no terminal is attached (client-go exec.go).
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& [k, v] : plugin_.env) {
    std::string entry = k;
    entry += '=';
    entry += v;
    env_storage.push_back(std::move(entry));
  }
  std::string exec_info = "KUBERNETES_EXEC_INFO={\"kind\":\"ExecCredential\",\"apiVersion\":\"";
  exec_info += plugin_.api_version;
  exec_info += "\",\"spec\":{\"interactive\":false}}";
  env_storage.push_back(std::move(exec_info));
  std::vector<char*> envp;
  envp.reserve(env_storage.size() + 1);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, plugin_.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return tl::unexpected("exec plugin \"" + plugin_.command + "\" could not be started: " + std::strerror(rc) +
                          (plugin_.install_hint.empty() ? "" : ". " + plugin_.install_hint));
  }
  std::string output;
  std::array<char, 4096> buf{};
  ssize_t n = 0;
  while ((n = read(out_pipe[0], buf.data(), buf.size())) > 0 && output.size() < (1U << 20U)) {
    output.append(buf.data(), static_cast<std::size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return tl::unexpected("exec plugin \"" + plugin_.command + "\" exited with status " +
                          std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  auto cred = core::parse_exec_credential(output);
  if (!cred) return tl::unexpected("exec plugin \"" + plugin_.command + "\": " + cred.error());
  return *cred;
}

std::string ExecTokenSource::token() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::system_clock::now();
  if (!cached_ || (expires_.time_since_epoch().count() != 0 && now >= expires_)) {
    auto cred = run();
    if (!cred) return cached_ ? cached_->token : std::string();  // keep the last one; the 401 will tell
    cached_ = *cred;
    expires_ = {};
    if (auto t = parse_rfc3339(cred->expiration)) expires_ = *t;
  }
  return cached_->token;
}

void ExecTokenSource::invalidate() {
  std::lock_guard lock(mu_);
  expires_ = std::chrono::system_clock::time_point(std::chrono::seconds(1));  // expired
}

std::shared_ptr<TokenSource> make_token_source(const core::ClusterAccess& access) {
  if (access.exec) return std::make_shared<ExecTokenSource>(*access.exec);
  if (!access.token.empty()) return std::make_shared<StaticToken>(access.token);
  if (!access.token_file.empty()) return std::make_shared<TokenFile>(access.token_file);
  return std::make_shared<StaticToken>("");
}

}  // namespace crashdiag::kube
