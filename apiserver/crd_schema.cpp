#include "crd_schema.hpp"

#include "crashdiag/embedded.hpp"
#include "crashdiag/model/yaml_json.hpp"

#include <re2/re2.h>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace crashdiag::fake {

using nlohmann::json;

namespace {

std::string child_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

const std::set<std::string>& object_meta_fields() {
  static const std::set<std::string> kFields = {"name",
                                                "generateName",
                                                "namespace",
                                                "selfLink",
                                                "uid",
                                                "resourceVersion",
                                                "generation",
                                                "creationTimestamp",
                                                "deletionTimestamp",
                                                "deletionGracePeriodSeconds",
                                                "labels",
                                                "annotations",
                                                "ownerReferences",
                                                "finalizers",
                                                "managedFields"};
  return kFields;
}

bool preserves_unknown(const json& schema) {
  return schema.contains("x-kubernetes-preserve-unknown-fields") &&
         schema["x-kubernetes-preserve-unknown-fields"] == true;
}

void prune(const json& schema, json& value, const std::string& path, bool root, std::vector<std::string>& unknown) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      const std::string key = it.key();
      const std::string p = child_path(path, key);
      if (it->is_null() && !(schema.contains("properties") && schema["properties"].contains(key) &&
                             schema["properties"][key].value("nullable", false))) {
        it = value.erase(it);  // null on a non-nullable field prunes to "unset"
        continue;
      }
      if (root && key == "metadata") {
        if (it->is_object()) {
          for (auto m = it->begin(); m != it->end();) {
            if (object_meta_fields().count(m.key()) == 0) {
              unknown.push_back("metadata." + m.key());
              m = it->erase(m);
            } else {
              ++m;
            }
          }
        }
        ++it;
        continue;
      }
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        prune(schema["properties"][key], *it, p, false, unknown);
        ++it;
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        prune(schema["additionalProperties"], *it, p, false, unknown);
        ++it;
      } else if (preserves_unknown(schema)) {
        ++it;
      } else {
        unknown.push_back(p);
        it = value.erase(it);
      }
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      prune(schema["items"], value[i], path + "[" + std::to_string(i) + "]", false, unknown);
    }
  }
}

std::string json_type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool type_matches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  return true;
}

// The limit as kube-openapi prints it (%v of the schema's float64).
std::string limit_text(const json& limit) {
  return limit.is_number() ? go_float(limit.get<double>()) : limit.dump();
}

std::size_t rune_count(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0U) != 0x80U ? 1 : 0;
  return n;
}

