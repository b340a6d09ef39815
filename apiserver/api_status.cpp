#include "api_status.hpp"

#include <re2/re2.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <set>

namespace crashdiag::fake {

using nlohmann::json;

namespace {

const char* type_name(FieldError::Type t) {
  switch (t) {
    case FieldError::Type::kRequired:
      return "Required value";
    case FieldError::Type::kInvalid:
    case FieldError::Type::kTypeInvalid:
      return "Invalid value";
    case FieldError::Type::kNotSupported:
      return "Unsupported value";
    case FieldError::Type::kTooLong:
      return "Too long";
    case FieldError::Type::kTooMany:
      return "Too many";
    case FieldError::Type::kForbidden:
      return "Forbidden";
    case FieldError::Type::kDuplicate:
      return "Duplicate value";
  }
  return "Invalid value";
}

}  // namespace

std::string FieldError::reason() const {
  switch (type) {
    case Type::kRequired:
      return "FieldValueRequired";
    case Type::kInvalid:
      return "FieldValueInvalid";
    case Type::kTypeInvalid:
      return "FieldValueTypeInvalid";
    case Type::kNotSupported:
      return "FieldValueNotSupported";
    case Type::kTooLong:
      return "FieldValueTooLong";
    case Type::kTooMany:
      return "FieldValueTooMany";
    case Type::kForbidden:
      return "FieldValueForbidden";
    case Type::kDuplicate:
      return "FieldValueDuplicate";
  }
  return "FieldValueInvalid";
}

std::string FieldError::body() const {
  // field.Error.ErrorBody: Required, Forbidden and TooLong never print the value.
  std::string s = type_name(type);
  if (type != Type::kRequired && type != Type::kForbidden && type != Type::kTooLong) {
    s += ": " + (printed ? *printed : go_value(value));
  }
  if (!detail.empty()) s += ": " + detail;
  return s;
}

std::string FieldError::error() const {
  return field + ": " + body();
}

json status_body(int code, const std::string& reason, const std::string& message, json details) {
  json s = json::object();
  s["kind"] = "Status";
  s["apiVersion"] = "v1";
  s["metadata"] = json::object();
  s["status"] = "Failure";
  s["message"] = message;
  if (!reason.empty()) s["reason"] = reason;  // errors that are not a StatusError have none (500s)
  s["code"] = code;
  if (!details.is_null()) s["details"] = std::move(details);
  return s;
}

json invalid_status(const std::string& group, const std::string& kind, const std::string& name,
                    const std::vector<FieldError>& errors) {
  json causes = json::array();
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const auto& e : errors) {
    json c = json::object();
    c["reason"] = e.reason();
    c["message"] = e.body();
    c["field"] = e.field;
    causes.push_back(std::move(c));
    // ErrorList.ToAggregate drops repeated messages.
    if (seen.insert(e.error()).second) messages.push_back(e.error());
  }
  const std::string qualified = group.empty() ? kind : kind + "." + group;
  std::string message = qualified + " " + go_quote(name) + " is invalid";
  if (messages.size() == 1) {
    message += ": " + messages[0];
  } else if (!messages.empty()) {
    std::string joined;
    for (const auto& m : messages) joined += (joined.empty() ? "" : ", ") + m;
    message += ": [" + joined + "]";
  }
  json details = json::object();
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  details["kind"] = kind;
  details["causes"] = std::move(causes);
  return status_body(422, "Invalid", message, std::move(details));
}

std::string qualified_resource(const std::string& group, const std::string& plural) {
  return group.empty() ? plural : plural + "." + group;
}

namespace {

json resource_details(const std::string& group, const std::string& plural, const std::string& name) {
  json d = json::object();
  d["name"] = name;
  if (!group.empty()) d["group"] = group;
  d["kind"] = plural;
  return d;
}

}  // namespace

json not_found_status(const std::string& group, const std::string& plural, const std::string& name) {
  return status_body(404, "NotFound", qualified_resource(group, plural) + " " + go_quote(name) + " not found",
                     resource_details(group, plural, name));
}

json namespace_terminating_status(const std::string& group, const std::string& plural, const std::string& name,
                                  const std::string& ns) {
  // errors.NewForbidden with a cause, as NamespaceLifecycle admission builds it
  // (staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go, v1.26;
  // tests/data/k8s-real/20-terminating-create-event-403.http).
  json details = resource_details(group, plural, name);
  details["causes"] = json::array({json{{"reason", "NamespaceTerminating"},
                                        {"message", "namespace " + ns + " is being terminated"},
                                        {"field", "metadata.namespace"}}});
  return status_body(403, "Forbidden",
                     qualified_resource(group, plural) + " " + go_quote(name) +
                         " is forbidden: unable to create new content in namespace " + ns +
                         " because it is being terminated",
                     std::move(details));
}

