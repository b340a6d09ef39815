// Every text the cluster gives about one failing container, in one list: the termination and
// waiting messages, the kubelet's event messages, a probe's own output, the log tail. Rules,
// analyzers and the `unknown` fallback all read the same list, so no source is seen by one and
// missed by another.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crashdiag/classifiers/rule_pack.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct EvidenceText {
  TextSource source = TextSource::kLogs;
  std::string field;           // where it was read: "status.containerStatuses{app}.lastState.terminated.message",
                               // "events[Failed]", "logs[41]"
  std::string excerpt;         // how it is quoted (an event: "Warning Failed (x3): Error: ...")
  std::string text;            // what rules scan (a probe event: its output, after "Liveness probe failed: ")
  std::optional<Event> event;  // the event it came from
  std::size_t log_line = 0;    // logs: index in the tail
};

[[nodiscard]] EvidenceSource evidence_source(TextSource source);

// The container's texts in a fixed order: status, events, probe output, logs.
[[nodiscard]] std::vector<EvidenceText> evidence_texts(const Evidence& evidence);

// A probe's output from its Unhealthy event ("Liveness probe failed: <output>", also "errored"
// when the kubelet could not run it, pkg/kubelet/prober/prober.go); nullopt for other events.
struct ProbeOutput {
  std::string probe;  // "Liveness", "Readiness", "Startup"
  bool errored = false;
  std::string output;
};
[[nodiscard]] std::optional<ProbeOutput> probe_output(const Event& event);

// The lines of a text ('\n', "\r\n"), empty lines dropped.
[[nodiscard]] std::vector<std::string_view> text_lines(std::string_view text);

}  // namespace crashdiag