void validate(const json& schema, const json& value, const std::string& path, std::vector<FieldError>& errors) {
  if (value.is_null()) return;
  if (schema.contains("type") && schema["type"].is_string()) {
    const std::string type = schema["type"];
    if (!type_matches(type, value)) {
      const std::string actual = json_type_name(value);
      errors.push_back({FieldError::Type::kTypeInvalid, path, actual, std::nullopt,
                        path + " in body must be of type " + type + ": " + go_quote(actual)});
      return;
    }
  }
  if (schema.contains("enum") && schema["enum"].is_array()) {
    const auto& allowed = schema["enum"];
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      // The apiextensions-apiserver json-encodes each allowed value and field.NotSupported
      // quotes it again: supported values: "\"Active\"", "\"Resolved\"".
      std::string values;
      for (const auto& a : allowed) values += (values.empty() ? "" : ", ") + go_quote(a.dump());
      errors.push_back({FieldError::Type::kNotSupported, path, value, std::nullopt, "supported values: " + values});
    }
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (schema.contains("maxLength") && rune_count(s) > schema["maxLength"].get<std::size_t>()) {
      errors.push_back({FieldError::Type::kTooLong, path, value, std::nullopt,
                        "may not be longer than " + std::to_string(schema["maxLength"].get<std::size_t>())});
    }
    if (schema.contains("minLength") && rune_count(s) < schema["minLength"].get<std::size_t>()) {
      errors.push_back({FieldError::Type::kInvalid, path, value, std::nullopt,
                        path + " in body should be at least " + std::to_string(schema["minLength"].get<std::size_t>()) +
                            " chars long"});
    }
    if (schema.value("format", "") == "date-time" && !parse_rfc3339(s)) {
      errors.push_back({FieldError::Type::kTypeInvalid, path, value, std::nullopt,
                        path + " in body must be of type date-time: " + go_quote(s)});
    }
  }
  if (value.is_number()) {
    const double v = value.get<double>();
    if (schema.contains("maximum")) {
      const double max = schema["maximum"].get<double>();
      const bool exclusive = schema.value("exclusiveMaximum", false);
      if (exclusive ? v >= max : v > max) {
        errors.push_back({FieldError::Type::kInvalid, path, value, std::nullopt,
                          path + " in body should be less than " + (exclusive ? "" : "or equal to ") +
                              limit_text(schema["maximum"])});
      }
    }
    if (schema.contains("minimum")) {
      const double min = schema["minimum"].get<double>();
      const bool exclusive = schema.value("exclusiveMinimum", false);
      if (exclusive ? v <= min : v < min) {
        errors.push_back({FieldError::Type::kInvalid, path, value, std::nullopt,
                          path + " in body should be greater than " + (exclusive ? "" : "or equal to ") +
                              limit_text(schema["minimum"])});
      }
    }
  }
  if (value.is_array()) {
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<std::size_t>()) {
      errors.push_back({FieldError::Type::kTooMany, path, value.size(), std::nullopt,
                        "must have at most " + std::to_string(schema["maxItems"].get<std::size_t>()) + " items"});
    }
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>()) {
      errors.push_back(
          {FieldError::Type::kInvalid, path, value, std::nullopt,
           path + " in body should have at least " + std::to_string(schema["minItems"].get<std::size_t>()) + " items"});
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        validate(schema["items"], value[i], path + "[" + std::to_string(i) + "]", errors);
      }
    }
    // x-kubernetes-list-type: map - the keys identify the items, so two items with the same
    // keys are a Duplicate value.
    if (schema.value("x-kubernetes-list-type", "") == "map" && schema.contains("x-kubernetes-list-map-keys")) {
      std::set<std::string> seen;
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_object()) continue;
        json key = json::object();
        for (const auto& k : schema["x-kubernetes-list-map-keys"]) {
          const std::string name = k.get<std::string>();
          if (value[i].contains(name)) key[name] = value[i][name];
        }
        if (!seen.insert(key.dump()).second) {
          errors.push_back({FieldError::Type::kDuplicate, path + "[" + std::to_string(i) + "]", key, std::nullopt, ""});
        }
      }
    }
  }
  if (value.is_object()) {
    if (schema.contains("required")) {
      for (const auto& r : schema["required"]) {
        const std::string key = r.get<std::string>();
        if (!value.contains(key) || value[key].is_null()) {
          errors.push_back({FieldError::Type::kRequired, child_path(path, key), nullptr, std::nullopt, ""});
        }
      }
    }
    for (const auto& [key, child] : value.items()) {
      if (path.empty() && key == "metadata") continue;  // ObjectMeta is validated on its own
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        validate(schema["properties"][key], child, child_path(path, key), errors);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        validate(schema["additionalProperties"], child, child_path(path, key), errors);
      }
    }
  }
}

// structured-merge-diff's value printing for the "got ..." part of its type errors.
std::string smd_value(const json& v) {
  return "&value.valueUnstructured{Value:" + (v.is_string() ? go_quote(v.get<std::string>()) : go_value(v)) + "}";
}

void typed(const json& schema, const json& value, const std::string& path, bool root,
           std::vector<std::string>& errors) {
  if (value.is_null()) return;
  const std::string type = schema.value("type", "");
  if (type == "object" || schema.contains("properties")) {
    if (!value.is_object()) {
      errors.push_back(path + ": expected map, got " + smd_value(value));
      return;
    }
    for (const auto& [key, child] : value.items()) {
      const std::string p = path + "." + key;
      if (root && key == "metadata") {
        if (!child.is_object()) continue;
        for (const auto& [mk, mv] : child.items()) {
          if (object_meta_fields().count(mk) == 0) errors.push_back(p + "." + mk + ": field not declared in schema");
        }
        continue;
      }
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        typed(schema["properties"][key], child, p, false, errors);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        typed(schema["additionalProperties"], child, p, false, errors);
      } else if (!preserves_unknown(schema)) {
        errors.push_back(p + ": field not declared in schema");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) {
      errors.push_back(path + ": expected list, got " + smd_value(value));
      return;
    }
    if (!schema.contains("items")) return;
    for (std::size_t i = 0; i < value.size(); ++i) {
      typed(schema["items"], value[i], path + "[" + std::to_string(i) + "]", false, errors);
    }
  } else if (type == "string" && !value.is_string()) {
    errors.push_back(path + ": expected string, got " + smd_value(value));
  } else if ((type == "integer" || type == "number") && !value.is_number()) {
    errors.push_back(path + ": expected numeric (int or float), got " +
                     std::string(value.is_string()    ? "string"
                                 : value.is_boolean() ? "bool"
                                                      : "map[string]interface {}"));
  } else if (type == "boolean" && !value.is_boolean()) {
    errors.push_back(path + ": expected boolean, got " + smd_value(value));
  }
}

