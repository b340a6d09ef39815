#include "pattern_index.hpp"

#include <re2/filtered_re2.h>

#include <algorithm>
#include <deque>

namespace crashdiag {

void LiteralAutomaton::add(std::string_view literal, std::uint32_t id) {
  std::uint32_t node = 0;
  for (char ch : literal) {
    const auto byte = static_cast<unsigned char>(ch);
    auto& edges = building_[node];
    auto it = std::find_if(edges.begin(), edges.end(), [&](const Edge& e) { return e.byte == byte; });
    if (it == edges.end()) {
      const auto next = static_cast<std::uint32_t>(building_.size());
      edges.push_back(Edge{byte, next});
      building_.emplace_back();
      building_output_.push_back(-1);
      node = next;
    } else {
      node = it->to;
    }
  }
  building_output_[node] = static_cast<std::int32_t>(id);
}

std::int64_t LiteralAutomaton::child(std::uint32_t node, unsigned char byte) const {
  const Node& n = nodes_[node];
  const Edge* begin = edges_.data() + n.first_edge;
  const Edge* end = begin + n.edge_count;
  const Edge* it = std::lower_bound(begin, end, byte, [](const Edge& e, unsigned char b) { return e.byte < b; });
  return it != end && it->byte == byte ? static_cast<std::int64_t>(it->to) : -1;
}

void LiteralAutomaton::build() {
  nodes_.assign(building_.size(), Node{});
  edges_.clear();
  for (std::size_t i = 0; i < building_.size(); ++i) {
    auto& edges = building_[i];
    std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.byte < b.byte; });
    nodes_[i].first_edge = static_cast<std::uint32_t>(edges_.size());
    nodes_[i].edge_count = static_cast<std::uint16_t>(edges.size());
    nodes_[i].output = building_output_[i];
    edges_.insert(edges_.end(), edges.begin(), edges.end());
  }
  building_.clear();
  building_.shrink_to_fit();
  building_output_.clear();
  building_output_.shrink_to_fit();
  root_.fill(0);
  for (std::uint32_t e = nodes_[0].first_edge; e < nodes_[0].first_edge + nodes_[0].edge_count; ++e) {
    root_[edges_[e].byte] = edges_[e].to;
  }
  // Failure links breadth-first: a node's fail is the longest proper suffix of its string that is
  // also a prefix of some literal.
  std::deque<std::uint32_t> queue;
  for (std::uint32_t e = nodes_[0].first_edge; e < nodes_[0].first_edge + nodes_[0].edge_count; ++e) {
    nodes_[edges_[e].to].fail = 0;
    queue.push_back(edges_[e].to);
  }
  while (!queue.empty()) {
    const std::uint32_t node = queue.front();
    queue.pop_front();
    for (std::uint32_t e = nodes_[node].first_edge; e < nodes_[node].first_edge + nodes_[node].edge_count; ++e) {
      const std::uint32_t next = edges_[e].to;
      const unsigned char byte = edges_[e].byte;
      std::uint32_t f = nodes_[node].fail;
      std::int64_t g = child(f, byte);
      while (g < 0 && f != 0) {
        f = nodes_[f].fail;
        g = child(f, byte);
      }
      nodes_[next].fail = g >= 0 && static_cast<std::uint32_t>(g) != next ? static_cast<std::uint32_t>(g) : 0;
      const Node& fail = nodes_[nodes_[next].fail];
      nodes_[next].output_link = fail.output >= 0 ? static_cast<std::int32_t>(nodes_[next].fail) : fail.output_link;
      queue.push_back(next);
    }
  }
}

PatternIndex::PatternIndex(RE2::Options options) : options_(options) {}

PatternIndex::~PatternIndex() {
  if (!compiled_) return;
  for (std::size_t i = 0; i < patterns_.size(); ++i) delete compiled_[i].load(std::memory_order_acquire);
}

