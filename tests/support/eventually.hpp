// The one way tests wait for something another thread does: poll a condition until it holds.
// Tests never sleep for "long enough" to mean "nothing more happens": the daemon tests use
// settle() (tests/daemon/daemon_harness.hpp), a barrier on what the daemon has seen and done.
#pragma once

#include <chrono>
#include <thread>

namespace crashdiag::testing {

// Polls `cond` until it holds or `timeout` passes; generous for a loaded machine under ASan.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

}  // namespace crashdiag::testing
