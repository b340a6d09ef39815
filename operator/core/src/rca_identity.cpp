#include "crashdiag/core/rca_identity.hpp"

#include "rca_text.hpp"

namespace crashdiag::core {

using namespace rca_detail;  // NOLINT(google-build-using-namespace): this file's own helpers

std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// "<workload>-<5 hex>": people type and tab-complete the workload's name (`kubectl get rca
// authentik-server-5c2f1`, `-l crashdiag.io/workload=authentik-server`); kind, container and
// signature are labels and printer columns, not parts of the name. The hash is over the whole
// identity, so each container and failure of a workload has its own RCA; 20 bits make a clash
// between the few RCAs one workload has in one namespace negligible.
std::string rca_name(const RcaTarget& t) {
  const std::string identity = t.namespace_ + "/" + t.workload.kind + "/" + t.workload.name + "/" + t.container +
                               (t.init ? "/init" : "") + "/" + t.signature;
  const std::string suffix = hex(stable_hash(identity), 5);
  std::string readable = slug(t.workload.name);
  const std::size_t room = kMaxNameLength - suffix.size() - 1;
  if (readable.size() > room) readable.resize(room);
  while (!readable.empty() && readable.back() == '-') readable.pop_back();
  return readable.empty() ? "rca-" + suffix : readable + "-" + suffix;
}

}  // namespace crashdiag::core
