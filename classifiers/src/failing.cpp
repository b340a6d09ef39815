#include "crashdiag/classifiers/failing.hpp"

namespace crashdiag {
namespace {

std::optional<TerminationFacts> facts(const std::optional<Terminated>& t) {
  if (!t) return std::nullopt;
  return TerminationFacts{t->exit_code, t->reason};
}

}  // namespace

FailureKind failure_kind(const Pod& pod, const Container& c, const UnreadyPolicy& unready) {
  if (!c.status) return FailureKind::kNone;
  ContainerFacts f;
  f.init = c.init;
  f.sidecar = c.init && c.restart_policy == "Always";
  f.waiting_reason = c.status->waiting ? std::string_view(c.status->waiting->reason) : std::string_view();
  f.running = c.status->running;
  f.ready = c.status->ready;
  f.restart_count = c.status->restart_count;
  f.terminated = facts(c.status->terminated);
  f.last_terminated = facts(c.status->last_terminated);
  return failure_of(f, failure_context(pod.restart_policy, pod.not_ready_since, unready));
}

bool is_failing(const Pod& pod, const Container& c, const UnreadyPolicy& unready) {
  return failure_kind(pod, c, unready) != FailureKind::kNone;
}

std::vector<const Container*> failing_containers(const Pod& pod, const UnreadyPolicy& unready) {
  std::vector<const Container*> out;
  for (const Container& c : pod.containers) {
    if (is_failing(pod, c, unready)) out.push_back(&c);
  }
  return out;
}

}  // namespace crashdiag
