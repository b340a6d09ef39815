// Text and JSON helpers the RCA files share (rca.cpp, rca_identity.cpp, rca_event.cpp,
// rca_codec.cpp): the CRD's limits, DNS-1123 and label-value shaping, lenient JSON reads.
// Internal to crashdiag_core: not under include/.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "crashdiag/core/rca_identity.hpp"
#include "crashdiag/model/utf8.hpp"

namespace crashdiag::core::rca_detail {

using nlohmann::json;

constexpr std::string_view kApiVersion = "crashdiag.io/v1alpha1";
constexpr std::string_view kKind = "RootCauseAnalysis";
constexpr std::size_t kMaxNameLength = 63;  // DNS-1123 label: also a valid label value
constexpr std::size_t kSummaryLimit = 512;  // CRD maxLength of summary fields
constexpr std::size_t kTitleLimit = 256;
constexpr std::size_t kFieldLimit = 256;
constexpr std::size_t kNotesLimit = 8;             // CRD maxItems of status.evidenceNotes
constexpr std::size_t kNoteBytes = 512;            // and maxLength of each
constexpr std::size_t kChangesLimit = 20;          // status.whatChanged.changes maxItems
constexpr std::size_t kChangeSummaryBytes = 1024;  // status.whatChanged.summary maxLength

inline std::string cut(std::string_view s, std::size_t max_bytes) {
  return std::string(utf8_prefix(s, max_bytes));
}

// Lower-case alphanumerics and single dashes: what survives in a DNS-1123 label.
inline std::string slug(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

inline std::string hex(std::uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

// Label values: at most 63 characters of [A-Za-z0-9_.-], beginning and ending alphanumeric
// (apimachinery validation.IsValidLabelValue).
inline bool valid_label_value(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A label value for a name that may be longer than a label value can be: workload names are
// DNS-1123 subdomains of up to 253 characters (a Deployment, a Job, a bare pod) but label values
// stop at 63 (validation.IsValidLabelValue; tests/data/k8s-real/23-apply-rca-label-value-64-422).
// A longer one becomes its first 52 characters, '-' and 10 hex digits of the FNV-1a hash of the
// whole name: still selectable and unique, and the full name is in spec.target.name.
// docs/publishing.md documents it. Empty when no valid value can be made.
inline std::string label_value(std::string_view v) {
  if (valid_label_value(v)) return std::string(v);
  const std::string suffix = hex(stable_hash(v), 10);
  std::string head(v.substr(0, std::min(v.size(), 63 - 1 - suffix.size())));
  while (!head.empty() && std::isalnum(static_cast<unsigned char>(head.back())) == 0) head.pop_back();
  std::string out = head.empty() ? suffix : head + "-" + suffix;
  return valid_label_value(out) ? out : std::string();
}

inline double clamp01(double v) {
  return std::clamp(v, 0.0, 1.0);
}

// Two decimals, like the explain output: a judgement, not a measurement.
inline double round2(double v) {
  return static_cast<double>(std::lround(clamp01(v) * 100.0)) / 100.0;
}

inline std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

inline std::int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace crashdiag::core::rca_detail
