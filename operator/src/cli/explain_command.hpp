#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>
#include "crashdiag/classifiers/classifier.hpp"
#include "crashdiag/classifiers/report.hpp"
#include "crashdiag/model/failure.hpp"
#include "crashdiag/model/log_tail.hpp"

namespace crashdiag {

struct ExplainOptions {
  std::string pod_file;  // "-" for stdin
  std::string logs_file;
  std::string events_file;
  // The pod template that ran before (a ReplicaSet, Deployment, ControllerRevision, PodTemplate,
  // Pod or bare template, JSON or YAML): the report says what changed since.
  std::string previous_template_file;
  std::string container;
  OutputFormat format = OutputFormat::kText;
  std::string unready_after = "5m";  // a container running but not Ready this long is failing
  // Unix seconds to judge unreadiness against; unset: the wall clock at the call.
  std::optional<std::int64_t> now_unix;
};

// The log tail of a container (the previous instance's, when there is one).
using LogsFor = std::function<LogTail(const Pod&, const Container&)>;

// Each pod's failing containers (or `container`), diagnosed from the pod, its Events (filtered
// here from `events`) and the logs `logs_for` gives. Pure: `explain -f` and `explain pod` feed it
// from files and from the API server. Error: `container` is not in a single pod.
// `previous`: the template that ran before, compared with each pod's (issue 15, item 1).
[[nodiscard]] tl::expected<std::vector<Diagnosis>, std::string> explain_pods(
    const std::vector<Pod>& pods, const std::vector<Event>& events, const LogsFor& logs_for,
    const std::string& container, const UnreadyPolicy& unready, const Classifier& classifier,
    const std::optional<PreviousTemplate>& previous = std::nullopt);

// Exit codes: 0 explained (or nothing failing), 2 bad input.
[[nodiscard]] int run_explain(const ExplainOptions& options, const Classifier& classifier, std::istream& in,
                              std::ostream& out, std::ostream& err);

// Explains every examples/<name>/ directory (pod.json, previous.log, events.json).
[[nodiscard]] int run_explain_examples(const std::string& dir, const Classifier& classifier, OutputFormat format,
                                       std::ostream& out, std::ostream& err);

}  // namespace crashdiag
