#include "crashdiag/classifiers/report.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace crashdiag {
namespace {

std::string percent(double confidence) {
  return std::to_string(static_cast<int>(std::lround(confidence * 100))) + "%";
}

void indent_block(std::ostringstream& out, const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out << prefix << line << "\n";
}

void write_evidence(std::ostringstream& out, const std::vector<EvidenceItem>& evidence) {
  for (const EvidenceItem& e : evidence) {
    out << "       [" << to_string(e.source) << "] " << e.field << "\n";
    indent_block(out, e.excerpt, "         > ");
  }
}

std::string render_text(const Diagnosis& d) {
  std::ostringstream out;
  out << "Pod " << (d.namespace_.empty() ? "" : d.namespace_ + "/") << d.pod << "\n";
  if (d.containers.empty()) {
    out << "  No failing container: every container is running or completed successfully.\n";
    return out.str();
  }
  for (const ContainerDiagnosis& c : d.containers) {
    out << "\n" << (c.init ? "Init container " : "Container ") << c.name << "  (" << c.image << ")\n";
    out << "  State: " << c.state << "\n";
    if (c.what_changed) {
      out << "  What changed: " << c.what_changed->summary << "\n";
    }
    int rank = 1;
    for (const Hypothesis& h : c.hypotheses) {
      out << "\n  #" << rank++ << " " << h.category << "  confidence " << percent(h.confidence) << "\n";
      out << "     " << h.summary << "\n";
      if (!h.explanation.empty()) {
        out << "\n     Why:\n";
        indent_block(out, h.explanation, "       ");
      }
      if (!h.evidence.empty()) {
        out << "\n     Evidence:\n";
        write_evidence(out, h.evidence);
      }
      if (!h.remediation.empty()) {
        out << "\n     Fix:\n";
        indent_block(out, h.remediation, "       ");
      }
    }
    if (!c.evidence_notes.empty()) {
      out << "\n  Missing evidence:\n";
      for (const std::string& note : c.evidence_notes) out << "    - " << note << "\n";
    }
    for (const Hypothesis& h : c.observations) {
      out << "\n  Observation (not the cause of this failure): " << h.category << "\n";
      out << "     " << h.summary << "\n";
      write_evidence(out, h.evidence);
      if (!h.remediation.empty()) {
        out << "     Fix:\n";
        indent_block(out, h.remediation, "       ");
      }
    }
  }
  return out.str();
}

void emit_yaml(YAML::Emitter& out, const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        emit_yaml(out, v);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) emit_yaml(out, v);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto s = j.get<std::string>();
      if (s.find('\n') != std::string::npos) out << YAML::Literal;
      out << s;
      break;
    }
    case nlohmann::json::value_t::boolean:
      out << j.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      out << j.get<std::int64_t>();
      break;
    case nlohmann::json::value_t::number_float:
      out << j.dump();
      break;
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      out << YAML::Null;
      break;
  }
}

}  // namespace

std::string render(const Diagnosis& d, OutputFormat format) {
  switch (format) {
    case OutputFormat::kText:
      return render_text(d);
    case OutputFormat::kJson:
      // Logs are not guaranteed to be UTF-8 (binary garbage, Latin-1); replace invalid bytes
      // with U+FFFD instead of failing the whole report.
      return nlohmann::json(d).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    case OutputFormat::kYaml: {
      YAML::Emitter out;
      emit_yaml(
          out, nlohmann::json::parse(nlohmann::json(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
      return std::string(out.c_str()) + "\n";
    }
  }
  return {};
}

std::string render(const std::vector<Diagnosis>& diagnoses, OutputFormat format) {
  if (diagnoses.size() == 1) return render(diagnoses.front(), format);
  if (format == OutputFormat::kText) {
    std::string out;
    for (const Diagnosis& d : diagnoses) out += (out.empty() ? "" : "\n") + render(d, format);
    return out;
  }
  nlohmann::json list = {{"apiVersion", "crashdiag.io/v1alpha1"}, {"kind", "ExplanationList"}};
  list["items"] = diagnoses;
  const std::string text =
      list.dump(format == OutputFormat::kJson ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (format == OutputFormat::kJson) return text + "\n";
  YAML::Emitter out;
  emit_yaml(out, nlohmann::json::parse(text));
  return std::string(out.c_str()) + "\n";
}

}  // namespace crashdiag
