#!/usr/bin/env bash
# The README's first command: installs what the build needs, builds the crashdiag binary and runs
# `crashdiag demo`: an in-process Kubernetes API server replaying the bundled incidents, the real
# daemon diagnosing them, and a kubeconfig for kubectl. Ctrl-C stops it. Extra arguments go to
# `crashdiag demo` (e.g. --kubeconfig-out /tmp/demo.kubeconfig, --exit-after 0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --target crashdiag
exec build/operator/crashdiag demo "$@"
