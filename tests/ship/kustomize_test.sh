#!/bin/sh
# The install kustomization renders offline (`kubectl kustomize manifests/`, what
# `kubectl apply -k manifests/` would send) and keeps its promises: every object is there, the
# pods run locked down, two replicas elect a leader, RBAC never reaches secrets or wildcards.
# Which verbs RBAC grants is checked against the requests the daemon really makes by the C++
# test that runs it against the fake API server; this test checks the shape and the red lines.
#
#   kustomize_test.sh SOURCE_DIR [CRASHDIAG]
#
# With CRASHDIAG (the built binary), every --flag the Deployment passes must be one
# `crashdiag run --help` knows. Exit 77 without kubectl: a failure in CTest, since install-deps.sh installs it.
set -eu

src=$1
bin=${2:-}
if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl not found: skipped"
  exit 77
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

if ! kubectl kustomize "$src/manifests" >"$dir/all.yaml" 2>"$dir/err"; then
  echo "FAIL: kubectl kustomize $src/manifests failed:"
  cat "$dir/err"
  exit 1
fi

# One file per object, named Kind.name (kustomize prints no comments and indents nested
# documents such as ConfigMap data, so a top-level `kind:` and the metadata's own `name:` at two
# spaces are unambiguous; key order within an object is not relied upon).
mkdir "$dir/obj"
awk -v out="$dir/obj" '
  function flush() {
    if (n == 0) return
    f = out "/" (kind == "" ? "NOKIND" : kind) "." (name == "" ? "NONAME" : name)
    for (i = 1; i <= n; i++) print lines[i] > f
    close(f)
    n = 0; kind = ""; name = ""; meta = 0
  }
  /^---$/ { flush(); next }
  { lines[++n] = $0 }
  /^kind: / { kind = $2 }
  /^metadata:/ { meta = 1; next }
  /^[^ ]/ { meta = 0 }
  meta && /^  name: / { name = $2 }
  END { flush() }
' "$dir/all.yaml"

obj() { printf '%s/obj/%s' "$dir" "$1"; }
has() {  # has OBJECT FIXED-STRING WHAT
  if [ ! -f "$(obj "$1")" ]; then
    return 0  # reported once by the loop below
  fi
  grep -qF -- "$2" "$(obj "$1")" || fail "$1: $3 (expected a line with '$2')"
}

for o in Namespace.crashdiag-system CustomResourceDefinition.rootcauseanalyses.crashdiag.io \
  ServiceAccount.crashdiag ClusterRole.crashdiag ClusterRoleBinding.crashdiag \
  Role.crashdiag-leader-election RoleBinding.crashdiag-leader-election Deployment.crashdiag \
  Service.crashdiag-metrics ConfigMap.crashdiag-rules PodDisruptionBudget.crashdiag; do
  [ -f "$(obj "$o")" ] || fail "no $o in the kustomize output"
