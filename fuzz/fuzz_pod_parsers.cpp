// What `explain -f`, the daemon's evidence step and what-changed read: a Pod, a List of pods,
// Events, docker inspect output, any object holding a pod template, a revision list.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "crashdiag/model/parse.hpp"
#include "crashdiag/model/template_diff.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto pod = crashdiag::parse_pod_json(text);
  (void)crashdiag::parse_pods(text);
  auto events = crashdiag::parse_events_json(text);
  if (pod && events) (void)crashdiag::events_for_pod(*events, *pod);
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return 0;
  (void)crashdiag::pod_from_docker_inspect(doc);
  if (auto t = crashdiag::template_from_object(doc); t && pod) (void)crashdiag::diff_templates(t->pod, *pod);
  (void)crashdiag::revision_list_of(doc);
  (void)crashdiag::previous_template_of(doc, doc);
  return 0;
}
