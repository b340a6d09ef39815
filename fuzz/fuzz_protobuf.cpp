// The protobuf pod path (crashdiag/core/protobuf.hpp): the input is a protobuf LIST body streamed
// in arbitrary pieces (the first byte picks the piece size) with a small per-item bound, every
// item read as a pod record; and the same bytes read as one watch frame and as one Pod message.
// What an apiserver, or something posing as one, sends must give an error, never a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crashdiag/core/pod_record.hpp"
#include "crashdiag/core/protobuf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  crashdiag::core::pb::ListDecoder decoder(
      4096, [](std::string_view item) { (void)crashdiag::core::parse_pod_record_protobuf(item); });
  for (std::size_t at = 0; at < body.size(); at += piece) {
    if (decoder.feed(body.substr(at, std::min(piece, body.size() - at)))) break;
  }
  (void)decoder.finish();
  (void)crashdiag::core::parse_watch_frame_protobuf(body);
  (void)crashdiag::core::parse_pod_record_protobuf(body);
  return 0;
}