// validateStructuralInvariants and validateStructuralMetadataInvariants, rule for rule.
enum class Level { kRoot, kItem, kField };

void structural(const json& s, Level level, const std::string& path, std::vector<FieldError>& errors) {
  if (!s.is_object()) return;
  const std::string type = s.value("type", "");
  if (type == "array" && !s.contains("items")) {
    errors.push_back({FieldError::Type::kRequired, path + ".items", nullptr, std::nullopt, "must be specified"});
  }
  if (s.contains("items")) structural(s["items"], Level::kItem, path + ".items", errors);
  if (s.contains("properties") && s["properties"].is_object()) {
    for (const auto& [key, child] : s["properties"].items()) {
      structural(child, Level::kField, path + ".properties[" + key + "]", errors);
    }
  }
  const bool int_or_string = s.value("x-kubernetes-int-or-string", false);
  const bool preserve = s.value("x-kubernetes-preserve-unknown-fields", false);
  if (type.empty() && !int_or_string && !preserve) {
    const char* detail = level == Level::kRoot   ? "must not be empty at the root"
                         : level == Level::kItem ? "must not be empty for specified array items"
                                                 : "must not be empty for specified object fields";
    errors.push_back({FieldError::Type::kRequired, path + ".type", nullptr, std::nullopt, detail});
  }
  if (level == Level::kRoot && !type.empty() && type != "object") {
    errors.push_back({FieldError::Type::kInvalid, path + ".type", type, std::nullopt, "must be object at the root"});
  }
  if (level != Level::kRoot || !s.contains("properties") || !s["properties"].is_object()) return;
  const json& props = s["properties"];
  for (const char* key : {"kind", "apiVersion"}) {
    if (props.contains(key) && props[key].value("type", "") != "string") {
      errors.push_back({FieldError::Type::kInvalid, path + ".properties[" + key + "].type",
                        props[key].value("type", ""), std::nullopt, "must be string"});
    }
  }
  if (!props.contains("metadata")) return;
  const json& meta = props["metadata"];
  const std::string meta_path = path + ".properties[metadata]";
  if (meta.value("type", "") != "object") {
    errors.push_back(
        {FieldError::Type::kInvalid, meta_path + ".type", meta.value("type", ""), std::nullopt, "must be object"});
  }
  // Everything but `type`, `default` and properties restricting only name/generateName makes
  // the schema differ from the empty one, which the apiserver forbids.
  bool extra = false;
  for (const auto& [key, value] : meta.items()) {
    if (key == "type" || key == "default") continue;
    if (key == "properties" && value.is_object()) {
      bool only_names = !value.empty();
      for (const auto& [name, unused] : value.items()) {
        (void)unused;
        only_names = only_names && (name == "name" || name == "generateName");
      }
      if (only_names) continue;
    }
    extra = true;
  }
  if (extra) {
    errors.push_back({FieldError::Type::kForbidden, meta_path, nullptr, std::nullopt,
                      "must not specify anything other than name and generateName, but metadata is implicitly "
                      "specified"});
  }
}

}  // namespace

std::vector<FieldError> validate_crd_structure(const json& crd) {
  std::vector<FieldError> errors;
  if (!crd.is_object() || !crd.contains("spec") || !crd["spec"].contains("versions")) return errors;
  const json& versions = crd["spec"]["versions"];
  std::vector<const json*> schemas;
  for (const auto& v : versions) {
    schemas.push_back(v.contains("schema") && v["schema"].contains("openAPIV3Schema") ? &v["schema"]["openAPIV3Schema"]
                                                                                      : nullptr);
  }
  const bool shared = !schemas.empty() && std::all_of(schemas.begin(), schemas.end(), [&](const json* s) {
    return s != nullptr && *s == *schemas.front();
  });
  if (shared) {
    structural(*schemas.front(), Level::kRoot, "spec.validation.openAPIV3Schema", errors);
  } else {
    for (std::size_t i = 0; i < schemas.size(); ++i) {
      if (schemas[i] == nullptr) continue;
      structural(*schemas[i], Level::kRoot, "spec.versions[" + std::to_string(i) + "].schema.openAPIV3Schema", errors);
    }
  }
  // ValidateStructural sorts the messages so the order does not depend on map iteration.
  std::sort(errors.begin(), errors.end(),
            [](const FieldError& a, const FieldError& b) { return a.error() < b.error(); });
  return errors;
}

std::string crd_invalid_message(const json& crd, const std::vector<FieldError>& errors) {
  const std::string name = crd.contains("metadata") ? crd["metadata"].value("name", "") : "";
  return invalid_status("apiextensions.k8s.io", "CustomResourceDefinition", name, errors)["message"].get<std::string>();
}

