// The CustomResourceDefinition the fake serves, read from the shipped manifest so that the
// schema, printer columns and short names are the ones a real cluster would get. Structural
// schema semantics of the apiextensions-apiserver: pruning of unknown fields (reported for
// fieldValidation=Strict/Warn), validation with kube-openapi's messages, and Table cells from
// additionalPrinterColumns.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api_status.hpp"

namespace crashdiag::fake {

struct PrinterColumn {
  std::string name;
  std::string type;  // string, integer, number, boolean, date
  std::string format;
  std::string description;
  std::string json_path;
  int priority = 0;
};

struct Crd {
  std::string group;
  std::string version;  // the served storage version
  std::string kind;
  std::string list_kind;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool namespaced = true;
  bool status_subresource = false;
  std::vector<PrinterColumn> columns;
  nlohmann::json schema;  // openAPIV3Schema
};

// The structural-schema rules the apiextensions-apiserver enforces when a CRD is created
// (ValidateStructural in apiextensions-apiserver pkg/apiserver/schema/validation.go, v1.26):
// a type on every node (unless x-kubernetes-int-or-string or -preserve-unknown-fields), items on
// every array, an object at the root, kind/apiVersion strings, and a root `metadata` that says
// nothing but `type: object` (and at most restricts name/generateName). Field paths are the ones
// the apiserver prints: `spec.validation.openAPIV3Schema...` when every version shares one schema
// (the internal version hoists it), else `spec.versions[i].schema.openAPIV3Schema...`.
std::vector<FieldError> validate_crd_structure(const nlohmann::json& crd);

// The 422 message the apiserver returns for those errors:
// `CustomResourceDefinition.apiextensions.k8s.io "NAME" is invalid: ...`.
std::string crd_invalid_message(const nlohmann::json& crd, const std::vector<FieldError>& errors);

// Reads a CRD manifest; throws std::runtime_error when it is missing or not a CRD, and with the
// apiserver's 422 message when the apiserver would refuse it (validate_crd_structure).
// Reads the CRD manifest at `path`; empty: the shipped one compiled into the binary.
Crd load_crd(const std::string& path);
// Parses a CRD manifest's text; `path` names it in errors.
Crd parse_crd(const std::string& text, const std::string& path);

// Drops what the structural schema does not declare (and nulls, which non-nullable fields
// prune to), appending the paths of unknown fields ("spec.foo", "status.pods[0].x"). The root's
// metadata is checked against ObjectMeta's fields.
void prune_unknown(const nlohmann::json& schema, nlohmann::json& object, std::vector<std::string>& unknown);

// kube-openapi validation as the apiextensions-apiserver reports it (type, required, enum,
// maxLength, maxItems, minimum/maximum, format date-time, list-type map keys).
void validate_schema(const nlohmann::json& schema, const nlohmann::json& object, std::vector<FieldError>& errors);

// For server-side apply: the paths the schema does not declare and the type mismatches, as
// structured-merge-diff reports them when it converts the applied configuration
// (".spec.foo: field not declared in schema").
std::vector<std::string> typed_conversion_errors(const nlohmann::json& schema, const nlohmann::json& object);

// The value at a simple JSONPath (".a.b.c"); nullptr when absent.
const nlohmann::json* json_path(const nlohmann::json& object, const std::string& path);

// A Table cell for one column, as the apiextensions TableConvertor computes it (cellForJSONValue):
// date cells are ages relative to now_seconds ("5m", metatable.ConvertToHumanReadableDateType).
nlohmann::json printer_cell(const PrinterColumn& column, const nlohmann::json& object, std::int64_t now_seconds);

}  // namespace crashdiag::fake
