#!/usr/bin/env bash
# The README's second command: installs what the build needs, builds, and runs every test.
# Usage: scripts/test.sh [--sanitize]   (--sanitize: the same tests under ASan + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh "$@"
dir=build
[ "${1:-}" = "--sanitize" ] && dir=build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
