// A container's log, the most hostile text crashdiag reads (any bytes: invalid UTF-8, NUL, ANSI
// escapes, one huge line): the tail builder, the redactor and the whole classifier with the
// shipped rule packs run over it, beside a termination message and an event message.
// The input is split into the three texts rather than copied into each: the copies were scanned
// two to three times, and the pattern index under coverage instrumentation is most of an
// execution (597 executions a second before, about 1,100 after, with -max_len=4096); and the
// three texts differ, which exercises merging findings from different sources. The split takes
// its two lengths from the input's last bytes (FuzzedDataProvider reads integers from the end),
// so any text, a seed log included, reaches the log, the message and the event in order, with no
// separator byte inside it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/dependency.hpp"
#include "crashdiag/classifiers/redaction.hpp"
#include "crashdiag/classifiers/rule_engine.hpp"
#include "crashdiag/classifiers/rule_pack.hpp"
#include "crashdiag/embedded.hpp"
#include "crashdiag/model/log_tail.hpp"

namespace {

const crashdiag::Classifier& classifier() {
  static const crashdiag::Classifier c = [] {
    std::vector<crashdiag::RuleSource> sources;
    for (const auto& f : crashdiag::embedded::rule_packs())
      sources.push_back({std::string(f.path), std::string(f.text)});
    auto rules = crashdiag::parse_rule_packs(sources);
    if (!rules) __builtin_trap();  // the shipped packs always load (a test says so)
    auto engine = crashdiag::RuleEngine::compile(std::move(*rules));
    if (!engine) __builtin_trap();
    return crashdiag::Classifier(std::move(*engine));
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const crashdiag::Redactor redactor;
  (void)redactor.redact(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  // The kubelet keeps the last 4 KiB of a termination message (MaxContainerTerminationMessageLength,
  // pkg/kubelet/container/runtime.go). An events.k8s.io note is at most 1 KiB (NoteLengthLimit,
  // pkg/apis/core/validation/events.go, for events with an eventTime); the kubelet's core/v1
  // messages have no such limit, and 1 KiB here keeps an execution cheap.
  const auto message_size = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
  const auto event_size = in.ConsumeIntegralInRange<std::size_t>(0, 1024);
  const std::size_t rest = in.remaining_bytes();
  const std::string text = in.ConsumeBytesAsString(rest - std::min(rest, message_size + event_size));
  std::string message = in.ConsumeBytesAsString(message_size);
  std::string event_message = in.ConsumeBytesAsString(event_size);
  crashdiag::LogTailLimits limits;
  limits.max_lines = 64;
  limits.max_line_bytes = 512;
  crashdiag::Evidence ev;
  ev.pod.name = "p";
  ev.pod.namespace_ = "ns";
  crashdiag::Container c;
  c.name = "app";
  c.image = "example/app:1";
  c.status = crashdiag::ContainerStatus{};
  c.status->restart_count = 3;
  crashdiag::Terminated term;
  term.exit_code = 1;
  term.reason = "Error";
  term.message = std::move(message);
  c.status->last_terminated = term;
  ev.pod.containers.push_back(c);
  ev.container = "app";
  ev.logs = crashdiag::make_log_tail(text, limits);
  crashdiag::Event e;
  e.reason = "BackOff";
  e.message = std::move(event_message);
  ev.events.push_back(e);
  const auto d = classifier().diagnose(ev);
  if (!d.hypotheses.empty()) (void)crashdiag::dependencies_of(ev, d.hypotheses.front());
  return 0;
}
