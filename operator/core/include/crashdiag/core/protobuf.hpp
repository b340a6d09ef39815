// Reading Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), only as far as
// the pod watch needs it. Built-in types are served in protobuf when a client asks for it first in
// Accept, as client-go does for them (rest.Config ContentType); the apiserver encodes it at about
// half JSON's cost (docs/benchmarks.md, "Would protobuf pay?").
//
// The encoding (k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go): the 4 bytes
// `k8s\0`, then a runtime.Unknown message {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
// contentEncoding = 3, contentType = 4} whose raw is the object's own message (a PodList, a Pod,
// a WatchEvent). A watch (`;stream=watch`) is a sequence of frames, each a 4-byte big-endian length
// and then a bare WatchEvent {type = 1, object = 2 (RawExtension {raw = 1})}, without the envelope
// (the stream serializer is protobuf.go's raw one, its frames LengthDelimitedFramer's); the
// object's raw is again an envelope around the Pod or Status (the embedded encoder in
// k8s.io/apiserver/pkg/endpoints/handlers/watch.go). Recorded from kube-apiserver 1.26 in
// tests/data/k8s/pb/. Field numbers are generated.proto's.
//
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "crashdiag/core/list_decoder.hpp"

namespace crashdiag::core::pb {

// The media type a client asks for first, with JSON after it: every resource that has no protobuf
// form (custom resources) is still answered, in JSON (client-go's AcceptContentTypes for built-in
// types is the same two).
inline constexpr const char* kProtobufThenJson = "application/vnd.kubernetes.protobuf,application/json";

// What a response's Content-Type says its body is.
enum class Encoding { kJson, kProtobuf };
[[nodiscard]] Encoding encoding_of(std::string_view content_type);

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum class WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::kVarint;
  std::uint64_t varint = 0;  // kVarint, and the value of kFixed32/kFixed64
  std::string_view bytes;    // kBytes: strings, bytes and embedded messages
};

// Walks the fields of one message, in the order they were written; unknown ones are the caller's
// to ignore. A truncated or malformed message stops it with ok() false.
class Reader {
 public:
  explicit Reader(std::string_view message) : data_(message) {}
  // The next field, or false at the end of the message (ok()) or at an error (!ok()).
  bool next(Field& field);
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// A protobuf varint from the front of `data`, advancing `pos`; nullopt if it is cut or over 10 bytes.
[[nodiscard]] std::optional<std::uint64_t> read_varint(std::string_view data, std::size_t& pos);

// The `k8s\0` + runtime.Unknown around an object.
struct Envelope {
  std::string_view api_version;
  std::string_view kind;
  std::string_view raw;
};
[[nodiscard]] std::optional<Envelope> unwrap(std::string_view bytes);

// A Status (meta/v1: message = 3, reason = 4, code = 6) in its envelope: how the apiserver answers
// an error to a client that put protobuf first in Accept (a refused LIST's 400, 403, 410, 500;
// tests/data/k8s/pb/list-bad-continue.pb). nullopt if the body is not one.
struct Status {
  int code = 0;
  std::string reason;
  std::string message;
};
[[nodiscard]] std::optional<Status> parse_status(std::string_view body);

// metav1.Time {seconds = 1} as JSON writes it: RFC 3339 in UTC to the second ("" for the zero
// time, which the apiserver writes as an empty message and JSON as null). Nanoseconds are never
// written (time_proto.go says why).
[[nodiscard]] std::string rfc3339(std::int64_t unix_seconds);

// A List body in protobuf (an envelope around a PodList: ListMeta metadata = 1, repeated items = 2)
// decoded as it streams, as ListDecoder does for JSON: each item comes out as its raw message (a
// Pod without an envelope) the moment its last byte is in, and nothing but the item being read is
// held. The same errors and bounds as ListDecoder.
class ListDecoder {
 public:
  ListDecoder(std::size_t max_item_bytes, std::function<void(std::string_view item)> on_item);

  [[nodiscard]] std::optional<ListDecodeError> feed(std::string_view bytes);
  [[nodiscard]] std::optional<ListDecodeError> finish();

  [[nodiscard]] const std::string& resource_version() const { return resource_version_; }
  [[nodiscard]] const std::string& continue_token() const { return continue_; }
  [[nodiscard]] std::size_t items() const { return items_; }

 private:
  enum class Stage { kMagic, kKey, kLength, kVarint, kBody };
  enum class Body { kSkip, kItem, kListMeta, kTypeMeta, kEncoding };
  std::optional<ListDecodeError> fail(ListDecodeError e);
  // One byte of a varint into varint_; true once it is complete.
  bool varint_byte(unsigned char b);
  // Hands an item on, or reads the list's or envelope's own fields; false if those are malformed.
  bool deliver(std::string_view body);
  void after_field();

  std::size_t max_item_bytes_;
  std::function<void(std::string_view)> on_item_;
  std::optional<ListDecodeError> error_;
  Stage stage_ = Stage::kMagic;
  Body body_ = Body::kSkip;
  std::size_t magic_seen_ = 0;
  std::uint64_t varint_ = 0;
  int varint_shift_ = 0;
  std::uint32_t field_ = 0;
  bool in_list_ = false;  // inside the envelope's raw (the PodList), else in the envelope itself
  bool saw_list_ = false;
  bool saw_type_ = false;
  std::uint64_t list_left_ = 0;  // bytes of the PodList not yet read
  std::uint64_t body_left_ = 0;  // bytes of the current length-delimited field not yet read
  std::string buffer_;           // the item (or list metadata) being collected across pieces
  std::string kind_;
  std::string resource_version_;
  std::string continue_;
  std::size_t items_ = 0;
};

}  // namespace crashdiag::core::pb
