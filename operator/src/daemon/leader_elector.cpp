#include "leader_elector.hpp"
#include "no_throw.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "log.hpp"

namespace crashdiag::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

LeaderElectorOptions with_defaults(LeaderElectorOptions options) {
  if (!options.random) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    options.random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
  }
  return options;
}

std::string lease_collection(const core::LeaderElectionConfig& c) {
  return "/apis/coordination.k8s.io/v1/namespaces/" + c.namespace_ + "/leases";
}

std::string lease_path(const core::LeaderElectionConfig& c) {
  return lease_collection(c) + "/" + c.name;
}

// The HTTP answer as the machine's input: 404 and 409 matter to it, everything else is a failure.
core::LeaseOutcome to_outcome(const tl::expected<kube::Response, kube::TransportError>& res) {
  if (!res) return core::LeaseError{0, res.error().what};
  switch (res->status) {
    case 200:
    case 201: {
      auto rec = core::parse_lease(res->body);
      if (!rec) return core::LeaseError{res->status, rec.error()};
      return core::LeaseFound{std::move(*rec)};
    }
    case 404:
      return core::LeaseNotFound{};
    case 409:
      return core::LeaseConflict{};
    default:
      return core::LeaseError{res->status, kube::status_message(res->body)};
  }
}

// Built outside the coroutine: no braced lists with string literals in coroutine bodies (GCC 12).
core::LeaseOutcome deadline_passed() {
  return core::LeaseError{0, "no answer before the deadline"};
}

kube::Request lease_request(http::verb verb, const core::LeaderElectionConfig& c, const json* body) {
  kube::Request req;
  req.verb = verb;
  req.target = verb == http::verb::post ? lease_collection(c) : lease_path(c);
  req.resource = "leases";
  if (body != nullptr) {
    req.body = body->dump();
    req.content_type = "application/json";
  }
  return req;
}

// Log helpers live outside coroutines (GCC 12 mishandles initializer lists of string literals
// inside coroutine bodies).
std::string lease_name(const core::LeaderElectionConfig& c) {
  return c.namespace_ + "/" + c.name;
}
void log_attempting(const core::LeaderElectionConfig& c) {
  log(LogLevel::kInfo, "attempting to acquire leader lease", {{"lease", lease_name(c)}, {"identity", c.identity}});
}
void log_acquired(const core::LeaderElectionConfig& c) {
  log(LogLevel::kInfo, "successfully acquired lease", {{"lease", lease_name(c)}, {"identity", c.identity}});
}
void log_lost(const core::LeaderElectionConfig& c, bool stopping) {
  if (stopping) {
    log(LogLevel::kInfo, "stopped leading: shutting down", {{"lease", lease_name(c)}});
  } else {
    log(LogLevel::kWarn, "stopped leading: failed to renew lease within the renew deadline",
        {{"lease", lease_name(c)}, {"renew_deadline_ms", std::to_string(c.renew_deadline.count())}});
  }
}
void log_new_leader(const core::LeaderElectionConfig& c, const std::string& holder) {
  log(LogLevel::kInfo, "new leader observed",
      {{"lease", lease_name(c)}, {"leader", holder.empty() ? "<none>" : holder}});
}
void log_failure(const core::LeaderElectionConfig& c, const char* verb, const core::LeaseOutcome& outcome,
                 bool leading) {
  const auto* err = std::get_if<core::LeaseError>(&outcome);
  if (err == nullptr) return;  // 404 and 409 are part of the protocol
  // A leader's failed renewals matter (they may end leadership); a candidate's are routine.
  log(leading ? LogLevel::kWarn : LogLevel::kDebug, "lease request failed",
      {{"lease", lease_name(c)}, {"verb", verb}, {"status", std::to_string(err->http_status)}, {"error", err->reason}});
}
void log_released(const core::LeaderElectionConfig& c, const core::LeaseOutcome& outcome) {
  if (std::holds_alternative<core::LeaseFound>(outcome)) {
    log(LogLevel::kInfo, "released leader lease", {{"lease", lease_name(c)}});
  } else {
    // Not fatal: the lease expires after leaseDurationSeconds anyway.
    log(LogLevel::kWarn, "failed to release leader lease", {{"lease", lease_name(c)}});
  }
}

