#!/usr/bin/env bash
# Sync of crashdiag against the rig's real kube-apiserver versus a raw LIST of the same pods with
# curl (same TLS, same request, bytes discarded), measured side by side: ROUNDS rounds (default 5),
# each a raw RV=0 LIST then a crashdiag start, so both see the same machine load. Once at the
# start, the paged LIST from etcd (limit=500) for reference.
# Usage: measure.sh KUBECONFIG CRASHDIAG_BINARY   (after make_pods.py, which leaves the certificates in $WORK)
#
# What is timed for crashdiag: process start to its "initial list synced" line for pods (the whole
# pod list decoded into the store, rules compiled before it), and process start to /readyz (every
# list). curl must not send a User-Agent starting with "curl": kube-apiserver pretty-prints JSON for
# "curl", "Wget" and "Mozilla/5.0" agents (isPrettyPrint in
# k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go), 2.5 times the bytes.
set -euo pipefail
kc=$1; bin=$2; d=${WORK:-/tmp/crashdiag-real-sync}; rounds=${ROUNDS:-5}
cu=(curl -s -A raw-list-baseline --cacert $d/ca.pem --cert $d/crt.pem --key $d/key.pem)
srv=https://127.0.0.1:16443
now() { date +%s.%N; }
if [ "${PAGED:-1}" = 1 ]; then
  t0=$(now); cont=""; pages=0; bytes=0
  while :; do
    out=$("${cu[@]}" "$srv/api/v1/pods?limit=500${cont:+&continue=$cont}")
    bytes=$((bytes + ${#out})); pages=$((pages+1))
    cont=$(printf '%s' "${out:0:2000}" | grep -o '"continue":"[^"]*"' | head -1 | cut -d'"' -f4 || true)
    [ -z "$cont" ] && break
  done; t1=$(now)
  echo "raw LIST paged (limit=500, $pages pages, $bytes bytes, kept in a shell variable): $(echo "$t1 - $t0" | bc) s"
fi
ratios=()
list_ratios=()
for r in $(seq 1 "$rounds"); do
  t0=$(now)
  size=$("${cu[@]}" -o /dev/null -w '%{size_download}' "$srv/api/v1/pods?resourceVersion=0&limit=500")
  t1=$(now); raw=$(echo "$t1 - $t0" | bc)
  t0=$(now)
  "$bin" run --kubeconfig "$kc" --health-probe-bind-address 127.0.0.1:18081 --metrics-bind-address 0 --log-level info --log-format json > $d/run.log 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:18081/readyz >/dev/null 2>&1; do sleep 0.02; kill -0 $pid || { echo "crashdiag died"; cat $d/run.log; exit 1; }; done
  t1=$(now); ready=$(echo "$t1 - $t0" | bc)
  # The log's ts is in milliseconds since the epoch.
  synced_ms=$(grep '"resource":"pods"' $d/run.log | grep 'initial list synced' | grep -o '"ts":[0-9]*' | cut -d: -f2)
  # "starting" is logged once the rules are compiled, just before the first request.
  started_ms=$(grep '"msg":"starting"' $d/run.log | grep -o '"ts":[0-9]*' | cut -d: -f2)
  pods=$(echo "$synced_ms / 1000 - $t0" | bc -l)
  list=$(echo "($synced_ms - $started_ms) / 1000" | bc -l)
  rss=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
  kill -TERM $pid; wait $pid || true
  ratio=$(echo "$pods / $raw" | bc -l)
  list_ratio=$(echo "$list / $raw" | bc -l)
  ratios+=("$ratio")
  list_ratios+=("$list_ratio")
  printf 'round %d: raw LIST RV=0 %.2f s (%d bytes); crashdiag: pods synced %.2f s after start (%.2f s after its first request), ready %.2f s, RSS %d KiB; ratios %.2f (from start), %.2f (from the first request)\n' \
    "$r" "$raw" "$size" "$pods" "$list" "$ready" "$rss" "$ratio" "$list_ratio"
done
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
echo "median ratio over $rounds rounds, pods synced / raw LIST: $(printf '%s\n' "${ratios[@]}" | median) from process start," \
  "$(printf '%s\n' "${list_ratios[@]}" | median) from the first request"
