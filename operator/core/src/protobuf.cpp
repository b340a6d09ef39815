#include "crashdiag/core/protobuf.hpp"

#include <algorithm>
#include <cstdio>

namespace crashdiag::core::pb {
namespace {

// protobuf.go: `var protoEncodingPrefix = []byte{0x6b, 0x38, 0x73, 0x00}`.
constexpr std::string_view kMagic{"k8s\0", 4};
// A ListMeta holds a resourceVersion and a continue token (a few hundred bytes); TypeMeta two
// short strings.
constexpr std::size_t kMaxMetaBytes = 64U << 10U;

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII media types only
         });
}

}  // namespace

Encoding encoding_of(std::string_view content_type) {
  // "application/vnd.kubernetes.protobuf" and, for a watch, "...;stream=watch".
  const auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return ieq(type, "application/vnd.kubernetes.protobuf") ? Encoding::kProtobuf : Encoding::kJson;
}

std::optional<std::uint64_t> read_varint(std::string_view data, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= data.size()) return std::nullopt;
    const auto b = static_cast<unsigned char>(data[pos++]);
    value |= static_cast<std::uint64_t>(b & 0x7FU) << shift;
    if ((b & 0x80U) == 0) return value;
  }
  return std::nullopt;
}

bool Reader::next(Field& field) {
  if (!ok_ || pos_ >= data_.size()) return false;
  auto key = read_varint(data_, pos_);
  if (!key || (*key >> 3U) == 0 || (*key >> 3U) > 0x1FFFFFFFU) return fail();
  field.number = static_cast<std::uint32_t>(*key >> 3U);
  field.bytes = {};
  field.varint = 0;
  switch (*key & 7U) {
    case 0: {
      auto v = read_varint(data_, pos_);
      if (!v) return fail();
      field.type = WireType::kVarint;
      field.varint = *v;
      return true;
    }
    case 1:
    case 5: {
      const std::size_t n = (*key & 7U) == 1 ? 8 : 4;
      if (data_.size() - pos_ < n) return fail();
      for (std::size_t i = 0; i < n; ++i)  // little-endian
        field.varint |= static_cast<std::uint64_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
      pos_ += n;
      field.type = n == 8 ? WireType::kFixed64 : WireType::kFixed32;
      return true;
    }
    case 2: {
      auto len = read_varint(data_, pos_);
      if (!len || *len > data_.size() - pos_) return fail();
      field.type = WireType::kBytes;
      field.bytes = data_.substr(pos_, static_cast<std::size_t>(*len));
      pos_ += static_cast<std::size_t>(*len);
      return true;
    }
    default:  // groups (3, 4) are proto1's; Kubernetes never writes them
      return fail();
  }
}

std::optional<Envelope> unwrap(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Envelope env;
  Reader unknown(bytes.substr(kMagic.size()));
  Field f;
  bool raw = false;
  while (unknown.next(f)) {
    if (f.type != WireType::kBytes) continue;
    if (f.number == 1) {
      Reader type_meta(f.bytes);
      Field t;
      while (type_meta.next(t)) {
        if (t.type != WireType::kBytes) continue;
        if (t.number == 1) env.api_version = t.bytes;
        if (t.number == 2) env.kind = t.bytes;
      }
      if (!type_meta.ok()) return std::nullopt;
    } else if (f.number == 2) {
      env.raw = f.bytes;
      raw = true;
    } else if (f.number == 3 && !f.bytes.empty()) {
      return std::nullopt;  // contentEncoding (gzip): never set by the apiserver, not supported
    }
  }
  if (!unknown.ok() || !raw) return std::nullopt;
  return env;
}

