// crashdiag-fake-apiserver: the fake kube-apiserver as a process, for shell tests with a real
// kubectl. Writes a kubeconfig, optionally loads objects, prints "ready <url>" once it listens
// and serves until SIGTERM or SIGINT.
//
//   crashdiag-fake-apiserver --kubeconfig-out PATH [--seed FILE.json] [--crd PATH] [--token TOKEN]
#include <csignal>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fake_apiserver.hpp"

namespace {

int usage(const std::string& why) {
  std::cerr << "crashdiag-fake-apiserver: " << why << "\n"
            << "usage: crashdiag-fake-apiserver --kubeconfig-out PATH [--seed FILE.json] [--crd PATH] [--token T]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig;
  std::string seed;
  crashdiag::fake::FakeOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--kubeconfig-out") {
      kubeconfig = value();
    } else if (arg == "--seed") {
      seed = value();
    } else if (arg == "--crd") {
      options.crd_path = value();
    } else if (arg == "--token") {
      options.token = value();
    } else {
      return usage("unknown argument " + arg);
    }
  }
  if (kubeconfig.empty()) return usage("--kubeconfig-out is required");

  // Block the signals before the server's thread starts (it inherits the mask), then wait for
  // them here: no handler runs concurrently with anything.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    crashdiag::fake::FakeApiServer server(options);
    if (!seed.empty()) {
      std::ifstream in(seed);
      std::stringstream text;
      text << in.rdbuf();
      const nlohmann::json objects = nlohmann::json::parse(text.str(), nullptr, false);
      if (!in || objects.is_discarded() || !objects.is_array()) return usage(seed + " is not a JSON array of objects");
      for (const auto& obj : objects) server.add_object(obj);  // Pods go through apply_pod
    }
    server.write_kubeconfig(kubeconfig);
    std::cout << "ready " << server.url() << std::endl;  // flushed: the caller waits for this line
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "crashdiag-fake-apiserver: signal " << received << ", stopping\n";
  } catch (const std::exception& e) {
    std::cerr << "crashdiag-fake-apiserver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