done
for f in "$dir"/obj/*; do
  o=$(basename "$f")
  case $o in NOKIND.* | *.NONAME) fail "an object without kind or metadata.name: $o" ;; esac
  grep -qx '    app.kubernetes.io/part-of: crashdiag' "$f" || fail "$o lacks the label app.kubernetes.io/part-of: crashdiag"
  grep -qx '    app.kubernetes.io/name: crashdiag' "$f" || fail "$o lacks the label app.kubernetes.io/name: crashdiag"
  case $o in
    Namespace.* | CustomResourceDefinition.* | ClusterRole.* | ClusterRoleBinding.*) ;;
    *) grep -qx '  namespace: crashdiag-system' "$f" || fail "$o is not in the namespace crashdiag-system" ;;
  esac
done

# RBAC: no secrets, no wildcards, nothing that widens access beyond the listed verbs.
for o in ClusterRole.crashdiag Role.crashdiag-leader-election; do
  f=$(obj "$o")
  [ -f "$f" ] || continue
  if grep -n 'secrets' "$f"; then fail "$o mentions secrets"; fi
  if grep -n '\*' "$f"; then fail "$o holds a wildcard"; fi
  if grep -nE 'resourceNames|nonResourceURLs|aggregationRule' "$f"; then fail "$o is not in the plain form (apiGroups, resources, verbs)"; fi
  if grep -nE '^  - (delete|deletecollection|escalate|bind|impersonate|approve|sign)$' "$f"; then
    fail "$o grants a verb crashdiag never needs"
  fi
done
if [ -f "$(obj Role.crashdiag-leader-election)" ]; then
  has Role.crashdiag-leader-election '  - leases' "the leader Lease belongs in the namespaced Role"
fi
if grep -n 'leases' "$(obj ClusterRole.crashdiag)" 2>/dev/null; then
  fail "ClusterRole.crashdiag grants leases cluster-wide; they belong in the namespaced Role"
fi
# The bindings' subjects exactly (a grep for "name: crashdiag" would also match the binding's own
# metadata). Their namespace comes from the kustomization, not from the files: an overlay that
# moves the install to another namespace must move the subjects too (checked below).
subjects() {  # the subjects block of an object, as rendered
  awk '/^subjects:/ { s = 1; next } /^[^ -]/ { s = 0 } s' "$(obj "$1")" 2>/dev/null
}
expected_subjects=$(printf '%s\n' '- kind: ServiceAccount' '  name: crashdiag' "  namespace: ${namespace:-crashdiag-system}")
for o in ClusterRoleBinding.crashdiag RoleBinding.crashdiag-leader-election; do
  [ "$(subjects "$o")" = "$expected_subjects" ] ||
    fail "$o subjects are not exactly the ServiceAccount crashdiag in crashdiag-system: $(subjects "$o")"
done

# The Deployment: two replicas electing a leader, locked down, probed, rules mounted optionally.
d=Deployment.crashdiag
has $d '  replicas: 2' "two replicas"
has $d '        - --leader-elect' "--leader-elect"
# The Lease lives in the pod's own namespace (the default): a flag naming crashdiag-system would
# point an overlay's replicas at a namespace their Role does not cover.
if grep -q -- '--leader-election-namespace' "$(obj $d)"; then
  fail "$d passes --leader-election-namespace; leave it to default to the pod's namespace"
fi
has $d '        - --rules-dir=/etc/crashdiag/rules' "site rules directory"
has $d '        - run' "the run subcommand"
has $d '      serviceAccountName: crashdiag' "the crashdiag ServiceAccount"
has $d '      automountServiceAccountToken: true' "the in-cluster token"
has $d '        runAsNonRoot: true' "pod runAsNonRoot"
has $d '        runAsUser: 65532' "pod runAsUser 65532"
has $d '        runAsGroup: 65532' "pod runAsGroup 65532"
has $d '          type: RuntimeDefault' "seccomp RuntimeDefault"
has $d '          readOnlyRootFilesystem: true' "read-only root filesystem"
has $d '          allowPrivilegeEscalation: false' "no privilege escalation"
has $d '          - ALL' "all capabilities dropped"
has $d '            path: /healthz' "liveness on /healthz"
has $d '            path: /readyz' "readiness on /readyz"
has $d '            port: health' "probes on the health port"
has $d '          name: crashdiag-rules' "the rules ConfigMap volume"
has $d '          optional: true' "the rules ConfigMap is optional"
if [ -f "$(obj $d)" ]; then
  grace=$(sed -n 's/^      terminationGracePeriodSeconds: //p' "$(obj $d)")
  [ "${grace:-30}" -ge 15 ] || fail "$d: terminationGracePeriodSeconds $grace < 15 (shutdown takes up to 10 s)"
  if grep -nE 'privileged: true|hostNetwork: true|hostPID: true|hostPath:' "$(obj $d)"; then
    fail "$d asks for host access"
  fi
  for port in 'containerPort: 8080' 'containerPort: 8081' 'name: metrics' 'name: health' 'requests:' 'limits:' 'memory:'; do
    has $d "$port" "port or resource '$port'"
  done
fi

# The metrics Service as the ServiceMonitor finds it: label, port name and number, selector.
s=Service.crashdiag-metrics
has $s '  - name: metrics' "a port named metrics"
has $s '    port: 8080' "port 8080"
has $s '    app.kubernetes.io/name: crashdiag' "selects the crashdiag pods"

has ConfigMap.crashdiag-rules '  local.yaml: |' "the example rule file"

# The flags must exist: a renamed flag would crash-loop the Deployment at start.
if [ -n "$bin" ] && [ -f "$(obj $d)" ]; then
  "$bin" run --help >"$dir/help" 2>&1 || true
  sed -n 's/^        - \(--[a-z-]*\).*/\1/p' "$(obj $d)" >"$dir/flags"
  while read -r flag; do
    grep -qF -- "$flag" "$dir/help" || fail "$d passes $flag, which crashdiag run --help does not list"
  done <"$dir/flags"
