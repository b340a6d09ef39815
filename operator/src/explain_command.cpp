#include "explain_command.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include "crashdiag/classifiers/failing.hpp"
#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"

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
  auto pod = parse_pod_json(*pod_text);
  if (!pod) {
    err << "crashdiag explain: -f " << options.pod_file << ": " << pod.error().what << "\n";
    return 2;
  }
  std::vector<Event> events;
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
    events = events_for_pod(*parsed, *pod);
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

  std::vector<const Container*> targets;
  if (!options.container.empty()) {
    const Container* c = pod->find_container(options.container);
    if (c == nullptr) {
      std::string names;
      for (const Container& k : pod->containers) names += (names.empty() ? "" : ", ") + k.name;
      err << "crashdiag explain: --container " << options.container << ": no such container in pod " << pod->name
          << " (containers: " << names << ")\n";
      return 2;
    }
    targets.push_back(c);
  } else {
    targets = failing_containers(*pod);
  }

  Diagnosis diagnosis;
  diagnosis.namespace_ = pod->namespace_;
  diagnosis.pod = pod->name;
  for (const Container* c : targets) {
    Evidence ev;
    ev.pod = *pod;
    ev.container = c->name;
    // `kubectl logs --previous` is for one container; with several failing containers the
    // given log belongs to the one named by --container, else to the first failing one.
    if (c == targets.front()) ev.logs = logs;
    ev.events = events;
    diagnosis.containers.push_back(classifier.diagnose(ev));
  }
  out << render(diagnosis, options.format);
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
