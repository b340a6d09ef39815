// Removes secrets from text before it is quoted anywhere: passwords and tokens in key=value
// and JSON form, Authorization headers, bearer tokens, JWTs, cloud access keys, private keys,
// and credentials inside URLs and connection strings.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace crashdiag {

class Redactor {
 public:
  Redactor();
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;
  Redactor(Redactor&&) noexcept;
  Redactor& operator=(Redactor&&) noexcept;

  [[nodiscard]] std::string redact(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether an env value may be printed: only when the name is not secret-like and the value
// is a path, a number or a short plain word (PGDATA=/var/lib/postgresql/data, PORT=8080).
[[nodiscard]] bool is_env_value_printable(std::string_view name, std::string_view value);

}  // namespace crashdiag
