#include "crashdiag/core/list_decoder.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

namespace crashdiag::core {
namespace {

// The list's metadata holds resourceVersion, continue and remainingItemCount: a few hundred
// bytes. Anything near this bound is not a list a server sent.
constexpr std::size_t kMaxMetadataBytes = 64U << 10U;
// Keys at the top level we care about are "metadata" and "items"; longer ones are skipped.
constexpr std::size_t kMaxKeyBytes = 64;
// After an item this large, give the memory back instead of keeping the capacity for the rest
// of a 150,000-item list.
constexpr std::size_t kKeepCapacity = 1U << 20U;

// The index of the first `c` in data[from, to), or `to`.
std::size_t find_byte(const char* data, std::size_t from, std::size_t to, char c) {
  const void* at = std::memchr(data + from, c, to - from);
  return at != nullptr ? static_cast<std::size_t>(static_cast<const char*>(at) - data) : to;
}

bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

}  // namespace

std::string_view to_string(ListDecodeError e) {
  switch (e) {
    case ListDecodeError::kMalformed:
      return "malformed list body";
    case ListDecodeError::kItemTooLarge:
      return "list item over the per-item limit";
    case ListDecodeError::kMetadataTooLarge:
      return "list metadata over its limit";
  }
  return "malformed list body";
}

ListDecoder::ListDecoder(std::size_t max_item_bytes, std::function<void(std::string_view)> on_item)
    : max_item_bytes_(max_item_bytes), on_item_(std::move(on_item)) {}

std::optional<ListDecodeError> ListDecoder::fail(ListDecodeError e) {
  error_ = e;
  buffer_.clear();
  buffer_.shrink_to_fit();
  return error_;
}

std::optional<ListDecodeError> ListDecoder::capture_too_large() const {
  if (capture_ == Capture::kItem && buffer_.size() > max_item_bytes_) return ListDecodeError::kItemTooLarge;
  if (capture_ == Capture::kMetadata && buffer_.size() > kMaxMetadataBytes) return ListDecodeError::kMetadataTooLarge;
  return std::nullopt;
}

void ListDecoder::end_capture() {
  if (capture_ == Capture::kMetadata) {
    const nlohmann::json meta = nlohmann::json::parse(buffer_, nullptr, false);
    if (meta.is_object()) {
      if (auto it = meta.find("resourceVersion"); it != meta.end() && it->is_string()) resource_version_ = *it;
      if (auto it = meta.find("continue"); it != meta.end() && it->is_string()) continue_ = *it;
    }
  } else if (capture_ == Capture::kItem) {
    ++items_;
    on_item_(buffer_);
  }
  capture_ = Capture::kNone;
  buffer_.clear();
  if (buffer_.capacity() > kKeepCapacity) buffer_.shrink_to_fit();
}

std::optional<ListDecodeError> ListDecoder::feed(std::string_view bytes) {
  if (error_) return error_;
  const char* const data = bytes.data();
  const std::size_t n = bytes.size();
  std::size_t from = 0;  // where the captured span of this chunk starts
  // The next '"' at or after the string scan's position, once searched: kept across the escapes
  // of one string, so a value full of escapes ("\\n" every other byte, which anyone who can
  // create a pod can put in an annotation) is not searched to its closing quote again after
  // each one.
  std::size_t next_quote = 0;
  bool quote_searched = false;
  for (std::size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (in_string_) {
      if (!escaped_ && c != '"' && c != '\\') {
        // Most of a pod's bytes are inside strings (names, env values, annotations); jump to the
        // next byte that can end one or escape in it instead of stepping through them. memchr is
        // vectorised in glibc: a byte loop over 145 MB of pods was a fifth of the daemon's CPU in
        // its first sync (perf, against a real kube-apiserver with 20,000 pods).
        if (!quote_searched || next_quote <= i) {
          next_quote = find_byte(data, i + 1, n, '"');
          quote_searched = true;
        }
        i = find_byte(data, i + 1, next_quote, '\\');
        if (i == n) break;
        c = data[i];
      }
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (capture_ == Capture::kKey) {
          key_.append(data + from, std::min(i - from, kMaxKeyBytes));
          capture_ = Capture::kNone;
          expect_key_ = false;
        }
      }
      continue;
    }
    if (is_ws(c)) continue;
    if (done_) return fail(ListDecodeError::kMalformed);  // bytes after the object
    if (!started_) {
      if (c != '{') return fail(ListDecodeError::kMalformed);
      started_ = true;
      depth_ = 1;
      expect_key_ = true;
      continue;
    }
    // A value begins at depth 1 (after "key":) or as an element of the items array.
    const bool top_value = depth_ == 1 && !expect_key_ && value_key_.has_value();
    const bool item_start = depth_ == 2 && in_items_ && capture_ == Capture::kNone && c != ',' && c != ']';
    if (item_start && c != '{') return fail(ListDecodeError::kMalformed);  // items are objects
    switch (c) {
      case '"':
        in_string_ = true;
        if (depth_ == 1 && expect_key_) {
          capture_ = Capture::kKey;
          key_.clear();
          from = i + 1;
        }
        if (top_value) value_key_.reset();
        break;
      case '{':
      case '[':
        if (top_value) {
          if (c == '{' && *value_key_ == "metadata") {
            capture_ = Capture::kMetadata;
            capture_depth_ = 1;
            buffer_.clear();
            from = i;
          } else if (c == '[' && *value_key_ == "items") {
            in_items_ = true;
            saw_items_ = true;
          }
          value_key_.reset();
        } else if (item_start) {
          capture_ = Capture::kItem;
          capture_depth_ = 2;
          buffer_.clear();
          from = i;
        } else if (depth_ == 1) {
          return fail(ListDecodeError::kMalformed);  // an object or array where a key belongs
        }
        ++depth_;
        break;
      case '}':
      case ']':
        --depth_;
        if (depth_ == 0) {
          if (c != '}') return fail(ListDecodeError::kMalformed);
          done_ = true;
          break;
        }
        if ((capture_ == Capture::kItem || capture_ == Capture::kMetadata) && depth_ == capture_depth_) {
          buffer_.append(data + from, i + 1 - from);
          if (auto e = capture_too_large()) return fail(*e);
          end_capture();
        }
        if (depth_ == 1 && in_items_) in_items_ = false;  // the items array closed
        break;
      case ':':
        if (depth_ == 1) {
          if (expect_key_) return fail(ListDecodeError::kMalformed);
          value_key_ = key_;
        }
        break;
      case ',':
        if (depth_ == 1) {
          expect_key_ = true;
          value_key_.reset();
        }
        break;
      default:
        // A scalar: at the top level it is skipped, except that `"items": null` is an empty list.
        if (top_value) {
          if (*value_key_ == "items") saw_items_ = true;
          value_key_.reset();
        } else if (depth_ == 1 && expect_key_) {
          return fail(ListDecodeError::kMalformed);
        }
        break;
    }
  }
  // Keep the part of a capture that continues in the next chunk.
  if (capture_ == Capture::kKey) {
    if (key_.size() < kMaxKeyBytes) key_.append(data + from, std::min(n - from, kMaxKeyBytes - key_.size()));
  } else if (capture_ == Capture::kItem || capture_ == Capture::kMetadata) {
    buffer_.append(data + from, n - from);
    if (auto e = capture_too_large()) return fail(*e);
  }
  return std::nullopt;
}

std::optional<ListDecodeError> ListDecoder::finish() {
  if (error_) return error_;
  if (!done_ || !saw_items_) return fail(ListDecodeError::kMalformed);
  return std::nullopt;
}

}  // namespace crashdiag::core
