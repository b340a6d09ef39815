#!/bin/sh
# The issue-4 "done when", end to end with real processes: `crashdiag run` against the fake API
# server (seeded with the authentik incident: 3 replicas of a Deployment whose command replaced
# the image ENTRYPOINT), then real kubectl 1.32 lists the RootCauseAnalysis with its printer
# columns, and the pods carry the annotations. Exit 77 without kubectl: a failure in CTest, since install-deps.sh installs it.
#
#   run_and_kubectl.sh CRASHDIAG FAKE_APISERVER SEED_JSON
set -eu

crashdiag=$1
fake=$2
seed=$3
for tool in kubectl curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool not found: skipped"
    exit 77
  fi
done

dir=$(mktemp -d)
fake_pid=
run_pid=
cleanup() {
  for p in $run_pid $fake_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() {
  echo "FAIL: $*"
  echo "--- crashdiag run log:"
  cat "$dir/run.log" 2>/dev/null || true
  exit 1
}

"$fake" --kubeconfig-out "$dir/kubeconfig" --seed "$seed" >"$dir/fake.out" 2>"$dir/fake.err" &
fake_pid=$!
i=0
until grep -q '^ready ' "$dir/fake.out" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -le 100 ] && kill -0 "$fake_pid" 2>/dev/null || { cat "$dir/fake.err"; fail "the fake apiserver did not start"; }
  sleep 0.1
done

"$crashdiag" run --kubeconfig "$dir/kubeconfig" --metrics-bind-address 127.0.0.1:0 \
  --health-probe-bind-address 127.0.0.1:0 >"$dir/run.log" 2>&1 &
run_pid=$!

k() { kubectl --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/cache" --request-timeout 20s "$@"; }

# Evidence is gathered 2 s after the failure is seen (the kubelet's Events arrive meanwhile).
i=0
until k get rca -A 2>/dev/null | grep -q entrypoint_override; do
  i=$((i + 1))
  [ "$i" -le 60 ] && kill -0 "$run_pid" 2>/dev/null || fail "no RootCauseAnalysis within 30 s"
  sleep 0.5
done

echo '$ kubectl get rca -A'
k get rca -A | tee "$dir/get"
header=$(head -n 1 "$dir/get")
for col in NAMESPACE NAME WORKLOAD CONTAINER CATEGORY CONFIDENCE COUNT 'LAST SEEN' AGE; do
  case "$header" in *"$col"*) ;; *) fail "no $col column in: $header" ;; esac
done
[ "$(grep -c entrypoint_override "$dir/get")" -eq 1 ] || fail "3 replicas must give exactly one RCA"
grep -q 'Deployment/authentik-server' "$dir/get" || fail "the RCA does not name the Deployment"

echo '$ kubectl get rca -A -o wide'
k get rca -A -o wide | tee "$dir/wide"
grep -q 'SUMMARY' "$dir/wide" || fail "-o wide has no SUMMARY"

name=$(k get rca -n authentik -o jsonpath='{.items[0].metadata.name}')
echo "\$ kubectl get rca -n authentik $name -o jsonpath='{.status.hypotheses[0].remediation}'"
k get rca -n authentik "$name" -o jsonpath='{.status.hypotheses[0].remediation}' | tee "$dir/remediation"
echo
grep -qi 'command' "$dir/remediation" || fail "the remediation does not talk about the command"

for pod in authentik-server-6c9f8d7b4-x7k2p authentik-server-6c9f8d7b4-m4q9z authentik-server-6c9f8d7b4-b8w3d; do
  i=0
  until [ "$(k get pod -n authentik "$pod" -o jsonpath='{.metadata.annotations.crashdiag\.io/rca}')" = "$name" ]; do
    i=$((i + 1))
    [ "$i" -le 20 ] || fail "pod $pod is not annotated with crashdiag.io/rca=$name"
    sleep 0.5
  done
done
echo "annotations: crashdiag.io/rca=$name on all 3 pods"

# The endpoints a platform engineer points Prometheus and the kubelet's probes at.
metrics_port=$(sed -n 's/.* metrics_port=\([0-9]*\).*/\1/p' "$dir/run.log" | head -n 1)
health_port=$(sed -n 's/.* health_port=\([0-9]*\).*/\1/p' "$dir/run.log" | head -n 1)
[ -n "$metrics_port" ] && [ -n "$health_port" ] || fail "the starting line does not name the bound ports"
curl -fsS "http://127.0.0.1:$health_port/readyz" >/dev/null || fail "/readyz is not 200 after the first sync"
curl -fsS "http://127.0.0.1:$health_port/healthz" >/dev/null || fail "/healthz is not 200"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" >"$dir/metrics" || fail "/metrics is not served"
grep -E 'crashdiag_diagnoses_total\{category="entrypoint_override"\} 1$' "$dir/metrics" ||
  fail "/metrics does not count the diagnosis"
grep -E 'crashdiag_active_rcas\{category="entrypoint_override",consequence="false",namespace="authentik"\} 1$' "$dir/metrics" ||
  fail "/metrics does not show the active RCA"
if command -v promtool >/dev/null 2>&1; then
  promtool check metrics <"$dir/metrics" || fail "promtool check metrics"
fi

# SIGTERM: a clean, prompt exit.
kill -TERM "$run_pid"
wait "$run_pid" || fail "crashdiag run did not exit 0 on SIGTERM"
run_pid=
grep -q 'published root-cause analysis' "$dir/run.log" || fail "no publish line in the log"
echo "ok"
