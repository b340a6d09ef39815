// What the daemon's stage files share and nothing else uses. daemon.hpp declares the stages as
// members of Daemon; each folder under operator/src/ defines one stage's part (docs/architecture.md
// draws which file does what).
#pragma once

#include <string>
#include <string_view>

#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/core/rca.hpp"
#include "crashdiag/core/time.hpp"

namespace crashdiag::daemon {

// Which RCA a failure of `workload` belongs to.
inline core::RcaTarget make_target(const core::CrashSignal& s, const core::WorkloadRef& workload) {
  return core::RcaTarget{s.namespace_, workload, s.container, s.init, s.signature};
}

// One more failure of a target, as the RCA tracker counts it.
inline core::Occurrence make_occurrence(const core::CrashSignal& s, const core::RcaTarget& target, core::WallTime now) {
  core::Occurrence o;
  o.target = target;
  o.pod = s.pod;
  o.pod_uid = s.pod_uid;
  o.restart_count = s.restart_count;
  o.reason = s.reason;
  if (s.signature.find(':') != std::string::npos) o.exit_code = s.exit_code;
  o.first_sight = s.first_sight;
  o.now = now;
  return o;
}

// A watch line or list item that does not parse is logged (its start, bounded) and skipped: one
// bad object never stops a watch (defined in store/pod_handler.cpp).
void log_bad_line(const std::string& resource, const std::string& what, std::string_view line = {});

}  // namespace crashdiag::daemon
