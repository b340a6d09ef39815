#include "crashdiag/classifiers/evidence_texts.hpp"

#include <re2/re2.h>

#include <map>

#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag {
namespace {

// What rules scan is the runtime's words with the layers of quoting peeled off: a message that
// went through Docker's API, a UI or a shell arrives as \"exec: \\\"x\\\"\" or &quot;x&quot;;
// every such form becomes one plain quote, so one pattern covers them all.
bool needs_unquote(std::string_view text) {
  return text.find_first_of("\\&\xe2") != std::string_view::npos;
}

std::string unquote(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      std::size_t j = i;
      while (j < text.size() && text[j] == '\\') ++j;
      if (j < text.size() && text[j] == '"') {
        out += '"';
        i = j;
        continue;
      }
      out.append(text.substr(i, j - i));
      i = j - 1;
      continue;
    }
    if (text[i] == '&' && text.substr(i, 6) == "&quot;") {
      out += '"';
      i += 5;
      continue;
    }
    // A message pasted through a word processor or chat arrives with typographic quotes.
    if (text.substr(i, 3) == "\u201c" || text.substr(i, 3) == "\u201d") {
      out += '"';
      i += 2;
      continue;
    }
    out += text[i];
  }
  return out;
}

// `docker compose logs` and `docker-compose up` put "<service>-1  | " before every line; rules
// anchored at the start of a line ("^exec /x: ...") must see the line as the container wrote it.
// The prefix is stripped only when most lines carry the same one, so an application's own
// "INFO | ..." format is left alone.
const RE2& compose_prefix() {
  static const RE2 kPrefix(R"re(^([a-z0-9][a-z0-9_.-]*?(?:[-_]\d+)?)\s+\| ?)re");
  return kPrefix;
}

// Compose's own lines between the containers' (`docker compose up` prints them unprefixed;
// docker/compose pkg/compose/printer.go and v1's "Attaching to"): "web-1 exited with code 1
// (restarting)", "Attaching to web-1", "Creating web_1 ... done", "Container web-1  Started".
// They say nothing about the prefix the container's lines carry, for or against.
const RE2& compose_status_line() {
  static const RE2 kStatus(
      R"re(^(?:\S+ exited with code \d+|Attaching to |Gracefully stopping|(?:Creating|Recreating|Starting|Stopping|Removing) \S+ \.\.\.|\s*(?:\S+ )?(?:Container|Network|Volume) \S+\s+(?:Creat|Start|Running|Recreat|Stopp|Remov|Wait|Healthy)))re");
  return kStatus;
}

// The service prefix most lines carry, or empty. Only lines with a '|' can have one.
std::string compose_prefix_of(const std::vector<std::string>& lines) {
  std::map<std::string, std::size_t> counts;
  std::size_t non_empty = 0;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    if (line.find('|') == std::string::npos && RE2::PartialMatch(line, compose_status_line())) continue;
    ++non_empty;
    std::string name;
    if (line.find('|') != std::string::npos && RE2::PartialMatch(line, compose_prefix(), &name)) ++counts[name];
  }
  std::string prefix;
  for (const auto& [name, n] : counts) {
    if (2 * n >= non_empty && n >= 1) prefix = name;
  }
  return prefix;
}

std::string_view without_prefix(std::string_view line, const std::string& prefix) {
  if (prefix.empty() || line.compare(0, prefix.size(), prefix) != 0) return line;
  std::string name;
  re2::StringPiece input(line.data(), line.size());
  if (RE2::Consume(&input, compose_prefix(), &name) && name == prefix) return {input.data(), input.size()};
  return line;
}

// `kubectl logs --timestamps` and `docker logs -t` put an RFC 3339 timestamp and a space before
// every line (the kubelet keeps it in its CRI log files: "<RFC3339Nano> stdout F <line>", see
// k8s.io/cri-api/pkg/apis/runtime/v1 and pkg/kubelet/kuberuntime/logs, and a log shipper
// reading those files may keep the stream and tag too). Rules anchored at the start of a line
// must see the line as the container wrote it; the timestamp says nothing about the cause.
// Docker Desktop's log view shows local time to the second with a space instead ("2025-03-06
// 16:07:36 exec /usr/local/bin/entrypoint.sh: no such file or directory"), and reports from
// Docker hosts copy it so; an application's own stamp of that exact shape is as empty of cause.
std::string_view without_timestamp(std::string_view line) {
  static const RE2 kStamp(
      R"re(^\d{4}-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d) (?:std(?:out|err) [FP] )?| \d\d:\d\d:\d\d ))re");
  if (line.size() < 20 || line[4] != '-' || (line[10] != 'T' && line[10] != ' ')) return line;
  re2::StringPiece input(line.data(), line.size());
  if (RE2::Consume(&input, kStamp)) return {input.data(), input.size()};
  return line;
}

// Multi-pod log tools put the pod and container before every line: `kubectl logs --prefix`
// ("[pod/web-7d4b9/app] ", staging/src/k8s.io/kubectl/pkg/cmd/logs/logs.go addPrefixIfNeeded) and
// kail ("shop/web-7d4b9[app]: "). Like the timestamp, the prefix says which container wrote the
// line, not what it says; both forms name a pod, so an application line seldom starts with one.
std::string_view without_pod_prefix(std::string_view line) {
  static const RE2 kPodPrefix(
      R"re(^(?:\[pod/[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9-]*\] |[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9.-]*\[[a-z0-9][a-z0-9-]*\]: ))re");
  if (line.empty() || (line[0] != '[' && line.find('/') == std::string_view::npos)) return line;
  re2::StringPiece input(line.data(), line.size());
  if (RE2::Consume(&input, kPodPrefix)) return {input.data(), input.size()};
  return line;
}

