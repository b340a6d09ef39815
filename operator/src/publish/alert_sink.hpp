// Sends RCAs to Alertmanager (--alertmanager-url): the thin I/O loop around core::AlertPlanner,
// which decides what to post and when. The Publisher tells it which RCAs changed and whether this
// replica leads; it posts on its own coroutine, so an Alertmanager that is down, slow or refusing
// never delays an RCA, annotation or Event write.
//
// Per POST (api/v2/openapi.yaml postAlerts): 200 → delivered; 400 and other 4xx → Alertmanager
// refused the content (a 400 still stored the batch's valid alerts), logged with its message and
// not sent again before the next re-send; 5xx, 429 and no answer → retried with exponential
// back-off. Each is counted in crashdiag_alertmanager_posts_total{result}.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "alertmanager_client.hpp"
#include "crashdiag/core/alerts.hpp"
#include "crashdiag/core/rca.hpp"

namespace crashdiag::metrics {
class Metrics;
}

namespace crashdiag::daemon {

struct AlertSinkOptions {
  core::AlertOptions alerts;
  core::Clock clock;  // injected; defaults to the process's clocks
};

struct AlertSinkStats {
  std::uint64_t posts = 0;     // answered 2xx
  std::uint64_t rejected = 0;  // answered 4xx other than 429
  std::uint64_t failed = 0;    // no answer, 5xx or 429
  std::uint64_t alerts = 0;    // alerts in the posts answered 2xx
};

class AlertSink {
 public:
  AlertSink(boost::asio::io_context& ioc, AlertmanagerClient& client, AlertSinkOptions options,
            metrics::Metrics* metrics);

  // The RCA was Identified, Changed, Reopened or Resolved: post its alert now.
  void touch(const std::string& rca);
  // Leadership lost: forget everything (the new leader re-sends every Active RCA's alert).
  void reset();
  // New work or a change of leadership: look again now.
  void wake() { wake_->cancel(); }
  // Ends the loop, cancelling a POST in flight: shutdown does not wait for Alertmanager (the
  // alerts stay valid there until their endsAt; the next leader re-sends them).
  void stop() {
    stopping_ = true;
    client_.cancel();
    wake();
  }

  // Posts until stop(), only while `may_write()` (this replica leads). On becoming the writer it
  // sends the alert of every Active RCA in `tracker` (taken over from the cluster or a previous
  // term), then what changes, re-sends and retries.
  boost::asio::awaitable<void> run(const core::RcaTracker& tracker, std::function<bool()> may_write);

  [[nodiscard]] const AlertSinkStats& stats() const { return stats_; }
  [[nodiscard]] const core::AlertPlanner& planner() const { return planner_; }

 private:
  void record(std::string_view result);

  AlertmanagerClient& client_;
  AlertSinkOptions options_;
  metrics::Metrics* metrics_;
  core::AlertPlanner planner_;
  bool stopping_ = false;
  bool writing_ = false;  // run() has seen may_write() true since the last reset
  // The loop sleeps on this until the next re-send or retry is due, or wake() cancels it.
  std::unique_ptr<boost::asio::steady_timer> wake_;
  AlertSinkStats stats_;
};

}  // namespace crashdiag::daemon
