#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan, and runs each for SECONDS
# (default 30; CI's figure) from seeds made of the repository's own fixtures: the recorded watch
# streams and LISTs (tests/data/k8s), the example pods, Events and logs (examples/), docker
# inspect output, the shipped rule packs, and fuzz/seeds. A finding (crash, leak, sanitizer
# report, timeout) fails the run; its reproducer is left in build-fuzz/findings/TARGET/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_watch_line fuzz_list_decoder fuzz_protobuf fuzz_pod_parsers fuzz_kubeconfig fuzz_rule_pack
  fuzz_log_classify)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRASHDIAG_FUZZ=ON \
  -DCRASHDIAG_BUILD_TESTS=OFF -DCRASHDIAG_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]}"

seed() {  # seed TARGET FILE...: copies files into the target's seed directory
  local dir=build-fuzz/seeds/$1
  shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | tr / _)"; done
}
rm -rf build-fuzz/seeds
# One watch line per seed file.
mkdir -p build-fuzz/seeds/fuzz_watch_line
n=0
for f in tests/data/k8s/*.jsonl; do
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"build-fuzz/seeds/fuzz_watch_line/line-$n.json"
  done <"$f"
done
seed fuzz_list_decoder tests/data/k8s/02-list-pods-limit3-page1.json tests/data/k8s/04-list-pods-rv0-from-cache-200.json \
  tests/data/k8s/07-list-core-v1-events.json tests/data/k8s/12-list-replicasets-metadata-rv0.json
seed fuzz_pod_parsers tests/data/k8s/1*-get-pod-*.json examples/*/pod.json examples/*/events.json \
  tests/data/inputs/docker-inspect-*.json tests/data/k8s/07-list-core-v1-events.json
# fuzz/seeds/TARGET: hand-written seeds and every past finding (kept as a regression input).
for t in "${targets[@]}"; do
  [ -d "fuzz/seeds/$t" ] && seed "$t" "fuzz/seeds/$t"/*
done
# Protobuf: the recorded lists (a first byte for the piece size), and each recorded watch frame.
mkdir -p build-fuzz/seeds/fuzz_protobuf
for f in tests/data/k8s/pb/*.pb; do
  [ "$(basename "$f")" = watch.pb ] && continue
  { printf '\x07'; cat "$f"; } >"build-fuzz/seeds/fuzz_protobuf/$(basename "$f")"
done
python3 - <<'PY'
import struct
d = open("tests/data/k8s/pb/watch.pb", "rb").read()
i = n = 0
while i + 4 <= len(d):
    size = struct.unpack(">I", d[i:i + 4])[0]
    open(f"build-fuzz/seeds/fuzz_protobuf/frame-{n}", "wb").write(b"\x07" + d[i + 4:i + 4 + size])
    i += 4 + size
    n += 1
PY
seed fuzz_rule_pack classifiers/rules/*.yaml manifests/rules/*.yaml
seed fuzz_log_classify examples/*/previous.log tests/data/inputs/docker-logs-worker.txt

status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  findings=build-fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  echo "== $t: ${secs}s"
  # -rss_limit_mb: bounded memory is a requirement, not a hope; -timeout: one input may not take
  # more than 10 s (a regex or a parser gone quadratic).
  if ! "build-fuzz/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
    -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "build-fuzz/seeds/$t" >"build-fuzz/$t.log" 2>&1; then
    echo "FINDING in $t:"
    tail -40 "build-fuzz/$t.log"
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "build-fuzz/$t.log" | tr '\n' ' '
  echo
done
exit $status