int PatternIndex::add(const std::string& pattern, std::string* error) {
  if (compiled_) {
    if (error != nullptr) *error = "pattern added after the index was compiled";
    return -1;
  }
  // RE2's prefilter for this one pattern: the literals (lowercased) of which every match contains
  // at least one. A pattern it cannot filter (no literal of 3 bytes or more on some path, like
  // "^\S+$") comes back as a potential match of no literal at all, and is tried on every line.
  re2::FilteredRE2 filter(3);
  int id = 0;
  if (filter.Add(pattern, options_, &id) != RE2::NoError) {
    if (error != nullptr) *error = RE2(pattern, options_).error();
    return -1;
  }
  std::vector<std::string> literals;
  filter.Compile(&literals);
  std::vector<int> potentials;
  filter.AllPotentials({}, &potentials);
  const auto index = static_cast<std::uint32_t>(patterns_.size());
  patterns_.push_back(pattern);
  if (!potentials.empty() || literals.empty()) {
    always_.push_back(index);
    return static_cast<int>(index);
  }
  // Every literal is registered, so a pattern is tried when any of them occurs: a superset of
  // the lines RE2's AND/OR tree would pass. Reducing an AND to its rarest conjunct, decided with
  // AllPotentials, was tried and withdrawn: RE2's PrefilterTree prunes a node shared by more than
  // eight AND parents (prefilter_tree.cc), and when it prunes every child of an AND that AND
  // never fires, so AllPotentials under-reports and the reduction dropped literals real matches
  // need (the 19-branch pattern in tests/classifiers/pattern_index_test.cpp).
  bool non_ascii = false;
  for (const std::string& literal : literals) {
    non_ascii = non_ascii || std::any_of(literal.begin(), literal.end(), [](char c) { return (c & 0x80) != 0; });
    auto [it, inserted] = literal_ids_.emplace(literal, static_cast<std::uint32_t>(literal_patterns_.size()));
    if (inserted) {
      literal_patterns_.emplace_back();
      literals_.add(literal, it->second);
    }
    literal_patterns_[it->second].push_back(index);
  }
  if (non_ascii) non_ascii_.push_back(index);
  return static_cast<int>(index);
}

void PatternIndex::compile() {
  if (compiled_) return;
  literals_.build();
  literal_ids_ = {};
  compiled_ = std::make_unique<std::atomic<const RE2*>[]>(patterns_.size());
  for (std::size_t i = 0; i < patterns_.size(); ++i) compiled_[i].store(nullptr, std::memory_order_relaxed);
}

const RE2& PatternIndex::regex(std::size_t i) const {
  const RE2* re = compiled_[i].load(std::memory_order_acquire);
  if (re != nullptr) return *re;
  // Two threads may compile the same pattern at once; one keeps its copy, the other drops its own.
  auto fresh = std::make_unique<RE2>(patterns_[i], options_);
  const RE2* expected = nullptr;
  if (compiled_[i].compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
  return *expected;
}

namespace {

// The line as RE2's prefilter literals are: lowercased. ASCII letters fold by themselves; of the
// non-ASCII runes only KELVIN SIGN and LATIN SMALL LETTER LONG S fold to ASCII letters in RE2's
// case folding ((?i)k matches U+212A, (?i)s matches U+017F), and ANGSTROM SIGN to å. Any other
// non-ASCII byte is left alone and reported, so the patterns with non-ASCII literals are tried.
bool fold_line(std::string_view line, std::string& out) {
  out.clear();
  out.reserve(line.size());
  bool non_ascii = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
      continue;
    }
    non_ascii = true;
    const std::string_view rest = line.substr(i);
    if (rest.substr(0, 3) == "\xE2\x84\xAA") {  // U+212A KELVIN SIGN
      out.push_back('k');
      i += 2;
    } else if (rest.substr(0, 2) == "\xC5\xBF") {  // U+017F LATIN SMALL LETTER LONG S
      out.push_back('s');
      i += 1;
    } else if (rest.substr(0, 3) == "\xE2\x84\xAB") {  // U+212B ANGSTROM SIGN
      out.append("\xC3\xA5");
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return non_ascii;
}

}  // namespace

void PatternIndex::match(std::string_view line, std::vector<int>& out) const {
  out.clear();
  if (patterns_.empty() || !compiled_) return;
  // Scratch per thread, reused across calls. A pattern is listed once however often its literals
  // occur (a 16 MiB message of one literal repeated lists it once), so both buffers stay within
  // the line's length and the number of patterns.
  thread_local std::string folded;
  thread_local std::vector<std::uint32_t> candidates;
  thread_local std::vector<bool> listed;
  const bool non_ascii = fold_line(line, folded);
  candidates.clear();
  listed.assign(patterns_.size(), false);
  auto list = [&](std::uint32_t i) {
    if (!listed[i]) {
      listed[i] = true;
      candidates.push_back(i);
    }
  };
  literals_.scan(folded, [&](std::uint32_t literal) {
    for (std::uint32_t i : literal_patterns_[literal]) list(i);
  });
  for (std::uint32_t i : always_) list(i);
  if (non_ascii) {
    for (std::uint32_t i : non_ascii_) list(i);
  }
  std::sort(candidates.begin(), candidates.end());
  const re2::StringPiece text(line.data(), line.size());
  for (std::uint32_t i : candidates) {
    if (RE2::PartialMatch(text, regex(i))) out.push_back(static_cast<int>(i));
  }
  // A line of several MiB leaves its folded copy behind: give it back rather than keep the
  // largest line ever seen per thread.
  if (folded.capacity() > (1U << 20U)) std::string().swap(folded);
}

}  // namespace crashdiag
