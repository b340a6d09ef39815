// Benchmarks for the diagnosis engine (docs/benchmarks.md records results and the command).
//   - RulePackThroughput: every shipped rule over log text, MB/s.
//   - RulePackCorpusLines: the same over every log line of the corpus (real incidents).
//   - RulePackHitLines: the same over a tail made of the rules' own example log lines, where
//     most lines hit a pattern and many of those extract captures.
//   - ExplainPod64KiB: one pod end to end (parse pod + events JSON, classify with a 64 KiB
//     log tail); per-call latency percentiles are reported as counters p50_us / p99_us.
#include <benchmark/benchmark.h>

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "crashdiag/model/log_tail.hpp"
#include "crashdiag/model/parse.hpp"
#include "rule_loader.hpp"

namespace {

using crashdiag::Classifier;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const Classifier& classifier() {
  static const Classifier c = [] {
    auto rules = crashdiag::load_rule_dirs({std::string(CRASHDIAG_SOURCE_DIR) + "/classifiers/rules"});
    if (!rules) std::abort();
    auto engine = crashdiag::RuleEngine::compile(std::move(*rules));
    if (!engine) std::abort();
    return Classifier(std::move(*engine));
  }();
  return c;
}

// Realistic application noise: access logs, JSON logs, Java stack frames, with a fixed seed so
// every run scans the same bytes.
std::string synthetic_log(std::size_t bytes, const std::string& last_line) {
  std::mt19937 rng(42);
  const std::vector<std::string> templates = {
      R"(10.244.1.17 - - [12/Nov/2026:10:15:32 +0000] "GET /api/v1/orders?page=)",
      R"({"level":"info","ts":"2026-11-12T10:15:32.123Z","caller":"server/handler.go:88","msg":"request served","path":"/api/v1/items","status":200,"duration_ms":)",
      "2026-11-12 10:15:32.123  INFO 1 --- [nio-8080-exec-4] c.e.o.web.OrderController : fetched order ",
      "\tat com.example.orders.service.OrderService.load(OrderService.java:",
      "I1112 10:15:32.123456       1 reflector.go:255] Listing and watching *v1.Pod from "
      "pkg/mod/k8s.io/client-go@v0.29.0/tools/cache/reflector.go:229 ",
      "[2026-11-12 10:15:32,123] WARN [Consumer clientId=app-1, groupId=orders] Offset commit failed on partition "
      "orders-"};
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    out += templates[rng() % templates.size()];
    out += std::to_string(rng() % 100000);
    out += '\n';
  }
  out += last_line + "\n";
  return out;
}

// One container "app" whose log tail is `log`, cut by `limits`: the only evidence the rule
// benchmarks give the engine.
crashdiag::Evidence log_evidence(const std::string& log, const crashdiag::LogTailLimits& limits) {
  crashdiag::Evidence ev;
  crashdiag::Container c;
  c.name = "app";
  ev.pod.containers.push_back(c);
  ev.container = "app";
  ev.logs = crashdiag::make_log_tail(log, limits);
  return ev;
}

void RulePackThroughput(benchmark::State& state) {
  const std::string log =
      synthetic_log(static_cast<std::size_t>(state.range(0)), "Error: connect ECONNREFUSED 10.96.44.12:5432");
  const crashdiag::Evidence ev = log_evidence(log, {1U << 20U, 4096});
  for (auto _ : state) {
    auto hits = classifier().engine().match(ev);
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(log.size()));
  state.counters["lines"] = static_cast<double>(ev.logs.lines.size());
  state.counters["rules"] = static_cast<double>(classifier().engine().rules().size());
}
BENCHMARK(RulePackThroughput)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);

// The opposite of the noise above: every log line of every rule's examples, so that nearly every
// line hits and the capturing regexes run (the cost a log full of matching lines puts on a
// diagnosis; here up to 65,536 lines of up to 4 KiB are kept).
void RulePackHitLines(benchmark::State& state) {
  std::string log;
  for (const auto& rule : classifier().engine().rules()) {
    for (const auto& example : rule.examples) {
      const YAML::Node node = YAML::Load(example.evidence_yaml);
      if (node.IsMap() && node["logs"] && node["logs"].IsScalar()) log += node["logs"].as<std::string>() + "\n";
    }
  }
  const crashdiag::Evidence ev = log_evidence(log, {64U << 10U, 4096});
  std::size_t bytes = 0;
  for (const auto& line : ev.logs.lines) bytes += line.size() + 1;
  std::size_t hit_rules = 0;
  for (auto _ : state) {
    auto hits = classifier().engine().match(ev);
    hit_rules = hits.size();
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["lines"] = static_cast<double>(ev.logs.lines.size());
  state.counters["rules_hit"] = static_cast<double>(hit_rules);
}
BENCHMARK(RulePackHitLines)->Unit(benchmark::kMicrosecond);

// Real log lines: every log of tests/corpus, in file order (real incidents, trimmed to the
// telling lines). Varied like a cluster's logs and denser in errors than most: the
// shapes a pattern set meets across many diagnoses, none of them templated.
void RulePackCorpusLines(benchmark::State& state) {
  std::vector<std::filesystem::path> files;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(std::string(CRASHDIAG_SOURCE_DIR) + "/tests/corpus")) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string log;
  for (const auto& f : files) {
    const YAML::Node node = YAML::LoadFile(f.string());
    if (node["logs"] && node["logs"].IsScalar()) log += node["logs"].as<std::string>() + "\n";
  }
  const crashdiag::Evidence ev = log_evidence(log, {64U << 10U, 4096});
  std::size_t bytes = 0;
  for (const auto& line : ev.logs.lines) bytes += line.size() + 1;
  for (auto _ : state) {
    auto hits = classifier().engine().match(ev);
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["lines"] = static_cast<double>(ev.logs.lines.size());
}
BENCHMARK(RulePackCorpusLines)->Unit(benchmark::kMicrosecond);

void ExplainPod64KiB(benchmark::State& state) {
  const std::string dir = std::string(CRASHDIAG_SOURCE_DIR) + "/examples/";
  const std::vector<std::string> names = {"authentik-postgres-volume-mount", "oom-java-heap", "liveness-probe-kill",
                                          "missing-module-python", "db-connection-refused"};
  struct Input {
    std::string pod;
    std::string events;
    std::string log;
  };
  std::vector<Input> inputs;
  for (const auto& n : names) {
    const std::string real_log = read(dir + n + "/previous.log");
    inputs.push_back(
        {read(dir + n + "/pod.json"), read(dir + n + "/events.json"), synthetic_log(64U << 10U, "") + real_log});
  }
  std::vector<double> micros;
  std::size_t i = 0;
  for (auto _ : state) {
    const Input& in = inputs[i++ % inputs.size()];
    const auto start = std::chrono::steady_clock::now();
    auto pod = crashdiag::parse_pod_json(in.pod);
    auto events = crashdiag::parse_events_json(in.events);
    crashdiag::Evidence ev;
    ev.pod = std::move(*pod);
    ev.container = ev.pod.containers.back().name;
    ev.events = crashdiag::events_for_pod(*events, ev.pod);
    ev.logs = crashdiag::make_log_tail(in.log);
    auto diagnosis = classifier().diagnose(ev);
    benchmark::DoNotOptimize(diagnosis);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double p) { return micros[std::min(micros.size() - 1, static_cast<std::size_t>(p * micros.size()))]; };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
}
BENCHMARK(ExplainPod64KiB)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
