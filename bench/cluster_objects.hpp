// The owners a benchmark's pods have in a real cluster: a Deployment and the ReplicaSet it
// controls, named as the Deployment controller names them ("<deployment>-<pod-template-hash>").
// The owner index lists and watches them (metadata only), as it would on a cluster.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace crashdiag::bench {

inline nlohmann::json deployment(const std::string& ns, const std::string& app) {
  return nlohmann::json{
      {"kind", "Deployment"},
      {"apiVersion", "apps/v1"},
      {"metadata", {{"name", app}, {"namespace", ns}, {"uid", "dep-" + app}, {"labels", {{"app", app}}}}}};
}

inline nlohmann::json replicaset(const std::string& ns, const std::string& app) {
  return nlohmann::json{{"kind", "ReplicaSet"},
                        {"apiVersion", "apps/v1"},
                        {"metadata",
                         {{"name", app + "-6f7d8c9b5"},
                          {"namespace", ns},
                          {"uid", "rs-" + app},
                          {"labels", {{"app", app}, {"pod-template-hash", "6f7d8c9b5"}}},
                          {"ownerReferences", nlohmann::json::array({{{"apiVersion", "apps/v1"},
                                                                      {"kind", "Deployment"},
                                                                      {"name", app},
                                                                      {"uid", "dep-" + app},
                                                                      {"controller", true}}})}}}};
}

}  // namespace crashdiag::bench
