// Analyzers: C++ reasoning that joins evidence with the pod spec, where a pattern alone would
// guess. Each is a pure function of the Evidence.
#pragma once

#include <string>
#include <vector>

#include "crashdiag/classifiers/evidence_texts.hpp"
#include "crashdiag/model/evidence.hpp"
#include "crashdiag/model/hypothesis.hpp"

namespace crashdiag {

struct Candidate {
  Hypothesis hypothesis;
  // Categories this finding explains away for the same container (e.g. an entrypoint
  // override makes "missing executable" the symptom, not the cause).
  std::vector<std::string> supersedes;
  int merged = 0;  // how many agreeing findings were folded in (ranking bonus, capped)
  // A spec finding that nothing in this failure's texts supports: true, but not why this
  // container fails. Reported as an observation, never ranked among the causes.
  bool observation = false;
};

// `command:` replaced ENTRYPOINT vs a binary missing from the image.
[[nodiscard]] std::vector<Candidate> analyze_entrypoint(const Evidence& evidence);
// PGDATA versus the volume mounts of a postgres-family image; initdb on a non-empty mount.
[[nodiscard]] std::vector<Candidate> analyze_postgres_data_dir(const Evidence& evidence);
// Exec probes without a user flag producing role/auth errors in the database's own log.
[[nodiscard]] std::vector<Candidate> analyze_probe_made_errors(const Evidence& evidence);
// Exit 137: OOMKilled (limit quoted) versus killed after failing liveness/startup probes.
[[nodiscard]] std::vector<Candidate> analyze_exit_137(const Evidence& evidence);

[[nodiscard]] std::vector<Candidate> run_analyzers(const Evidence& evidence);

// The same, over texts already read from the evidence (the classifier reads them once per diagnosis).
[[nodiscard]] std::vector<Candidate> analyze_entrypoint(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_postgres_data_dir(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_probe_made_errors(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_exit_137(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> run_analyzers(const Evidence& evidence, const EvidenceTexts& texts);

}  // namespace crashdiag
