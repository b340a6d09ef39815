// A container's log, the most hostile text crashdiag reads (any bytes: invalid UTF-8, NUL, ANSI
// escapes, one huge line): the tail builder, the redactor and the whole classifier with the
// shipped rule packs run over it, with the termination message and an event made of the same
// bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const crashdiag::Redactor redactor;
  (void)redactor.redact(text);
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
  term.message = std::string(text.substr(0, 4096));
  c.status->last_terminated = term;
  ev.pod.containers.push_back(c);
  ev.container = "app";
  ev.logs = crashdiag::make_log_tail(text, limits);
  crashdiag::Event e;
  e.reason = "BackOff";
  e.message = std::string(text.substr(0, 1024));
  ev.events.push_back(e);
  const auto d = classifier().diagnose(ev);
  if (!d.hypotheses.empty()) (void)crashdiag::dependencies_of(ev, d.hypotheses.front());
  return 0;
}
