#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/classifiers/redaction.hpp"

namespace crashdiag {
namespace {

struct RedactCase {
  const char* name;
  const char* input;
  const char* must_not_contain;
  const char* must_contain;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const RedactCase& p, std::ostream* os) {
  *os << p.name;
}

class Redaction : public ::testing::TestWithParam<RedactCase> {};

TEST_P(Redaction, RemovesTheSecretAndKeepsTheContext) {
  Redactor r;
  std::string out = r.redact(GetParam().input);
  EXPECT_EQ(out.find(GetParam().must_not_contain), std::string::npos) << out;
  EXPECT_NE(out.find(GetParam().must_contain), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Redaction,
    ::testing::Values(
        RedactCase{"url_credentials", "connecting to postgres://app:s3cr3tP4ss@db:5432/app", "s3cr3tP4ss",
                   "postgres://app:***@db"},
        RedactCase{"redis_url_password_only", "redis://:hunter22@redis:6379/0", "hunter22", "redis://:***@redis"},
        RedactCase{"key_value", "password=hunter22 host=db", "hunter22", "host=db"},
        RedactCase{"env_style", "POSTGRES_PASSWORD: correcthorse", "correcthorse", "POSTGRES_PASSWORD"},
        RedactCase{"json_style", R"({"client_secret":"abc123xyz","user":"bob"})", "abc123xyz", "\"user\":\"bob\""},
        RedactCase{"authorization_header", "Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.sig", "eyJhbGciOi",
                   "Authorization:"},
        RedactCase{"bearer_token", "using bearer abcdefghijklmnop1234", "abcdefghijklmnop1234", "bearer ***"},
        RedactCase{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl rejected", "eyJhbGciOiJIUzI1NiJ9",
                   "rejected"},
        RedactCase{"aws_key", "AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", "used"},
        RedactCase{"private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow",
                   "[REDACTED]"},
        RedactCase{"jdbc", "jdbc:mysql://db/app?user=app&password=topsecret1", "topsecret1", "user=app"},
        RedactCase{"cli_flag", "--password=letmein99 --verbose", "letmein99", "--verbose"},
        RedactCase{"github_token", "cloning with ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghij", "cloning"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Redaction, LeavesDiagnosticTextAlone) {
  Redactor r;
  for (const char* keep :
       {"FATAL:  password authentication failed for user \"postgres\"", "secret \"db-credentials\" not found",
        "couldn't find key password in Secret default/db", "exec: \"server\": executable file not found in $PATH"}) {
    EXPECT_EQ(r.redact(keep), keep);
  }
}

TEST(EnvPrintable, OnlyPlainNonSecretValues) {
  EXPECT_TRUE(is_env_value_printable("PGDATA", "/var/lib/postgresql/data"));
  EXPECT_TRUE(is_env_value_printable("PORT", "8080"));
  EXPECT_FALSE(is_env_value_printable("POSTGRES_PASSWORD", "x"));
  EXPECT_FALSE(is_env_value_printable("DATABASE_URL", "postgres://db/app"));
  EXPECT_FALSE(is_env_value_printable("GREETING", "hello \"world\"; rm -rf"));
}

}  // namespace
}  // namespace crashdiag
