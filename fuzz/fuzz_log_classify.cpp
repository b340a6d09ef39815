// A container's log, the most hostile text crashdiag reads (any bytes: invalid UTF-8, NUL, ANSI
// escapes, one huge line): the tail builder, the redactor and the whole classifier with the
// shipped rule packs run over it, beside a termination message and an event message.
// The input is split into the three texts (FuzzedDataProvider) rather than copied into each:
// every byte is scanned once, so an execution costs a third of what the copies did (the pattern
// index under coverage instrumentation is most of the time), and the three texts differ, which
// exercises merging findings from different sources.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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
  // Sizes as the API has them: the kubelet keeps 4 KiB of a termination message
  // (MaxContainerTerminationMessageLength, pkg/kubelet/container/runtime.go) and an Event note is
  // at most 1 KiB (NoteLengthLimit, pkg/apis/core/validation/events.go).
  // The log comes first, so a seed (a real log without a backslash) is all log; the message and
  // the event follow a backslash and another byte (ConsumeRandomLengthString's separator).
  const std::string text = in.ConsumeRandomLengthString(size);
  std::string message = in.ConsumeRandomLengthString(4096);
  std::string event_message = in.ConsumeRemainingBytesAsString().substr(0, 1024);
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
