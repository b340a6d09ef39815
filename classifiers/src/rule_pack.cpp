#include "crashdiag/classifiers/rule_pack.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <sstream>

#include "crashdiag/classifiers/categories.hpp"
#include "template.hpp"

namespace crashdiag {

std::string RuleLoadError::to_string() const {
  std::ostringstream out;
  out << file;
  if (line > 0) out << ":" << line;
  out << ": ";
  if (!rule_id.empty()) out << "rule '" << rule_id << "': ";
  out << message;
  return out.str();
}

namespace {

// yaml-cpp reports problems by throwing; inside this file they are turned into RuleLoadError
// at one place (parse_rule_pack) so nothing escapes the loader.
struct LoadFailure {
  int line;
  std::string message;
};

int line_of(const YAML::Node& node) {
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

[[noreturn]] void fail(const YAML::Node& node, std::string message) {
  throw LoadFailure{line_of(node), std::move(message)};
}

std::string scalar(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) fail(node, what + ": expected a string");
  return node.as<std::string>();
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& what) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
  } else if (node.IsSequence()) {
    for (const auto& item : node) out.push_back(scalar(item, what));
  } else {
    fail(node, what + ": expected a string or a list of strings");
  }
  return out;
}

bool boolean(const YAML::Node& node, const std::string& what) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) fail(node, what + ": expected true or false");
  return value;
}

int integer(const YAML::Node& node, const std::string& what) {
  int value = 0;
  if (!node.IsScalar() || !YAML::convert<int>::decode(node, value)) fail(node, what + ": expected an integer");
  return value;
}

std::vector<IntRange> exit_codes(const YAML::Node& node) {
  std::vector<IntRange> out;
  auto one = [&](const YAML::Node& item) {
    std::string text = scalar(item, "exit_code");
    auto dash = text.find('-', 1);
    try {
      if (dash == std::string::npos) {
        int v = std::stoi(text);
        out.push_back({v, v});
      } else {
        out.push_back({std::stoi(text.substr(0, dash)), std::stoi(text.substr(dash + 1))});
      }
    } catch (const std::exception&) {
      fail(item, "exit_code: '" + text + "' is not a number or a range like \"128-255\"");
    }
    if (out.back().lo > out.back().hi) fail(item, "exit_code: range '" + text + "' is empty");
  };
  if (node.IsSequence()) {
    for (const auto& item : node) one(item);
  } else {
    one(node);
  }
  return out;
}

std::set<std::string> compile_patterns(const std::vector<std::string>& patterns, const YAML::Node& node,
                                       const std::string& field) {
  std::set<std::string> groups;
  for (const std::string& p : patterns) {
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(p, options);
    if (!re.ok()) {
      std::string message = field;
      message += ": pattern '" + p + "' does not compile: ";
      message += re.error();
      message += " (RE2 syntax: https://github.com/google/re2/wiki/Syntax; no lookaround or backreferences)";
      fail(node, std::move(message));
    }
    for (const auto& [name, index] : re.NamedCapturingGroups()) {
      (void)index;
      groups.insert(name);
    }
  }
  return groups;
}

