#include "explain_command.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include "crashdiag/classifiers/failing.hpp"
#include "crashdiag/core/rca.hpp"
#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/template_diff.hpp"
#include "crashdiag/model/yaml_json.hpp"

namespace crashdiag {
namespace {

namespace fs = std::filesystem;

// Input files are bounded: a pod object is at most ~1.5 MB in etcd and event lists are small;
// anything far larger is not what the flags expect.
constexpr std::size_t kMaxJsonBytes = 64U << 20U;

struct ReadError {
  std::string message;
};

tl::expected<std::string, ReadError> read_json_input(const std::string& path, std::istream& in, const char* flag) {
  std::istream* src = &in;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return tl::unexpected(ReadError{std::string(flag) + " " + path + ": cannot open file"});
    src = &file;
  }
  std::string text;
  char buf[65536];
  while (src->read(buf, sizeof buf) || src->gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(src->gcount()));
    if (text.size() > kMaxJsonBytes) {
      return tl::unexpected(
          ReadError{std::string(flag) + " " + path + ": larger than 64 MiB; is this the right file?"});
    }
  }
  return text;
}

// Logs are streamed into the bounded tail: a 100 MB log costs only the tail's budget.
tl::expected<LogTail, ReadError> read_logs(const std::string& path, std::istream& in) {
  std::istream* src = &in;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return tl::unexpected(ReadError{"--logs " + path + ": cannot open file"});
    src = &file;
  }
  LogTailBuilder builder;
  char buf[65536];
  while (src->read(buf, sizeof buf) || src->gcount() > 0) {
    builder.append(std::string_view(buf, static_cast<std::size_t>(src->gcount())));
  }
  return std::move(builder).finish();
}

}  // namespace

tl::expected<std::vector<Diagnosis>, std::string> explain_pods(const std::vector<Pod>& pods,
                                                               const std::vector<Event>& all_events,
                                                               const LogsFor& logs_for, const std::string& container,
                                                               const UnreadyPolicy& unready,
                                                               const Classifier& classifier,
                                                               const std::optional<PreviousTemplate>& previous) {
  std::vector<Diagnosis> diagnoses;
  for (const Pod& pod : pods) {
    std::vector<const Container*> targets;
    if (!container.empty()) {
      const Container* c = pod.find_container(container);
      if (c == nullptr) {
        if (pods.size() > 1) continue;  // in a List, only the pods that have it
        std::string names;
        for (const Container& k : pod.containers) names += (names.empty() ? "" : ", ") + k.name;
        return tl::unexpected("--container " + container + ": no such container in pod " + pod.name +
                              " (containers: " + names + ")");
      }
      targets.push_back(c);
    } else {
      targets = failing_containers(pod, unready);
    }
    if (pods.size() > 1 && targets.empty()) continue;  // a List: report the failing pods
    Diagnosis diagnosis;
    diagnosis.namespace_ = pod.namespace_;
    diagnosis.pod = pod.name;
    const std::vector<Event> events = events_for_pod(all_events, pod);
    for (const Container* c : targets) {
      Evidence ev;
      ev.pod = pod;
      ev.container = c->name;
      ev.logs = logs_for(pod, *c);
      ev.events = events;
      ev.previous = previous;
      diagnosis.containers.push_back(classifier.diagnose(ev));
    }
    diagnoses.push_back(std::move(diagnosis));
  }
  return diagnoses;
}

