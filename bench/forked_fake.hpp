// What the daemon benchmarks share: a fake API server in a child process (its own core, so the
// daemon's numbers are the daemon's), driven by one-byte commands over a pipe, a client for it
// with the client-side rate limiter lifted, and the process's resident memory.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "client.hpp"
#include "credentials.hpp"
#include "fake_apiserver.hpp"
#include "tls.hpp"

namespace crashdiag::bench {

inline long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Blocks the calling thread until the daemon running on ioc (another thread) has synced its
// caches and holds the lease. The question is posted to ioc because the daemon's state belongs to
// that thread. A template so that this header does not pull the daemon into every benchmark.
template <typename Daemon>
void wait_until_synced(boost::asio::io_context& ioc, Daemon& daemon) {
  for (bool synced = false; !synced;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::promise<bool> p;
    boost::asio::post(ioc, [&] { p.set_value(daemon.synced() && daemon.leading()); });
    synced = p.get_future().get();
  }
}

class ForkedFake {
 public:
  using Setup = std::function<void(fake::FakeApiServer&)>;
  using Command = std::function<void(fake::FakeApiServer&, char)>;

  // Forks; the child builds the server, runs `setup`, then `command` for every byte sent until
  // 'q'. Bookmarks are slowed to one a minute: the benchmarks measure work, not keep-alives.
  // nullopt when the pipe or the fork fails.
  static std::optional<ForkedFake> start(const Setup& setup, const Command& command) {
    fake::FakeOptions options;
    options.bookmark_interval = std::chrono::milliseconds(60000);
    return start(setup, command, options);
  }
  // The same with the server's options (the soak: a rotating token file, real bookmarks).
  static std::optional<ForkedFake> start(const Setup& setup, const Command& command, fake::FakeOptions options) {
    int to_child[2];
    int from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return std::nullopt;
    const pid_t child = fork();
    if (child < 0) return std::nullopt;
    if (child == 0) {
      close(to_child[1]);
      close(from_child[0]);
      fake::FakeApiServer server(std::move(options));
      setup(server);
      const std::string ca = server.ca_pem();
      const std::string hello = std::to_string(server.port()) + "\n" + std::to_string(ca.size()) + "\n" + ca;
      (void)write(from_child[1], hello.data(), hello.size());
      char cmd = 0;
      while (read(to_child[0], &cmd, 1) == 1 && cmd != 'q') command(server, cmd);
      _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    ForkedFake f;
    f.pid_ = child;
    f.to_child_ = to_child[1];
    FILE* in = fdopen(from_child[0], "r");
    std::size_t ca_size = 0;
    if (std::fscanf(in, "%d\n%zu\n", &f.port_, &ca_size) != 2) return std::nullopt;
    f.ca_.assign(ca_size, '\0');
    if (std::fread(f.ca_.data(), 1, ca_size, in) != ca_size) return std::nullopt;
    return f;
  }

  void send(char cmd) const { (void)write(to_child_, &cmd, 1); }
  // Ends the child: 'q', then SIGTERM in case it is busy.
  void stop() const {
    send('q');
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }

  // A client for the child's server; the rate limiter is lifted so it measures the daemon.
  [[nodiscard]] std::unique_ptr<kube::KubeClient> client(boost::asio::io_context& ioc,
                                                         std::shared_ptr<kube::TokenSource> token = nullptr) const {
    core::ClusterAccess access;
    access.ca_pem = ca_;
    auto tls = kube::make_client_tls(access, "", "");
    kube::ClientOptions options;
    options.qps = 100000;
    options.burst = 100000;
    return std::make_unique<kube::KubeClient>(
        ioc.get_executor(), kube::Endpoint{"127.0.0.1", std::to_string(port_), ""}, *tls,
        token ? std::move(token) : std::make_shared<kube::StaticToken>("test-token"), options);
  }

 private:
  pid_t pid_ = 0;
  int to_child_ = -1;
  int port_ = 0;
  std::string ca_;
};

}  // namespace crashdiag::bench
