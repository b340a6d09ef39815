// Helpers that look at Evidence the way analyzers and rules need: field paths for quoting,
// image families, PGDATA defaults. Pure functions over the model.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crashdiag/model/evidence.hpp"

namespace crashdiag {

// "spec.containers[2]" or "spec.initContainers[0]": the JSON path kubectl users recognise.
[[nodiscard]] std::string container_path(const Pod& pod, const Container& container);

// Image repository without registry, tag or digest: "ghcr.io/goauthentik/server:2024.2.1" ->
// "goauthentik/server"; "postgres:16" -> "postgres"; "docker.io/bitnami/postgresql" -> "bitnami/postgresql".
[[nodiscard]] std::string image_repository(std::string_view image);
[[nodiscard]] std::string image_tag(std::string_view image);

// Whether the image belongs to a family: postgres, mysql, mongo, redis, jvm, node, python,
// nginx, elasticsearch, kafka, rabbitmq. Families also recognise common vendor builds.
[[nodiscard]] bool image_in_family(std::string_view image, std::string_view family);

// A JSON-ish rendering of a string array for quoting spec fields: ["server", "--port"].
[[nodiscard]] std::string quote_list(const std::vector<std::string>& items);

// Whether a probe's command invokes `program` (directly or inside `sh -c "..."`), and whether
// any of `flags` (or `--flag=value`, or an env expansion of the flag) appears with it.
[[nodiscard]] bool probe_runs(const Probe& probe, std::string_view program);
[[nodiscard]] bool probe_has_any_flag(const Probe& probe, const std::vector<std::string>& flags);

// "the previous container" wording helpers.
[[nodiscard]] std::string describe_state(const Container& container);

// Human form of a byte count: 536870912 -> "512Mi".
[[nodiscard]] std::string format_bytes(std::int64_t bytes);

// Lexical path containment on normalised absolute paths: is `child` inside `parent`?
[[nodiscard]] bool path_is_within(std::string_view child, std::string_view parent);
[[nodiscard]] std::string normalize_path(std::string_view path);

}  // namespace crashdiag
