#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/report.hpp"

namespace crashdiag {

struct ExplainOptions {
  std::string pod_file;  // "-" for stdin
  std::string logs_file;
  std::string events_file;
  std::string container;
  OutputFormat format = OutputFormat::kText;
  std::string unready_after = "5m";  // a container running but not Ready this long is failing
  // Unix seconds to judge unreadiness against; unset: the wall clock at the call.
  std::optional<std::int64_t> now_unix;
};

// Exit codes: 0 explained (or nothing failing), 2 bad input.
[[nodiscard]] int run_explain(const ExplainOptions& options, const Classifier& classifier, std::istream& in,
                              std::ostream& out, std::ostream& err);

// Explains every examples/<name>/ directory (pod.json, previous.log, events.json).
[[nodiscard]] int run_explain_examples(const std::string& dir, const Classifier& classifier, OutputFormat format,
                                       std::ostream& out, std::ostream& err);

}  // namespace crashdiag
