#!/usr/bin/env bash
# Configures and builds crashdiag. Usage: scripts/build.sh [--sanitize] [--target NAME]
# --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/; further
# arguments go to `cmake --build` (scripts/demo.sh builds only `--target crashdiag`).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DCRASHDIAG_SANITIZE=ON -DCRASHDIAG_BUILD_BENCH=OFF)
  shift
fi
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${generator[@]}" "${flags[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" "$@"
