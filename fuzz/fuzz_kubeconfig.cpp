// A kubeconfig (YAML, with exec plugins, base64 data and contexts) and an exec plugin's
// ExecCredential answer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crashdiag/core/kubeconfig.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)crashdiag::core::parse_kubeconfig(text, "fuzz.kubeconfig", "");
  (void)crashdiag::core::parse_kubeconfig(text, "fuzz.kubeconfig", "prod");
  (void)crashdiag::core::parse_exec_credential(text);
  (void)crashdiag::core::base64_decode(text);
  return 0;
}
