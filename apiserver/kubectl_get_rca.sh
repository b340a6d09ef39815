#!/bin/sh
# A real kubectl against crashdiag-fake-apiserver: discovery (the short name rca comes from the
# shipped CRD), server-side Tables built from the CRD's additionalPrinterColumns (-o wide adds
# the priority-1 columns) and a plain GET for -o yaml. Exit 77 (skipped) without kubectl.
#
#   kubectl_get_rca.sh FAKE_APISERVER_BINARY SEED_JSON
set -eu

fake=$1
seed=$2
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl not found: skipped"
  exit 77
fi

dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$fake" --kubeconfig-out "$dir/kubeconfig" --seed "$seed" >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
i=0
until grep -q '^ready ' "$dir/stdout" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "the fake apiserver did not start:"
    cat "$dir/stderr"
    exit 1
  fi
  sleep 0.1
done

# --cache-dir: a cold discovery cache of our own, never the user's ~/.kube/cache.
k() { kubectl --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/cache" --request-timeout 20s "$@"; }

fail() {
  echo "FAIL: $*"
  exit 1
}

has_column() {  # header column
  case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac
}

echo '$ kubectl get rca -A'
k get rca -A >"$dir/get" 2>"$dir/get.err" || { cat "$dir/get.err"; fail "kubectl get rca -A"; }
cat "$dir/get"
header=$(head -n 1 "$dir/get")
for col in NAMESPACE NAME WORKLOAD CONTAINER CATEGORY CONFIDENCE COUNT 'LAST SEEN' AGE; do
  has_column "$header" "$col" || fail "no $col column in: $header"
done
has_column "$header" SUMMARY && fail "SUMMARY is a priority-1 column, shown only with -o wide: $header"
grep -q 'web-debf8' "$dir/get" || fail "the seeded RCA is not listed"
grep -q 'Deployment/web' "$dir/get" || fail "no WORKLOAD cell"
grep -q '0.92' "$dir/get" || fail "no CONFIDENCE cell"

echo '$ kubectl get rca -A -o wide'
k get rca -A -o wide >"$dir/wide" 2>"$dir/wide.err" || { cat "$dir/wide.err"; fail "kubectl get rca -A -o wide"; }
cat "$dir/wide"
wide_header=$(head -n 1 "$dir/wide")
has_column "$wide_header" SUMMARY || fail "-o wide has no SUMMARY column: $wide_header"
has_column "$wide_header" PHASE || fail "-o wide has no PHASE column: $wide_header"

echo '$ kubectl get rootcauseanalyses -n shop web-debf8 -o yaml'
k get rootcauseanalyses -n shop web-debf8 -o yaml >"$dir/yaml" 2>"$dir/yaml.err" ||
  { cat "$dir/yaml.err"; fail "kubectl get -o yaml"; }
cat "$dir/yaml"
grep -q '^kind: RootCauseAnalysis$' "$dir/yaml" || fail "-o yaml is not the object"
grep -q 'signature: StartError:128' "$dir/yaml" || fail "-o yaml lacks spec.signature"

# The fake stops on SIGTERM.
kill "$pid"
wait "$pid" || fail "the fake apiserver did not exit cleanly on SIGTERM"
pid=
echo "ok"
