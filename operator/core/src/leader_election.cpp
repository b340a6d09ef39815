#include "crashdiag/core/leader_election.hpp"

#include <chrono>
#include <cstdio>

namespace crashdiag::core {
namespace {

using nlohmann::json;

std::string string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace

std::optional<std::string> validate(const LeaderElectionConfig& config) {
  // client-go NewLeaderElector: the leader must give up (RenewDeadline) before others may take
  // over (LeaseDuration), and must get several tries (RetryPeriod, jittered) within a round.
  if (config.retry_period.count() <= 0) return "retry period must be positive";
  if (config.lease_duration <= config.renew_deadline) return "lease duration must be greater than renew deadline";
  if (static_cast<double>(config.renew_deadline.count()) <=
      kLeaderElectionJitterFactor * static_cast<double>(config.retry_period.count())) {
    return "renew deadline must be greater than retry period * 1.2";
  }
  if (config.identity.empty()) return "leader election identity must not be empty";
  if (config.name.empty() || config.namespace_.empty()) return "leader election namespace and id must be set";
  return std::nullopt;
}

bool same_record(const LeaseRecord& a, const LeaseRecord& b) {
  return a.holder == b.holder && a.lease_duration_s == b.lease_duration_s && a.acquire_time == b.acquire_time &&
         a.renew_time == b.renew_time && a.transitions == b.transitions;
}

tl::expected<LeaseRecord, std::string> parse_lease(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return tl::unexpected(std::string("lease: not a JSON object"));
  auto meta = j.find("metadata");
  if (meta == j.end() || !meta->is_object()) return tl::unexpected(std::string("lease: no metadata"));
  LeaseRecord r;
  r.resource_version = string_field(*meta, "resourceVersion");
  if (r.resource_version.empty()) return tl::unexpected(std::string("lease: no metadata.resourceVersion"));
  auto spec = j.find("spec");
  if (spec == j.end() || spec->is_null()) return r;  // a Lease with an empty spec: nobody holds it
  if (!spec->is_object()) return tl::unexpected(std::string("lease: spec is not an object"));
  r.holder = string_field(*spec, "holderIdentity");
  r.lease_duration_s = int_field(*spec, "leaseDurationSeconds");
  r.transitions = int_field(*spec, "leaseTransitions");
  for (auto [key, out] : {std::pair{"acquireTime", &r.acquire_time}, std::pair{"renewTime", &r.renew_time}}) {
    const std::string text = string_field(*spec, key);
    if (text.empty()) continue;
    auto t = parse_time(text);
    if (!t) return tl::unexpected("lease: bad " + std::string(key) + " '" + text + "'");
    *out = *t;
  }
  return r;
}

json lease_body(const LeaderElectionConfig& config, const LeaseRecord& record) {
  json metadata = {{"name", config.name}, {"namespace", config.namespace_}};
  // An update without metadata.resourceVersion is rejected (422, "must be specified for an
  // update"); with it the apiserver refuses a stale write with 409 (optimistic concurrency).
  if (!record.resource_version.empty()) metadata["resourceVersion"] = record.resource_version;
  json spec = {{"holderIdentity", record.holder},
               {"leaseDurationSeconds", record.lease_duration_s},
               {"leaseTransitions", record.transitions}};
  // A zero MicroTime is null in client-go's encoding; leave it out.
  if (record.acquire_time.count() != 0) spec["acquireTime"] = format_micro_time(record.acquire_time);
  if (record.renew_time.count() != 0) spec["renewTime"] = format_micro_time(record.renew_time);
  return json{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", metadata}, {"spec", spec}};
}

// ---- the machine ------------------------------------------------------------------------------

Duration LeaderElection::jittered_retry_period() {
  // wait.Jitter(d, maxFactor): d + rand.Float64() * maxFactor * d.
  const double r = random_ ? random_() : 0.0;
  const double extra = r * kLeaderElectionJitterFactor * static_cast<double>(config_.retry_period.count());
  return config_.retry_period + Duration(static_cast<Duration::rep>(extra));
}

int LeaderElection::lease_duration_seconds() const {
  // client-go writes int(LeaseDuration / time.Second), truncating; rounding up instead keeps a
  // sub-second remainder (only ever in tests) from promising others a shorter lease than ours.
  return static_cast<int>((config_.lease_duration.count() + 999) / 1000);
}

bool LeaderElection::holds_record() const {
  return observed_ && !config_.identity.empty() && observed_->holder == config_.identity;
}

// client-go isLeaseValid: observedTime + the record's leaseDurationSeconds is still ahead.
bool LeaderElection::observed_valid(TimePoint now) const {
  if (!observed_) return false;
  return observed_time_ + std::chrono::seconds(observed_->lease_duration_s) > now;
}

TimePoint LeaderElection::request_deadline(TimePoint now) const {
  // A leader's requests end with its renewal round (client-go's RenewDeadline context); a
  // candidate's are bounded the same way so that a hung request cannot stall it forever.
  if (leading_ && round_open_) return round_deadline_;
  return now + config_.renew_deadline;
}

void LeaderElection::check_deadline(TimePoint now) {
  // client-go renew(): PollImmediateUntil(RetryPeriod, tryAcquireOrRenew, RenewDeadline) timed
  // out, so the leader steps down, before any other candidate may consider the lease expired
  // (RenewDeadline < LeaseDuration).
  if (leading_ && round_open_ && now >= round_deadline_) {
    leading_ = false;
    round_open_ = false;
  }
}

void LeaderElection::stop() {
  stopping_ = true;
  // ReleaseOnCancel: the caller has finished the guarded work; leadership ends here, before the
  // release lets another replica in.
  leading_ = false;
  round_open_ = false;
}

LeaseAction LeaderElection::next_action(TimePoint now, WallTime wall) {
  wall_ = wall;
  if (phase_ == Phase::kDone) return LeaseDone{};
  if (stopping_) {
    queued_.reset();
    // client-go release(): only if the last record we saw names us, with the resourceVersion we
    // last saw, so a lease someone else took since is left alone (409).
    if (phase_ != Phase::kRelease && holds_record() && !observed_->resource_version.empty()) {
      phase_ = Phase::kRelease;
      LeaseRecord rel;
      rel.holder = "";
      rel.lease_duration_s = 1;
      rel.acquire_time = wall_;
      rel.renew_time = wall_;
      rel.transitions = observed_->transitions;
      rel.resource_version = observed_->resource_version;
      return LeaseRelease{lease_body(config_, rel), now + config_.renew_deadline};
    }
    phase_ = Phase::kDone;
    return LeaseDone{};
  }
  check_deadline(now);
  if (queued_) {
    LeaseAction a = std::move(*queued_);
    queued_.reset();
    return a;
  }
  if (phase_ == Phase::kGet) return LeaseGet{request_deadline(now)};  // the fast path failed: read
  if (now < next_attempt_) {
    TimePoint wake = next_attempt_;
    if (leading_ && round_open_ && round_deadline_ < wake) wake = round_deadline_;  // step down on time
    return LeaseSleep{wake - now};
  }
  // A new attempt (tryAcquireOrRenew). A leader's first try after a success opens a renewal
  // round that must succeed within RenewDeadline.
  if (leading_ && !round_open_) {
    round_open_ = true;
    round_deadline_ = now + config_.renew_deadline;
  }
  // 1. Fast path: we hold the lease and it is valid: update optimistically from the record we
  // last wrote, skipping the GET.
  if (holds_record() && observed_valid(now) && !observed_->resource_version.empty()) {
    phase_ = Phase::kFastUpdate;
    LeaseRecord rec = *observed_;
    rec.lease_duration_s = lease_duration_seconds();
    rec.renew_time = wall_;
    return LeaseUpdate{lease_body(config_, rec), request_deadline(now)};
  }
  // 2. Read the record.
  phase_ = Phase::kGet;
  return LeaseGet{request_deadline(now)};
}

void LeaderElection::observed(const LeaseOutcome& outcome, TimePoint now, WallTime wall) {
  wall_ = wall;
  switch (phase_) {
    case Phase::kFastUpdate:
      if (const auto* found = std::get_if<LeaseFound>(&outcome)) {
        succeeded(found->record, now);
      } else {
        // client-go: "Failed to update lock optimistically, falling back to slow path".
        phase_ = Phase::kGet;
        check_deadline(now);
      }
      return;
    case Phase::kGet:
      on_get(outcome, now);
      return;
    case Phase::kCreate:
    case Phase::kUpdate:
      if (const auto* found = std::get_if<LeaseFound>(&outcome)) {
        succeeded(found->record, now);
      } else {
        failed(now);  // 409: another candidate wrote first; retry next period
      }
      return;
    case Phase::kRelease:
      if (const auto* found = std::get_if<LeaseFound>(&outcome)) {
        observed_ = found->record;
        observed_time_ = now;
      }
      phase_ = Phase::kDone;
      return;
    case Phase::kIdle:
    case Phase::kDone:
      return;  // nothing was asked for
  }
}

void LeaderElection::on_get(const LeaseOutcome& outcome, TimePoint now) {
  if (std::holds_alternative<LeaseNotFound>(outcome)) {
    // No lease yet: create it, holding it (client-go Lock.Create).
    LeaseRecord rec;
    rec.holder = config_.identity;
    rec.lease_duration_s = lease_duration_seconds();
    rec.acquire_time = wall_;
    rec.renew_time = wall_;
    rec.transitions = 0;
    phase_ = Phase::kCreate;
    queued_ = LeaseCreate{lease_body(config_, rec), request_deadline(now)};
    return;
  }
  const auto* found = std::get_if<LeaseFound>(&outcome);
  if (found == nullptr) {
    failed(now);
    return;
  }
  const LeaseRecord& old = found->record;
  // 3. Only a change of the record restarts the expiry clock, and it restarts on OUR clock: the
  // holder's renewTime is never compared with our time.
  if (!observed_ || !same_record(*observed_, old)) {
    observed_ = old;
    observed_time_ = now;
  } else {
    observed_->resource_version = old.resource_version;  // the latest version, for the PUT
  }
  if (leading_ && !holds_record()) {
    // Someone else has written the lease since our last successful renewal (we were too slow
    // and it expired for them): client-go's IsLeader() is already false; do not wait for the
    // renew deadline to step down.
    leading_ = false;
    round_open_ = false;
  }
  if (!old.holder.empty() && observed_valid(now) && !holds_record()) {
    failed(now);  // held by another and not expired
    return;
  }
  // 4. Take or renew it: renewing keeps acquireTime and the transition count; taking it from
  // another holder (or from nobody, after a release) starts a new term.
  LeaseRecord rec;
  rec.holder = config_.identity;
  rec.lease_duration_s = lease_duration_seconds();
  rec.renew_time = wall_;
  rec.resource_version = old.resource_version;
  if (holds_record()) {
    rec.acquire_time = old.acquire_time;
    rec.transitions = old.transitions;
  } else {
    rec.acquire_time = wall_;
    rec.transitions = old.transitions + 1;
  }
  phase_ = Phase::kUpdate;
  queued_ = LeaseUpdate{lease_body(config_, rec), request_deadline(now)};
}

void LeaderElection::succeeded(const LeaseRecord& record, TimePoint now) {
  observed_ = record;
  observed_time_ = now;
  phase_ = Phase::kIdle;
  // A write that was in flight when stop() came still holds the lease, but only to release it.
  leading_ = !stopping_;
  round_open_ = false;
  // client-go renew(): wait.Until(..., RetryPeriod) without jitter between renewals.
  next_attempt_ = now + config_.retry_period;
}

void LeaderElection::failed(TimePoint now) {
  phase_ = Phase::kIdle;
  check_deadline(now);
  // A leader retries within its round every RetryPeriod (PollImmediateUntil); a candidate waits
  // a jittered period (acquire's JitterUntil) so that candidates do not move in lockstep.
  next_attempt_ = now + (leading_ ? config_.retry_period : jittered_retry_period());
}

}  // namespace crashdiag::core