SpecPredicate spec_predicate(const YAML::Node& node) {
  if (!node.IsMap() || node.size() != 1)
    fail(node, "spec: each predicate is a map with one key, e.g. {command_set: true}");
  const auto key = node.begin()->first.as<std::string>();
  const YAML::Node value = node.begin()->second;
  SpecPredicate p;
  auto as_flag = [&](SpecPredicateKind kind) {
    p.kind = kind;
    p.flag = boolean(value, "spec." + key);
  };
  auto as_values = [&](SpecPredicateKind kind) {
    p.kind = kind;
    p.values = string_list(value, "spec." + key);
  };
  if (key == "command_set") {
    as_flag(SpecPredicateKind::kCommandSet);
  } else if (key == "args_set") {
    as_flag(SpecPredicateKind::kArgsSet);
  } else if (key == "image_family") {
    as_values(SpecPredicateKind::kImageFamily);
  } else if (key == "mount_at") {
    as_values(SpecPredicateKind::kMountAt);
  } else if (key == "mount_kind") {
    as_values(SpecPredicateKind::kMountKind);
    for (const auto& v : p.values) {
      if (v != "pvc" && v != "emptyDir" && v != "configMap" && v != "secret" && v != "hostPath" && v != "other") {
        fail(value, "spec.mount_kind: '" + v + "' is not one of pvc, emptyDir, configMap, secret, hostPath, other");
      }
    }
  } else if (key == "env_set") {
    as_values(SpecPredicateKind::kEnvSet);
  } else if (key == "env_unset") {
    as_values(SpecPredicateKind::kEnvUnset);
  } else if (key == "exec_probe_lacks_flag") {
    p.kind = SpecPredicateKind::kExecProbeLacksFlag;
    if (!value.IsMap() || !value["commands"] || !value["flags"]) {
      fail(value, "spec.exec_probe_lacks_flag: expected {commands: [...], flags: [...]}");
    }
    p.values = string_list(value["commands"], "spec.exec_probe_lacks_flag.commands");
    p.flags = string_list(value["flags"], "spec.exec_probe_lacks_flag.flags");
  } else if (key == "memory_limit_set") {
    as_flag(SpecPredicateKind::kMemoryLimitSet);
  } else if (key == "liveness_probe_set") {
    as_flag(SpecPredicateKind::kLivenessProbeSet);
  } else if (key == "read_only_root_filesystem") {
    as_flag(SpecPredicateKind::kReadOnlyRootFilesystem);
  } else if (key == "non_root") {
    as_flag(SpecPredicateKind::kNonRoot);
  } else if (key == "fs_group_set") {
    as_flag(SpecPredicateKind::kFsGroupSet);
  } else if (key == "service_links_enabled") {
    as_flag(SpecPredicateKind::kServiceLinksEnabled);
  } else if (key == "restart_policy") {
    as_values(SpecPredicateKind::kRestartPolicy);
  } else if (key == "init_container") {
    as_flag(SpecPredicateKind::kInitContainer);
  } else if (key == "command_line") {
    as_values(SpecPredicateKind::kCommandLine);
    compile_patterns(p.values, value, "spec.command_line");
    for (const std::string& pattern : p.values) p.patterns.push_back(std::make_shared<const RE2>(pattern));
  } else {
    fail(node, "spec: unknown predicate '" + key +
                   "' (known: command_set, args_set, image_family, mount_at, mount_kind, env_set, env_unset, "
                   "exec_probe_lacks_flag, memory_limit_set, liveness_probe_set, read_only_root_filesystem, non_root, "
                   "fs_group_set, "
                   "service_links_enabled, restart_policy, init_container, command_line)");
  }
  return p;
}

const std::set<std::string>& known_match_keys() {
  static const std::set<std::string> kKeys = {
      "waiting_reason", "terminated_reason", "exit_code", "signal", "message", "log", "event",
      "text",           "sources",           "unless",    "spec"};
  return kKeys;
}

