#!/usr/bin/env bash
# Sync of crashdiag against the rig's real kube-apiserver versus a raw LIST of the same pods with
# curl (same TLS, bytes discarded): RV=0 (watch cache, one body) and paged from etcd (limit=500).
# Usage: measure.sh KUBECONFIG CRASHDIAG_BINARY   (after make_pods.py, which leaves the certificates in $WORK)
set -euo pipefail
kc=$1; bin=$2; d=${WORK:-/tmp/crashdiag-real-sync}
cu=(curl -s -A raw-list-baseline --cacert $d/ca.pem --cert $d/crt.pem --key $d/key.pem)
srv=https://127.0.0.1:16443
t0=$(date +%s.%N); "${cu[@]}" -o /dev/null -w '%{size_download}' "$srv/api/v1/pods?resourceVersion=0&limit=500"; t1=$(date +%s.%N)
echo " bytes; raw LIST RV=0: $(echo "$t1 - $t0" | bc) s"
t0=$(date +%s.%N); cont=""; pages=0; bytes=0
while :; do
  out=$("${cu[@]}" "$srv/api/v1/pods?limit=500${cont:+&continue=$cont}")
  bytes=$((bytes + ${#out})); pages=$((pages+1))
  cont=$(printf '%s' "${out:0:2000}" | grep -o '"continue":"[^"]*"' | head -1 | cut -d'"' -f4 || true)
  [ -z "$cont" ] && break
done; t1=$(date +%s.%N)
echo "raw LIST paged (limit=500, $pages pages, $bytes bytes, kept in a shell variable): $(echo "$t1 - $t0" | bc) s"
t0=$(date +%s.%N)
"$bin" run --kubeconfig "$kc" --health-probe-bind-address 127.0.0.1:18081 --metrics-bind-address 0 --log-level info --log-format json > $d/run.log 2>&1 &
pid=$!
until curl -sf http://127.0.0.1:18081/readyz >/dev/null 2>&1; do sleep 0.05; kill -0 $pid || { echo "crashdiag died"; cat $d/run.log; exit 1; }; done
t1=$(date +%s.%N)
echo "crashdiag run: ready after $(echo "$t1 - $t0" | bc) s; $(grep VmRSS /proc/$pid/status); $(grep VmHWM /proc/$pid/status)"
sleep 5; echo "5 s later: $(grep VmRSS /proc/$pid/status)"
kill -TERM $pid; wait $pid || true
