#!/bin/sh
# Issue 15 item 4: `crashdiag explain pod NAME` reads the pod, its Events and its previous logs
# through the kubeconfig, as `crashdiag run` would, and prints the same report; installed as
# `kubectl-crashdiag` it is the kubectl plugin `kubectl crashdiag explain ...`, taking kubectl's
# -n, --context, --kubeconfig and -o. Against the demo's API server, with the real kubectl 1.32.
# Exit 77 without kubectl (demo_lib.sh).
#
#   explain_plugin_kubectl.sh CRASHDIAG
set -eu

crashdiag=$1
# shellcheck source=tests/e2e/demo_lib.sh
. "$(dirname "$0")/demo_lib.sh"
# The incidents are on the server once the first act is printed.
start_demo "$crashdiag" 'every failure diagnosed' "the demo did not replay its incidents"

mkdir "$dir/bin"
ln -s "$(cd "$(dirname "$crashdiag")" && pwd)/$(basename "$crashdiag")" "$dir/bin/kubectl-crashdiag"
PATH="$dir/bin:$PATH"
export PATH
kubectl plugin list 2>/dev/null | grep -q 'kubectl-crashdiag' || fail "kubectl does not see the plugin"

pod=authentik-server-869bcc549-lxqm6
echo "\$ kubectl crashdiag explain pod $pod -n authentik --kubeconfig ..."
kubectl crashdiag explain pod "$pod" -n authentik --kubeconfig "$dir/kubeconfig" | tee "$dir/text"
grep -q '#1 entrypoint_override' "$dir/text" || fail "the plugin did not name the ENTRYPOINT override first"
grep -q 'args: \["server"\]' "$dir/text" || fail "the plugin did not spell out the fix"
grep -q 'events\[Failed\]' "$dir/text" || fail "the pod's Events were not read"

# The same through $KUBECONFIG and an explicit --context, as JSON.
ctx=$(kubectl --kubeconfig "$dir/kubeconfig" config current-context)
KUBECONFIG="$dir/kubeconfig" kubectl crashdiag explain "pod/$pod" -n authentik --context "$ctx" -o json >"$dir/json"
grep -q '"category": "entrypoint_override"' "$dir/json" || fail "-o json does not carry the category"

# A workload: its pods by its selector; PostgreSQL's log read from the previous instance.
kubectl crashdiag explain sts/authentik-postgresql -n authentik --kubeconfig "$dir/kubeconfig" | tee "$dir/sts"
grep -q '#1 pg_volume_mount_path' "$dir/sts" || fail "the StatefulSet's pod was not explained"
grep -q '\[logs\]' "$dir/sts" || fail "the previous container's log was not read"

# What kubectl would say: not found is exit 1 with the name; a bad type is a usage error (2).
if kubectl crashdiag explain pod nope -n authentik --kubeconfig "$dir/kubeconfig" 2>"$dir/err"; then
  fail "a missing pod explained successfully"
fi
grep -q 'pods "nope" not found in namespace authentik' "$dir/err" || fail "not found is not named: $(cat "$dir/err")"
set +e
kubectl crashdiag explain service/x --kubeconfig "$dir/kubeconfig" 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "an unsupported type exited $rc, not 2"
echo "ok"
