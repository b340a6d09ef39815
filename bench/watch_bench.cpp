// Watch ingest: the daemon's per-event path (parse the watch line into a slim record, upsert
// it into the store, run the crash detector) against a raw simdjson DOM parse of the same
// bytes, in the same run. And the list body splitter (ListDecoder: a LIST's items cut out as
// they stream in, in 16 KiB pieces as TLS records arrive) against a raw simdjson DOM parse of
// the same list body. docs/benchmarks.md has results and the command.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crashdiag/core/crash_detector.hpp"
#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/core/pod_store.hpp"

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// 2,000 MODIFIED events built from the bundled examples' real-shaped pods (9-12 KB each with
// managed fields stripped by kubectl; the apiserver sends them too, so we add them back).
const std::vector<std::string>& lines() {
  static const std::vector<std::string> out = [] {
    std::vector<std::string> v;
    const std::vector<std::string> names = {"authentik-command-vs-args", "oom-java-heap",
                                            "liveness-probe-kill",       "missing-secret",
                                            "pg-initdb-lost-found",      "db-connection-refused"};
    std::vector<nlohmann::json> pods;
    for (const auto& n : names)
      pods.push_back(nlohmann::json::parse(read(std::string(CRASHDIAG_SOURCE_DIR) + "/examples/" + n + "/pod.json")));
    for (int i = 0; i < 2000; ++i) {
      nlohmann::json pod = pods[static_cast<std::size_t>(i) % pods.size()];
      pod["metadata"]["name"] = "pod-" + std::to_string(i);
      pod["metadata"]["resourceVersion"] = std::to_string(1000 + i);
      pod["metadata"]["managedFields"] = nlohmann::json::array(
          {{{"manager", "kubelet"},
            {"operation", "Update"},
            {"apiVersion", "v1"},
            {"fieldsType", "FieldsV1"},
            {"fieldsV1",
             {{"f:status",
               {{"f:conditions", nlohmann::json::object()}, {"f:containerStatuses", nlohmann::json::object()}}}}}}});
      // "type" first, as the apiserver writes it (nlohmann::json would sort "object" first).
      v.push_back(R"({"type":"MODIFIED","object":)" + pod.dump() + "}");
    }
    return v;
  }();
  return out;
}

std::int64_t total_bytes() {
  std::int64_t n = 0;
  for (const auto& l : lines()) n += static_cast<std::int64_t>(l.size());
  return n;
}

void WatchIngest(benchmark::State& state) {
  crashdiag::core::PodStore store;
  std::size_t signals = 0;
  for (auto _ : state) {
    for (const auto& l : lines()) {
      auto line = crashdiag::core::parse_watch_line(l);
      if (!line || !line->pod) state.SkipWithError("parse failed");
      auto old = store.upsert(*line->pod);
      signals += crashdiag::core::detect_crashes(old ? &*old : nullptr, *store.find(line->pod->key())).size();
    }
  }
  benchmark::DoNotOptimize(signals);
  state.SetBytesProcessed(state.iterations() * total_bytes());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(lines().size()));
}
BENCHMARK(WatchIngest)->Unit(benchmark::kMillisecond);

void RawSimdjsonDomParse(benchmark::State& state) {
  simdjson::dom::parser parser;
  std::vector<simdjson::padded_string> padded;
  for (const auto& l : lines()) padded.emplace_back(l);
  for (auto _ : state) {
    for (const auto& p : padded) {
      simdjson::dom::element doc;
      if (parser.parse(p).get(doc) != simdjson::SUCCESS) state.SkipWithError("parse failed");
      benchmark::DoNotOptimize(doc);
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(lines().size()));
}
BENCHMARK(RawSimdjsonDomParse)->Unit(benchmark::kMillisecond);

// The same 2,000 pods as one PodList body, as a LIST returns them.
const std::string& list_body() {
  static const std::string out = [] {
    std::string body = R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[)";
    const std::string prefix = R"({"type":"MODIFIED","object":)";
    bool first = true;
    for (const auto& l : lines()) {
      if (!first) body += ',';
      first = false;
      body.append(l, prefix.size(), l.size() - prefix.size() - 1);
    }
    body += "]}";
    return body;
  }();
  return out;
}

void ListDecoderSplit(benchmark::State& state) {
  const std::string& body = list_body();
  constexpr std::size_t kRecord = 16 << 10;  // a TLS record's plaintext at most (RFC 8446 5.1)
  std::size_t items = 0;
  for (auto _ : state) {
    crashdiag::core::ListDecoder decoder(1 << 20, [&](std::string_view item) { items += item.size() > 0 ? 1 : 0; });
    for (std::size_t at = 0; at < body.size(); at += kRecord) {
      if (decoder.feed(std::string_view(body).substr(at, kRecord))) state.SkipWithError("decode failed");
    }
    if (decoder.finish()) state.SkipWithError("decode failed");
  }
  benchmark::DoNotOptimize(items);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(ListDecoderSplit)->Unit(benchmark::kMillisecond);

// The hostile case for the splitter: one item whose annotation is 1 MB of escapes ("\\nx"
// repeated), which anyone who can create a pod can write.
void ListDecoderSplitEscapes(benchmark::State& state) {
  std::string body =
      R"({"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"annotations":{"a":")";
  for (int i = 0; i < (1 << 20) / 3; ++i) body += "\\nx";
  body += R"("}}}]})";
  constexpr std::size_t kRecord = 16 << 10;
  for (auto _ : state) {
    crashdiag::core::ListDecoder decoder(4 << 20, [](std::string_view item) { benchmark::DoNotOptimize(item.data()); });
    for (std::size_t at = 0; at < body.size(); at += kRecord) {
      if (decoder.feed(std::string_view(body).substr(at, kRecord))) state.SkipWithError("decode failed");
    }
    if (decoder.finish()) state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(ListDecoderSplitEscapes)->Unit(benchmark::kMillisecond);

void RawSimdjsonDomParseList(benchmark::State& state) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(list_body());
  for (auto _ : state) {
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc) != simdjson::SUCCESS) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(list_body().size()));
}
BENCHMARK(RawSimdjsonDomParseList)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
