// {placeholder} templates for rule summaries and explanations.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crashdiag {

[[nodiscard]] std::vector<std::string> template_placeholders(std::string_view tmpl);
[[nodiscard]] bool is_builtin_placeholder(std::string_view name);
[[nodiscard]] std::string_view builtin_placeholder_list();
// Unknown or empty placeholders render as "?" rather than vanishing silently.
[[nodiscard]] std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& values);

}  // namespace crashdiag
