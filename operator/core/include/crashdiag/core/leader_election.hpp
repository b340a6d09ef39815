// Leader election on a coordination.k8s.io/v1 Lease, pure: the same decisions as client-go's
// tools/leaderelection (leaderelection.go, tryAcquireOrRenew / acquire / renew / release), with
// the requests carried out by an I/O adapter (daemon::LeaderElector). The caller passes both
// readings of its clock in (monotonic `now` for expiry and deadlines, `wall` for the MicroTimes
// written into the Lease) and performs the actions the machine asks for:
//
//   loop: action = next_action(now, wall)
//         Get / Create / Update / Release -> do the request, then observed(outcome, now, wall)
//         Sleep -> wait, then ask again;  Done -> stop
//
// Semantics kept from client-go:
//   - a lease held by someone else is respected until observedTime + leaseDurationSeconds,
//     where observedTime is OUR clock when we last saw the record change: the holder's
//     renewTime is never compared with our clock, so clock skew between nodes does not matter
//     (only skew *rate*, bounded by LeaseDuration / RenewDeadline; see client-go doc.go);
//   - an empty holderIdentity (a released lease) can be taken at once;
//   - taking a lease from another holder bumps leaseTransitions and sets acquireTime; renewing
//     keeps both; every write is a PUT with the resourceVersion we read, so of two candidates
//     only one wins (the other gets 409 Conflict and tries again next period);
//   - the leader first renews optimistically with the last record it wrote (no GET), falling
//     back to GET + PUT when that fails;
//   - the leader tries every RetryPeriod; a renewal round that does not succeed within
//     RenewDeadline of its start ends leadership;
//   - candidates retry every RetryPeriod jittered by JitterFactor 1.2 (wait.Jitter);
//   - on shutdown (ReleaseOnCancel) the holder writes holderIdentity "", leaseDurationSeconds 1,
//     so another replica takes over within one RetryPeriod instead of waiting for expiry.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <variant>

#include "crashdiag/core/backoff.hpp"
#include "crashdiag/core/time.hpp"

