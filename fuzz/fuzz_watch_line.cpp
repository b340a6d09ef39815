// One line of a watch stream, as the apiserver (or anything between it and crashdiag) sends it:
// the pod decoder and the owner index's metadata decoder (PartialObjectMetadata, issue 14 item 3)
// must return a record or an error, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crashdiag/core/owner_index.hpp"
#include "crashdiag/core/pod_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto line = crashdiag::core::parse_watch_line(text);
  if (line && line->pod) (void)line->pod->key();
  (void)crashdiag::core::parse_pod_record(text);
  (void)crashdiag::core::ends_initial_events(text);  // every BOOKMARK of a --watch-list stream
  auto meta = crashdiag::core::parse_meta_watch_line(text);
  if (meta && meta->object) (void)meta->object->key();
  (void)crashdiag::core::parse_meta_record(text);
  return 0;
}
