#include "crashdiag/model/yaml_json.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <set>

namespace crashdiag {

using nlohmann::json;

namespace {

// go-yaml v2's resolution of plain scalars, which sigs.k8s.io/yaml (and so the apiserver's
// apply-patch decoder) uses.
json resolve_plain_scalar(const std::string& s) {
  static const std::set<std::string> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> kTrue = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::set<std::string> kFalse = {"n",     "N",     "no",  "No",  "NO", "false",
                                               "False", "FALSE", "off", "Off", "OFF"};
  if (kNull.count(s) > 0) return nullptr;
  if (kTrue.count(s) > 0) return true;
  if (kFalse.count(s) > 0) return false;
  static const RE2 kInt("[-+]?[0-9]+");
  static const RE2 kHex("0x[0-9a-fA-F]+");
  static const RE2 kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (RE2::FullMatch(s, kInt)) {
    std::int64_t v = 0;
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  }
  if (RE2::FullMatch(s, kHex)) {
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, 16);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  }
  if (RE2::FullMatch(s, kFloat)) {
    try {
      return std::stod(s);
    } catch (const std::exception&) {
      return s;
    }
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") return s;  // not representable in JSON
  return s;
}

json yaml_node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();  // quoted or !!str
      if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
          tag == "tag:yaml.org,2002:null" || tag == "?" || tag.empty()) {
        return resolve_plain_scalar(node.Scalar());
      }
      return node.Scalar();
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) arr.push_back(yaml_node_to_json(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) obj[kv.first.Scalar()] = yaml_node_to_json(kv.second);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<json> yaml_to_json(std::string_view text, std::string* error) {
  try {
    const YAML::Node node = YAML::Load(std::string(text));
    return yaml_node_to_json(node);
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace crashdiag
