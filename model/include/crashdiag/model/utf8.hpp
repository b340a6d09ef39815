#pragma once

#include <string>
#include <string_view>

namespace crashdiag {

// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence. Byte-based cuts (excerpt limits, per-line caps) must not produce invalid UTF-8:
// JSON serialisation rejects it.
[[nodiscard]] inline std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) --cut;
  return s.substr(0, cut);
}

// Removes a trailing, incomplete UTF-8 sequence (left by a byte-count cut).
inline void trim_incomplete_utf8(std::string& s) {
  std::size_t i = s.size();
  std::size_t continuation = 0;
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0U) == 0x80U && continuation < 3) {
    --i;
    ++continuation;
  }
  if (i == 0) return;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  if ((lead & 0x80U) == 0) return;  // ASCII: nothing pending
  const std::size_t need = (lead & 0xE0U) == 0xC0U ? 1 : (lead & 0xF0U) == 0xE0U ? 2 : (lead & 0xF8U) == 0xF0U ? 3 : 0;
  if (continuation < need) s.resize(i - 1);
}

// `s` cut to at most `max_bytes` (plus the marker) at a character boundary.
[[nodiscard]] inline std::string utf8_clip(std::string_view s, std::size_t max_bytes,
                                           std::string_view marker = " [...]") {
  if (s.size() <= max_bytes) return std::string(s);
  std::string out(utf8_prefix(s, max_bytes));
  out += marker;
  return out;
}

}  // namespace crashdiag