int run_explain(const ExplainOptions& options, const Classifier& classifier, std::istream& in, std::ostream& out,
                std::ostream& err) {
  if (options.pod_file == "-" && (options.logs_file == "-" || options.events_file == "-")) {
    err << "crashdiag explain: only one of -f, --logs, --events can read standard input\n";
    return 2;
  }
  auto pod_text = read_json_input(options.pod_file, in, "-f");
  if (!pod_text) {
    err << "crashdiag explain: " << pod_text.error().message << "\n";
    return 2;
  }
  auto pods = parse_pods(*pod_text);
  if (!pods) {
    err << "crashdiag explain: -f " << options.pod_file << ": " << pods.error().what << "\n";
    return 2;
  }
  const auto unready_after = core::parse_duration(options.unready_after);
  if (!unready_after) {
    err << "crashdiag explain: --unready-after \"" << options.unready_after
        << "\": not a duration; use e.g. 5m or 90s\n";
    return 2;
  }
  UnreadyPolicy unready;
  unready.unready_after_seconds = std::chrono::duration_cast<std::chrono::seconds>(*unready_after).count();
  unready.now_unix =
      options.now_unix
          ? *options.now_unix
          : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::vector<Event> all_events;
  if (!options.events_file.empty()) {
    auto text = read_json_input(options.events_file, in, "--events");
    if (!text) {
      err << "crashdiag explain: " << text.error().message << "\n";
      return 2;
    }
    auto parsed = parse_events_json(*text);
    if (!parsed) {
      err << "crashdiag explain: --events " << options.events_file << ": " << parsed.error().what << "\n";
      return 2;
    }
    all_events = std::move(*parsed);
  }
  std::optional<PreviousTemplate> previous;
  if (!options.previous_template_file.empty()) {
    auto text = read_json_input(options.previous_template_file, in, "--previous-template");
    if (!text) {
      err << "crashdiag explain: " << text.error().message << "\n";
      return 2;
    }
    std::string why;
    std::optional<nlohmann::json> doc = yaml_to_json(*text, &why);  // YAML is a superset of JSON
    if (!doc) {
      err << "crashdiag explain: --previous-template " << options.previous_template_file << ": " << why << "\n";
      return 2;
    }
    auto source = template_from_object(*doc);
    if (!source) {
      err << "crashdiag explain: --previous-template " << options.previous_template_file << ": " << source.error().what
          << "\n";
      return 2;
    }
    previous = PreviousTemplate{std::move(source->pod), source->revision, "", ""};
  }
  LogTail logs;
  if (!options.logs_file.empty()) {
    auto tail = read_logs(options.logs_file, in);
    if (!tail) {
      err << "crashdiag explain: " << tail.error().message << "\n";
      return 2;
    }
    logs = std::move(*tail);
  }

  // `kubectl logs --previous` (or `docker logs`) is for one container: it belongs to the one
  // named by --container, else to the first failing one.
  bool logs_used = false;
  auto logs_for = [&](const Pod&, const Container&) {
    if (logs_used) return LogTail{};
    logs_used = true;
    return logs;
  };
  auto explained = explain_pods(*pods, all_events, logs_for, options.container, unready, classifier, previous);
  if (!explained) {
    err << "crashdiag explain: " << explained.error() << "\n";
    return 2;
  }
  std::vector<Diagnosis> diagnoses = std::move(*explained);
  if (diagnoses.empty()) {
    // A List without a failing pod: say so the way a single healthy pod is reported.
    Diagnosis none;
    none.pod = std::to_string(pods->size()) + " pods";
    diagnoses.push_back(std::move(none));
  }
  out << render(diagnoses, options.format);
  return 0;
}

int run_explain_examples(const std::string& dir, const Classifier& classifier, OutputFormat format, std::ostream& out,
                         std::ostream& err) {
  std::error_code ec;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "pod.json")) cases.push_back(entry.path());
  }
  if (ec || cases.empty()) {
    err << "crashdiag explain --examples: no example directories with pod.json under " << dir << "\n";
    return 2;
  }
  std::sort(cases.begin(), cases.end());
  int status = 0;
  std::istringstream no_stdin;
  for (const auto& c : cases) {
    out << "=== example: " << c.filename().string() << " ===\n";
    ExplainOptions o;
    o.pod_file = (c / "pod.json").string();
    if (fs::exists(c / "previous.log")) o.logs_file = (c / "previous.log").string();
    if (fs::exists(c / "events.json")) o.events_file = (c / "events.json").string();
    o.format = format;
    status = std::max(status, run_explain(o, classifier, no_stdin, out, err));
    out << "\n";
  }
  return status;
}

}  // namespace crashdiag
