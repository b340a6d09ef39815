// Decodes a Kubernetes List body (`{"kind":"PodList","metadata":{...},"items":[...]}`) as a
// stream: bytes go in as they arrive, each item comes out as its raw JSON the moment it is
// complete, and nothing but the item being read is held. A real apiserver answers a
// `resourceVersion=0` LIST from its watch cache and ignores `limit` (shouldDelegateList in
// k8s.io/apiserver/pkg/storage/cacher/cacher.go; client-go's reflector says so too), so the
// first list of a large cluster is one body of hundreds of MB: bounded memory needs a
// per-item bound, never a whole-body one. Pure: no I/O.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace crashdiag::core {

enum class ListDecodeError {
  kMalformed,        // not a JSON object with an items array, or broken JSON
  kItemTooLarge,     // one item is over the per-item bound
  kMetadataTooLarge  // the list's own metadata is over its bound (it holds two short strings)
};

[[nodiscard]] std::string_view to_string(ListDecodeError e);

class ListDecoder {
 public:
  // on_item gets each element of `items` as raw JSON; it may keep a copy, the view dies on return.
  ListDecoder(std::size_t max_item_bytes, std::function<void(std::string_view item)> on_item);

  // Feeds the next bytes. After an error every further call returns it again.
  [[nodiscard]] std::optional<ListDecodeError> feed(std::string_view bytes);
  // The body ended: an error unless a complete top-level object was read.
  [[nodiscard]] std::optional<ListDecodeError> finish();

  [[nodiscard]] const std::string& resource_version() const { return resource_version_; }
  [[nodiscard]] const std::string& continue_token() const { return continue_; }
  [[nodiscard]] std::size_t items() const { return items_; }

 private:
  enum class Capture { kNone, kKey, kMetadata, kItem };
  std::optional<ListDecodeError> fail(ListDecodeError e);
  void end_capture();
  // The error for an item or the metadata grown past its limit, if it has.
  [[nodiscard]] std::optional<ListDecodeError> capture_too_large() const;

  std::size_t max_item_bytes_;
  std::function<void(std::string_view)> on_item_;
  std::optional<ListDecodeError> error_;
  int depth_ = 0;  // open { and [ around the current byte
  bool in_string_ = false;
  bool escaped_ = false;
  bool started_ = false;
  bool done_ = false;
  bool expect_key_ = false;  // depth 1: the next string is a key
  bool saw_items_ = false;
  bool in_items_ = false;                 // inside the top-level items array (depth 2 is its elements)
  std::string key_;                       // the current top-level key
  std::optional<std::string> value_key_;  // set between "key": and the start of its value
  Capture capture_ = Capture::kNone;
  int capture_depth_ = 0;  // depth at which the captured value started
  std::string buffer_;
  std::string resource_version_;
  std::string continue_;
  std::size_t items_ = 0;
};

}  // namespace crashdiag::core
