#include "template.hpp"

#include <array>

namespace crashdiag {
namespace {

constexpr std::array<std::string_view, 12> kBuiltins = {"container", "image",          "exit_code",    "signal",
                                                        "reason",    "waiting_reason", "memory_limit", "restart_count",
                                                        "command",   "args",           "pod",          "namespace"};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

template <typename Fn>
void scan(std::string_view tmpl, Fn&& on_placeholder) {
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') continue;
    std::size_t j = i + 1;
    while (j < tmpl.size() && is_name_char(tmpl[j])) ++j;
    if (j < tmpl.size() && tmpl[j] == '}' && j > i + 1) {
      on_placeholder(i, j + 1, tmpl.substr(i + 1, j - i - 1));
      i = j;
    }
  }
}

}  // namespace

std::vector<std::string> template_placeholders(std::string_view tmpl) {
  std::vector<std::string> out;
  scan(tmpl, [&](std::size_t, std::size_t, std::string_view name) { out.emplace_back(name); });
  return out;
}

bool is_builtin_placeholder(std::string_view name) {
  for (auto b : kBuiltins) {
    if (b == name) return true;
  }
  return false;
}

std::string_view builtin_placeholder_list() {
  return "container, image, exit_code, signal, reason, waiting_reason, memory_limit, restart_count, command, args, "
         "pod, namespace";
}

std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t last = 0;
  scan(tmpl, [&](std::size_t begin, std::size_t end, std::string_view name) {
    out.append(tmpl.substr(last, begin - last));
    auto it = values.find(std::string(name));
    out.append(it != values.end() && !it->second.empty() ? it->second : std::string("?"));
    last = end;
  });
  out.append(tmpl.substr(last));
  return out;
}

}  // namespace crashdiag
