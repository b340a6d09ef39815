#include "crashdiag/core/rca_event.hpp"

#include "rca_text.hpp"

namespace crashdiag::core {

using namespace rca_detail;  // NOLINT(google-build-using-namespace): this file's own helpers

std::string caused_summary(const std::string& own_namespace, const std::string& cause_name, const CauseLink& cause,
                           const std::string& summary) {
  const std::string who = cause.namespace_ == own_namespace ? cause.workload : cause.namespace_ + "/" + cause.workload;
  return who + " is failing (RCA " + cause_name + (cause.category.empty() ? "" : ", " + cause.category) +
         "): " + summary;
}

std::string shown_summary(const RcaState& s) {
  const Hypothesis* top = s.top();
  if (top == nullptr) return {};
  if (s.caused_by.empty()) return top->summary;
  return caused_summary(s.target.namespace_, s.caused_by, s.cause, top->summary);
}

std::string root_cause_value(const RcaState& s) {
  const Hypothesis* top = s.top();
  if (top == nullptr) return {};
  return top->category + ": " + shown_summary(s);
}

std::string event_note(const RcaState& s) {
  const Hypothesis* top = s.top();
  const std::string tail = " (kubectl get rca -n " + s.target.namespace_ + " " + s.name + ")";
  std::string head = top == nullptr ? std::string("root cause unknown") : top->category + ": " + shown_summary(s);
  // What changed before the failure is the next thing on-call asks (issue 15): "; changed in
  // revision 7 (...): containers[0].command added [...]".
  if (s.diagnosis.what_changed && !s.diagnosis.what_changed->summary.empty()) {
    head += "; " + s.diagnosis.what_changed->summary;
  }
  if (head.size() + tail.size() > kEventNoteLimit) head = cut(head, kEventNoteLimit - tail.size());
  return cut(head + tail, kEventNoteLimit);
}

EventWrite event_write(const RcaState& s, const PodMark& mark, const Occurrence& o, const std::string& instance) {
  const Hypothesis* top = s.top();
  const std::string category = top == nullptr ? std::string() : top->category;
  // Event names must be DNS subdomains (253); the hash keeps them unique per pod, RCA and cause
  // and identical across crashdiag replicas, so a new leader re-creating one gets 409, not a copy.
  const std::string hash = hex(stable_hash(s.name + "/" + mark.event_reason + "/" + category), 16);
  std::string pod_part = o.pod.substr(0, 253 - hash.size() - 1);
  // A cut 253-character pod name may end in '-' or '.': "<...>-.<hash>" is no DNS subdomain.
  while (!pod_part.empty() && (pod_part.back() == '-' || pod_part.back() == '.')) pod_part.pop_back();
  EventWrite ev;
  ev.name = pod_part + "." + hash;
  ev.reason = mark.event_reason;
  ev.count = mark.event_count;
  const std::string field =
      std::string(s.target.init ? "spec.initContainers{" : "spec.containers{") + s.target.container + "}";
  // The whole Event every time: a bump whose Event has expired (the apiserver's --event-ttl,
  // 1 h by default) is created again from it.
  ev.object = json{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", ev.name}, {"namespace", s.target.namespace_}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"name", o.pod},
        {"namespace", s.target.namespace_},
        {"uid", o.pod_uid},
        {"fieldPath", field}}},
      {"related", {{"apiVersion", kApiVersion}, {"kind", kKind}, {"name", s.name}, {"namespace", s.target.namespace_}}},
      {"reason", ev.reason},
      {"message", event_note(s)},
      {"type", "Warning"},
      {"source", {{"component", "crashdiag"}}},
      {"reportingComponent", kReportingController},
      {"reportingInstance", instance},
      {"action", "Diagnose"},
      {"firstTimestamp", format_time(mark.first_event)},
      {"lastTimestamp", format_time(o.now)},
      {"count", ev.count}};
  return ev;
}

}  // namespace crashdiag::core
