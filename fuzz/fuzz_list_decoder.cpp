// A LIST body streamed in arbitrary chunks (the first byte picks the chunk size), with a small
// per-item bound so the too-large path is reached; every item is parsed as a pod record.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crashdiag/core/list_decoder.hpp"
#include "crashdiag/core/pod_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  crashdiag::core::ListDecoder decoder(4096,
                                       [](std::string_view item) { (void)crashdiag::core::parse_pod_record(item); });
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    if (decoder.feed(body.substr(at, std::min(chunk, body.size() - at)))) break;
  }
  (void)decoder.finish();
  return 0;
}
