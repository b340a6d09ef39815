#include "crashdiag/classifiers/redaction.hpp"

#include <re2/re2.h>

#include <array>
#include <cctype>

namespace crashdiag {

struct Redactor::Impl {
  struct Replacement {
    std::unique_ptr<RE2> pattern;
    std::string rewrite;
  };
  std::vector<Replacement> replacements;
};

namespace {

std::unique_ptr<RE2> compile(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_dot_nl(true);
  return std::make_unique<RE2>(pattern, options);
}

}  // namespace

Redactor::Redactor() : impl_(std::make_unique<Impl>()) {
  // Order matters: whole private keys first, then structured credentials, then loose tokens.
  const std::array<std::pair<std::string_view, std::string_view>, 9> rules = {{
      {R"re(-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$))re",
       "-----BEGIN \\1PRIVATE KEY----- [REDACTED]"},
      // user:password@ in URLs and DSNs (postgres://u:p@h, amqp://, redis://:p@h, mongodb+srv://).
      {R"re(([A-Za-z][A-Za-z0-9+.\-]*://)([^:/@\s"']*):([^@\s"'/]+)@)re", "\\1\\2:***@"},
      {R"re((?i)(authorization\s*[:=]\s*"?)(bearer|basic|token|digest)?\s*[^\s"',;]+)re", "\\1\\2 ***"},
      {R"re((?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*)re", "\\1 ***"},
      {R"re(\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*)re", "***"},
      {R"re(\b(AKIA|ASIA)[0-9A-Z]{16}\b)re", "***"},
      // key=value / key: value / "key":"value" for secret-looking keys, including libpq
      // connection strings (password=...) and JDBC (;password=...). The key must end the name
      // so "password authentication failed" is left alone (no separator follows).
      {R"re((?i)([A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)["']?\s*(?:[:=]|=>)\s*["']?)([^\s"',;&}]+))re",
       "\\1***"},
      {R"re((?i)(--(?:password|token|secret|api-key)[= ])(\S+))re", "\\1***"},
      {R"re((?i)\b(gh[pousr]_[A-Za-z0-9]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}|glpat-[A-Za-z0-9\-_]{16,}))re", "***"},
  }};
  for (const auto& [pattern, rewrite] : rules) {
    auto re = compile(pattern);
    if (re->ok()) impl_->replacements.push_back({std::move(re), std::string(rewrite)});
  }
}

Redactor::~Redactor() = default;
Redactor::Redactor(Redactor&&) noexcept = default;
Redactor& Redactor::operator=(Redactor&&) noexcept = default;

std::string Redactor::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& r : impl_->replacements) {
    RE2::GlobalReplace(&out, *r.pattern, r.rewrite);
  }
  return out;
}

bool is_env_value_printable(std::string_view name, std::string_view value) {
  std::string upper;
  upper.reserve(name.size());
  for (char c : name) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (std::string_view bad : {"PASS", "SECRET", "TOKEN", "KEY", "CRED", "AUTH", "PRIVATE", "CERT", "DSN", "SALT",
                               "SIGN", "COOKIE", "SESSION", "URL", "URI", "CONN"}) {
    if (upper.find(bad) != std::string::npos) return false;
  }
  if (value.size() > 200) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && c != '/' && c != '.' && c != '-' && c != '_' && c != ':' && c != ' ' && c != '=' &&
        c != ',') {
      return false;
    }
  }
  return true;
}

}  // namespace crashdiag
