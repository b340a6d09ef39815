// The apiserver's error vocabulary for the fake: Status bodies, field.Error rendering (the
// "Invalid value: ..." text of 422 responses), ObjectMeta validation (names, label and
// annotation keys, label values) and RFC 3339 timestamps. Plain functions, no I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashdiag::fake {

// k8s.io/apimachinery/pkg/util/validation/field.Error, rendered like ErrorBody()/Error().
struct FieldError {
  enum class Type {
    kRequired,
    kInvalid,
    kTypeInvalid,
    kNotSupported,
    kTooLong,
    kTooMany,
    kForbidden,
    kDuplicate,
  };
  Type type = Type::kInvalid;
  std::string field;
  nlohmann::json value;                // the bad value, printed as Go prints it
  std::optional<std::string> printed;  // overrides the printed value (e.g. "0x0" for a uint64 zero)
  std::string detail;

  [[nodiscard]] std::string reason() const;  // "FieldValueInvalid", ...
  [[nodiscard]] std::string body() const;    // "Invalid value: 1.5: ..." (field.Error.ErrorBody)
  [[nodiscard]] std::string error() const;   // "status.confidence: Invalid value: ..." (field.Error.Error)
};

// k8s.io/apimachinery/pkg/apis/meta/v1 Status, as the apiserver writes it.
nlohmann::json status_body(int code, const std::string& reason, const std::string& message,
                           nlohmann::json details = nullptr);
// errors.NewInvalid: 422 with `<Kind>[.<group>] "<name>" is invalid: <errors>` and one cause per error.
nlohmann::json invalid_status(const std::string& group, const std::string& kind, const std::string& name,
                              const std::vector<FieldError>& errors);
// errors.NewNotFound / NewAlreadyExists / NewConflict: details.kind is the resource (plural).
nlohmann::json not_found_status(const std::string& group, const std::string& plural, const std::string& name);
// 403 Forbidden from NamespaceLifecycle admission: a create in a namespace being terminated.
nlohmann::json namespace_terminating_status(const std::string& group, const std::string& plural,
                                            const std::string& name, const std::string& ns);
nlohmann::json already_exists_status(const std::string& group, const std::string& plural, const std::string& name);
nlohmann::json conflict_status(const std::string& group, const std::string& plural, const std::string& name,
                               const std::string& why);
// "pods" or "leases.coordination.k8s.io" (schema.GroupResource.String()).
std::string qualified_resource(const std::string& group, const std::string& plural);

// Go's fmt rendering of decoded JSON values: %v for numbers and booleans, %q for strings,
// %#v for maps and slices (map[string]interface {}{...}).
std::string go_value(const nlohmann::json& v);
std::string go_quote(std::string_view s);
std::string go_float(double v);  // %v of a float64: 1.5, 1, 1e+06

// k8s.io/apimachinery/pkg/util/validation, message for message.
std::vector<std::string> dns1123_subdomain_errors(const std::string& value);
std::vector<std::string> qualified_name_errors(const std::string& value);
std::vector<std::string> label_value_errors(const std::string& value);
// ValidateObjectMeta: name (on create, DNS-1123 subdomain), labels and annotations.
void validate_object_meta(const nlohmann::json& meta, bool check_name, std::vector<FieldError>& errors);

// RFC 3339 instants. parse_rfc3339 accepts what kube-openapi's "date-time" format accepts
// (date, 'T', hh:mm:ss, optional fraction, 'Z' or an offset); micro_time requires exactly six
// fractional digits, as metav1.MicroTime's parser does.
struct Timestamp {
  std::int64_t seconds = 0;  // since the Unix epoch, UTC
  std::int64_t nanos = 0;
  int fraction_digits = 0;
};
std::optional<Timestamp> parse_rfc3339(std::string_view s);
std::string format_rfc3339(const Timestamp& t, int fraction_digits = 0);  // UTC with 'Z'
std::string now_rfc3339(int fraction_digits = 0);
// duration.HumanDuration, the apiserver's and kubectl's age format: 45s, 5m30s, 3h, 2d4h.
std::string human_age(std::int64_t seconds);

}  // namespace crashdiag::fake