std::optional<Status> parse_status(std::string_view body) {
  auto env = unwrap(body);
  if (!env || env->kind != "Status") return std::nullopt;
  Status out;
  Reader r(env->raw);
  Field f;
  while (r.next(f)) {
    if (f.number == 3 && f.type == WireType::kBytes) out.message.assign(f.bytes);
    if (f.number == 4 && f.type == WireType::kBytes) out.reason.assign(f.bytes);
    if (f.number == 6 && f.type == WireType::kVarint)
      out.code = static_cast<int>(static_cast<std::int32_t>(static_cast<std::uint32_t>(f.varint)));
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

std::string rfc3339(std::int64_t s) {
  // Go's zero time.Time (year 1) is written as an empty message, which reads as 0 here; the Unix
  // epoch itself never stands in a pod's status.
  if (s == 0) return {};
  // Days from civil (Howard Hinnant's algorithm, public domain), in reverse.
  std::int64_t days = s / 86400;
  std::int64_t rem = s % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return {};
  char buf[32];
  // Every part is in range here (year checked above), so ints print them exactly.
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(year), static_cast<int>(month),
                static_cast<int>(day), static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                static_cast<int>(rem % 60));
  return buf;
}

ListDecoder::ListDecoder(std::size_t max_item_bytes, std::function<void(std::string_view)> on_item)
    : max_item_bytes_(max_item_bytes), on_item_(std::move(on_item)) {}

std::optional<ListDecodeError> ListDecoder::fail(ListDecodeError e) {
  error_ = e;
  buffer_.clear();
  buffer_.shrink_to_fit();
  return e;
}

bool ListDecoder::varint_byte(unsigned char b) {
  varint_ |= static_cast<std::uint64_t>(b & 0x7FU) << varint_shift_;
  varint_shift_ += 7;
  return (b & 0x80U) == 0;
}

bool ListDecoder::deliver(std::string_view body) {
  switch (body_) {
    case Body::kItem:
      ++items_;
      on_item_(body);
      return true;
    case Body::kListMeta: {
      Reader meta(body);
      Field f;
      while (meta.next(f)) {
        if (f.type != WireType::kBytes) continue;
        if (f.number == 2) resource_version_.assign(f.bytes);
        if (f.number == 3) continue_.assign(f.bytes);
      }
      return meta.ok();
    }
    case Body::kTypeMeta: {
      if (saw_type_) return false;  // one TypeMeta, before the list (the kind is checked there)
      Reader meta(body);
      Field f;
      while (meta.next(f))
        if (f.type == WireType::kBytes && f.number == 2) kind_.assign(f.bytes);
      saw_type_ = true;
      return meta.ok();
    }
    case Body::kEncoding:
      // contentEncoding: never set by the apiserver (gzip of the raw would be); not supported.
      return body.empty();
    case Body::kSkip:
      return true;
  }
  return true;
}

void ListDecoder::after_field() {
  stage_ = Stage::kKey;
  varint_ = 0;
  varint_shift_ = 0;
  if (in_list_ && list_left_ == 0) in_list_ = false;  // the PodList ended: back in the envelope
}

std::optional<ListDecodeError> ListDecoder::feed(std::string_view bytes) {
  if (error_) return error_;
  std::size_t i = 0;
  // Every byte read inside the PodList counts against its length.
  auto consume = [&](std::size_t n) {
    i += n;
    if (in_list_) list_left_ -= n;
  };
  while (i < bytes.size()) {
    if (in_list_ && list_left_ == 0) return fail(ListDecodeError::kMalformed);
    switch (stage_) {
      case Stage::kMagic: {
        if (bytes[i] != kMagic[magic_seen_]) return fail(ListDecodeError::kMalformed);
        ++i;
        if (++magic_seen_ == kMagic.size()) after_field();
        break;
      }
      case Stage::kKey:
      case Stage::kLength:
      case Stage::kVarint: {
        const auto b = static_cast<unsigned char>(bytes[i]);
        consume(1);
        if (varint_shift_ >= 64) return fail(ListDecodeError::kMalformed);
        if (!varint_byte(b)) break;
        const std::uint64_t v = varint_;
        varint_ = 0;
        varint_shift_ = 0;
        if (stage_ == Stage::kVarint) {
          after_field();
          break;
        }
        if (stage_ == Stage::kKey) {
          field_ = static_cast<std::uint32_t>(v >> 3U);
          if (field_ == 0) return fail(ListDecodeError::kMalformed);
          switch (v & 7U) {
            case 0:
              stage_ = Stage::kVarint;
              break;
            case 1:
            case 5:
              stage_ = Stage::kBody;
              body_ = Body::kSkip;
              body_left_ = (v & 7U) == 1 ? 8 : 4;
              if (in_list_ && body_left_ > list_left_) return fail(ListDecodeError::kMalformed);
              break;
            case 2:
              stage_ = Stage::kLength;
              break;
            default:
              return fail(ListDecodeError::kMalformed);
          }
          break;
        }
        // kLength: what the length-delimited field is.
        if (in_list_ && v > list_left_) return fail(ListDecodeError::kMalformed);
        body_left_ = v;
        body_ = Body::kSkip;
        if (!in_list_ && field_ == 2) {  // Unknown.raw: the PodList, once, after a TypeMeta saying a list
          const bool list_kind = kind_.size() >= 4 && std::string_view(kind_).substr(kind_.size() - 4) == "List";
          if (saw_list_ || !saw_type_ || !list_kind) return fail(ListDecodeError::kMalformed);
          in_list_ = true;
          saw_list_ = true;
          list_left_ = v;
          after_field();
          if (v == 0) in_list_ = false;
          break;
        }
        if (!in_list_ && field_ == 1) body_ = Body::kTypeMeta;
        if (!in_list_ && field_ == 3) body_ = Body::kEncoding;
        if (in_list_ && field_ == 1) body_ = Body::kListMeta;
        if (in_list_ && field_ == 2) body_ = Body::kItem;
        if (body_ == Body::kItem && v > max_item_bytes_) return fail(ListDecodeError::kItemTooLarge);
        if ((body_ == Body::kListMeta || body_ == Body::kTypeMeta || body_ == Body::kEncoding) && v > kMaxMetaBytes)
          return fail(ListDecodeError::kMetadataTooLarge);
        stage_ = Stage::kBody;
        if (v == 0) {
          if (!deliver({})) return fail(ListDecodeError::kMalformed);
          after_field();
        }
        break;
      }
      case Stage::kBody: {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, bytes.size() - i));
        const std::string_view piece = bytes.substr(i, n);
        consume(n);
        body_left_ -= n;
        if (body_ == Body::kSkip) {
          if (body_left_ == 0) after_field();
          break;
        }
        if (body_left_ == 0 && buffer_.empty()) {
          if (!deliver(piece)) return fail(ListDecodeError::kMalformed);  // whole in this piece: no copy
          after_field();
          break;
        }
        buffer_.append(piece);
        if (body_left_ == 0) {
          if (!deliver(buffer_)) return fail(ListDecodeError::kMalformed);
          buffer_.clear();
          // A big item leaves a big buffer; keep at most what a typical item needs.
          if (buffer_.capacity() > (1U << 20U)) buffer_.shrink_to_fit();
          after_field();
        }
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<ListDecodeError> ListDecoder::finish() {
  if (error_) return error_;
  // The kind was checked when the list began.
  const bool complete = stage_ == Stage::kKey && varint_shift_ == 0 && !in_list_ && saw_list_;
  if (!complete) return fail(ListDecodeError::kMalformed);
  return std::nullopt;
}

}  // namespace crashdiag::core::pb
