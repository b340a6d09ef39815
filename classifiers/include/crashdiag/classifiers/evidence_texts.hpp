// Every text the cluster gives about one failing container, in one list: the termination and
// waiting messages, the kubelet's event messages, a probe's own output, the log tail. Rules,
// analyzers and the `unknown` fallback all read the same list, so no source is seen by one and
// missed by another.
#pragma once

#include <cstddef>
#include <deque>
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
  std::string_view text;         // what rules scan: quoting peeled off, compose prefix removed (a
                                 // probe event: its output, after "Liveness probe failed: ")
  std::string_view raw;          // as the cluster gave it (an event: its message)
  const Event* event = nullptr;  // the event it came from
  std::size_t log_line = 0;      // logs: index in the tail
  std::string label;             // status and events: where it was read
  std::string quote;             // status and events: how it is quoted

  // "status.containerStatuses{app}.lastState.terminated.message", "events[Failed]", "logs[41]".
  [[nodiscard]] std::string field() const;
  // How it is quoted: the line (bounded), or "Warning Failed (x3): Error: ..." for an event.
  [[nodiscard]] std::string excerpt() const;
};

[[nodiscard]] EvidenceSource evidence_source(TextSource source);

// Quotes are bounded so one huge message or line cannot fill a diagnosis.
inline constexpr std::size_t kMaxExcerptBytes = 1024;

// Where a container's status is quoted from: "status.containerStatuses{app}",
// "status.initContainerStatuses{init}".
[[nodiscard]] std::string status_field(const Container& c);

// How an event is quoted: "Warning Failed (x3): Error: ...", its message clipped.
[[nodiscard]] std::string event_excerpt(const Event& e, std::size_t max_message_bytes = kMaxExcerptBytes);

// The container's texts in a fixed order: status, events, probe output, logs. The texts view the
// Evidence (which must outlive this) and copies made only where a text had to be normalized, so
// a 500-line tail costs no copy of itself. Not copyable: the texts point into it.
class EvidenceTexts {
 public:
  explicit EvidenceTexts(const Evidence& evidence);
  EvidenceTexts(const EvidenceTexts&) = delete;
  EvidenceTexts& operator=(const EvidenceTexts&) = delete;
  EvidenceTexts(EvidenceTexts&&) = delete;
  EvidenceTexts& operator=(EvidenceTexts&&) = delete;
  ~EvidenceTexts() = default;

  [[nodiscard]] auto begin() const { return texts_.begin(); }
  [[nodiscard]] auto end() const { return texts_.end(); }
  [[nodiscard]] std::size_t size() const { return texts_.size(); }
  [[nodiscard]] const EvidenceText& operator[](std::size_t i) const { return texts_[i]; }
  // The target container's events (events_for_container), also those without a message.
  [[nodiscard]] const std::vector<Event>& events() const { return events_; }

 private:
  std::vector<Event> events_;      // this container's events, referenced by the texts
  std::deque<std::string> owned_;  // normalized copies (a deque: their addresses never move)
  std::vector<EvidenceText> texts_;
};

// Calls f(line) for each line of a text ('\n', "\r\n"), empty lines skipped; no allocation.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// A probe's output from its Unhealthy event ("Liveness probe failed: <output>", also "errored"
// when the kubelet could not run it, pkg/kubelet/prober/prober.go); nullopt for other events.
struct ProbeOutput {
  std::string probe;  // "Liveness", "Readiness", "Startup"; empty: an Unhealthy event without the prefix
  bool errored = false;
  std::string output;
};
[[nodiscard]] std::optional<ProbeOutput> probe_output(const Event& event);

}  // namespace crashdiag
