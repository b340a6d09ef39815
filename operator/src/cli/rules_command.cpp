#include "rules_command.hpp"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "crashdiag/classifiers/rule_test.hpp"
#include "rule_loader.hpp"

namespace crashdiag {

int run_rules_test(const std::vector<std::string>& dirs, std::ostream& out, std::ostream& err) {
  auto rules = load_rule_dirs(dirs);
  if (!rules) {
    err << "  FAILED:\n    " << rules.error().to_string() << "\n";
    return 2;
  }
  RuleTestReport report = test_rule_examples(*rules);
  for (const auto& f : report.failures) {
    err << "  FAILED:\n    " << f.file << ":" << f.line << ": rule '" << f.rule_id << "', example '" << f.example
        << "': " << f.message << "\n";
  }
  out << "Unit Testing: " << report.rules << " rules, " << report.examples << " examples\n";
  if (report.failures.empty()) {
    out << "  SUCCESS\n";
    return 0;
  }
  out << "  " << report.failures.size() << " example(s) failed\n";
  return 1;
}

int run_rules_list(const std::vector<std::string>& dirs, bool include_builtin, std::ostream& out, std::ostream& err) {
  auto sources = rule_sources(dirs, include_builtin);
  if (!sources) {
    err << "crashdiag rules list: " << sources.error().to_string() << "\n";
    return 2;
  }
  auto rules = parse_rule_packs(*sources);
  if (!rules) {
    err << "crashdiag rules list: " << rules.error().to_string() << "\n";
    return 2;
  }
  // FIRST CONTACT: right of confident on incidents the rule never saw, and "<=0.69" when that
  // record keeps the rule below the confident line (docs/rules.md, "Confidence from first contact").
  out << std::left << std::setw(40) << "ID" << std::setw(30) << "CATEGORY" << std::setw(6) << "CONF" << std::setw(18)
      << "FIRST CONTACT" << std::setw(34) << "SOURCE"
      << "TITLE\n";
  for (const Rule& r : *rules) {
    std::ostringstream conf;
    conf << std::fixed << std::setprecision(2) << r.confidence;
    // builtin:classifiers/rules/runtime.yaml -> builtin:runtime.yaml; a directory's file by name.
    std::string source = r.file;
    const bool builtin = source.rfind("builtin:", 0) == 0;
    if (const auto slash = source.rfind('/'); slash != std::string::npos) source = source.substr(slash + 1);
    if (builtin && source.rfind("builtin:", 0) != 0) source = "builtin:" + source;
    source += ":" + std::to_string(r.line);
    std::string record = "-";
    if (r.first_contact) {
      record = std::to_string(r.first_contact->right) + "/" + std::to_string(r.first_contact->confident);
      if (!confident_at_first_contact(*r.first_contact)) {
        std::ostringstream ceiling;
        ceiling << " <=" << std::fixed << std::setprecision(2) << kFirstContactCeiling;
        record += ceiling.str();
      }
    }
    out << std::left << std::setw(40) << r.id << std::setw(30) << r.category << std::setw(6) << conf.str()
        << std::setw(18) << record << std::setw(34) << source << r.title << "\n";
  }
  out << rules->size() << " rules\n";
  return 0;
}

}  // namespace crashdiag
