// Analyzers: C++ reasoning that joins evidence with the pod spec, where a pattern alone would
// guess. Each is a pure function of the Evidence.
#pragma once

#include <optional>
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

// A datastore with a claim that restarted and whose new log shows first-time initialisation:
// its data did not survive the restart (classifiers/src/data_reinit.cpp). Only on the running
// container's own log (LogTail::current_instance), which the daemon reads for a Restarted signal.
[[nodiscard]] std::vector<Candidate> analyze_data_reinit(const Evidence& evidence);
// An environment value in scientific notation: a large integer Helm rendered as a float.
[[nodiscard]] std::vector<Candidate> analyze_env_values(const Evidence& evidence);
// readOnlyRootFilesystem: an observation, a cause only when nothing else explains the failure.
[[nodiscard]] std::vector<Candidate> analyze_read_only_root(const Evidence& evidence);

[[nodiscard]] std::vector<Candidate> run_analyzers(const Evidence& evidence);

// The same, over texts already read from the evidence (the classifier reads them once per diagnosis).
[[nodiscard]] std::vector<Candidate> analyze_entrypoint(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_postgres_data_dir(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_probe_made_errors(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_exit_137(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_data_reinit(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_env_values(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> analyze_read_only_root(const Evidence& evidence, const EvidenceTexts& texts);
[[nodiscard]] std::vector<Candidate> run_analyzers(const Evidence& evidence, const EvidenceTexts& texts);

// Where a PostgreSQL container keeps its cluster: PGDATA (env, else the image's default for its
// tag) and the VOLUME the image declares for it. nullopt when PGDATA comes from a Secret or
// ConfigMap (unknown here). Shared by the PostgreSQL analyzers.
struct PgLayout {
  std::string pgdata;
  std::string pgdata_origin;  // "env PGDATA" or "the image default"
  std::string image_volume;   // declared VOLUME, may be empty
};
[[nodiscard]] std::optional<PgLayout> postgres_layout(const Container& c);

}  // namespace crashdiag
