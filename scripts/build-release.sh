#!/usr/bin/env bash
# Builds the release binary the container image ships: Release configuration, no tests, no
# benchmarks, only the `crashdiag` target, stripped, installed as DESTDIR/usr/local/bin/crashdiag.
#
#   scripts/build-release.sh DESTDIR [BUILD_DIR]
#
# BUILD_DIR defaults to build-release/ (kept between runs, so a rebuild is incremental); JOBS
# overrides the parallelism (default: all cores). The Dockerfile's build stage runs this; CI runs
# it through tests/ship/release_build_test.sh.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
  echo "usage: $0 DESTDIR [BUILD_DIR]" >&2
  exit 2
fi
dest=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
dir=${2:-build-release}

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# -O2, not CMake's Release default of -O3: every figure in docs/benchmarks.md was measured at -O2,
# and GCC 12's -O3 adds false-positive -Warray-bounds/-Wstringop-overflow diagnostics that
# would be noise in a user's build. NDEBUG as in any Release build. Warnings are not errors here
# (CRASHDIAG_WERROR stays off): this is what a packager or the Dockerfile runs.
cmake -S . -B "$dir" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DCRASHDIAG_BUILD_TESTS=OFF \
  -DCRASHDIAG_BUILD_BENCH=OFF \
  -DCRASHDIAG_SANITIZE=OFF >/dev/null
cmake --build "$dir" --target crashdiag -j "${JOBS:-$(nproc)}"

install -d "$dest/usr/local/bin"
install -m 0755 "$dir/operator/crashdiag" "$dest/usr/local/bin/crashdiag"
# Symbols only help a debugger; the image ships without them (88 MiB with -g, a few MiB without).
strip --strip-all "$dest/usr/local/bin/crashdiag"
echo "build-release: $dest/usr/local/bin/crashdiag ($(du -h "$dest/usr/local/bin/crashdiag" | cut -f1))"