// Some container managers' log views put the local time and the stream before every line, with
// bars: "2025/02/09 15:55:08 | stderr | <line>" (reports from Docker and Compose hosts copy it
// so; four incidents in the corpus). Like the timestamp above, it says when and on which stream,
// not what.
std::string_view without_stream_prefix(std::string_view line) {
  static const RE2 kStreamPrefix(R"re(^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \| std(?:out|err) \| )re");
  if (line.size() < 30 || line[4] != '/' || line[20] != '|') return line;
  re2::StringPiece input(line.data(), line.size());
  if (RE2::Consume(&input, kStreamPrefix)) return {input.data(), input.size()};
  return line;
}

}  // namespace

std::string status_field(const Container& c) {
  return std::string(c.init ? "status.initContainerStatuses{" : "status.containerStatuses{") + c.name + "}";
}

std::string event_excerpt(const Event& e, std::size_t max_message_bytes) {
  return e.type + " " + e.reason + (e.count > 1 ? " (x" + std::to_string(e.count) + ")" : "") + ": " +
         utf8_clip(e.message, max_message_bytes);
}

EvidenceSource evidence_source(TextSource source) {
  switch (source) {
    case TextSource::kStatus:
      return EvidenceSource::kStatus;
    case TextSource::kEvents:
    case TextSource::kProbe:
      return EvidenceSource::kEvents;
    case TextSource::kLogs:
      return EvidenceSource::kLogs;
  }
  return EvidenceSource::kStatus;
}

std::optional<ProbeOutput> probe_output(const Event& e) {
  // A report that quotes only an event's message (no reason) still shows the prober's prefix.
  if (e.reason != "Unhealthy" && e.reason != "ProbeWarning" && !e.reason.empty()) return std::nullopt;
  std::string_view message = e.message;
  // client-go's EventCorrelator merges similar events under this prefix
  // (tools/record/events_cache.go, EventAggregatorByReasonMessageFunc).
  constexpr std::string_view kCombined = "(combined from similar events): ";
  if (message.rfind(kCombined, 0) == 0) message.remove_prefix(kCombined.size());
  for (std::string_view probe : {"Liveness", "Readiness", "Startup"}) {
    for (std::string_view verb : {" probe failed: ", " probe errored: ", " probe failed", " probe warning: "}) {
      const std::string prefix = std::string(probe) + std::string(verb);
      if (message.rfind(prefix, 0) == 0) {
        return ProbeOutput{std::string(probe), verb == " probe errored: ", std::string(message.substr(prefix.size()))};
      }
    }
  }
  // The kubelet writes Unhealthy only for a probe (pkg/kubelet/prober/prober.go, recordContainerEvent
  // with events.ContainerUnhealthy), always with the prefix above; a report that trimmed it still
  // quotes the probe's output, never the container's start. Which probe: the caller's spec says.
  if (e.reason == "Unhealthy") return ProbeOutput{"", false, std::string(message)};
  return std::nullopt;
}

std::string EvidenceText::field() const {
  return source == TextSource::kLogs ? "logs[" + std::to_string(log_line) + "]" : label;
}

std::string EvidenceText::excerpt() const {
  return source == TextSource::kLogs ? utf8_clip(raw, kMaxExcerptBytes) : quote;
}

EvidenceTexts::EvidenceTexts(const Evidence& ev) {
  const Container& c = ev.target();
  auto scanned = [&](std::string_view text) -> std::string_view {
    if (!needs_unquote(text)) return text;
    owned_.push_back(unquote(text));
    return owned_.back();
  };
  if (c.status) {
    auto add_status = [&](const std::string& field, const std::string& text) {
      if (text.empty()) return;
      EvidenceText t;
      t.source = TextSource::kStatus;
      t.label = field;
      t.quote = utf8_clip(text, kMaxExcerptBytes);
      t.raw = text;
      t.text = scanned(text);
      texts_.push_back(std::move(t));
    };
    if (c.status->terminated) add_status(status_field(c) + ".state.terminated.message", c.status->terminated->message);
    if (c.status->last_terminated) {
      add_status(status_field(c) + ".lastState.terminated.message", c.status->last_terminated->message);
    }
    if (c.status->waiting) add_status(status_field(c) + ".state.waiting.message", c.status->waiting->message);
  }
  events_ = events_for_container(ev.events, c);  // not resized after this: texts point into it
  std::vector<EvidenceText> probes;
  for (const Event& e : events_) {
    if (e.message.empty()) continue;
    EvidenceText t;
    t.label = "events[" + e.reason + "]";
    t.quote = event_excerpt(e);
    t.event = &e;
    t.raw = e.message;
    if (auto p = probe_output(e)) {
      t.source = TextSource::kProbe;
      // The output is the message's tail: view it there, unquoted if need be.
      const std::string_view output = std::string_view(e.message).substr(e.message.size() - p->output.size());
      t.text = scanned(output);
      probes.push_back(std::move(t));
    } else {
      t.source = TextSource::kEvents;
      t.text = scanned(e.message);
      texts_.push_back(std::move(t));
    }
  }
  for (auto& p : probes) texts_.push_back(std::move(p));
  const auto& lines = ev.logs.lines;
  const std::string prefix = compose_prefix_of(lines);
  texts_.reserve(texts_.size() + lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    EvidenceText t;
    t.source = TextSource::kLogs;
    t.raw = lines[i];
    t.text = scanned(without_stream_prefix(without_timestamp(without_pod_prefix(without_prefix(lines[i], prefix)))));
    t.log_line = i;
    texts_.push_back(std::move(t));
  }
}

}  // namespace crashdiag
