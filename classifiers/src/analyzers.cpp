#include "crashdiag/classifiers/analyzers.hpp"

#include <re2/re2.h>

#include <algorithm>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/classifiers/evidence_view.hpp"
#include "crashdiag/classifiers/redaction.hpp"
#include "crashdiag/model/failure.hpp"
#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/quantity.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag {
namespace {

std::string clip(std::string_view s, std::size_t n = 600) {
  return utf8_clip(s, n);
}

bool looks_like_flag(std::string_view x) {
  return !x.empty() && x[0] == '-';
}

// A word the image's entrypoint takes as a subcommand: no path, no extension, lower case.
bool looks_like_subcommand(std::string_view x) {
  if (x.empty() || x.find('/') != std::string_view::npos || x.find('.') != std::string_view::npos) return false;
  return std::all_of(x.begin(), x.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '-' || c == '_'; });
}

// A shell script's file name, without a directory: a .sh or .bash name, or an entrypoint by its
// name ("docker-entrypoint", "sidekiq-entrypoint.sh"). Not an interpreter's script (server.js,
// app.py): images whose ENTRYPOINT is the interpreter, or an entrypoint that prepends it (the
// node image's docker-entrypoint.sh), take those as arguments, so command: ["server.js"] is an
// override. Not a whole command line ("sh entrypoint.sh") nor a flag ("--entrypoint").
bool shell_script_name(std::string_view x) {
  if (x.empty() || x[0] == '-' || x.find_first_of("/ \t") != std::string_view::npos) return false;
  if (x.find("entrypoint") != std::string_view::npos) return true;
  static constexpr std::string_view kExtensions[] = {".sh", ".bash"};
  return std::any_of(std::begin(kExtensions), std::end(kExtensions), [&](std::string_view ext) {
    return x.size() > ext.size() && x.substr(x.size() - ext.size()) == ext;
  });
}

std::string yaml_list(const std::vector<std::string>& items) {
  return quote_list(items);
}

const Event* find_event(const std::vector<Event>& events, std::string_view reason, std::string_view needle) {
  const Event* found = nullptr;
  for (const Event& e : events) {
    if (e.reason == reason && (needle.empty() || e.message.find(needle) != std::string::npos)) found = &e;
  }
  return found;
}

