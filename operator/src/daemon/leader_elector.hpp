// --leader-elect: the I/O around core::LeaderElection. Performs the GET / POST / PUT of the
// coordination.k8s.io/v1 Lease that the pure machine asks for, sleeps when it says so, and
// reports leadership changes through callbacks (the daemon writes only while leading).
// Single-threaded: run(), stop() and the callbacks belong to the io_context's thread;
// is_leader() may be read from any thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "client.hpp"
#include "crashdiag/core/leader_election.hpp"

namespace crashdiag::daemon {

struct LeaderElectorOptions {
  core::LeaderElectionConfig election;  // namespace, lease name, identity, durations
  // Monotonic time for the expiry and deadline arithmetic, wall time for the Lease's MicroTimes.
  // Injected for tests; defaults to the process's clocks.
  core::Clock clock;
  core::Random random;  // [0, 1) for the retry jitter; defaults to a seeded PRNG
  std::function<void()> on_started_leading;
  // Leadership ended: a renewal round missed RenewDeadline, or stop(). Stop writing now.
  std::function<void()> on_stopped_leading;
};

// controller-runtime's identity: hostname + "_" + a random UUID, unique per process so that a
// restarted pod never mistakes its predecessor's lease for its own.
[[nodiscard]] std::string make_leader_identity(const core::Random& random);

class LeaderElector {
 public:
  LeaderElector(boost::asio::io_context& ioc, kube::KubeClient& client, LeaderElectorOptions options);
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;
  // Destroy only after run() has returned or the io_context has stopped: run()'s frame refers
  // to the elector whenever it resumes.
  ~LeaderElector() = default;

  // Acquires and renews until stop(); then, if it holds the lease, releases it
  // (client-go ReleaseOnCancel) and returns.
  boost::asio::awaitable<void> run();
  // Leadership ends at once (on_stopped_leading fires here if leading); run() wakes, releases
  // the lease once any request in flight has finished, and returns.
  void stop();

  [[nodiscard]] bool is_leader() const { return leading_.load(); }
  // The holder last observed ("" if none or unknown), for logs and status.
  [[nodiscard]] const std::string& leader() const { return reported_holder_; }
  [[nodiscard]] const std::string& identity() const { return election_.config().identity; }

 private:
  boost::asio::awaitable<core::LeaseOutcome> perform(kube::Request request, core::TimePoint deadline);
  void report();  // fires callbacks and logs for any change since the last call
  [[nodiscard]] core::TimePoint now() const { return options_.clock.now(); }

  boost::asio::io_context& ioc_;
  kube::KubeClient& client_;
  LeaderElectorOptions options_;
  core::LeaderElection election_;
  boost::asio::steady_timer wake_;  // run()'s sleep; stop() cancels it
  std::atomic<bool> leading_{false};
  std::string reported_holder_;
  bool stopping_ = false;
};

}  // namespace crashdiag::daemon