// One request in flight, shared between the elector's loop and the coroutine doing it, so that
// the loop can stop waiting at its deadline while the request finishes (or times out) on its own.
struct Pending {
  explicit Pending(const asio::any_io_executor& executor) : done(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;  // cancelled when the result is in
  std::optional<tl::expected<kube::Response, kube::TransportError>> result;
};

// Refers to the client and the shared Pending only: never to the elector, which may be gone
// by the time an abandoned request completes.
asio::awaitable<void> request_into(kube::KubeClient& client, kube::Request request, std::shared_ptr<Pending> pending) {
  auto res = co_await client.request(std::move(request));
  pending->result = std::move(res);
  pending->done.cancel();
}

}  // namespace

std::string make_leader_identity(const core::Random& random) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "unknown");
  // A version 4 UUID from the injected random source, as controller-runtime's uuid.NewUUID().
  unsigned char b[16];
  for (auto& byte : b) byte = static_cast<unsigned char>(static_cast<int>(random() * 256.0) & 0xff);
  b[6] = static_cast<unsigned char>((b[6] & 0x0fU) | 0x40U);
  b[8] = static_cast<unsigned char>((b[8] & 0x3fU) | 0x80U);
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string(host) + "_" + uuid;
}

LeaderElector::LeaderElector(asio::io_context& ioc, kube::KubeClient& client, LeaderElectorOptions options)
    : ioc_(ioc),
      client_(client),
      options_(with_defaults(std::move(options))),
      election_(options_.election, options_.random),
      wake_(ioc) {}

void LeaderElector::stop() {
  stopping_ = true;
  election_.stop();
  report();
  wake_.cancel();
}

void LeaderElector::report() {
  const std::string holder = election_.leader();
  if (holder != reported_holder_) {
    reported_holder_ = holder;
    log_new_leader(options_.election, holder);
  }
  const bool now_leading = election_.is_leader();
  if (now_leading == leading_.load()) return;
  leading_.store(now_leading);  // before the callback, which may call stop()
  if (now_leading) {
    log_acquired(options_.election);
    if (options_.on_started_leading) options_.on_started_leading();
  } else {
    log_lost(options_.election, stopping_);
    if (options_.on_stopped_leading) options_.on_stopped_leading();
  }
}

asio::awaitable<core::LeaseOutcome> LeaderElector::perform(kube::Request request, core::TimePoint deadline) {
  auto pending = std::make_shared<Pending>(ioc_.get_executor());
  asio::co_spawn(ioc_, request_into(client_, std::move(request), pending), asio::detached);
  const core::Duration left = std::max(core::Duration(0), deadline - now());
  pending->done.expires_after(left);
  if (!pending->result) co_await pending->done.async_wait(kNoThrow);
  // client-go runs a renewal under a RenewDeadline context; past it the answer is useless.
  if (!pending->result) co_return deadline_passed();
  co_return to_outcome(*pending->result);
}

asio::awaitable<void> LeaderElector::run() {
  log_attempting(options_.election);
  for (;;) {
    core::LeaseAction action = election_.next_action(now(), options_.clock.wall_now());
    report();
    if (std::holds_alternative<core::LeaseDone>(action)) break;
    if (const auto* sleep = std::get_if<core::LeaseSleep>(&action)) {
      if (stopping_) continue;  // stop() came while deciding: go straight to the release
      wake_.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(sleep->delay));
      co_await wake_.async_wait(kNoThrow);
      continue;
    }
    const char* verb = "GET";
    kube::Request req;
    core::TimePoint deadline{0};
    if (const auto* get = std::get_if<core::LeaseGet>(&action)) {
      req = lease_request(http::verb::get, options_.election, nullptr);
      deadline = get->deadline;
    } else if (const auto* create = std::get_if<core::LeaseCreate>(&action)) {
      verb = "POST";
      req = lease_request(http::verb::post, options_.election, &create->body);
      deadline = create->deadline;
    } else if (const auto* update = std::get_if<core::LeaseUpdate>(&action)) {
      verb = "PUT";
      req = lease_request(http::verb::put, options_.election, &update->body);
      deadline = update->deadline;
    } else if (const auto* release = std::get_if<core::LeaseRelease>(&action)) {
      verb = "PUT";
      req = lease_request(http::verb::put, options_.election, &release->body);
      deadline = release->deadline;
    }
    const bool releasing = std::holds_alternative<core::LeaseRelease>(action);
    // named: GCC 12 PR 99576 double-destroys temporaries in co_await
    core::LeaseOutcome outcome = co_await perform(std::move(req), deadline);
    log_failure(options_.election, verb, outcome, leading_.load());
    if (releasing) log_released(options_.election, outcome);
    election_.observed(outcome, now(), options_.clock.wall_now());
    report();
  }
}

}  // namespace crashdiag::daemon
