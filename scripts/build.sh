#!/usr/bin/env bash
# Configures and builds crashdiag. Usage: scripts/build.sh [--sanitize] [--target NAME]
# --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/; further
# arguments go to `cmake --build` (scripts/demo.sh builds only `--target crashdiag`).
# Developer and CI builds treat warnings as errors (CRASHDIAG_WERROR); a plain
# `cmake -S . -B build && cmake --build build` does not.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRASHDIAG_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DCRASHDIAG_SANITIZE=ON -DCRASHDIAG_BUILD_BENCH=OFF -DCRASHDIAG_WERROR=ON)
  shift
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# Configure every time (cheap once configured): a build directory made before an option existed
# picks it up.
cmake -S . -B "$dir" "${generator[@]}" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" "$@"
