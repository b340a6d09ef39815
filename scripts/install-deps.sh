#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages crashdiag needs to build and test.
# Idempotent: packages already installed are skipped, and apt is only touched
# when something is missing. Never downloads anything but Debian packages.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev            # Asio + Beast with as_tuple and system::result (1.74 lacks them)
  libssl-dev                  # OpenSSL 3 for TLS
  nlohmann-json3-dev
  libspdlog-dev libfmt-dev
  prometheus-cpp-dev          # we link only prometheus-cpp-core and serve /metrics ourselves
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  libyaml-cpp-dev
  libre2-dev libabsl-dev      # RE2: linear-time matching (never std::regex)
  libsimdjson-dev
  libcli11-dev
  libexpected-dev             # tl::expected
  clang-format clang-tidy
  clang libfuzzer-14-dev libclang-rt-14-dev  # the clang build in CI, and the fuzz targets (scripts/fuzz.sh)
  prometheus                  # promtool for `promtool check metrics` / `promtool test rules`
  prometheus-alertmanager     # the real Alertmanager that tests/daemon/alertmanager_test.cpp posts to
  curl                        # the end-to-end test scrapes /metrics and probes /healthz, /readyz
  mmdebstrap umoci jq         # scripts/build-image.sh: the image as an OCI archive, no Docker daemon
  skopeo bubblewrap           # tests/ship/image_archive_test.sh reads it, runs the binary in its rootfs
  python3 python3-yaml        # scripts/gen-categories-doc.py --check (CTest docs_categories_current)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