// Analyzers quote events shorter than rules do: an analyzer's finding rests on its own facts.
std::string short_event_excerpt(const Event& e) {
  return event_excerpt(e, 600);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Arguments appended to the image's ENTRYPOINT.
//
// The other half of command versus args: `args:` (Compose `command:`) replaces only CMD, so a
// full command line put there ("python -m worker") is appended to the image's ENTRYPOINT
// (uvicorn, gunicorn, the app's own CLI), which then rejects "python" or "-m" as an option or
// subcommand and prints its usage.
namespace {

constexpr std::string_view kInterpreters[] = {"python", "python3", "node",     "java",  "ruby", "php",
                                              "perl",   "sh",      "bash",     "npm",   "yarn", "dotnet",
                                              "bundle", "uvicorn", "gunicorn", "celery"};

std::optional<Candidate> args_appended_to_entrypoint(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  if (!c.command.empty() || c.args.empty()) return std::nullopt;
  std::string_view first = c.args.front();
  if (auto slash = first.rfind('/'); slash != std::string_view::npos) first.remove_prefix(slash + 1);
  if (std::find(std::begin(kInterpreters), std::end(kInterpreters), first) == std::end(kInterpreters)) {
    return std::nullopt;
  }
  static const RE2 kUsage(
      R"re((?i)(?:no such (?:option|command)|unknown (?:option|flag|command|shorthand flag)|unrecognized (?:option|arguments?)|invalid (?:option|choice)|flag provided but not defined|is not a \w+ command|unexpected (?:argument|extra argument)))re");
  for (const EvidenceText& t : texts) {
    if (t.source != TextSource::kLogs && t.source != TextSource::kStatus) continue;
    if (!RE2::PartialMatch(t.text, kUsage)) continue;
    const std::string base = container_path(ev.pod, c);
    Hypothesis h;
    h.rule_id = "analyzer.entrypoint";
    h.category = "entrypoint_override";
    h.title = "args: were appended to the image's ENTRYPOINT instead of replacing it";
    h.confidence = 0.82;
    h.summary = "args: " + quote_list(c.args) + " went to the image's ENTRYPOINT, which rejects \"" +
                std::string(first) + "\" as an argument";
    h.evidence.push_back({evidence_source(t.source), t.field(), clip(t.excerpt())});
    h.evidence.push_back({EvidenceSource::kSpec, base + ".args", "args: " + quote_list(c.args)});
    h.explanation =
        "`args:` (Compose's `command:`) replaces only the image's CMD; the image's ENTRYPOINT still runs, with "
        "these arguments appended. They start with \"" +
        std::string(first) +
        "\", a program of its own, so the ENTRYPOINT's program receives a whole command line it does not "
        "understand and exits with its usage error.";
    h.remediation =
        "Replace the ENTRYPOINT too, so the command runs as written:\n\n  # before\n  args: " + quote_list(c.args) +
        "\n\n  # after\n  command: " + quote_list(c.args) +
        "\n\n(Compose: `entrypoint:` instead of, or together with, `command:`.) Check the image's "
        "ENTRYPOINT with `docker inspect --format '{{json .Config.Entrypoint}}' " +
        c.image + "`.";
    return Candidate{std::move(h), {"unknown", "app_panic_or_exception"}};
  }
  return std::nullopt;
}

}  // namespace

namespace {

// A `command:` whose first element no runtime can execute, whether or not the runtime's words
// are in the evidence (a report that shows only the spec; Events expired after an hour): runc
// execs command[0] as a file name without word splitting (libcontainer/standard_init_linux.go,
// exec.LookPath then unix.Exec), so a flag ("--cpu") or a whole command line in one element
// ("bundle exec unicorn -c ...") is looked up as a program that cannot exist. That is certain
// from the spec alone, unlike most spec findings, which describe healthy pods as well.
std::vector<Candidate> command_that_cannot_start(const Evidence& ev) {
  const Container& c = ev.target();
  if (c.command.empty()) return {};
  const std::string& first = c.command[0];
  const bool flag = looks_like_flag(first);
  const bool line = !flag && first.find_first_of(" \t\n") != std::string::npos;
  if (!flag && !line) return {};
  // Such a container never starts, so it has no log. Log lines that do not quote the name the
  // runtime could not exec are the program's own output: it started, and this spec is not the one
  // that ran (a Compose `command:`, which replaces CMD, not ENTRYPOINT, copied as one; an older
  // revision). Saying it "fails before it starts" would contradict the evidence. The runtime
  // quotes the name (runc `exec: "X"`, Go's strconv.Quote, so a newline in it prints as \n;
  // crun `executable file `X``), so the name's first line after a quote is what counts; kubectl's
  // own words about a log it could not show are not the program's.
  const std::string needle = first.substr(0, first.find('\n'));
  const auto program_output = [&](const std::string& l) {
    return l.find("is waiting to start") == std::string::npos &&
           l.find("previous terminated container") == std::string::npos &&
           l.find("unable to retrieve container logs") == std::string::npos &&
           l.rfind("Error from server", 0) == std::string::npos;
  };
  const auto quotes_name = [&](const std::string& l) {
    return l.find('"' + needle) != std::string::npos || l.find('`' + needle) != std::string::npos ||
           l.find('\'' + needle) != std::string::npos;
  };
  const bool ran = std::any_of(ev.logs.lines.begin(), ev.logs.lines.end(), program_output) &&
                   std::none_of(ev.logs.lines.begin(), ev.logs.lines.end(), quotes_name);
  if (ran) return {};
  const std::string base = container_path(ev.pod, c);
  Hypothesis h;
  h.rule_id = "analyzer.entrypoint";
  h.category = "entrypoint_override";
  h.evidence.push_back({EvidenceSource::kSpec, base + ".command", "command: " + yaml_list(c.command)});
  if (!c.args.empty()) h.evidence.push_back({EvidenceSource::kSpec, base + ".args", "args: " + yaml_list(c.args)});
  std::vector<std::string> after;
  if (flag) {
    h.title = "command: replaces the image ENTRYPOINT with its flags";
    h.confidence = 0.9;
    h.summary = "command: " + yaml_list(c.command) + " makes the flag \"" + first +
                "\" the program; it belongs in args: of the image's ENTRYPOINT";
    h.explanation =
        "In a pod spec `command:` replaces the image's ENTRYPOINT, and its first element is executed as the "
        "program. \"" +
        first +
        "\" is a flag, not a program: the runtime cannot find it, so the container fails before it "
        "starts and has no logs. The flags were meant for the image's own program.";
    after = c.command;
    after.insert(after.end(), c.args.begin(), c.args.end());
    h.remediation =
        "Pass the flags to the image's ENTRYPOINT as arguments:\n\n  # before\n  command: " + yaml_list(c.command) +
        "\n\n  # after\n  args: " + yaml_list(after) +
        "\n\nCheck the image's ENTRYPOINT with `docker inspect --format '{{json .Config.Entrypoint}}' " + c.image +
        "`.";
  } else {
    h.title = "A whole command line is one element of command:";
    h.confidence = 0.8;
    h.summary =
        "command: " + yaml_list(c.command) + " names one program \"" + first + "\"; exec form does not split words";
    h.explanation =
        "The runtime executes the first element of `command:` as a file name, without a shell and "
        "without splitting it into words, so it looks for a program literally named \"" +
        first + "\", which does not exist; the container fails before it starts.";
    std::string word;
    for (char ch : first) {
      if (ch == ' ' || ch == '\t' || ch == '\n') {
        if (!word.empty()) after.push_back(word);
        word.clear();
      } else {
        word += ch;
      }
    }
    if (!word.empty()) after.push_back(word);
    after.insert(after.end(), c.command.begin() + 1, c.command.end());
    std::vector<std::string> rest(after.begin() + 1, after.end());
    rest.insert(rest.end(), c.args.begin(), c.args.end());
    h.remediation =
        "Give each word its own element:\n\n  command: " + yaml_list(std::vector<std::string>{after.front()}) +
        "\n  args: " + yaml_list(rest) + "\n\nor run it through a shell on purpose: command: [\"sh\", \"-c\", \"" +
        first + "\"].";
  }
  return {Candidate{std::move(h), {"missing_executable_or_file", "unknown"}}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Entrypoint override.
//
// In Kubernetes `command` replaces the image ENTRYPOINT and `args` replaces CMD
// (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/
// #notes). runc then reports `exec: "X": executable file not found in $PATH` in the
// StartError termination message, the RunContainerError waiting message and the kubelet
// `Failed` event; a container that never started has no logs at all.
std::vector<Candidate> analyze_entrypoint(const Evidence& ev, const EvidenceTexts& texts) {
  static const RE2 kNotFound(
      R"re(exec: \\?"(?P<exe>[^"\\]*)\\?": (?:executable file not found in \$PATH|stat [^:]*: no such file or directory))re");
  static const RE2 kNotFoundCrun(R"re(executable file `(?P<exe>[^`]*)` not found)re");
  const Container& c = ev.target();
  if (auto appended = args_appended_to_entrypoint(ev, texts)) return {std::move(*appended)};
  std::string exe;
  std::optional<EvidenceText> where;
  for (const EvidenceText& t : texts) {
    // The runtime's words: status messages and the kubelet's Failed events. A probe's output
    // naming a missing program is about the probe (analyze_exit_137), the log about the app.
    if (t.source != TextSource::kStatus && t.source != TextSource::kEvents) continue;
    // containerd's "failed to start shim: exec: \"containerd-shim\": executable file not found"
    // is the node's runtime missing its own binary (runtime/v2/shim: the shim is exec'd from the
    // node's PATH), not the container's command.
    if (t.text.find("failed to start shim") != std::string_view::npos) continue;
    std::string x;
    if (RE2::PartialMatch(t.text, kNotFound, &x) || RE2::PartialMatch(t.text, kNotFoundCrun, &x)) {
      exe = x;
      where = t;
      break;
    }
  }
  if (!where) return command_that_cannot_start(ev);
  const std::string base = container_path(ev.pod, c);
  Hypothesis h;
  h.rule_id = "analyzer.entrypoint";
  h.evidence.push_back({evidence_source(where->source), where->field(), clip(where->excerpt())});
  const std::vector<Event>& container_events = texts.events();
  if (const Event* failed = find_event(container_events, "Failed", exe);
      failed != nullptr && where->source != TextSource::kEvents) {
    h.evidence.push_back({EvidenceSource::kEvents, "events[Failed]", short_event_excerpt(*failed)});
  }
  // A program everyone knows by name is not a subcommand: when it is missing, the image lacks it
  // (a distroless or scratch image has no shell), whatever command: says.
  static constexpr std::string_view kKnownPrograms[] = {
      "sh",    "bash",        "ash",          "dash",      "zsh",    "python",  "python3",  "node",
      "java",  "ruby",        "perl",         "php",       "curl",   "wget",    "nc",       "pidof",
      "ps",    "sleep",       "tini",         "dumb-init", "gosu",   "su-exec", "env",      "cat",
      "echo",  "dotnet",      "npm",          "yarn",      "pip",    "uwsgi",   "gunicorn", "nginx",
      "httpd", "supervisord", "redis-server", "postgres",  "mysqld", "mongod"};
  const bool known_program = std::find(std::begin(kKnownPrograms), std::end(kKnownPrograms), std::string_view(exe)) !=
                             std::end(kKnownPrograms);
  // A path is a program named on purpose, not an argument meant for the launcher: when command:
  // names one the image lacks (a binary that moved between image versions, "./start.sh" outside
  // the working directory), the image is missing it there. A path with spaces in it is a whole
  // command line, which stays an override; so does a flag ("--config=/x.yaml").
  const bool absolute_program = !exe.empty() && exe[0] == '/' && exe.find(' ') == std::string::npos;
  const bool path_program =
      absolute_program || (!exe.empty() && !looks_like_flag(exe) && exe.find('/') != std::string::npos &&
                           exe.find_first_of(" \t") == std::string::npos);
  // So is a shell script's name ("sidekiq-entrypoint.sh", "docker-entrypoint"): it is run, not
  // passed to a launcher. When command: names one the runtime cannot find, the image lacks it,
  // has it outside $PATH (runc looks a name without a slash up in $PATH only, never in the
  // working directory), or has it without its execute bit: exec.LookPath skips a file that is
  // not executable and reports it "not found in $PATH" all the same (os/exec/lp_unix.go).
  const bool script_like = shell_script_name(exe);
  const bool command_runs_exe =
      !known_program && !path_program && !script_like && !c.command.empty() && (c.command[0] == exe);
  const bool args_run_exe = c.command.empty() && !c.args.empty() && c.args[0] == exe;
  const std::string kind = looks_like_flag(exe)         ? "a flag"
                           : looks_like_subcommand(exe) ? "a subcommand or argument"
                                                        : "an argument";
  if (command_runs_exe) {
    h.category = "entrypoint_override";
    h.title = "command: replaces the image ENTRYPOINT";
    h.confidence = looks_like_flag(exe) || looks_like_subcommand(exe) ? 0.96 : 0.9;
    h.summary =
        "command: " + yaml_list(c.command) + " replaced the image ENTRYPOINT; \"" + exe + "\" is not an executable";
    h.evidence.push_back({EvidenceSource::kSpec, base + ".command", "command: " + yaml_list(c.command)});
    if (!c.args.empty()) h.evidence.push_back({EvidenceSource::kSpec, base + ".args", "args: " + yaml_list(c.args)});
    h.explanation =
        "The runtime tried to execute \"" + exe + "\" as the container's program and found no such file in $PATH. " +
        "In a pod spec, `command:` replaces the image's ENTRYPOINT (and `args:` replaces its CMD), so the image's "
        "own " +
        "launcher never runs. \"" + exe + "\" looks like " + kind +
        " meant for that launcher, not a program of its own. The container fails before it starts, which is why " +
        "there are no logs: the evidence is the termination message and the kubelet's Failed event.";
    std::vector<std::string> new_args = c.command;
    new_args.insert(new_args.end(), c.args.begin(), c.args.end());
    h.remediation =
        "Pass it to the image's ENTRYPOINT as arguments instead of replacing the ENTRYPOINT:\n\n"
        "  # before\n  command: " +
        yaml_list(c.command) + "\n" + (c.args.empty() ? std::string() : "  args: " + yaml_list(c.args) + "\n") +
        "\n  # after\n  args: " + yaml_list(new_args) + "\n\n" +
        "Check the image's ENTRYPOINT with `docker inspect --format '{{json .Config.Entrypoint}}' " + c.image +
        "` (or `crane config`). Use `command:` only to run a different program, with its full path.";
    return {Candidate{std::move(h), {"missing_executable_or_file", "init_container_failure", "unknown"}}};
  }
  if ((args_run_exe && !known_program && (looks_like_flag(exe) || looks_like_subcommand(exe))) ||
      (c.command.empty() && looks_like_flag(exe))) {
    // No program is ever named "-c" or "--cfg-dir": a flag executed as the program means the
    // command line lost its program, whatever the spec we can see.
    // The image has no ENTRYPOINT (only CMD), so args[0] is executed.
    h.category = "entrypoint_override";
    h.title = "args: replaced the image CMD and the image has no ENTRYPOINT";
    h.confidence = 0.85;
    h.summary =
        "args: " + yaml_list(c.args) + " replaced the image CMD; with no ENTRYPOINT \"" + exe + "\" is executed";
    h.evidence.push_back({EvidenceSource::kSpec, base + ".args", "args: " + yaml_list(c.args)});
    h.explanation = "The runtime tried to execute \"" + exe +
                    "\", the first element of `args:`. `args:` replaces the image's CMD; " +
                    "when the image defines no ENTRYPOINT, the first argument becomes the program. \"" + exe +
                    "\" looks like " + kind +
                    ", so the program that should receive it (the image's CMD) is missing from the command line.";
    h.remediation =
        "Name the program explicitly with `command:` and keep the arguments in `args:`:\n\n"
        "  # before\n  args: " +
        yaml_list(c.args) + "\n\n  # after\n  command: [\"<the image's program>\"]\n  args: " + yaml_list(c.args) +
        "\n\nFind the program with `docker inspect --format '{{json .Config.Cmd}}' " + c.image + "`.";
    return {Candidate{std::move(h), {"missing_executable_or_file", "init_container_failure", "unknown"}}};
  }
  h.category = "missing_executable_or_file";
  h.title = script_like ? "The script to run was not found in $PATH" : "The program to run does not exist in the image";
  // A well-known program missing from an image is odd enough (a distroless image, a runtime that
  // lost PATH) that the finding stays below confident.
  // An entrypoint script looked up in $PATH that is "not found" is as often there without its
  // execute bit (exec.LookPath skips it) as missing: the runtime cannot tell them apart.
  // A bare lowercase word ("server", "worker") with no command: set is as often an argument
  // that became the program (`docker run IMAGE server` on an image without ENTRYPOINT, a command
  // set where the spec we were given does not show it) as a binary missing from the image: stay
  // below the rule that names the subcommand reading (subcommand-executed-as-program, 0.7).
  const bool bare_word = c.command.empty() && c.args.empty() && looks_like_subcommand(exe);
  h.confidence = known_program ? 0.65 : (script_like ? 0.6 : (bare_word ? 0.66 : 0.88));
  h.summary = script_like ? "\"" + exe + "\" was not found in $PATH in image " + c.image
                          : "\"" + exe + "\" does not exist in image " + c.image;
  if (!c.command.empty()) {
    h.evidence.push_back({EvidenceSource::kSpec, base + ".command", "command: " + yaml_list(c.command)});
  } else {
    h.evidence.push_back({EvidenceSource::kSpec, base + ".image",
                          "image: " + c.image + " (command not set: the image ENTRYPOINT/CMD runs)"});
  }
  const std::string named_by = c.command.empty()
                                   ? "the image's own ENTRYPOINT/CMD (the pod does not override `command:`)"
                                   : "the pod's `command:`";
  if (script_like) {
    // The runtime's words say only that the $PATH lookup failed: three readings, none preferred.
    h.explanation = "The runtime could not find \"" + exe + "\", named by " + named_by +
                    ". A name without a slash is looked up in $PATH only, not in the working directory, and the "
                    "lookup skips a file without its execute bit: the script is missing from the image, sits outside "
                    "$PATH (run it as ./" +
                    exe + " or by its full path), or is there without its execute bit.";
    h.remediation = "Check what the image contains: `docker run --rm --entrypoint sh " + c.image + " -c 'command -v " +
                    exe +
                    "; echo $PATH'`. Copy the script into a directory on $PATH (or name it by its full path) and "
                    "make it executable (`RUN chmod +x`, or `COPY --chmod=755`).";
    return {Candidate{std::move(h), {"init_container_failure", "unknown"}}};
  }
  h.explanation =
      "The runtime could not find \"" + exe + "\". " +
      (c.command.empty()
           ? std::string("The pod does not override `command:`, so this is the image's own ENTRYPOINT/CMD: the "
                         "binary is missing from the image (wrong image or tag, a failed build stage, or a "
                         "script with Windows line endings whose interpreter \"/bin/sh\\r\" does not exist).")
           : std::string("It is named by the pod's `command:`; the image does not contain it (a distroless or "
                         "scratch image has no shell, and PATH may differ from your workstation's)."));
  h.remediation = "Check what the image contains: `docker run --rm --entrypoint ls " + c.image +
                  " -l <dir>` or `crane export`. Use the binary's full path, fix the image build (COPY the binary, "
                  "convert scripts with `dos2unix`), or pick an image that has the tool.";
  return {Candidate{std::move(h), {"init_container_failure", "unknown"}}};
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL data directory.
//
// The official image (docker-library/postgres) declares `VOLUME /var/lib/postgresql/data` and
// PGDATA=/var/lib/postgresql/data up to 17; from 18 it declares `VOLUME /var/lib/postgresql` and
// PGDATA=/var/lib/postgresql/18/docker. containerd's CRI plugin honours image VOLUMEs by
// mounting a fresh per-container directory there (ignore_image_defined_volumes=false is the
// default), so a volume mounted at the *parent* of such a VOLUME is masked by it: initdb runs
// on the empty anonymous directory every time the container is recreated and the real data on
// the PVC is hidden. The Bitnami image uses /bitnami/postgresql(/data).
std::optional<PgLayout> postgres_layout(const Container& c) {
  PgLayout layout;
  const std::string repo = image_repository(c.image);
  if (repo.find("bitnami/postgresql") != std::string::npos) {
    layout.pgdata = "/bitnami/postgresql/data";
    layout.image_volume = "";
  } else {
    int major = 0;
    const std::string tag = image_tag(c.image);
    for (char ch : tag) {
      if (ch < '0' || ch > '9') break;
      major = major * 10 + (ch - '0');
    }
    if (major >= 18) {
      layout.pgdata = "/var/lib/postgresql/" + std::to_string(major) + "/docker";
      layout.image_volume = "/var/lib/postgresql";
    } else {
      layout.pgdata = "/var/lib/postgresql/data";
      layout.image_volume = "/var/lib/postgresql/data";
    }
  }
  layout.pgdata_origin = "the image default";
  if (const EnvVar* env = c.find_env("PGDATA")) {
    if (!env->value) return std::nullopt;  // from a Secret/ConfigMap: unknown here
    layout.pgdata = *env->value;
    layout.pgdata_origin = "env PGDATA";
  }
  return layout;
}

std::vector<Candidate> analyze_postgres_data_dir(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();

  // /var/lib/postgresql is the official image's home; a mount there marks a PostgreSQL
  // container even when the image name does not (private mirrors, custom builds).
  const bool pg_mount = std::any_of(c.mounts.begin(), c.mounts.end(), [](const VolumeMount& m) {
    return path_is_within(m.mount_path, "/var/lib/postgresql");
  });
  if (!image_in_family(c.image, "postgres") && c.find_env("PGDATA") == nullptr && !pg_mount) return {};
  auto layout = postgres_layout(c);
  if (!layout) return {};
  const std::string base = container_path(ev.pod, c);
  const std::string pgdata = normalize_path(layout->pgdata);
  std::vector<Candidate> out;

  // Log signals.
  static const RE2 kNotEmpty(R"re(initdb: (?:error: )?directory "(?P<dir>[^"]+)" exists but is not empty)re");
  static const RE2 kLostFound(R"re(lost\+found)re");
  static const RE2 kFreshInit(
      R"re(PostgreSQL init process complete|creating subdirectories \.\.\.|The files belonging to this database system will be owned)re");
  static const RE2 kUnusedMount(R"re(\(unused mount/volume\))re");
  // Symptoms of a cluster that lost what was created in it: the roles and databases are gone.
  // (role "root" is a client connecting as its OS user, usually a probe: not lost data.)
  static const RE2 kDataMissing(R"re((?:role|database) "([^"]+)" does not exist)re");
  bool data_missing = false;
  bool probe_own_error = false;  // a probe failing on a login error, not on a slow start
  for (const EvidenceText& t : texts) {
    if (t.source == TextSource::kProbe &&
        (t.text.find("FATAL") != std::string::npos || t.text.find("does not exist") != std::string::npos)) {
      probe_own_error = true;
    }
    std::string name;
    if ((t.source == TextSource::kLogs || t.source == TextSource::kProbe) &&
        RE2::PartialMatch(t.text, kDataMissing, &name) && name != "root") {
      data_missing = true;
    }
  }
  std::optional<std::pair<std::size_t, std::string>> not_empty;
  std::optional<std::size_t> lost_found;
  std::optional<std::size_t> fresh_init;
  std::optional<std::size_t> unused_mount;
  const auto& lines = ev.logs.lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string dir;
    if (RE2::PartialMatch(lines[i], kNotEmpty, &dir)) not_empty = {i, dir};
    if (RE2::PartialMatch(lines[i], kLostFound)) lost_found = i;
    if (!fresh_init && RE2::PartialMatch(lines[i], kFreshInit)) fresh_init = i;
    if (RE2::PartialMatch(lines[i], kUnusedMount)) unused_mount = i;
  }

  // Deepest mount covering PGDATA.
  const VolumeMount* covering = nullptr;
  std::size_t covering_index = 0;
  for (std::size_t i = 0; i < c.mounts.size(); ++i) {
    if (path_is_within(pgdata, c.mounts[i].mount_path) &&
        (covering == nullptr ||
         normalize_path(c.mounts[i].mount_path).size() > normalize_path(covering->mount_path).size())) {
      covering = &c.mounts[i];
      covering_index = i;
    }
  }
  auto mount_item = [&](const VolumeMount& m, std::size_t i) {
    std::string vol =
        m.volume ? std::string(m.volume->kind == VolumeKind::kPvc ? "PVC " + m.volume->source : "volume " + m.name)
                 : "volume " + m.name;
    return EvidenceItem{
        EvidenceSource::kSpec, base + ".volumeMounts[" + std::to_string(i) + "]",
        "mountPath: " + m.mount_path + (m.sub_path.empty() ? "" : ", subPath: " + m.sub_path) + " (" + vol + ")"};
  };
  EvidenceItem pgdata_item{
      EvidenceSource::kSpec, layout->pgdata_origin == "env PGDATA" ? base + ".env[PGDATA]" : base + ".image",
      layout->pgdata_origin != "env PGDATA"              ? "PGDATA defaults to " + layout->pgdata + " in " + c.image
      : is_env_value_printable("PGDATA", layout->pgdata) ? "PGDATA=" + layout->pgdata
                                                         : std::string("PGDATA is set (value not shown)")};

  // The runtime could not mount the volume at the data directory: from PostgreSQL 18 the official
  // image makes /var/lib/postgresql/data a symlink into /var/lib/postgresql/18/docker, and runc
  // refuses to mount through it ("error mounting ... to rootfs at "/var/lib/postgresql/data"").
  static const RE2 kMountError(R"re(error mounting "[^"]*" to rootfs at "(?P<dst>/var/lib/postgresql[^"]*)")re");
  for (const EvidenceText& t : texts) {
    std::string dst;
    if ((t.source != TextSource::kStatus && t.source != TextSource::kEvents) ||
        !RE2::PartialMatch(t.text, kMountError, &dst)) {
      continue;
    }
    Hypothesis h;
    h.rule_id = "analyzer.postgres-data-dir";
    h.category = "pg_volume_mount_path";
    h.title = "The runtime cannot mount the volume at the PostgreSQL data path";
    h.confidence = 0.88;
    h.summary = "the volume cannot be mounted at " + dst + ": the image's data layout does not match the mount";
    h.evidence.push_back({evidence_source(t.source), t.field(), clip(t.excerpt())});
    for (std::size_t i = 0; i < c.mounts.size(); ++i) {
      if (path_is_within(c.mounts[i].mount_path, "/var/lib/postgresql")) {
        h.evidence.push_back({EvidenceSource::kSpec, base + ".volumeMounts[" + std::to_string(i) + "]",
                              "mountPath: " + c.mounts[i].mount_path});
      }
    }
    h.explanation =
        "The container never starts: the runtime failed to mount the volume at " + dst +
        ". From PostgreSQL 18 the official image keeps its data in /var/lib/postgresql/<major>/docker and "
        "declares VOLUME /var/lib/postgresql, with /var/lib/postgresql/data no longer a plain directory, so a "
        "volume mounted at the old path does not fit the image's layout (and older data there would be "
        "ignored).";
    h.remediation =
        "For PostgreSQL 18+ mount the volume at /var/lib/postgresql (the parent), and upgrade existing data with "
        "pg_upgrade; or pin the image to the major version that wrote the data (postgres:17).";
    out.push_back(Candidate{std::move(h), {"unknown", "missing_config_or_secret", "init_container_failure"}});
    return out;
  }

  if (not_empty) {
    Hypothesis h;
    h.rule_id = "analyzer.postgres-data-dir";
    h.category = "pg_data_dir_not_empty";
    h.title = "initdb refuses a data directory that is a volume root";
    const bool mount_at_dir = covering != nullptr &&
                              normalize_path(covering->mount_path) == normalize_path(not_empty->second) &&
                              covering->sub_path.empty();
    h.confidence = mount_at_dir || lost_found ? 0.95 : 0.85;
    h.summary = "initdb: " + not_empty->second + " is not empty" +
                (mount_at_dir ? " because a volume is mounted exactly there" : "") +
                (lost_found ? " (lost+found)" : "");
    h.evidence.push_back(
        {EvidenceSource::kLogs, "logs[" + std::to_string(not_empty->first) + "]", clip(lines[not_empty->first])});
    if (lost_found && *lost_found != not_empty->first) {
      h.evidence.push_back(
          {EvidenceSource::kLogs, "logs[" + std::to_string(*lost_found) + "]", clip(lines[*lost_found])});
    }
    if (covering != nullptr) h.evidence.push_back(mount_item(*covering, covering_index));
    h.evidence.push_back(pgdata_item);
    h.explanation =
        "initdb only initialises an empty directory. " +
        std::string(mount_at_dir ? "The volume is mounted exactly at the data directory, and the root of a freshly "
                                   "formatted ext4/xfs volume contains `lost+found`, so it is never empty. "
                                 : "The directory already holds files (often `lost+found` at a volume root, or a "
                                   "previous, partial cluster). ") +
        "PostgreSQL documents that a mount point should not be used directly as the data directory.";
    h.remediation = "Put the cluster in a subdirectory of the volume:\n\n  env:\n  - name: PGDATA\n    value: " +
                    normalize_path(not_empty->second) +
                    "/pgdata\n\nor mount with `subPath: pgdata`. If the directory holds a "
                    "half-initialised cluster from an earlier attempt, empty it first.";
    out.push_back(Candidate{std::move(h), {"init_container_failure", "unknown", "volume_permission"}});
    return out;
  }

  if (unused_mount) {
    Hypothesis h;
    h.rule_id = "analyzer.postgres-data-dir";
    h.category = "pg_volume_mount_path";
    h.title = "PostgreSQL 18+ finds data in an unused mount";
    h.confidence = 0.93;
    h.summary =
        "postgres 18+ keeps data under /var/lib/postgresql/<major>/docker; the volume is mounted at the old path";
    h.evidence.push_back(
        {EvidenceSource::kLogs, "logs[" + std::to_string(*unused_mount) + "]", clip(lines[*unused_mount])});
    for (std::size_t i = 0; i < c.mounts.size(); ++i) {
      if (normalize_path(c.mounts[i].mount_path) == "/var/lib/postgresql/data")
        h.evidence.push_back(mount_item(c.mounts[i], i));
    }
    h.explanation =
        "From PostgreSQL 18 the official image stores the cluster in a major-version directory "
        "(PGDATA=/var/lib/postgresql/18/docker) and declares VOLUME /var/lib/postgresql. Its entrypoint refuses to "
        "start when it finds a cluster at the old /var/lib/postgresql/data mount, to avoid silently ignoring it.";
    h.remediation =
        "Mount the volume at /var/lib/postgresql (the parent) for 18+, and upgrade existing data with pg_upgrade "
        "(or pin the image to the major version that wrote it, e.g. postgres:17).";
    out.push_back(Candidate{std::move(h), {"unknown", "init_container_failure"}});
    return out;
  }

  // An init container running a postgres image is usually a client (psql, pg_dump, pg_isready):
  // where its data directory is mounted says nothing about why it fails. (What its log or the
  // runtime says about a data directory, above, still counts.)
  if (c.init) return out;

  if (covering == nullptr) {
    bool any_volume = std::any_of(c.mounts.begin(), c.mounts.end(), [](const VolumeMount& m) {
      return m.volume && (m.volume->kind == VolumeKind::kPvc || m.volume->kind == VolumeKind::kHostPath ||
                          m.volume->kind == VolumeKind::kEmptyDir);
    });
    Hypothesis h;
    h.rule_id = "analyzer.postgres-data-dir";
    h.category = "pg_volume_mount_path";
    h.title = "PGDATA is outside every mounted volume";
    const bool reinitialised = fresh_init && c.status && c.status->restart_count > 0;
    h.confidence = reinitialised ? 0.82 : 0.6;
    h.summary = "PGDATA " + layout->pgdata + " is on no mounted volume: data is not persisted and is re-initialised";
    h.evidence.push_back(pgdata_item);
    for (std::size_t i = 0; i < c.mounts.size(); ++i) {
      if (c.mounts[i].volume && c.mounts[i].volume->kind != VolumeKind::kProjected &&
          c.mounts[i].volume->kind != VolumeKind::kSecret && c.mounts[i].volume->kind != VolumeKind::kConfigMap) {
        h.evidence.push_back(mount_item(c.mounts[i], i));
      }
    }
    if (fresh_init)
      h.evidence.push_back(
          {EvidenceSource::kLogs, "logs[" + std::to_string(*fresh_init) + "]", clip(lines[*fresh_init])});
    h.explanation =
        "The database cluster lives in PGDATA (" + layout->pgdata + ", " + layout->pgdata_origin + "), but no volume " +
        "is mounted there or above it" +
        (any_volume ? ", so the volume the pod mounts is never used by PostgreSQL" : "") +
        ". Every new container starts with an empty data directory, runs initdb again, and whatever was written " +
        "before is gone.";
    h.remediation = "Mount the data volume at PGDATA (" + layout->pgdata +
                    "), or set PGDATA to a subdirectory of the mounted volume (e.g. <mountPath>/pgdata).";
    // Without initdb running again after a restart, nothing says this is why the container fails
    // now: the log may show another error entirely. Report it, do not rank it.
    Candidate candidate{std::move(h), {}};
    candidate.observation = !reinitialised && !data_missing;
    if (!candidate.observation) candidate.supersedes.emplace_back("unknown");
    out.push_back(std::move(candidate));
    return out;
  }

  const std::string mount = normalize_path(covering->mount_path);
  const std::string vol = layout->image_volume.empty() ? "" : normalize_path(layout->image_volume);
  if (!vol.empty() && mount != pgdata && path_is_within(vol, mount) && vol != mount && path_is_within(pgdata, vol)) {
    Hypothesis h;
    h.rule_id = "analyzer.postgres-data-dir";
    h.category = "pg_volume_mount_path";
    h.title = "The volume is mounted at the parent of PGDATA and the image's VOLUME masks it";
    // initdb running in a container that has restarted proves the data directory did not
    // survive the restart: the mount layout is then the cause, and probe kills during the
    // (slow) re-initialisation are its consequence.
    const bool restarted = c.status && c.status->restart_count > 0;
    h.confidence = fresh_init ? (restarted ? 0.97 : 0.9) : 0.85;
    h.summary = "volume mounted at " + covering->mount_path + ", the parent of PGDATA " + layout->pgdata +
                ": the image's VOLUME hides the data";
    h.evidence.push_back(mount_item(*covering, covering_index));
    h.evidence.push_back(pgdata_item);
    if (fresh_init)
      h.evidence.push_back(
          {EvidenceSource::kLogs, "logs[" + std::to_string(*fresh_init) + "]", clip(lines[*fresh_init])});
    h.explanation =
        "The image " + c.image + " declares VOLUME " + layout->image_volume + " and keeps its cluster in PGDATA (" +
        layout->pgdata + "). The pod mounts its volume one level up, at " + covering->mount_path +
        ". The container runtime (containerd, by default) mounts a fresh anonymous directory at the image's " +
        "declared VOLUME on top of it, so PostgreSQL sees an empty data directory: it re-initialises on every " +
        "new container, the real cluster on the volume stays hidden, and configured roles and databases seem to " +
        "vanish (clients then fail with errors such as role \"...\" does not exist)." +
        (fresh_init && restarted
             ? " The previous container's log shows initdb running again after " +
                   std::to_string(c.status->restart_count) + " restarts: the data directory did not persist." +
                   (probe_own_error ? " The restarts themselves come from a probe failing on its own error (quoted "
                                      "in the probe hypothesis); this mount is why nothing survives them."
                                    : " Probe failures during that slow re-initialisation are a consequence, not "
                                      "the cause.")
             : std::string());
    h.remediation =
        "Mount the volume at the data directory itself:\n\n  # before\n  volumeMounts:\n  - name: " + covering->name +
        "\n    mountPath: " + covering->mount_path + "\n\n  # after\n  volumeMounts:\n  - name: " + covering->name +
        "\n    mountPath: " + layout->image_volume +
        "\n\nIf the volume already holds a cluster one level down (…/data/data), move or dump and restore it "
        "(pg_dumpall --globals-only; pg_dump -Fc) before switching. For a fresh volume with lost+found, also set "
        "PGDATA to a subdirectory (" +
        layout->image_volume + "/pgdata).";
    Candidate candidate{std::move(h), {}};
    candidate.observation = !fresh_init && !data_missing;
    if (!candidate.observation) candidate.supersedes.emplace_back("unknown");
    out.push_back(std::move(candidate));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Probe-made errors.
//
// pg_isready and psql without -U connect as the OS user running them; exec probes run as the
// container's user (root in the official postgres image), so PostgreSQL logs
// `FATAL: role "root" does not exist` every probe period. Those lines are noise the probe
// makes, not the application failing. mysqladmin without -u/-p similarly logs
// `Access denied for user 'root'@'localhost' (using password: NO)`.
std::vector<Candidate> analyze_probe_made_errors(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  static const RE2 kRole(R"re(FATAL:\s+role "(?P<role>[^"]+)" does not exist)re");
  static const RE2 kMysqlDenied(R"re(Access denied for user '(?P<user>[^']*)'@'localhost' \(using password: NO\))re");
  const std::string base = container_path(ev.pod, c);
  std::vector<Candidate> out;

  struct ProbeRef {
    const char* name;
    const std::optional<Probe>* probe;
  };
  const ProbeRef probes[] = {
      {"livenessProbe", &c.liveness}, {"readinessProbe", &c.readiness}, {"startupProbe", &c.startup}};
  auto find_probe = [&](std::initializer_list<std::string_view> programs,
                        const std::vector<std::string>& flags) -> std::optional<std::pair<const char*, const Probe*>> {
    for (const auto& [name, probe] : probes) {
      if (!*probe || (*probe)->kind != ProbeKind::kExec) continue;
      for (auto program : programs) {
        if (probe_runs(**probe, program) && !probe_has_any_flag(**probe, flags)) return std::make_pair(name, &**probe);
      }
    }
    return std::nullopt;
  };

  std::size_t role_count = 0;
  std::size_t last_role_line = 0;
  std::string role;
  std::size_t denied_count = 0;
  std::size_t last_denied_line = 0;
  std::string user;
  // The probe's own output, when the kubelet recorded it (Unhealthy events): the probe saying
  // it was refused is the most direct evidence there is.
  std::optional<EvidenceText> probe_said;
  bool killed_by_probe = false;
  for (const EvidenceText& t : texts) {
    std::string r;
    if (t.source == TextSource::kProbe && RE2::PartialMatch(t.text, kRole, &r)) {
      probe_said = t;
      role = r;
    }
    if (t.event && t.event->reason == "Killing" &&
        (t.event->message.find("failed liveness probe") != std::string::npos ||
         t.event->message.find("failed startup probe") != std::string::npos)) {
      killed_by_probe = true;
    }
  }
  const auto& lines = ev.logs.lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string r;
    if (RE2::PartialMatch(lines[i], kRole, &r)) {
      ++role_count;
      last_role_line = i;
      role = r;
    }
    if (RE2::PartialMatch(lines[i], kMysqlDenied, &r)) {
      ++denied_count;
      last_denied_line = i;
      user = r;
    }
  }

  if (role_count > 0 || probe_said) {
    if (auto probe = find_probe({"pg_isready", "psql"}, {"-U", "--username", "-d", "--dbname"})) {
      const Probe& p = *probe->second;
      Hypothesis h;
      h.rule_id = "analyzer.probe-made-errors";
      h.category = "pg_role_missing";
      h.title = "The probe, not the application, connects as a role that does not exist";
      // From the log alone this is real but rarely why a container restarts (pg_isready reports
      // the server up even when the role is rejected). When the probe's own output is the
      // refusal and the kubelet killed the container for it, it is the cause of the restarts.
      const bool probe_killed = probe_said && killed_by_probe && std::string_view(probe->first) != "readinessProbe";
      h.confidence = probe_killed ? 0.95 : (probe_said ? 0.86 : (role == "root" ? 0.8 : 0.72));
      h.summary = std::string(probe->first) + " runs " + (probe_runs(p, "pg_isready") ? "pg_isready" : "psql") +
                  " without -U: " + (probe_killed ? "it fails with" : "it logs") + " role \"" + role +
                  "\" does not exist";
      if (probe_said) h.evidence.push_back({EvidenceSource::kEvents, probe_said->field(), clip(probe_said->excerpt())});
      if (role_count > 0) {
        h.evidence.push_back({EvidenceSource::kLogs, "logs[" + std::to_string(last_role_line) + "]",
                              clip(lines[last_role_line]) +
                                  (role_count > 1 ? "  (" + std::to_string(role_count) + " such lines)" : "")});
      }
      h.evidence.push_back({EvidenceSource::kSpec, base + "." + probe->first + ".exec.command",
                            std::string(probe->first) + ".exec.command: " + quote_list(p.exec_command) +
                                ", periodSeconds: " + std::to_string(p.period_seconds)});
      h.explanation =
          "Without -U, pg_isready and psql connect as the operating-system user that runs them. Exec probes run "
          "inside the container as its user (root in the official postgres image), so every " +
          std::to_string(p.period_seconds) + " s the probe asks for role \"" + role +
          "\", which does not exist, and PostgreSQL logs a FATAL line. These lines are made by the probe, not by "
          "the application, and they hide the real errors in the log." +
          std::string(probe_killed ? " Here the probe itself fails on it, so the kubelet kills and restarts a healthy "
                                     "database: the probe is the cause of the restarts."
                                   : "");
      h.remediation =
          "Give the probe the database user (the official image's POSTGRES_USER):\n\n  # before\n  exec:\n    "
          "command: " +
          quote_list(p.exec_command) +
          "\n\n  # after\n  exec:\n    command: [\"sh\", \"-c\", \"pg_isready -U \\\"$POSTGRES_USER\\\" -h 127.0.0.1 "
          "-p 5432\"]\n\n"
          "or use a user-agnostic tcpSocket probe on port 5432.";
      Candidate candidate{std::move(h), {"db_auth_failed"}};
      // The generic "killed after failed probes" is this finding's symptom.
      if (probe_killed) candidate.supersedes.emplace_back("liveness_probe_failure");
      out.push_back(std::move(candidate));
    }
  }
  if (denied_count > 0) {
    if (auto probe = find_probe({"mysqladmin", "mysql", "mariadb-admin"}, {"-u", "--user", "-p", "--password"})) {
      const Probe& p = *probe->second;
      Hypothesis h;
      h.rule_id = "analyzer.probe-made-errors";
      h.category = "db_auth_failed";
      h.title = "The probe, not the application, fails to log in to MySQL";
      h.confidence = 0.82;
      h.summary =
          std::string(probe->first) + " runs mysqladmin without -u/-p: it logs Access denied for '" + user + "'";
      h.evidence.push_back({EvidenceSource::kLogs, "logs[" + std::to_string(last_denied_line) + "]",
                            clip(lines[last_denied_line]) +
                                (denied_count > 1 ? "  (" + std::to_string(denied_count) + " such lines)" : "")});
      h.evidence.push_back({EvidenceSource::kSpec, base + "." + probe->first + ".exec.command",
                            std::string(probe->first) + ".exec.command: " + quote_list(p.exec_command)});
      h.explanation =
          "mysqladmin without -u and -p connects as the container's OS user with no password, so the server "
          "logs Access denied on every probe. The probe makes these lines; they do not mean the application's "
          "credentials are wrong.";
      h.remediation =
          "Use `mysqladmin ping -h 127.0.0.1 -u root -p\"$MYSQL_ROOT_PASSWORD\"` via `sh -c`, or a tcpSocket probe on "
          "3306.";
      out.push_back(Candidate{std::move(h), {}});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exit 137 / SIGKILL.
//
// 137 = 128 + SIGKILL. The kubelet reports reason OOMKilled when the runtime saw the cgroup's
// OOM killer fire; it kills containers that fail their liveness or startup probe with the
// `Killing` event "Container X failed liveness probe, will be restarted" (pkg/kubelet/
// kuberuntime/kuberuntime_manager.go), after which the exit is 137 (or 143 when the process
// honours SIGTERM within the grace period) and the reason is plain "Error".
std::vector<Candidate> analyze_exit_137(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  const Terminated* t = c.latest_termination();
  const std::string base = container_path(ev.pod, c);
  const std::string sbase =
      status_field(c) + (c.status && c.status->terminated ? ".state" : ".lastState") + ".terminated";
  std::vector<Candidate> out;
  const std::vector<Event>& events = texts.events();

  if (t != nullptr && t->reason == "OOMKilled") {
    Hypothesis h;
    h.rule_id = "analyzer.exit-137";
    h.category = "oom_killed";
    h.title = "The container exceeded its memory limit";
    h.confidence = 0.95;
    const std::string limit = c.resources.memory_limit;
    h.summary = "OOMKilled (exit " + std::to_string(t->exit_code) + ")" +
                (limit.empty() ? ": no memory limit set, the node or pod ran out of memory"
                               : " at the memory limit of " + limit);
    h.evidence.push_back(
        {EvidenceSource::kStatus, sbase, "reason: OOMKilled, exitCode: " + std::to_string(t->exit_code)});
    if (!limit.empty()) {
      h.evidence.push_back({EvidenceSource::kSpec, base + ".resources.limits.memory", "memory: " + limit});
    }
    // A JVM heap at or above the limit is the most common concrete cause.
    static const RE2 kXmx(R"re(-Xmx(\d+[kKmMgGtT]?))re");
    std::string heap_note;
    auto check_jvm = [&](const std::string& where, const std::string& text) {
      std::string size;
      if (!heap_note.empty() || !RE2::PartialMatch(text, kXmx, &size)) return;
      auto heap = parse_jvm_size(size);
      if (heap && c.resources.memory_limit_bytes && *heap >= *c.resources.memory_limit_bytes * 3 / 4) {
        heap_note = "The JVM heap alone (-Xmx" + size + ") is " +
                    (*heap >= *c.resources.memory_limit_bytes ? "at or above" : "close to") + " the " + limit +
                    " limit; metaspace, thread stacks and direct buffers come on top of the heap.";
        h.evidence.push_back({EvidenceSource::kSpec, where, "-Xmx" + size});
      }
    };
    for (const EnvVar& e : c.env) {
      if (e.value && (e.name == "JAVA_OPTS" || e.name == "JAVA_TOOL_OPTIONS" || e.name == "JDK_JAVA_OPTIONS" ||
                      e.name.find("JAVA") != std::string::npos || e.name.find("JVM") != std::string::npos)) {
        check_jvm(base + ".env[" + e.name + "]", *e.value);
      }
    }
    for (const std::string& a : c.args) check_jvm(base + ".args", a);
    for (const std::string& a : c.command) check_jvm(base + ".command", a);
    h.explanation =
        "The kernel's OOM killer stopped the container because its memory use reached the cgroup limit" +
        (limit.empty() ? std::string(" (no limit is set on the container, so the pod or node limit applied)")
                       : " of " + limit) +
        ". The kubelet records this as reason OOMKilled, exit code 137 (128 + SIGKILL). " + heap_note;
    h.remediation =
        limit.empty()
            ? "Set resources.requests.memory and resources.limits.memory from observed usage "
              "(`kubectl top pod`), and find what grows."
            : "Raise resources.limits.memory above the peak working set (`kubectl top pod`, the "
              "container_memory_working_set_bytes metric), or make the process use less: for the JVM size "
              "the heap relative to the limit with -XX:MaxRAMPercentage=75 instead of a fixed -Xmx; for Node.js "
              "set --max-old-space-size below the limit.";
    out.push_back(Candidate{std::move(h), {"liveness_probe_failure", "app_panic_or_exception", "unknown"}});
    return out;
  }

  const Event* killing = nullptr;
  for (const Event& e : events) {
    if (e.reason == "Killing" && (e.message.find("failed liveness probe") != std::string::npos ||
                                  e.message.find("failed startup probe") != std::string::npos)) {
      killing = &e;
    }
  }
  const Event* unhealthy = nullptr;
  std::optional<ProbeOutput> unhealthy_output;
  for (const Event& e : events) {
    auto out = probe_output(e);
    // A probe the event does not name is the liveness or startup probe when the spec has one.
    if (out && (out->probe == "Liveness" || out->probe == "Startup" ||
                (out->probe.empty() && (c.liveness.has_value() || c.startup.has_value())))) {
      unhealthy = &e;
      unhealthy_output = out;
    }
  }
  const bool killed_exit =
      t != nullptr && (t->exit_code == 137 || t->exit_code == 143 || t->signal == 9 || t->signal == 15);
  if (killing != nullptr || (unhealthy != nullptr && (killed_exit || t == nullptr))) {
    const bool startup = (killing != nullptr && killing->message.find("startup") != std::string::npos) ||
                         (killing == nullptr && unhealthy_output && unhealthy_output->probe == "Startup");
    const std::optional<Probe>& probe = startup ? c.startup : c.liveness;
    Hypothesis h;
    h.rule_id = "analyzer.exit-137";
    h.category = "liveness_probe_failure";
    h.title =
        std::string("The kubelet killed the container after failed ") + (startup ? "startup" : "liveness") + " probes";
    h.confidence = killing != nullptr && killed_exit ? 0.93 : (killing != nullptr ? 0.88 : 0.8);
    h.summary = std::string("killed by the kubelet after failing its ") + (startup ? "startup" : "liveness") +
                " probe" + (t != nullptr ? " (exit " + std::to_string(t->exit_code) + ", not OOMKilled)" : "");
    if (t != nullptr) {
      h.evidence.push_back(
          {EvidenceSource::kStatus, sbase,
           "exitCode: " + std::to_string(t->exit_code) + (t->reason.empty() ? "" : ", reason: " + t->reason)});
    }
    if (unhealthy != nullptr)
      h.evidence.push_back({EvidenceSource::kEvents, "events[Unhealthy]", short_event_excerpt(*unhealthy)});
    if (killing != nullptr)
      h.evidence.push_back({EvidenceSource::kEvents, "events[Killing]", short_event_excerpt(*killing)});
    std::string probe_text;
    if (probe) {
      probe_text = "initialDelaySeconds: " + std::to_string(probe->initial_delay_seconds) +
                   ", periodSeconds: " + std::to_string(probe->period_seconds) +
                   ", timeoutSeconds: " + std::to_string(probe->timeout_seconds) +
                   ", failureThreshold: " + std::to_string(probe->failure_threshold);
      h.evidence.push_back({EvidenceSource::kSpec, base + (startup ? ".startupProbe" : ".livenessProbe"), probe_text});
    }
    // The probe's own command missing from the image: the probe is broken, not the application.
    static const RE2 kProbeExecMissing(
        R"re(exec: \\?"(?P<exe>[^"\\]+)\\?": executable file not found|(?P<exe2>\S+): (?:command )?not found|(?:can't|cannot) execute|no such file or directory)re");
    std::string probe_exe;
    std::string probe_exe2;
    const bool probe_broken =
        unhealthy != nullptr && RE2::PartialMatch(unhealthy->message, kProbeExecMissing, &probe_exe, &probe_exe2);
    if (probe_exe.empty()) probe_exe = probe_exe2;
    if (probe_broken) {
      h.confidence = std::max(h.confidence, 0.9);
      h.summary = std::string("the ") + (startup ? "startup" : "liveness") + " probe cannot run" +
                  (probe_exe.empty() ? "" : " (\"" + probe_exe + "\" is not in the image)") +
                  ", so the kubelet keeps killing the container";
    }
    const bool refused = unhealthy != nullptr && unhealthy->message.find("connection refused") != std::string::npos;
    const bool timeout = unhealthy != nullptr && (unhealthy->message.find("Client.Timeout") != std::string::npos ||
                                                  unhealthy->message.find("timeout") != std::string::npos ||
                                                  unhealthy->message.find("deadline exceeded") != std::string::npos);
    // Say only what the exit code supports: 137 looks like an OOM kill and is not one; 0 or 143
    // is the process honouring the kubelet's stop signal.
    const std::string opening =
        t == nullptr ? std::string("The kubelet stopped the container because its ")
        : t->exit_code == 137 || t->signal == 9
            ? std::string(
                  "The exit code alone (137, SIGKILL) looks like an OOM kill, but the reason is not "
                  "OOMKilled: the kubelet stopped the container because its ")
            : "The container exited " + std::to_string(t->exit_code) +
                  (t->reason.empty() ? "" : " (" + t->reason + ")") +
                  " because the kubelet stopped it (a stop signal, then SIGKILL after the grace period) when its ";
    h.explanation =
        opening + (startup ? "startup" : "liveness") + " probe failed " +
        (probe ? std::to_string(probe->failure_threshold) : std::string("failureThreshold")) + " times in a row. " +
        (refused ? "The probe's connection was refused: nothing listened on the port yet (a slow start) or the "
                   "probe targets the wrong port. "
                 : "") +
        (timeout ? "The probe timed out: the endpoint is slow, or the probe's timeoutSeconds is too small. " : "") +
        (probe_broken ? "The probe's output says its own command cannot run in this image: it fails whatever the "
                        "application does. "
                      : "") +
        "Restarting does not help a slow start; it restarts the clock.";
    h.remediation =
        "Check that the probe's port and path are the ones the application serves. For slow starts add a "
        "startupProbe (e.g. failureThreshold: 30, periodSeconds: 10) so liveness checks begin only after start-up; "
        "raise timeoutSeconds if the endpoint is slow; keep liveness checks cheap and independent of downstream "
        "dependencies.";
    out.push_back(Candidate{std::move(h), {"oom_killed", "unknown", "db_connection_refused"}});
    return out;
  }

  // A probe is set but its Events are not in the evidence: the apiserver drops Events after
  // --event-ttl (one hour by default), so a crash loop older than that shows no Unhealthy or
  // Killing, and a report pasted from `kubectl logs` never shows them. A stop by the kubelet
  // (SIGTERM, then SIGKILL after the grace period: kuberuntime_container.go, killContainer) that
  // is not OOMKilled still points at the probe: a cause, below 0.7, ahead of the bare-137 guess
  // (0.5). With no exit at all it is only an observation, which the classifier ranks only when
  // no rule matched and no text reads as an error.
  const std::string waiting = c.status && c.status->waiting ? c.status->waiting->reason : "";
  // Never started, or not running now for a reason of its own: no probe ever ran against it.
  // Every failure waiting reason of the one definition (model/failure.hpp) but CrashLoopBackOff,
  // which is the back-off between runs; plus the image errors that list does not count as a
  // failure (pkg/kubelet/images/types.go) and the waits before a first start.
  const bool never_ran = (is_failure_waiting_reason(waiting) && waiting != "CrashLoopBackOff") ||
                         waiting == "ImageInspectError" || waiting == "RegistryUnavailable" ||
                         waiting == "ContainerCreating" || waiting == "PodInitializing";
  // Stops that are not the probe's: the OOM killer, a container the kubelet lost
  // (ContainerStatusUnknown, exit 137: kubelet_pods.go), a start the runtime refused; and the
  // kubelet's other kills when their Events are still there (eviction, preemption, a failed
  // lifecycle hook, a deletion's "Stopping container").
  const bool other_stop =
      t != nullptr && (t->reason == "OOMKilled" || t->reason == "ContainerStatusUnknown" || t->reason == "Evicted" ||
                       t->reason == "StartError" || t->reason == "ContainerCannotRun");
  const bool other_kill_event = std::any_of(events.begin(), events.end(), [](const Event& e) {
    return e.reason == "Evicted" || e.reason == "Preempting" || e.reason == "FailedPostStartHook" ||
           e.reason == "FailedPreStopHook" || (e.reason == "Killing" && e.message.find("probe") == std::string::npos);
  });
  const bool stopped_exit = killed_exit && !other_stop;
  // With no exit shown, only a container that is not running now may have been stopped: a running
  // one with no previous instance (an unready pod) was never killed.
  const bool not_running = !c.status || !c.status->running;
  if ((c.liveness || c.startup) && !c.init && !never_ran && !other_kill_event &&
      (stopped_exit || (t == nullptr && not_running))) {
    // Without Events nothing says which probe failed. The startup probe runs first and holds
    // the liveness probe back until it succeeds (prober_manager.go), so a start that never got
    // that far is the startup probe's; with both set, both are quoted.
    const std::string which = c.liveness && c.startup ? "startup or liveness" : (c.startup ? "startup" : "liveness");
    Hypothesis h;
    h.rule_id = "analyzer.probe-without-events";
    h.category = "liveness_probe_failure";
    h.title = "A " + which + " probe is set and the container was stopped from outside";
    // A SIGKILL the runtime recorded as Error (not OOMKilled), with no Events at all to say
    // otherwise, leans to the kubelet over the memory guesses (exit-137-with-memory-limit, 0.55):
    // containerd's CRI plugin records OOMKilled from the cgroup's OOM event (TaskOOM), which it
    // can lose (containerd#8893), so this stays below 0.7. Events that are there without an
    // Unhealthy say less for a probe, and keep it at 0.55.
    const bool sigkill_not_oom =
        stopped_exit && (t->exit_code == 137 || t->signal == 9) && t->reason == "Error" && events.empty();
    h.confidence = stopped_exit ? (sigkill_not_oom ? 0.58 : 0.55) : 0.4;
    h.summary = stopped_exit ? "stopped with exit " + std::to_string(t->exit_code) + " (not OOMKilled) under a " +
                                   which + " probe: most likely killed by the kubelet after failed probes"
                             : "a " + which +
                                   " probe is set and the evidence shows no exit: if nothing else explains the "
                                   "restarts, the kubelet's probe kill is the likeliest stop";
    if (stopped_exit) {
      h.evidence.push_back(
          {EvidenceSource::kStatus, sbase,
           "exitCode: " + std::to_string(t->exit_code) + (t->reason.empty() ? "" : ", reason: " + t->reason)});
    }
    auto quote_probe = [&](const std::optional<Probe>& probe, const char* field) {
      if (!probe) return;
      h.evidence.push_back({EvidenceSource::kSpec, base + field,
                            "initialDelaySeconds: " + std::to_string(probe->initial_delay_seconds) +
                                ", periodSeconds: " + std::to_string(probe->period_seconds) +
                                ", timeoutSeconds: " + std::to_string(probe->timeout_seconds) +
                                ", failureThreshold: " + std::to_string(probe->failure_threshold)});
    };
    quote_probe(c.startup, ".startupProbe");
    quote_probe(c.liveness, ".livenessProbe");
    h.explanation =
        (stopped_exit ? "The container ended with exit " + std::to_string(t->exit_code) +
                            (t->exit_code == 137 || t->signal == 9 ? " (SIGKILL)" : " (SIGTERM)") +
                            " and the runtime did not record OOMKilled, so something stopped it from outside. "
                      : std::string("The evidence shows no exit code. ")) +
        "The container has a " + which +
        " probe, and a probe that fails failureThreshold times in a row makes "
        "the kubelet stop the container (SIGTERM, then SIGKILL after the grace period). A slow start that outlives "
        "initialDelaySeconds + periodSeconds x failureThreshold is the usual case. The Unhealthy and Killing Events "
        "that would confirm it are not in the evidence (the apiserver keeps Events for one hour by default).";
    h.remediation =
        std::string(
            "Look for `Unhealthy` and `Killing` in `kubectl get events --field-selector "
            "involvedObject.name=<pod>` while it restarts. ") +
        (c.startup ? "If the startup probe fails, give it failureThreshold x periodSeconds longer than the slowest "
                     "start; "
                   : "If the probe fails during start-up, add a startupProbe (e.g. failureThreshold: 30, "
                     "periodSeconds: 10) or raise initialDelaySeconds; ") +
        "check the probe's port, path and timeoutSeconds.";
    Candidate candidate{std::move(h), {}};
    candidate.observation = !stopped_exit;
    out.push_back(std::move(candidate));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// An environment value in scientific notation.
//
// Helm's templates read YAML numbers into float64 and print them with Go's fmt, which writes a
// large one in exponent form: 1048576 and 5000000 in values.yaml come out of `quote` or
// `{{ .Values.x }}` as "1.048576e+06" and "5e+06" (three charts in the corpus did this to Kafka's
// and a broker's settings). No program reading an integer setting accepts that, and many report
// nothing useful before they exit. Nothing else writes a value in that form by
// accident, so the value alone points at the chart; a text quoting it makes it the cause.
std::vector<Candidate> analyze_env_values(const Evidence& ev, const EvidenceTexts& texts) {
  const Container& c = ev.target();
  static const RE2 kScientific(R"re([+-]?\d+(?:\.\d+)?[eE]\+\d+)re");
  std::vector<const EnvVar*> found;
  for (const EnvVar& e : c.env) {
    if (e.value && RE2::FullMatch(*e.value, kScientific)) found.push_back(&e);
  }
  if (found.empty()) return {};
  bool quoted = false;
  for (const EvidenceText& t : texts) {
    for (const EnvVar* e : found) quoted = quoted || t.text.find(*e->value) != std::string_view::npos;
  }
  const std::string base = container_path(ev.pod, c);
  Hypothesis h;
  h.rule_id = "analyzer.env-scientific-notation";
  h.category = "invalid_env_value";
  h.title = "An environment variable holds a number in scientific notation";
  h.confidence = quoted ? 0.86 : 0.6;
  h.summary = found.front()->name + "=" + *found.front()->value +
              ": a large integer rendered as a float (Helm), which the program cannot read as a number";
  for (const EnvVar* e : found) {
    h.evidence.push_back({EvidenceSource::kSpec, base + ".env[" + e->name + "]", e->name + ": \"" + *e->value + "\""});
  }
  h.explanation =
      "The value of " + found.front()->name +
      " is written in scientific notation. Helm's templates hold YAML "
      "numbers as float64, so an integer of a million or more in values.yaml is printed as \"" +
      *found.front()->value +
      "\" by quote or a plain {{ .Values.x }}, and a program that reads the setting as an integer refuses it or "
      "exits." +
      (quoted ? " The failure's own text quotes the value." : " Nothing else in the evidence names another cause.");
  h.remediation =
      "Render the value as an integer: quote it in values.yaml (\"1048576\"), or format it in the template "
      "({{ .Values.x | int64 | quote }}, or printf \"%d\"); check the result with helm template before installing.";
  Candidate candidate{std::move(h), {}};
  // Without a text that quotes it, a finding about the spec: ranked as a cause only when nothing
  // else explains the failure (classifier.cpp).
  candidate.observation = !quoted;
  return {std::move(candidate)};
}

// readOnlyRootFilesystem: true. Many programs write at start outside their mounts (/tmp, a pid
// file, nginx's client_body_temp, a generated certificate) and not all of them say "read-only"
// when it fails (a klog fatal line that names only the mkdir, a shell that exits quietly). So
// the setting is an observation: a cause, never a confident one, only when nothing else explains
// the failure (classifier.cpp); a text that reports EROFS makes it the rule read-only-filesystem's.
std::vector<Candidate> analyze_read_only_root(const Evidence& ev, const EvidenceTexts& /*texts*/) {
  const Container& c = ev.target();
  if (!c.security_context.read_only_root_filesystem.value_or(false)) return {};
  Hypothesis h;
  h.rule_id = "analyzer.read-only-root";
  h.category = "read_only_filesystem";
  h.title = "The container runs with a read-only root filesystem";
  h.confidence = 0.5;
  h.summary = c.name + " runs with readOnlyRootFilesystem: true, and nothing in the evidence names another cause";
  h.evidence.push_back({EvidenceSource::kSpec, container_path(ev.pod, c) + ".securityContext.readOnlyRootFilesystem",
                        "readOnlyRootFilesystem: true"});
  h.explanation =
      "The container's root filesystem is read-only, so anything the program writes outside its mounted volumes "
      "fails: temporary files in /tmp, a pid or lock file under /var/run, a web server's cache and temp "
      "directories, a certificate or configuration it generates at start. Not every program reports the "
      "\"Read-only file system\" error before it exits, and the evidence shows no other cause.";
  h.remediation =
      "Mount an emptyDir at each directory the program writes (/tmp first; then the paths in its documentation "
      "or in `kubectl debug` / `docker run --read-only` trials), or point its temp and runtime directories at a "
      "mounted volume; keep readOnlyRootFilesystem.";
  Candidate candidate{std::move(h), {}};
  candidate.observation = true;
  return {std::move(candidate)};
}

std::vector<Candidate> run_analyzers(const Evidence& evidence, const EvidenceTexts& texts) {
  std::vector<Candidate> out;
  using Analyzer = std::vector<Candidate> (*)(const Evidence&, const EvidenceTexts&);
  for (Analyzer analyzer :
       {Analyzer{&analyze_entrypoint}, Analyzer{&analyze_postgres_data_dir}, Analyzer{&analyze_probe_made_errors},
        Analyzer{&analyze_exit_137}, Analyzer{&analyze_data_reinit}, Analyzer{&analyze_env_values},
        Analyzer{&analyze_read_only_root}}) {
    auto found = analyzer(evidence, texts);
    for (auto& f : found) out.push_back(std::move(f));
  }
  return out;
}

// The one-argument forms read the texts themselves (tests, and callers with one analyzer).
std::vector<Candidate> analyze_entrypoint(const Evidence& evidence) {
  return analyze_entrypoint(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_env_values(const Evidence& evidence) {
  return analyze_env_values(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_postgres_data_dir(const Evidence& evidence) {
  return analyze_postgres_data_dir(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_probe_made_errors(const Evidence& evidence) {
  return analyze_probe_made_errors(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_exit_137(const Evidence& evidence) {
  return analyze_exit_137(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_data_reinit(const Evidence& evidence) {
  return analyze_data_reinit(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> analyze_read_only_root(const Evidence& evidence) {
  return analyze_read_only_root(evidence, EvidenceTexts(evidence));
}
std::vector<Candidate> run_analyzers(const Evidence& evidence) {
  return run_analyzers(evidence, EvidenceTexts(evidence));
}

}  // namespace crashdiag
