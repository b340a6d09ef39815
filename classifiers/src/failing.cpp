#include "crashdiag/classifiers/failing.hpp"

#include "crashdiag/model/rfc3339.hpp"

namespace crashdiag {
namespace {

std::optional<TerminationFacts> facts(const std::optional<Terminated>& t) {
  if (!t) return std::nullopt;
  return TerminationFacts{t->exit_code, t->reason};
}

}  // namespace

FailureKind failure_kind(const Pod& pod, const Container& c, const FailingOptions& options) {
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
  FailureContext ctx;
  ctx.restart_policy = pod.restart_policy;
  ctx.not_ready_since = parse_rfc3339_seconds(pod.not_ready_since);
  ctx.now = options.now_unix;
  ctx.unready_after_seconds = options.unready_after_seconds;
  return failure_of(f, ctx);
}

bool is_failing(const Pod& pod, const Container& c, const FailingOptions& options) {
  return failure_kind(pod, c, options) != FailureKind::kNone;
}

std::vector<const Container*> failing_containers(const Pod& pod, const FailingOptions& options) {
  std::vector<const Container*> out;
  for (const Container& c : pod.containers) {
    if (is_failing(pod, c, options)) out.push_back(&c);
  }
  return out;
}

}  // namespace crashdiag
