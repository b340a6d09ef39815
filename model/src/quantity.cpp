#include "crashdiag/model/quantity.hpp"

#include <cmath>
#include <string>

namespace crashdiag {
namespace {

std::optional<long double> parse_number(std::string_view text, std::size_t& consumed) {
  std::size_t i = 0;
  bool any_digit = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0)) {
    ++i;
    any_digit = true;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0)) {
      ++i;
      any_digit = true;
    }
  }
  if (!any_digit) return std::nullopt;
  consumed = i;
  std::string s(text.substr(0, i));
  return std::stold(s);
}

}  // namespace

std::optional<std::int64_t> parse_memory_quantity(std::string_view text) {
  std::size_t used = 0;
  auto number = parse_number(text, used);
  if (!number || *number < 0) return std::nullopt;
  std::string_view suffix = text.substr(used);
  long double mult = 1;
  // Suffixes from k8s.io/apimachinery/pkg/api/resource/suffix.go.
  if (suffix.empty()) {
    mult = 1;
  } else if (suffix == "Ki") {
    mult = 1024.0L;
  } else if (suffix == "Mi") {
    mult = 1024.0L * 1024;
  } else if (suffix == "Gi") {
    mult = 1024.0L * 1024 * 1024;
  } else if (suffix == "Ti") {
    mult = 1024.0L * 1024 * 1024 * 1024;
  } else if (suffix == "Pi") {
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
  } else if (suffix == "Ei") {
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024;
  } else if (suffix == "m") {
    mult = 1e-3L;
  } else if (suffix == "k") {
    mult = 1e3L;
  } else if (suffix == "M") {
    mult = 1e6L;
  } else if (suffix == "G") {
    mult = 1e9L;
  } else if (suffix == "T") {
    mult = 1e12L;
  } else if (suffix == "P") {
    mult = 1e15L;
  } else if (suffix == "E") {
    mult = 1e18L;
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::size_t exp_used = 0;
    auto exponent = parse_number(suffix.substr(1), exp_used);
    if (!exponent || exp_used + 1 != suffix.size() || *exponent > 18) return std::nullopt;
    mult = std::pow(10.0L, *exponent);
  } else {
    return std::nullopt;
  }
  long double bytes = std::ceil(*number * mult);
  if (bytes > static_cast<long double>(INT64_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

std::optional<std::int64_t> parse_jvm_size(std::string_view text) {
  std::size_t used = 0;
  auto number = parse_number(text, used);
  if (!number || *number < 0 || used == 0) return std::nullopt;
  std::string_view suffix = text.substr(used);
  long double mult = 1;
  if (suffix.empty()) {
    mult = 1;
  } else if (suffix == "k" || suffix == "K") {
    mult = 1024.0L;
  } else if (suffix == "m" || suffix == "M") {
    mult = 1024.0L * 1024;
  } else if (suffix == "g" || suffix == "G") {
    mult = 1024.0L * 1024 * 1024;
  } else if (suffix == "t" || suffix == "T") {
    mult = 1024.0L * 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  long double bytes = *number * mult;
  if (bytes > static_cast<long double>(INT64_MAX)) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

}  // namespace crashdiag
