#include "alert_sink.hpp"
#include "no_throw.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "log.hpp"
#include "metrics.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kMessageBytes = 300;  // of a refusal's body, in the log

std::string batch_body(const core::AlertBatch& batch) {
  json alerts = json::array();
  for (const auto& p : batch.alerts) alerts.push_back(core::to_json(p.alert));
  // Summaries and fixes quote logs, which may hold invalid UTF-8: replaced (U+FFFD) rather than
  // thrown on, as Go's JSON decoder in Alertmanager would treat it anyway.
  return alerts.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string rca_names(const core::AlertBatch& batch) {
  std::string out;
  for (const auto& [name, version] : batch.versions) {
    if (!out.empty()) out += ",";
    if (out.size() > 200) return out + "...";
    out += name;
  }
  return out;
}

}  // namespace

AlertSink::AlertSink(asio::io_context& ioc, AlertmanagerClient& client, AlertSinkOptions options,
                     metrics::Metrics* metrics)
    : client_(client),
      options_(std::move(options)),
      metrics_(metrics),
      planner_(options_.alerts),
      wake_(std::make_unique<asio::steady_timer>(ioc, asio::steady_timer::time_point::max())) {}

void AlertSink::touch(const std::string& rca) {
  planner_.touch(rca);
  wake();
}

void AlertSink::reset() {
  planner_.reset();
  writing_ = false;
  wake();
}

void AlertSink::record(std::string_view result) {
  if (metrics_ != nullptr) metrics_->alertmanager_post(result);
}

asio::awaitable<void> AlertSink::run(const core::RcaTracker& tracker, std::function<bool()> may_write) {
  while (!stopping_) {
    if (!may_write()) {
      writing_ = false;
      wake_->expires_at(asio::steady_timer::time_point::max());
      co_await wake_->async_wait(kNoThrow);
      continue;
    }
    if (!writing_) {
      // Leading now (at start, or taken over): Alertmanager may hold the previous leader's alerts,
      // which expire at their endsAt unless re-sent. Send every Active RCA's alert at once.
      writing_ = true;
      planner_.touch_active(tracker);
    }
    const core::AlertBatch batch = planner_.next(tracker, options_.clock.now(), options_.clock.wall_now());
    if (batch.empty()) {
      // Asleep until the next re-send or retry, or until touch()/reset()/stop() wakes us.
      if (auto due = planner_.next_due()) {
        const auto wait = std::max(*due - options_.clock.now(), core::Duration{1});
        wake_->expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(wait));
      } else {
        wake_->expires_at(asio::steady_timer::time_point::max());
      }
      co_await wake_->async_wait(kNoThrow);
      continue;
    }
    std::string body = batch_body(batch);
    const auto res = co_await client_.post_alerts(std::move(body));
    if (stopping_) break;  // cancelled by stop(), or answered while shutting down: nothing to record
    const core::TimePoint done = options_.clock.now();
    const int status = res ? res->status : 0;
    if (status >= 200 && status < 300) {
      planner_.delivered(batch, done);
      ++stats_.posts;
      stats_.alerts += batch.alerts.size();
      record("success");
      log(LogLevel::kDebug, "posted alerts to Alertmanager",
          {{"alerts", std::to_string(batch.alerts.size())}, {"rcas", rca_names(batch)}});
    } else if (status >= 400 && status < 500 && status != 429) {
      planner_.delivered(batch, done);
      ++stats_.rejected;
      record("rejected");
      log(LogLevel::kWarn, "Alertmanager refused alerts; sent again at the next re-send",
          {{"url", client_.url().display()},
           {"status", std::to_string(status)},
           {"message", res->body.substr(0, kMessageBytes)},
           {"rcas", rca_names(batch)}});
    } else {
      planner_.failed(batch, done);
      ++stats_.failed;
      record("error");
      const auto retry = planner_.next_due();
      log(LogLevel::kWarn, "posting alerts to Alertmanager failed; retrying",
          {{"url", client_.url().display()},
           {"error", res ? "HTTP " + std::to_string(status) + ": " + res->body.substr(0, kMessageBytes)
                         : std::string(to_string(res.error().kind)) + ": " + res.error().detail},
           {"alerts", std::to_string(batch.alerts.size())},
           {"retry_in_ms", retry ? std::to_string(std::max<std::int64_t>(0, (*retry - done).count())) : "-"},
           {"rcas", rca_names(batch)}});
    }
  }
}

}  // namespace crashdiag::daemon
