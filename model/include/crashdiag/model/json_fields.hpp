// Typed reads of JSON fields that never throw. nlohmann's `value(key, default)` throws
// type_error when the field exists with another type (and on a non-object), so one field an API
// server, a proxy or a hand-edited file gets wrong would otherwise end the process (found by
// fuzz/fuzz_pod_parsers: an ExitCode given as a string). Here a field of the wrong type reads as
// absent.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace crashdiag::json_fields {

inline const nlohmann::json* field(const nlohmann::json& o, std::string_view key) {
  if (!o.is_object()) return nullptr;
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

inline std::string string_or(const nlohmann::json& o, std::string_view key, std::string fallback = {}) {
  const nlohmann::json* f = field(o, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::move(fallback);
}

inline bool bool_or(const nlohmann::json& o, std::string_view key, bool fallback) {
  const nlohmann::json* f = field(o, key);
  return f != nullptr && f->is_boolean() ? f->get<bool>() : fallback;
}

// An integer that fits in an int; anything else (a string, a float, out of range) is the fallback.
inline int int_or(const nlohmann::json& o, std::string_view key, int fallback) {
  const nlohmann::json* f = field(o, key);
  if (f == nullptr || !f->is_number_integer()) return fallback;
  const auto v = f->get<std::int64_t>();
  return v < INT32_MIN || v > INT32_MAX ? fallback : static_cast<int>(v);
}

// The object at `key`, or an empty object.
inline const nlohmann::json& object_or_empty(const nlohmann::json& o, std::string_view key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* f = field(o, key);
  return f != nullptr && f->is_object() ? *f : kEmpty;
}

}  // namespace crashdiag::json_fields
