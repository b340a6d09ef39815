// The fake refuses the CRDs the real apiextensions-apiserver refuses, with its message
// (ValidateStructural, apiextensions-apiserver pkg/apiserver/schema/validation.go, v1.26). The
// shipped CRD once described `metadata`, the fake accepted it and a real apiserver did not.
#include <gtest/gtest.h>

#include <ostream>

#include <stdexcept>
#include <string>
#include <vector>

#include "crd_schema.hpp"
#include "test_support.hpp"

namespace crashdiag::fake {
namespace {

using nlohmann::json;

json crd_with(const json& schema) {
  return json{
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "widgets.example.com"}}},
      {"spec",
       {{"group", "example.com"},
        {"scope", "Namespaced"},
        {"names", {{"plural", "widgets"}, {"kind", "Widget"}}},
        {"versions",
         json::array(
             {{{"name", "v1"}, {"served", true}, {"storage", true}, {"schema", {{"openAPIV3Schema", schema}}}}})}}}};
}

struct Row {
  const char* name;
  json schema;
  std::vector<std::string> errors;  // field.Error.Error() strings, sorted as the apiserver sorts them
};

// ctest names the row, not its bytes.
void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

class CrdStructure : public ::testing::TestWithParam<Row> {};

TEST_P(CrdStructure, RefusesWhatTheApiserverRefuses) {
  const Row& row = GetParam();
  std::vector<std::string> got;
  for (const FieldError& e : validate_crd_structure(crd_with(row.schema))) got.push_back(e.error());
  EXPECT_EQ(got, row.errors);
}

const json kObject = {{"type", "object"}};

INSTANTIATE_TEST_SUITE_P(
    Table, CrdStructure,
    ::testing::Values(
        Row{"structural_schema_is_accepted",
            {{"type", "object"},
             {"properties",
              {{"metadata", kObject},
               {"spec", {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}}},
               {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}},
            {}},
        Row{"metadata_with_a_description_is_forbidden",
            {{"type", "object"},
             {"properties", {{"metadata", {{"type", "object"}, {"description", "Standard object metadata"}}}}}},
            {"spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other "
             "than name and generateName, but metadata is implicitly specified"}},
        Row{"metadata_may_restrict_name",
            {{"type", "object"},
             {"properties",
              {{"metadata",
                {{"type", "object"}, {"properties", {{"name", {{"type", "string"}, {"maxLength", 63}}}}}}}}}},
            {}},
        Row{"metadata_must_be_an_object",
            {{"type", "object"}, {"properties", {{"metadata", {{"type", "string"}}}}}},
            {"spec.validation.openAPIV3Schema.properties[metadata].type: Invalid value: \"string\": must be object"}},
        Row{"root_must_be_an_object",
            {{"type", "array"}, {"items", {{"type", "string"}}}},
            {"spec.validation.openAPIV3Schema.type: Invalid value: \"array\": must be object at the root"}},
        Row{"untyped_field_and_item_and_array_without_items",
            {{"type", "object"},
             {"properties",
              {{"a", json::object()},
               {"b", {{"type", "array"}, {"items", json::object()}}},
               {"c", {{"type", "array"}}},
               {"d", {{"x-kubernetes-int-or-string", true}}}}}},
            {"spec.validation.openAPIV3Schema.properties[a].type: Required value: must not be empty for specified "
             "object fields",
             "spec.validation.openAPIV3Schema.properties[b].items.type: Required value: must not be empty for "
             "specified array items",
             "spec.validation.openAPIV3Schema.properties[c].items: Required value: must be specified"}},
        Row{"kind_must_be_a_string",
            {{"type", "object"}, {"properties", {{"kind", {{"type", "integer"}}}}}},
            {"spec.validation.openAPIV3Schema.properties[kind].type: Invalid value: \"integer\": must be string"}}),
    [](const ::testing::TestParamInfo<Row>& info) { return std::string(info.param.name); });

TEST(CrdStructure, TheOriginalShippedCrdIsRefusedWithTheApiserversMessage) {
  // The manifest as it was before the fix: `metadata` carried a description.
  std::string text = testing::read_file(testing::source_path("crd/rootcauseanalyses.crashdiag.io.yaml"));
  const std::string anchor = "            metadata:\n              type: object\n";
  const auto at = text.find(anchor);
  ASSERT_NE(at, std::string::npos);
  text.insert(at + anchor.size(),
              "              description: Standard object metadata; the name is derived from the workload.\n");
  try {
    (void)parse_crd(text, "rca-crd.yaml");
    FAIL() << "the fake accepted a CRD the apiserver refuses";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "rca-crd.yaml: CustomResourceDefinition.apiextensions.k8s.io \"rootcauseanalyses.crashdiag.io\" is "
              "invalid: spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything "
              "other than name and generateName, but metadata is implicitly specified");
  }
}

TEST(CrdStructure, TheShippedCrdIsAccepted) {
  EXPECT_NO_THROW((void)load_crd(testing::source_path("crd/rootcauseanalyses.crashdiag.io.yaml")));
}

}  // namespace
}  // namespace crashdiag::fake