namespace crashdiag::core {

// client-go leaderelection.JitterFactor.
inline constexpr double kLeaderElectionJitterFactor = 1.2;

struct LeaderElectionConfig {
  std::string namespace_;  // --leader-election-namespace
  std::string name;        // --leader-election-id
  std::string identity;    // hostname + "_" + random suffix, as controller-runtime makes it
  // controller-runtime's defaults.
  Duration lease_duration{15'000};
  Duration renew_deadline{10'000};
  Duration retry_period{2'000};
};

// The reason the configuration is unusable, as client-go's NewLeaderElector checks it:
// LeaseDuration > RenewDeadline > JitterFactor * RetryPeriod > 0 and a non-empty identity.
[[nodiscard]] std::optional<std::string> validate(const LeaderElectionConfig& config);

// The Lease as client-go's LeaderElectionRecord sees it. Times are wall-clock milliseconds
// since the epoch (0: absent); MicroTime's microseconds are truncated to milliseconds.
struct LeaseRecord {
  std::string holder;  // spec.holderIdentity; "" = nobody (released)
  int lease_duration_s = 0;
  WallTime acquire_time{0};
  WallTime renew_time{0};
  int transitions = 0;
  std::string resource_version;  // metadata.resourceVersion, sent back on update
};

// The spec fields, not the resourceVersion: what client-go compares (the raw record) to decide
// whether the holder has written since we last looked.
[[nodiscard]] bool same_record(const LeaseRecord& a, const LeaseRecord& b);

// A Lease object (GET/POST/PUT response body).
[[nodiscard]] tl::expected<LeaseRecord, std::string> parse_lease(std::string_view body);

// The Lease body for a create or update (resourceVersion set when non-empty).
[[nodiscard]] nlohmann::json lease_body(const LeaderElectionConfig& config, const LeaseRecord& record);

// ---- actions (what the I/O adapter does next) ---------------------------------------------
// Every request carries the time by which its outcome is needed; after it the adapter stops
// waiting and reports LeaseError (client-go runs each renewal under a RenewDeadline context).
struct LeaseGet {
  TimePoint deadline{0};
};
struct LeaseCreate {  // POST .../leases
  nlohmann::json body;
  TimePoint deadline{0};
};
struct LeaseUpdate {  // PUT .../leases/NAME with the resourceVersion in the body
  nlohmann::json body;
  TimePoint deadline{0};
};
struct LeaseRelease {  // PUT with holderIdentity ""
  nlohmann::json body;
  TimePoint deadline{0};
};
struct LeaseSleep {
  Duration delay{0};
};
struct LeaseDone {};  // released (or nothing to release): the loop ends

using LeaseAction = std::variant<LeaseGet, LeaseCreate, LeaseUpdate, LeaseRelease, LeaseSleep, LeaseDone>;

// ---- outcomes (what the request returned) -------------------------------------------------
struct LeaseFound {  // 200 / 201 with the Lease
  LeaseRecord record;
};
struct LeaseNotFound {};  // 404
struct LeaseConflict {};  // 409: AlreadyExists on create, stale resourceVersion on update
struct LeaseError {       // anything else: 0 = no response (transport, or the deadline passed)
  int http_status = 0;
  std::string reason;
};

using LeaseOutcome = std::variant<LeaseFound, LeaseNotFound, LeaseConflict, LeaseError>;

class LeaderElection {
 public:
  LeaderElection(LeaderElectionConfig config, Random random) : config_(std::move(config)), random_(std::move(random)) {}

  // The next thing to do at `now`. Called again after each Sleep and after observed(). Expiry and
  // deadlines are monotonic (`now`), as client-go's are (Go's time.Time carries a monotonic
  // reading); `wall` is only what is written into the Lease's acquireTime and renewTime.
  [[nodiscard]] LeaseAction next_action(TimePoint now, WallTime wall);
  // The outcome of the Get / Create / Update / Release that next_action asked for.
  void observed(const LeaseOutcome& outcome, TimePoint now, WallTime wall);
  // Shutdown: stop leading now, and make next_action release the lease if we hold it, then Done.
  void stop();

  // True from a successful acquire until a renewal round misses RenewDeadline or stop().
  [[nodiscard]] bool is_leader() const { return leading_; }
  // The holder we last observed (client-go GetLeader), "" if none or not yet known.
  [[nodiscard]] std::string leader() const { return observed_ ? observed_->holder : ""; }
  [[nodiscard]] const std::optional<LeaseRecord>& observed_record() const { return observed_; }
  // The local time at which we last saw the record change (client-go observedTime).
  [[nodiscard]] TimePoint observed_time() const { return observed_time_; }
  // A candidate's wait between attempts: wait.Jitter(RetryPeriod, 1.2), in [1, 2.2) periods.
  [[nodiscard]] Duration jittered_retry_period();
  [[nodiscard]] const LeaderElectionConfig& config() const { return config_; }

 private:
  enum class Phase { kIdle, kFastUpdate, kGet, kCreate, kUpdate, kRelease, kDone };

  [[nodiscard]] bool holds_record() const;
  [[nodiscard]] bool observed_valid(TimePoint now) const;
  [[nodiscard]] TimePoint request_deadline(TimePoint now) const;
  [[nodiscard]] int lease_duration_seconds() const;
  void on_get(const LeaseOutcome& outcome, TimePoint now);
  void succeeded(const LeaseRecord& record, TimePoint now);
  void failed(TimePoint now);
  void check_deadline(TimePoint now);

  LeaderElectionConfig config_;
  Random random_;
  Phase phase_ = Phase::kIdle;
  std::optional<LeaseAction> queued_;  // the write decided on a GET's outcome
  std::optional<LeaseRecord> observed_;
  TimePoint observed_time_{0};
  WallTime wall_{0};  // the wall reading that came with the current call, for the record's times
  bool leading_ = false;
  bool round_open_ = false;  // a leader's renewal round in progress: its first try has been made
  TimePoint round_deadline_{0};
  TimePoint next_attempt_{0};
  bool stopping_ = false;
};

}  // namespace crashdiag::core