fi

# An overlay that installs into another namespace: the bindings follow it (kustomize fills the
# subjects' namespace only when the files leave it out). kustomize refuses absolute paths, so the
# overlay sits next to manifests/ for the moment of the check.
overlay="$src/.kustomize-overlay-test.$$"
mkdir "$overlay"
trap 'rm -rf "$dir" "$overlay"' EXIT INT TERM
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ops\nresources:\n  - ../manifests\n' \
  >"$overlay/kustomization.yaml"
if kubectl kustomize "$overlay" >"$dir/overlay.yaml" 2>"$dir/err"; then
  n=$(awk '/^subjects:/ { s = 1; next } /^[^ -]/ { s = 0 } s && /^  namespace: /' "$dir/overlay.yaml" | sort -u)
  [ "$n" = "  namespace: ops" ] || fail "with namespace: ops the bindings' subjects are in: $n"
else
  fail "an overlay with namespace: ops does not render: $(cat "$dir/err")"
fi
rm -rf "$overlay"

# The sharded install (issue 14 item 5): the base with its Deployment replaced by a StatefulSet
# whose replicas take their shard from their ordinal; as many replicas as shards; flags known.
if kubectl kustomize "$src/overlays/sharded" >"$dir/sharded.yaml" 2>"$dir/err"; then
  grep -q '^kind: Deployment$' "$dir/sharded.yaml" && fail "the sharded install still has the Deployment"
  grep -q '^kind: StatefulSet$' "$dir/sharded.yaml" || fail "the sharded install has no StatefulSet"
  replicas=$(sed -n 's/^  replicas: \([0-9]*\)$/\1/p' "$dir/sharded.yaml")
  total=$(sed -n 's/^        - --total-shards=\([0-9]*\)$/\1/p' "$dir/sharded.yaml")
  [ -n "$replicas" ] && [ "$replicas" = "$total" ] || fail "StatefulSet replicas ($replicas) != --total-shards ($total)"
  grep -q -- '- --shard=ordinal' "$dir/sharded.yaml" || fail "the shards do not take their ordinal"
  if [ -n "$bin" ]; then
    sed -n 's/^        - \(--[a-z-]*\).*/\1/p' "$dir/sharded.yaml" | while read -r flag; do
      grep -qF -- "$flag" "$dir/help" || echo "$flag"
    done >"$dir/unknown"
    [ -s "$dir/unknown" ] && fail "the StatefulSet passes flags crashdiag run does not know: $(cat "$dir/unknown")"
  fi
else
  fail "overlays/sharded does not render: $(cat "$dir/err")"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed; the rendered manifests:"
  cat "$dir/all.yaml"
  exit 1
fi
echo "kustomize: $(find "$dir/obj" -type f | wc -l) objects, all checks passed"