Rule parse_rule(const YAML::Node& node, const std::string& file, std::set<std::string>& ids) {
  if (!node.IsMap()) fail(node, "each rule is a map with id, category, title, confidence, match, ...");
  Rule rule;
  rule.file = file;
  rule.line = line_of(node);
  if (!node["id"]) fail(node, "rule without an id");
  rule.id = scalar(node["id"], "id");
  try {
    static const RE2 kIdPattern("[a-z0-9][a-z0-9.\\-]*");
    if (!RE2::FullMatch(rule.id, kIdPattern)) fail(node["id"], "id must be lower-case kebab-case ([a-z0-9.-])");
    if (!ids.insert(rule.id).second) fail(node["id"], "duplicate rule id (ids are unique across all rule packs)");
    for (const char* required : {"category", "title", "confidence", "match", "summary", "remediation"}) {
      if (!node[required]) fail(node, std::string("missing required field '") + required + "'");
    }
    for (const auto& kv : node) {
      const auto key = kv.first.as<std::string>();
      if (key != "id" && key != "category" && key != "title" && key != "confidence" && key != "match" &&
          key != "summary" && key != "explanation" && key != "remediation" && key != "examples" &&
          key != "first_contact") {
        fail(kv.first, "unknown field '" + key + "'");
      }
    }
    rule.category = scalar(node["category"], "category");
    if (!is_known_category(rule.category)) {
      fail(node["category"], "unknown category '" + rule.category + "' (see docs/categories.md for the list)");
    }
    rule.title = scalar(node["title"], "title");
    if (!YAML::convert<double>::decode(node["confidence"], rule.confidence) || rule.confidence <= 0 ||
        rule.confidence > 1) {
      fail(node["confidence"], "confidence must be a number in (0, 1]");
    }
    if (const YAML::Node f = node["first_contact"]) {
      FirstContact fc;
      if (!f.IsMap() || f.size() != 2 || !f["confident"] || !f["right"] ||
          !YAML::convert<int>::decode(f["confident"], fc.confident) ||
          !YAML::convert<int>::decode(f["right"], fc.right) || fc.confident < 0 || fc.right < 0 ||
          fc.right > fc.confident) {
        fail(f, "first_contact: expected {confident: N, right: K} with 0 <= K <= N");
      }
      rule.first_contact = fc;
    }
    rule.summary_template = scalar(node["summary"], "summary");
    if (node["explanation"]) rule.explanation_template = scalar(node["explanation"], "explanation");
    rule.remediation = scalar(node["remediation"], "remediation");

    const YAML::Node m = node["match"];
    if (!m.IsMap() || m.size() == 0) fail(m, "match: expected a map with at least one condition");
    std::set<std::string> groups;
    for (const auto& kv : m) {
      const auto key = kv.first.as<std::string>();
      if (known_match_keys().count(key) == 0) {
        fail(kv.first, "match: unknown condition '" + key +
                           "' (known: waiting_reason, terminated_reason, exit_code, signal, message, log, event, "
                           "text, sources, unless, spec)");
      }
    }
    auto merge = [&](const std::set<std::string>& g) { groups.insert(g.begin(), g.end()); };
    if (m["waiting_reason"]) rule.match.waiting_reasons = string_list(m["waiting_reason"], "waiting_reason");
    if (m["terminated_reason"])
      rule.match.terminated_reasons = string_list(m["terminated_reason"], "terminated_reason");
    if (m["exit_code"]) rule.match.exit_codes = exit_codes(m["exit_code"]);
    if (m["signal"]) {
      const YAML::Node s = m["signal"];
      if (s.IsSequence()) {
        for (const auto& item : s) rule.match.signals.push_back(integer(item, "signal"));
      } else {
        rule.match.signals.push_back(integer(s, "signal"));
      }
    }
    if (m["message"]) {
      rule.match.message_patterns = string_list(m["message"], "message");
      merge(compile_patterns(rule.match.message_patterns, m["message"], "message"));
    }
    if (m["log"]) {
      rule.match.log_patterns = string_list(m["log"], "log");
      merge(compile_patterns(rule.match.log_patterns, m["log"], "log"));
    }
    if (m["text"]) {
      rule.match.text_patterns = string_list(m["text"], "text");
      merge(compile_patterns(rule.match.text_patterns, m["text"], "text"));
    }
    if (m["sources"]) {
      for (const std::string& src : string_list(m["sources"], "sources")) {
        if (src == "status") {
          rule.match.sources.push_back(TextSource::kStatus);
        } else if (src == "events") {
          rule.match.sources.push_back(TextSource::kEvents);
        } else if (src == "probe") {
          rule.match.sources.push_back(TextSource::kProbe);
        } else if (src == "logs") {
          rule.match.sources.push_back(TextSource::kLogs);
        } else {
          fail(m["sources"], "sources: unknown source '" + src + "' (known: status, events, probe, logs)");
        }
      }
      if (!m["text"]) fail(m["sources"], "sources: restricts `text` patterns; this rule has none");
    }
    if (m["unless"]) {
      rule.match.unless_patterns = string_list(m["unless"], "unless");
      (void)compile_patterns(rule.match.unless_patterns, m["unless"], "unless");
    }
    if (m["event"]) {
      const YAML::Node e = m["event"];
      if (!e.IsMap()) fail(e, "event: expected {reason: [...], message: [...]}");
      if (e["reason"]) rule.match.event.reasons = string_list(e["reason"], "event.reason");
      if (e["message"]) {
        rule.match.event.patterns = string_list(e["message"], "event.message");
        merge(compile_patterns(rule.match.event.patterns, e["message"], "event.message"));
      }
      if (rule.match.event.empty()) fail(e, "event: give a reason, a message pattern, or both");
    }
    if (m["spec"]) {
      const YAML::Node s = m["spec"];
      if (!s.IsSequence()) fail(s, "spec: expected a list of predicates, e.g. [{command_set: true}]");
      for (const auto& item : s) rule.match.spec.push_back(spec_predicate(item));
    }
    // A rule that matches only on the spec would fire on healthy pods that merely look alike;
    // spec predicates refine evidence, they never stand alone.
    const RuleMatch& rm = rule.match;
    if (rm.waiting_reasons.empty() && rm.terminated_reasons.empty() && rm.exit_codes.empty() && rm.signals.empty() &&
        rm.message_patterns.empty() && rm.log_patterns.empty() && rm.event.empty() && rm.text_patterns.empty()) {
      fail(m, "match: needs at least one status, log or event condition besides spec");
    }
    for (const auto* tmpl : {&rule.summary_template, &rule.explanation_template, &rule.remediation}) {
      for (const std::string& name : template_placeholders(*tmpl)) {
        if (groups.count(name) == 0 && !is_builtin_placeholder(name)) {
          fail(node, "template placeholder '{" + name +
                         "}' is neither a named group of this rule's patterns nor a built-in (" +
                         std::string(builtin_placeholder_list()) + ")");
        }
      }
    }
    if (node["examples"]) {
      const YAML::Node ex = node["examples"];
      if (!ex.IsSequence()) fail(ex, "examples: expected a list");
      for (const auto& item : ex) {
        if (!item.IsMap() || !item["evidence"]) fail(item, "examples: each example needs name, expect and evidence");
        RuleExample example;
        example.line = line_of(item);
        example.name = item["name"] ? scalar(item["name"], "examples.name") : "example";
        std::string expect = item["expect"] ? scalar(item["expect"], "examples.expect") : "match";
        if (expect != "match" && expect != "no_match") fail(item["expect"], "examples.expect: 'match' or 'no_match'");
        example.expect_match = expect == "match";
        YAML::Emitter emitter;
        emitter << item["evidence"];
        example.evidence_yaml = emitter.c_str();
        rule.examples.push_back(std::move(example));
      }
    }
    bool has_positive = false;
    for (const auto& e : rule.examples) has_positive = has_positive || e.expect_match;
    if (!has_positive) fail(node, "needs at least one example with expect: match (rules are tested by their examples)");
  } catch (LoadFailure& f) {
    f.message = "rule '" + rule.id + "': " + f.message;
    throw;
  }
  return rule;
}

}  // namespace

