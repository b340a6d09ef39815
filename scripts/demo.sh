#!/usr/bin/env bash
# The README's first command: installs what the build needs, builds crashdiag, and explains
# every bundled example incident in examples/ (pod.json + previous.log + events.json each).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/operator/crashdiag explain --examples examples "$@"
