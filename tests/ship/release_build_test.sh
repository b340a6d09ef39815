#!/bin/sh
# The release build the image ships, end to end without a Docker engine: scripts/build-release.sh
# into a temporary DESTDIR (the Dockerfile's build stage runs the same), then the checks the
# image depends on: the binary is stripped and runs, and the Dockerfile's runtime stage installs
# exactly the packages of the libraries it links.
#
# Not registered with ctest (it builds the binary once more, in Release); CI calls it:
#   tests/ship/release_build_test.sh [BUILD_DIR]     # BUILD_DIR defaults to build-release/
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT INT TERM

"$src/scripts/build-release.sh" "$dest" "${1:-build-release}"
bin=$dest/usr/local/bin/crashdiag
[ -x "$bin" ] || { echo "FAIL: build-release.sh left no executable at $bin"; exit 1; }

# Stripped: no symbol table (readelf comes with binutils, like strip).
if readelf -S "$bin" | grep -q '\.symtab'; then
  echo "FAIL: $bin still has a symbol table (.symtab): not stripped"
  exit 1
fi
if ! out=$("$bin" --version 2>&1); then
  echo "FAIL: $bin --version: $out"
  exit 1
fi
echo "$out"

"$src/tests/ship/dockerfile_libs_test.sh" "$bin" "$src/Dockerfile"
echo "release build: ok"