tl::expected<std::vector<Rule>, RuleLoadError> parse_rule_pack(const RuleSource& source) {
  std::set<std::string> ids;
  std::vector<Rule> rules;
  try {
    YAML::Node root = YAML::Load(source.text);
    if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence()) {
      return tl::unexpected(RuleLoadError{source.name, 1, "", "expected a top-level 'rules:' list"});
    }
    for (const auto& node : root["rules"]) rules.push_back(parse_rule(node, source.name, ids));
  } catch (const LoadFailure& f) {
    // The message already carries the rule id; split it back out for the structured error.
    std::string id;
    std::string message = f.message;
    if (message.rfind("rule '", 0) == 0) {
      auto end = message.find("': ");
      id = message.substr(6, end - 6);
      message = message.substr(end + 3);
    }
    return tl::unexpected(RuleLoadError{source.name, f.line, id, message});
  } catch (const YAML::Exception& e) {
    return tl::unexpected(
        RuleLoadError{source.name, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "invalid YAML: " + e.msg});
  }
  return rules;
}

tl::expected<std::vector<Rule>, RuleLoadError> parse_rule_packs(const std::vector<RuleSource>& sources) {
  std::vector<Rule> all;
  std::set<std::string> seen;
  for (const RuleSource& source : sources) {
    auto pack = parse_rule_pack(source);
    if (!pack) return tl::unexpected(pack.error());
    for (Rule& r : *pack) {
      if (!seen.insert(r.id).second) {
        return tl::unexpected(RuleLoadError{source.name, r.line, r.id,
                                            "duplicate rule id: another pack already defines it (rename one)"});
      }
      all.push_back(std::move(r));
    }
  }
  return all;
}

}  // namespace crashdiag
