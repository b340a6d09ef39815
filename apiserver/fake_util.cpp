// The fake apiserver's small utilities (declared in fake_internal.hpp): Go's coercion of invalid
// UTF-8, URL and base64 decoding and encoding, and the builders of watch events, watch lines, list
// bodies and continue tokens.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_status.hpp"
#include "crashdiag/core/kubeconfig.hpp"
#include "fake_internal.hpp"

namespace crashdiag::fake::detail {

// Go's encoding/json writes each byte of invalid UTF-8 as U+FFFD, so whatever a client stored
// (a kubelet's termination message cut mid-character: tests/data/k8s-real/24-get-pod-
// termination-message-cut-mid-utf8.json), the apiserver serves valid UTF-8.
void coerce_utf8(std::string& s) {
  std::string out;
  std::size_t i = 0;
  bool changed = false;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80U ? 1 : (c >> 5U) == 0x6U ? 2 : (c >> 4U) == 0xEU ? 3 : (c >> 3U) == 0x1EU ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0U) == 0x80U;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are invalid too (utf8.DecodeRune).
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(len == 2 && c < 0xC2U) && !(len == 3 && c == 0xE0U && c1 < 0xA0U) &&
           !(len == 3 && c == 0xEDU && c1 >= 0xA0U) && !(len == 4 && c == 0xF0U && c1 < 0x90U) &&
           !(len == 4 && (c > 0xF4U || (c == 0xF4U && c1 >= 0x90U)));
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      changed = true;
      ++i;
    }
  }
  if (changed) s = std::move(out);
}

void coerce_utf8(json& v) {
  if (v.is_string()) {
    coerce_utf8(v.get_ref<std::string&>());
  } else if (v.is_array()) {
    for (auto& e : v) coerce_utf8(e);
  } else if (v.is_object()) {
    bool bad_key = false;
    for (auto& [k, e] : v.items()) {
      std::string key = k;
      coerce_utf8(key);
      bad_key = bad_key || key != k;
      coerce_utf8(e);
    }
    if (bad_key) {
      json fixed = json::object();
      for (auto& [k, e] : v.items()) {
        std::string key = k;
        coerce_utf8(key);
        fixed[key] = std::move(e);
      }
      v = std::move(fixed);
    }
  }
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) pos = s.size();
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

// RFC 4648 base64: the URL alphabet without padding for continue tokens (as the apiserver),
// the standard alphabet with padding for kubeconfig *-data fields.
std::string base64_encode(const std::string& in, bool url) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -6;
  for (unsigned char c : in) {
    val = (val << 8U) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(alphabet[(val >> static_cast<unsigned>(bits)) & 0x3FU]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(alphabet[((val << 8U) >> static_cast<unsigned>(bits + 8)) & 0x3FU]);
  while (!url && out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string base64url(const std::string& in) {
  return base64_encode(in, true);
}

std::optional<std::string> base64url_decode(const std::string& in) {
  std::string std_b64 = in;
  for (char& c : std_b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return core::base64_decode(std_b64);
}

std::string key_of(const json& obj) {
  return obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
}

// JSON built outside coroutines: GCC 12 miscompiles braced initializer lists holding string
// literals inside a coroutine body ("array used as initializer").
json watch_event(const std::string& type, const json& object) {
  json ev = json::object();
  ev["type"] = type;
  ev["object"] = object;
  return ev;
}

// One line of a watch stream, "type" before "object" as the apiserver writes it (metav1.WatchEvent's
// field order, encoded by encoding/json; ../shared/k8s-fixtures/03-watch-pods-all-namespaces-
// stream.events.jsonl). nlohmann::json sorts keys, which would put "object" first: a client that
// only works with one order, or is slower with the other, must see the real one.
std::string watch_line(const json& ev) {
  std::string line = R"({"type":)" + ev.value("type", json("")).dump();
  if (auto it = ev.find("object"); it != ev.end()) line += R"(,"object":)" + it->dump();
  line += "}\n";
  return line;
}

json expired_event(const std::string& message) {
  return watch_event("ERROR", status_body(410, "Expired", message));
}

json bookmark_event(const ResourceType& type, std::uint64_t rv) {
  json obj = json::object();
  obj["kind"] = type.kind;
  obj["apiVersion"] = type.api_version();
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  obj["metadata"]["creationTimestamp"] = nullptr;
  // ResourceType::empty_object. Not merge_patch: its nulls ("containers":null) would delete, and
  // they are what is sent.
  for (const auto& [key, value] : type.empty_object.items()) {
    if (key != "metadata") {
      obj[key] = value;
      continue;
    }
    for (const auto& [meta_key, meta_value] : value.items()) obj["metadata"][meta_key] = meta_value;
  }
  return watch_event("BOOKMARK", obj);
}

json list_body(const std::string& kind, const std::string& api_version, std::uint64_t rv, json items) {
  json list = json::object();
  list["kind"] = kind;
  list["apiVersion"] = api_version;
  list["metadata"]["resourceVersion"] = std::to_string(rv);
  list["items"] = std::move(items);
  return list;
}

std::string continue_token(std::uint64_t rv, const std::string& start) {
  json t = json::object();
  t["v"] = "meta.k8s.io/v1";
  t["rv"] = rv;
  t["start"] = start;
  return base64url(t.dump());
}

}  // namespace crashdiag::fake::detail
