#!/bin/sh
# manifests/prometheus renders offline with kubectl's built-in kustomize, into exactly the
# ServiceMonitor and the PrometheusRule, both in crashdiag-system, and the ServiceMonitor points at
# the metrics Service the install creates (label app.kubernetes.io/name=crashdiag, port `metrics`).
# Usage: kustomize_prometheus_test.sh SOURCE_DIR   (exit 77: kubectl not installed)
set -eu
src=${1:?usage: kustomize_prometheus_test.sh SOURCE_DIR}
dir=$src/manifests/prometheus
if ! command -v kubectl >/dev/null 2>&1; then
  echo "SKIP: kubectl not found"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! kubectl kustomize "$dir" > "$tmp/out" 2> "$tmp/err"; then
  echo "FAIL: kubectl kustomize $dir:"
  cat "$tmp/err"
  exit 1
fi
fail=0
kinds=$(grep '^kind: ' "$tmp/out" | sed 's/^kind: //' | sort | tr '\n' ' ')
if [ "$kinds" != "PrometheusRule ServiceMonitor " ]; then
  echo "FAIL: kubectl kustomize $dir renders kinds '$kinds', want 'PrometheusRule ServiceMonitor'"
  fail=1
fi
n_ns=$(grep -c '^  namespace: crashdiag-system$' "$tmp/out" || true)
if [ "$n_ns" -ne 2 ]; then
  echo "FAIL: $n_ns of 2 objects are in namespace crashdiag-system"
  fail=1
fi
grep -q '^apiVersion: monitoring.coreos.com/v1$' "$tmp/out" || { echo "FAIL: not monitoring.coreos.com/v1"; fail=1; }

# The ServiceMonitor must find the install's Service: its selector label and port name.
svc=$src/manifests/service.yaml
grep -q '      app.kubernetes.io/name: crashdiag' "$tmp/out" || { echo "FAIL: the ServiceMonitor does not select app.kubernetes.io/name: crashdiag"; fail=1; }
grep -q '^ *-\{0,1\} *port: metrics$' "$tmp/out" || { echo "FAIL: the ServiceMonitor does not scrape the port named metrics"; fail=1; }
grep -q '^ *path: /metrics$' "$tmp/out" || { echo "FAIL: the ServiceMonitor does not scrape /metrics"; fail=1; }
if [ -f "$svc" ]; then
  # The job label is the Service's name; the rules select job="crashdiag-metrics".
  grep -q '^  name: crashdiag-metrics$' "$svc" || { echo "FAIL: $svc is not named crashdiag-metrics, which the rules' job selector expects"; fail=1; }
  grep -q -- '- name: metrics$' "$svc" || { echo "FAIL: $svc has no port named metrics"; fail=1; }
  if ! kubectl kustomize "$src/manifests" 2>/dev/null | awk '/^kind: Service$/ {s=1} s && /^---/ {s=0} s' \
      | grep -q 'app.kubernetes.io/name: crashdiag'; then
    echo "FAIL: the installed Service (kubectl kustomize manifests/) lacks the label app.kubernetes.io/name: crashdiag"
    fail=1
  fi
else
  echo "note: $svc not found; Service checks skipped"
fi
# Every job selector in the rules names the Service.
if grep -o 'job="[^"]*"' "$dir/prometheusrule.yaml" | grep -v 'job="crashdiag-metrics"' > "$tmp/jobs"; then
  echo "FAIL: the rules select other jobs: $(sort -u "$tmp/jobs" | tr '\n' ' ')"
  fail=1
fi

[ "$fail" -eq 0 ] || exit 1
echo "PASS: kubectl kustomize $dir (ServiceMonitor and PrometheusRule in crashdiag-system)"