json already_exists_status(const std::string& group, const std::string& plural, const std::string& name) {
  return status_body(409, "AlreadyExists", qualified_resource(group, plural) + " " + go_quote(name) + " already exists",
                     resource_details(group, plural, name));
}

json conflict_status(const std::string& group, const std::string& plural, const std::string& name,
                     const std::string& why) {
  return status_body(
      409, "Conflict",
      "Operation cannot be fulfilled on " + qualified_resource(group, plural) + " " + go_quote(name) + ": " + why,
      resource_details(group, plural, name));
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\x%02x", c);
          out += buf.data();
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string go_float(double v) {
  // strconv.FormatFloat(v, 'g', -1, 64), which fmt's %v uses: the shortest digits that round-trip,
  // in exponent form when the decimal exponent is < -4 or >= 6 (Go prints 1e+06 and 123456).
  if (v == 0) return "0";
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  if (ec != std::errc()) return "NaN";
  std::string sci(buf.data(), end);
  const bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  const auto epos = sci.find('e');
  std::string digits = sci.substr(0, epos);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp = 0;
  const std::string exp_text = sci.substr(epos + 1);
  std::from_chars(exp_text.data() + (exp_text[0] == '+' ? 1 : 0), exp_text.data() + exp_text.size(), exp);
  std::string out;
  if (exp < -4 || exp >= 6) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int magnitude = exp < 0 ? -exp : exp;
    out += std::string("e") + (exp < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + std::to_string(magnitude);
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  } else {
    const std::size_t int_len = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0');
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return neg ? "-" + out : out;
}

std::string go_value(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number_float()) return go_float(v.get<double>());
  if (v.is_string()) return go_quote(v.get<std::string>());
  // %#v of the decoded value.
  std::string out;
  if (v.is_array()) {
    out = "[]interface {}{";
    bool first = true;
    for (const auto& item : v) {
      out += (first ? "" : ", ") + go_value(item);
      first = false;
    }
  } else {
    out = "map[string]interface {}{";
    bool first = true;
    for (const auto& [k, item] : v.items()) {
      out += (first ? "" : ", ") + go_quote(k) + ":" + go_value(item);
      first = false;
    }
  }
  return out + "}";
}

namespace {

// validation.RegexError: "(e.g. 'a',  or 'b', regex used for validation is '...')" - the
// doubled space is the real one.
std::string regex_error(const std::string& msg, const std::string& fmt, const std::vector<std::string>& examples) {
  std::string out = msg + " (e.g. ";
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (i > 0) out += " or ";
    out += "'" + examples[i] + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

const std::string kDns1123SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const std::string kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const std::string kLabelValueFmt = "(" + kQualifiedNameFmt + ")?";

// RE2, as everywhere in the project (linear time; Go's regexp, which apimachinery uses, has the
// same syntax).
bool full_match(const std::string& value, const std::string& pattern) {
  const RE2 re(pattern);
  return RE2::FullMatch(value, re);
}

std::string max_len_error(int n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

}  // namespace

std::vector<std::string> dns1123_subdomain_errors(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(max_len_error(253));
  if (!full_match(value, kDns1123SubdomainFmt)) {
    errs.push_back(
        regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                    "'-' or '.', and must start and end with an alphanumeric character",
                    kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> qualified_name_errors(const std::string& value) {
  std::vector<std::string> errs;
  const std::string qualified_msg =
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
      "character";
  std::string name;
  const auto slash = value.find('/');
  if (slash == std::string::npos) {
    name = value;
  } else if (value.find('/', slash + 1) == std::string::npos) {
    const std::string prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.emplace_back("prefix part must be non-empty");
    } else {
      for (const auto& m : dns1123_subdomain_errors(prefix)) errs.push_back("prefix part " + m);
    }
  } else {
    errs.push_back("a qualified name " +
                   regex_error(qualified_msg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.emplace_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + max_len_error(63));
  }
  if (!full_match(name, kQualifiedNameFmt)) {
    errs.push_back("name part " + regex_error(qualified_msg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> label_value_errors(const std::string& value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(max_len_error(63));
  if (!full_match(value, kLabelValueFmt)) {
    errs.push_back(regex_error(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character",
        kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

void validate_object_meta(const json& meta, bool check_name, std::vector<FieldError>& errors) {
  if (check_name) {
    const std::string name = meta.contains("name") && meta["name"].is_string() ? meta["name"].get<std::string>() : "";
    if (name.empty()) {
      errors.push_back(
          {FieldError::Type::kRequired, "metadata.name", nullptr, std::nullopt, "name or generateName is required"});
    } else {
      for (const auto& m : dns1123_subdomain_errors(name)) {
        errors.push_back({FieldError::Type::kInvalid, "metadata.name", name, std::nullopt, m});
      }
    }
  }
  // ValidateLabels: errors name the map (metadata.labels), the bad value is the key or the value.
  if (meta.contains("labels") && meta["labels"].is_object()) {
    for (const auto& [k, v] : meta["labels"].items()) {
      for (const auto& m : qualified_name_errors(k)) {
        errors.push_back({FieldError::Type::kInvalid, "metadata.labels", k, std::nullopt, m});
      }
      const std::string value = v.is_string() ? v.get<std::string>() : "";
      for (const auto& m : label_value_errors(value)) {
        errors.push_back({FieldError::Type::kInvalid, "metadata.labels", value, std::nullopt, m});
      }
    }
  }
  // ValidateAnnotations: keys are qualified names (checked lower-cased), values are free, and all
  // of them together at most 256 KiB.
  if (meta.contains("annotations") && meta["annotations"].is_object()) {
    std::size_t total = 0;
    for (const auto& [k, v] : meta["annotations"].items()) {
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      for (const auto& m : qualified_name_errors(lower)) {
        errors.push_back({FieldError::Type::kInvalid, "metadata.annotations", k, std::nullopt, m});
      }
      total += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
    }
    constexpr std::size_t kTotalAnnotationSizeLimit = std::size_t{256} * 1024;
    if (total > kTotalAnnotationSizeLimit) {
      errors.push_back({FieldError::Type::kTooLong, "metadata.annotations", "", std::nullopt,
                        "must have at most " + std::to_string(kTotalAnnotationSizeLimit) + " bytes"});
    }
  }
}

namespace {

// Howard Hinnant's days_from_civil.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

bool digits_at(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<Timestamp> parse_rfc3339(std::string_view s) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!digits_at(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits_at(s, 5, 2, month) || s[7] != '-' ||
      !digits_at(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !digits_at(s, 11, 2, hour) || s[13] != ':' ||
      !digits_at(s, 14, 2, minute) || s[16] != ':' || !digits_at(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[static_cast<std::size_t>(month - 1)] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  Timestamp t;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t nanos = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++pos;
    }
    t.fraction_digits = static_cast<int>(pos - start);
    if (t.fraction_digits == 0) return std::nullopt;
    for (int i = std::min(t.fraction_digits, 9); i < 9; ++i) nanos *= 10;
    t.nanos = nanos;
  }
  int offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0;
    int om = 0;
    if (!digits_at(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits_at(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  t.seconds = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
              std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second - offset;
  return t;
}

std::string format_rfc3339(const Timestamp& t, int fraction_digits) {
  std::int64_t days = t.seconds / 86400;
  std::int64_t rem = t.seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>((rem % 3600) / 60),
                static_cast<long long>(rem % 60));
  std::string out = buf.data();
  if (fraction_digits > 0) {
    std::array<char, 16> frac{};
    std::snprintf(frac.data(), frac.size(), "%09lld", static_cast<long long>(t.nanos));
    out += "." + std::string(frac.data(), static_cast<std::size_t>(std::min(fraction_digits, 9)));
  }
  return out + "Z";
}

std::string now_rfc3339(int fraction_digits) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  Timestamp t;
  t.seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  t.nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() % 1'000'000'000;
  return format_rfc3339(t, fraction_digits);
}

std::string human_age(std::int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const std::int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const std::int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s == 0 ? "" : std::to_string(s) + "s");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const std::int64_t hours = seconds / 3600;
  if (hours < 8) {
    const std::int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m == 0 ? "" : std::to_string(m) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  constexpr std::int64_t kDay = 24;
  constexpr std::int64_t kYear = kDay * 365;
  if (hours < kDay * 8) {
    const std::int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h == 0 ? "" : std::to_string(h) + "h");
  }
  if (hours < kYear * 2) return std::to_string(hours / 24) + "d";
  if (hours < kYear * 8) {
    const std::int64_t dy = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (dy == 0 ? "" : std::to_string(dy) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

}  // namespace crashdiag::fake