Crd load_crd(const std::string& path) {
  if (path.empty()) {
    const auto files = embedded::crd();
    return parse_crd(std::string(files.front().text), std::string(files.front().path));
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the CRD manifest " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_crd(text.str(), path);
}

Crd parse_crd(const std::string& text, const std::string& path) {
  std::string error;
  auto doc = yaml_to_json(text, &error);
  if (!doc || !doc->is_object() || doc->value("kind", "") != "CustomResourceDefinition") {
    throw std::runtime_error(path + " is not a CustomResourceDefinition" + (error.empty() ? "" : ": " + error));
  }
  if (auto errors = validate_crd_structure(*doc); !errors.empty()) {
    throw std::runtime_error(path + ": " + crd_invalid_message(*doc, errors));
  }
  const json& spec = (*doc)["spec"];
  Crd crd;
  crd.group = spec.value("group", "");
  crd.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
  const json& names = spec["names"];
  crd.plural = names.value("plural", "");
  crd.singular = names.value("singular", "");
  crd.kind = names.value("kind", "");
  crd.list_kind = names.value("listKind", crd.kind + "List");
  if (names.contains("shortNames")) crd.short_names = names["shortNames"].get<std::vector<std::string>>();
  if (names.contains("categories")) crd.categories = names["categories"].get<std::vector<std::string>>();
  for (const auto& v : spec["versions"]) {
    if (!v.value("served", false) || !v.value("storage", false)) continue;
    crd.version = v.value("name", "");
    crd.status_subresource = v.contains("subresources") && v["subresources"].contains("status");
    crd.schema = v["schema"]["openAPIV3Schema"];
    if (v.contains("additionalPrinterColumns")) {
      for (const auto& c : v["additionalPrinterColumns"]) {
        PrinterColumn col;
        col.name = c.value("name", "");
        col.type = c.value("type", "string");
        col.format = c.value("format", "");
        col.json_path = c.value("jsonPath", "");
        // Without a description the apiserver names the JSONPath (01-table-widgets-all-namespaces).
        col.description =
            c.value("description", "Custom resource definition column (in JSONPath format): " + col.json_path);
        col.priority = c.value("priority", 0);
        crd.columns.push_back(std::move(col));
      }
    } else {
      PrinterColumn age;  // the default columns of a CRD without printer columns: Name, Age
      age.name = "Age";
      age.type = "date";
      age.json_path = ".metadata.creationTimestamp";
      age.description = "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp";
      crd.columns.push_back(std::move(age));
    }
  }
  if (crd.group.empty() || crd.plural.empty() || crd.kind.empty() || crd.version.empty()) {
    throw std::runtime_error(path + ": CRD without group, names or a served storage version");
  }
  return crd;
}

void prune_unknown(const json& schema, json& object, std::vector<std::string>& unknown) {
  prune(schema, object, "", true, unknown);
}

void validate_schema(const json& schema, const json& object, std::vector<FieldError>& errors) {
  validate(schema, object, "", errors);
}

std::vector<std::string> typed_conversion_errors(const json& schema, const json& object) {
  std::vector<std::string> errors;
  typed(schema, object, "", true, errors);
  return errors;
}

const json* json_path(const json& object, const std::string& path) {
  const json* cur = &object;
  std::size_t start = path.empty() || path[0] != '.' ? 0 : 1;
  while (start < path.size()) {
    auto dot = path.find('.', start);
    if (dot == std::string::npos) dot = path.size();
    const std::string key = path.substr(start, dot - start);
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    start = dot + 1;
  }
  return cur;
}

json printer_cell(const PrinterColumn& column, const json& object, std::int64_t now_seconds) {
  const json* v = json_path(object, column.json_path);
  if (v == nullptr || v->is_null()) return nullptr;
  if (column.type == "string") {
    // jsonpath printing: strings as they are, other values as Go prints them.
    if (v->is_string()) return *v;
    if (v->is_number() || v->is_boolean()) return go_value(*v);
    return v->dump();
  }
  if (column.type == "integer") {
    if (v->is_number_integer()) return *v;
    if (v->is_number_float()) return static_cast<std::int64_t>(v->get<double>());
    return nullptr;
  }
  if (column.type == "number") return v->is_number() ? *v : json(nullptr);
  if (column.type == "boolean") return v->is_boolean() ? *v : json(nullptr);
  if (column.type == "date") {
    if (!v->is_string()) return nullptr;
    const std::string text = v->get<std::string>();
    if (text.empty()) return "<unknown>";
    auto t = parse_rfc3339(text);
    return t ? json(human_age(now_seconds - t->seconds)) : json("<invalid>");
  }
  return nullptr;
}

}  // namespace crashdiag::fake
