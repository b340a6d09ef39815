#!/bin/sh
# Issue 5's "done when": the README's main command, `crashdiag demo`, replays the bundled incidents
# on its in-process API server, prints the analyses as they are detected, resolved and reopened,
# and keeps serving so that the real kubectl 1.32 can list and describe them, see the pods'
# annotations and the Events. Exit 77 without kubectl (demo_lib.sh).
#
#   demo_kubectl.sh CRASHDIAG
set -eu

crashdiag=$1
# shellcheck source=tests/e2e/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"
# The replay takes about 40 s (failures, a 15 s resolve-after, a recurrence).
start_demo "$crashdiag" 'The replay is over' "the replay did not finish"
cat "$dir/demo.out"

# What the demo printed: all three acts.
grep -q 'entrypoint_override' "$dir/demo.out" || fail "the ENTRYPOINT incident was not diagnosed"
grep -q 'pg_volume_mount_path' "$dir/demo.out" || fail "the PGDATA incident was not diagnosed"
grep -Eq 'dns_resolution_failure +[0-9.]+ +1 .* Resolved ' "$dir/demo.out" ||
  fail "the DNS incident's analysis was not shown Resolved after its recovery"

k() { kubectl --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/cache" --request-timeout 20s "$@"; }

echo '$ kubectl get rca -A'
k get rca -A | tee "$dir/get"
rows=$(($(wc -l <"$dir/get") - 1))
[ "$rows" -ge 14 ] || fail "expected an analysis per bundled incident (at least 14), got $rows"
grep -q 'Deployment/authentik-server' "$dir/get" || fail "the authentik analysis does not name its Deployment"
grep -q 'StatefulSet/authentik-postgresql' "$dir/get" || fail "the PostgreSQL analysis does not name its StatefulSet"

# The recurring OOM: the same analysis, Active again, counted twice, "Reopened" in its history.
oom=$(k get rca -n payments -o jsonpath='{range .items[?(@.status.category=="oom_killed")]}{.status.phase} {.status.occurrences} {.status.history[*].change}{end}')
echo "payments oom_killed: $oom"
case "$oom" in "Active 2 Identified Resolved Reopened") ;; *) fail "the OOM analysis is \"$oom\", not Active, twice, reopened" ;; esac
grep -Eq '^payments +ledger-service-[0-9a-f]{5} ' "$dir/get" || fail "the NAMESPACE column is not filled"

name=$(k get rca -n authentik -o jsonpath='{range .items[?(@.status.category=="entrypoint_override")]}{.metadata.name}{end}')
[ -n "$name" ] || fail "no entrypoint_override analysis in namespace authentik"
# Names start with the workload and carry the rest as labels people select on.
case "$name" in authentik-server-?????) ;; *) fail "the analysis is named \"$name\", not authentik-server-<5 hex>" ;; esac
[ "$(k get rca -n authentik -l crashdiag.io/workload=authentik-server,crashdiag.io/signature=starterror-128 -o name)" = "rootcauseanalysis.crashdiag.io/$name" ] ||
  fail "the analysis is not selected by its workload and signature labels"
echo "\$ kubectl describe rca -n authentik $name"
k describe rca -n authentik "$name" | tee "$dir/describe"
grep -q 'args: \["server"\]' "$dir/describe" || fail "describe does not show the fix (args instead of command)"

echo '$ kubectl get pods -A'
k get pods -A | tee "$dir/pods"
grep -q 'CrashLoopBackOff' "$dir/pods" || fail "no pod is shown crash-looping"
grep -q 'Running' "$dir/pods" || fail "no pod is shown recovered"

pod=$(k get pods -n authentik -o jsonpath='{range .items[?(@.metadata.annotations.crashdiag\.io/rca)]}{.metadata.name}{" "}{end}')
[ -n "$pod" ] || fail "no authentik pod carries the crashdiag.io/rca annotation"
echo "annotated pods in authentik: $pod"

echo '$ kubectl get events -n authentik'
k get events -n authentik | tee "$dir/events"
grep -q 'RootCause' "$dir/events" || fail "no crashdiag Event on the pods"

# SIGTERM: the daemon finishes its writes and the demo exits 0.
kill -TERM "$demo_pid"
wait "$demo_pid" || fail "crashdiag demo did not exit 0 on SIGTERM"
demo_pid=
echo "ok"
