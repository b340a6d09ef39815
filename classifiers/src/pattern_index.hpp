// Many regular expressions matched against one line at a time, all matches wanted.
//
// An RE2::Set of every rule pattern (about 1,200) builds DFA states for each new combination of
// patterns a line can be in; lines that hit several patterns cost ~1 ms each, and the DFA grows to
// its memory budget (64 MiB) over a few noisy logs. Most patterns cannot match a line that lacks
// one of their literal strings ("permission denied", "x509: "), so each pattern is reduced at load
// to the literals one of which any match must contain (RE2's own prefilter, re2/filtered_re2.h),
// every literal goes into one Aho-Corasick automaton, and a line is tried only against the
// patterns whose literals it contains. The patterns themselves are compiled on their first
// candidate line and kept: a daemon holds only the ones its clusters' logs ever come near.
#pragma once

#include <re2/re2.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace crashdiag {

// Aho-Corasick over bytes, built once, read by any number of threads.
class LiteralAutomaton {
 public:
  void add(std::string_view literal, std::uint32_t id);
  void build();
  // Calls on_match(id) for every occurrence of every literal in text.
  template <class F>
  void scan(std::string_view text, F&& on_match) const;

 private:
  struct Node {
    std::uint32_t first_edge = 0;  // edges_[first_edge, first_edge + edge_count), sorted by byte
    std::uint16_t edge_count = 0;
    std::uint32_t fail = 0;
    std::int32_t output = -1;       // literal id ending here
    std::int32_t output_link = -1;  // nearest node on the fail chain with an output
  };
  struct Edge {
    unsigned char byte;
    std::uint32_t to;
  };
  [[nodiscard]] std::int64_t child(std::uint32_t node, unsigned char byte) const;

  // While adding: per node, its edges; build() flattens them into edges_.
  std::vector<std::vector<Edge>> building_{1};
  std::vector<std::int32_t> building_output_{-1};
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  // The root's transitions as a table (0: no edge, stay at the root): in text that matches
  // nothing the automaton sits at the root or one step from it, and the root has an edge for
  // most bytes a literal starts with.
  std::array<std::uint32_t, 256> root_{};
};

template <class F>
void LiteralAutomaton::scan(std::string_view text, F&& on_match) const {
  if (nodes_.empty()) return;
  std::uint32_t state = 0;
  for (char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    std::int64_t next = state == 0 ? root_[byte] : child(state, byte);
    while (next < 0) {
      state = nodes_[state].fail;
      next = state == 0 ? root_[byte] : child(state, byte);
    }
    state = static_cast<std::uint32_t>(next);
    for (std::int32_t o = nodes_[state].output >= 0 ? static_cast<std::int32_t>(state) : nodes_[state].output_link;
         o >= 0; o = nodes_[static_cast<std::size_t>(o)].output_link) {
      on_match(static_cast<std::uint32_t>(nodes_[static_cast<std::size_t>(o)].output));
    }
  }
}

class PatternIndex {
 public:
  explicit PatternIndex(RE2::Options options);
  PatternIndex(PatternIndex&&) = delete;
  ~PatternIndex();

  // Adds a pattern; returns its index, or -1 and the error RE2 gives for it (or -1 after
  // compile(): the index is built once).
  [[nodiscard]] int add(const std::string& pattern, std::string* error);
  // Builds the automaton; match() finds nothing before it. A second call does nothing.
  void compile();
  [[nodiscard]] std::size_t size() const { return patterns_.size(); }

  // Every pattern that matches line, in increasing index order, into out.
  void match(std::string_view line, std::vector<int>& out) const;
  // The compiled regex of pattern i (compiled now if no line has needed it yet).
  [[nodiscard]] const RE2& regex(std::size_t i) const;

 private:
  RE2::Options options_;
  std::vector<std::string> patterns_;
  LiteralAutomaton literals_;
  std::vector<std::vector<std::uint32_t>> literal_patterns_;  // literal id -> patterns that need it
  std::vector<std::uint32_t> always_;                         // no literal to filter on: tried on every line
  std::vector<std::uint32_t> non_ascii_;  // a literal with non-ASCII bytes: tried on non-ASCII lines
  std::unique_ptr<std::atomic<const RE2*>[]> compiled_;
  // The literal ids while adding (RE2 lowercases them; several patterns share many); emptied by
  // compile().
  std::unordered_map<std::string, std::uint32_t> literal_ids_;
};

}  // namespace crashdiag
