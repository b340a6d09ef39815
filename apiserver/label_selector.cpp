#include "label_selector.hpp"

#include <algorithm>
#include <cctype>

namespace crashdiag::fake {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Keys: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters of
// alphanumerics, '-', '_' and '.', beginning and ending alphanumeric (validation.IsQualifiedName).
bool valid_name_part(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(n.front()) || !alnum(n.back())) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool valid_key(std::string_view k) {
  const auto slash = k.find('/');
  if (slash == std::string_view::npos) return valid_name_part(k);
  const std::string_view prefix = k.substr(0, slash);
  if (prefix.empty() || prefix.size() > 253) return false;
  const bool prefix_ok = std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
  return prefix_ok && valid_name_part(k.substr(slash + 1));
}

// Values: empty, or like a name part (validation.IsValidLabelValue).
bool valid_value(std::string_view v) {
  return v.empty() || valid_name_part(v);
}

// Splits on commas outside parentheses ("a in (x,y),b" is two requirements).
std::vector<std::string_view> split_requirements(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (text[i] == ',' && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

tl::expected<LabelRequirement, SelectorError> parse_requirement(std::string_view raw) {
  const std::string_view r = trim(raw);
  auto fail = [&](const std::string& why) {
    return tl::unexpected(SelectorError{"unable to parse requirement: " + why + " in \"" + std::string(r) + "\""});
  };
  if (r.empty()) return fail("found '', expected: !, identifier, or 'end of string'");
  LabelRequirement req;
  if (r.front() == '!') {
    req.key = std::string(trim(r.substr(1)));
    req.op = LabelRequirement::Op::kDoesNotExist;
    if (!valid_key(req.key)) return fail("invalid label key \"" + req.key + "\"");
    return req;
  }
  // Set-based: "key in (a,b)" / "key notin (a,b)".
  if (const auto open = r.find('('); open != std::string_view::npos) {
    if (r.back() != ')') return fail("found end of string, expected: )");
    std::string_view head = trim(r.substr(0, open));
    const auto sp = head.find_last_of(" \t");
    if (sp == std::string_view::npos) return fail("expected: in, notin");
    const std::string_view op = head.substr(sp + 1);
    req.key = std::string(trim(head.substr(0, sp)));
    if (op == "in") {
      req.op = LabelRequirement::Op::kIn;
    } else if (op == "notin") {
      req.op = LabelRequirement::Op::kNotIn;
    } else {
      return fail("found '" + std::string(op) + "', expected: in, notin");
    }
    if (!valid_key(req.key)) return fail("invalid label key \"" + req.key + "\"");
    std::string_view list = r.substr(open + 1, r.size() - open - 2);
    std::size_t start = 0;
    for (std::size_t i = 0; i <= list.size(); ++i) {
      if (i == list.size() || list[i] == ',') {
        const std::string_view v = trim(list.substr(start, i - start));
        if (!valid_value(v)) return fail("invalid label value \"" + std::string(v) + "\"");
        req.values.emplace_back(v);
        start = i + 1;
      }
    }
    return req;
  }
  // Equality-based.
  std::size_t at = std::string_view::npos;
  std::size_t len = 0;
  if (const auto ne = r.find("!="); ne != std::string_view::npos) {
    at = ne;
    len = 2;
    req.op = LabelRequirement::Op::kNotEquals;
  } else if (const auto eq2 = r.find("=="); eq2 != std::string_view::npos) {
    at = eq2;
    len = 2;
    req.op = LabelRequirement::Op::kEquals;
  } else if (const auto eq = r.find('='); eq != std::string_view::npos) {
    at = eq;
    len = 1;
    req.op = LabelRequirement::Op::kEquals;
  }
  if (at == std::string_view::npos) {
    req.key = std::string(r);
    req.op = LabelRequirement::Op::kExists;
    if (!valid_key(req.key)) return fail("invalid label key \"" + req.key + "\"");
    return req;
  }
  req.key = std::string(trim(r.substr(0, at)));
  const std::string_view value = trim(r.substr(at + len));
  if (!valid_key(req.key)) return fail("invalid label key \"" + req.key + "\"");
  if (!valid_value(value)) return fail("invalid label value \"" + std::string(value) + "\"");
  req.values.emplace_back(value);
  return req;
}

}  // namespace

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const LabelRequirement& r : requirements) {
    const auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        if (has) return false;
        break;
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        if (!in) return false;
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        if (in) return false;
        break;
    }
  }
  return true;
}

bool LabelSelector::matches(const nlohmann::json& object) const {
  if (requirements.empty()) return true;
  std::map<std::string, std::string> labels;
  if (object.contains("metadata") && object["metadata"].is_object() && object["metadata"].contains("labels") &&
      object["metadata"]["labels"].is_object()) {
    for (const auto& [k, v] : object["metadata"]["labels"].items()) {
      if (v.is_string()) labels.emplace(k, v.get<std::string>());
    }
  }
  return matches(labels);
}

tl::expected<LabelSelector, SelectorError> parse_label_selector(std::string_view text) {
  LabelSelector s;
  if (trim(text).empty()) return s;
  for (std::string_view part : split_requirements(text)) {
    auto req = parse_requirement(part);
    if (!req) return tl::unexpected(req.error());
    s.requirements.push_back(std::move(*req));
  }
  return s;
}

}  // namespace crashdiag::fake
