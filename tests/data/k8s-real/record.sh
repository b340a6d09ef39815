#!/usr/bin/env bash
# Records what a real kube-apiserver answers the writes of issue 14 item 6 ("what the real API
# does to an operator") into this folder, one NAME.http file per response: the status line, the
# headers that matter (Content-Type), a blank line, the body as sent. Usage (root, the k8s rig of
# ../shared/k8s-rig running, crd/ not needed installed: the script installs and removes it when
# absent):  KUBECONFIG=$RIG_HOME/peer/admin.kubeconfig tests/data/k8s-real/record.sh
# It uses the namespaces hostile-fx (held in Terminating by finalizers) and hostile-gone (never
# created), and deletes everything it made.
set -euo pipefail
cd "$(dirname "$0")"
: "${KUBECONFIG:?set KUBECONFIG}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
server=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$tmp/ca"
kubectl config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$tmp/crt"
kubectl config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$tmp/key"

# call NAME METHOD PATH CONTENT-TYPE BODY-FILE: one request, its response kept as NAME.http.
call() {
  local name=$1 method=$2 path=$3 type=$4 body=${5:-}
  local args=(-sS --cacert "$tmp/ca" --cert "$tmp/crt" --key "$tmp/key" -X "$method" -D "$tmp/h" -o "$tmp/b"
    -H "Accept: application/json" -H "User-Agent: crashdiag/0.1")
  [ -n "$type" ] && args+=(-H "Content-Type: $type")
  [ -n "$body" ] && args+=(--data-binary "@$body")
  curl "${args[@]}" "$server$path"
  {
    head -1 "$tmp/h" | tr -d '\r'
    grep -i '^content-type:' "$tmp/h" | tr -d '\r' || true
    echo
    cat "$tmp/b"
    echo
  } >"$name.http"
  echo "$name: $(head -1 "$name.http")"
}

crd_installed_here=0
if ! kubectl get crd rootcauseanalyses.crashdiag.io >/dev/null 2>&1; then
  kubectl apply -f ../../../crd/rootcauseanalyses.crashdiag.io.yaml >/dev/null
  kubectl wait --for=condition=Established crd/rootcauseanalyses.crashdiag.io --timeout=30s >/dev/null
  crd_installed_here=1
fi

rca() {  # rca NAME [LABEL-VALUE]: a minimal RootCauseAnalysis for server-side apply
  local labels=""
  [ -n "${2:-}" ] && labels=",\"labels\":{\"crashdiag.io/workload\":\"$2\"}"
  printf '{"apiVersion":"crashdiag.io/v1alpha1","kind":"RootCauseAnalysis","metadata":{"name":"%s","namespace":"hostile-fx"%s},"spec":{"target":{"apiVersion":"v1","kind":"Pod","name":"p","container":"c","initContainer":false},"signature":"Error/1"}}' "$1" "$labels"
}
event() {  # event NS NAME
  printf '{"apiVersion":"v1","kind":"Event","metadata":{"name":"%s","namespace":"%s"},"involvedObject":{"apiVersion":"v1","kind":"Pod","name":"p","namespace":"%s"},"reason":"RootCauseIdentified","message":"m","type":"Warning","reportingComponent":"crashdiag.io/crashdiag","reportingInstance":"x","source":{"component":"crashdiag"},"count":1}' "$2" "$1" "$1"
}
apply="?fieldManager=crashdiag&force=true&fieldValidation=Strict"
ssa=application/apply-patch+yaml
merge=application/merge-patch+json

# --- 1. a namespace being terminated, held by finalizers ---
kubectl create namespace hostile-fx >/dev/null
kubectl -n hostile-fx create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: hold, finalizers: ["example.com/hold"]}
---
apiVersion: v1
kind: Pod
metadata: {name: p, finalizers: ["example.com/hold"]}
spec:
  nodeSelector: {hostile-never: "true"}   # never scheduled: nothing runs
  containers: [{name: c, image: localhost/busybox:1, imagePullPolicy: IfNotPresent}]
EOF
rca held >"$tmp/rca-held"
kubectl apply --server-side --field-manager=crashdiag -f "$tmp/rca-held" >/dev/null
kubectl patch rca held -n hostile-fx --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null
event hostile-fx held-event >"$tmp/ev-held"
kubectl create -f "$tmp/ev-held" >/dev/null
kubectl delete namespace hostile-fx --wait=false >/dev/null
for _ in $(seq 1 30); do
  [ "$(kubectl get ns hostile-fx -o jsonpath='{.status.phase}')" = Terminating ] && break
  sleep 1
done
sleep 3 # the namespace controller has deleted what it can

event hostile-fx x >"$tmp/ev"
call 20-terminating-create-event-403 POST /api/v1/namespaces/hostile-fx/events application/json "$tmp/ev"
rca web-5c2f1 >"$tmp/rca"
call 20-terminating-apply-new-rca-403 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-fx/rootcauseanalyses/web-5c2f1$apply" $ssa "$tmp/rca"
printf '{"apiVersion":"crashdiag.io/v1alpha1","kind":"RootCauseAnalysis","metadata":{"name":"web-5c2f1","namespace":"hostile-fx"},"status":{"phase":"Active"}}' >"$tmp/st"
call 20-terminating-apply-status-of-missing-rca-404 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-fx/rootcauseanalyses/web-5c2f1/status$apply" $ssa "$tmp/st"
sed 's/web-5c2f1/held/' "$tmp/st" >"$tmp/st-held"
call 20-terminating-apply-status-of-existing-rca-200 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-fx/rootcauseanalyses/held/status$apply" $ssa "$tmp/st-held"
echo '{"metadata":{"annotations":{"crashdiag.io/rca":"web-5c2f1"}}}' >"$tmp/ann"
call 20-terminating-annotate-existing-pod-200 PATCH /api/v1/namespaces/hostile-fx/pods/p $merge "$tmp/ann"
echo '{"count":2}' >"$tmp/bump"
call 20-terminating-bump-existing-event-200 PATCH /api/v1/namespaces/hostile-fx/events/held-event $merge "$tmp/bump"

# --- 2. a namespace that is gone ---
event hostile-gone x >"$tmp/ev-gone"
call 21-gone-create-event-404 POST /api/v1/namespaces/hostile-gone/events application/json "$tmp/ev-gone"
sed 's/hostile-fx/hostile-gone/' "$tmp/rca" >"$tmp/rca-gone"
call 21-gone-apply-new-rca-404 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-gone/rootcauseanalyses/web-5c2f1$apply" $ssa "$tmp/rca-gone"
sed 's/hostile-fx/hostile-gone/' "$tmp/st" >"$tmp/st-gone"
call 21-gone-apply-status-404 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-gone/rootcauseanalyses/web-5c2f1/status$apply" $ssa "$tmp/st-gone"
call 21-gone-annotate-pod-404 PATCH /api/v1/namespaces/hostile-gone/pods/p $merge "$tmp/ann"

# --- release the namespace ---
kubectl -n hostile-fx patch configmap hold --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
kubectl -n hostile-fx patch pod p --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
kubectl -n hostile-fx patch rca held --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
kubectl wait --for=delete namespace/hostile-fx --timeout=60s >/dev/null

# --- 3. sizes, names and label values (namespace hostile-sz, deleted at the end) ---
kubectl create namespace hostile-sz >/dev/null
big() {  # big BYTES: that many 'a'
  head -c "$1" /dev/zero | tr '\0' a
}
# Over the apiserver's 3 MiB body limit (MaxRequestBodyBytes): refused before decoding.
{ printf '{"apiVersion":"crashdiag.io/v1alpha1","kind":"RootCauseAnalysis","metadata":{"name":"big","namespace":"hostile-sz","annotations":{"x":"'; big 3200000; printf '"}},"spec":{"target":{"apiVersion":"v1","kind":"Pod","name":"p","container":"c"},"signature":"Error/1"}}'; } >"$tmp/rca-3m"
call 22-apply-rca-over-3mib-413 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-sz/rootcauseanalyses/big$apply" $ssa "$tmp/rca-3m"
# Under 3 MiB but over etcd's default --max-request-bytes (1.5 MiB): a PodTemplate (no size
# validation of its own, nothing acts on it) with 2 MiB of args.
{ printf '{"apiVersion":"v1","kind":"PodTemplate","metadata":{"name":"big","namespace":"hostile-sz"},"template":{"spec":{"containers":[{"name":"c","image":"localhost/busybox:1","args":["'; big 2000000; printf '"]}]}}}'; } >"$tmp/pt-2m"
call 22-create-podtemplate-2mib-etcd-too-large POST /api/v1/namespaces/hostile-sz/podtemplates application/json "$tmp/pt-2m"
# Annotations over 256 KiB in total (ValidateAnnotationsSize, TotalAnnotationSizeLimitB).
{ printf '{"metadata":{"annotations":{"crashdiag.io/root-cause":"'; big 262145; printf '"}}}'; } >"$tmp/ann-big"
kubectl -n hostile-sz create configmap annotated >/dev/null
call 22-annotate-over-256kib-422 PATCH /api/v1/namespaces/hostile-sz/configmaps/annotated $merge "$tmp/ann-big"
# Names: 253 characters is a valid pod name; 254 is not; a label value of 64 characters is not.
n253=$(printf 'p%.0s' $(seq 1 253))
n254=$(printf 'r%.0s' $(seq 1 254))
l64=$(printf 'w%.0s' $(seq 1 64))
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"nodeSelector":{"hostile-never":"true"},"containers":[{"name":"c","image":"localhost/busybox:1"}]}}' "$n253" >"$tmp/pod253"
call 23-create-pod-name-253-201 POST /api/v1/namespaces/hostile-sz/pods application/json "$tmp/pod253"
rca "$n254" | sed 's/hostile-fx/hostile-sz/' >"$tmp/rca254"
call 23-apply-rca-name-254-422 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-sz/rootcauseanalyses/$n254$apply" $ssa "$tmp/rca254"
rca web-5c2f1 "$l64" | sed 's/hostile-fx/hostile-sz/' >"$tmp/rca-l64"
call 23-apply-rca-label-value-64-422 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-sz/rootcauseanalyses/web-5c2f1$apply" $ssa "$tmp/rca-l64"
rca web-5c2f1 "-web_" | sed 's/hostile-fx/hostile-sz/' >"$tmp/rca-lbad"
call 23-apply-rca-label-value-bad-char-422 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-sz/rootcauseanalyses/web-5c2f1$apply" $ssa "$tmp/rca-lbad"
rca "Web_1" | sed 's/hostile-fx/hostile-sz/' >"$tmp/rca-upper"
call 23-apply-rca-name-uppercase-422 PATCH "/apis/crashdiag.io/v1alpha1/namespaces/hostile-sz/rootcauseanalyses/Web_1$apply" $ssa "$tmp/rca-upper"

kubectl delete namespace hostile-sz --wait=true >/dev/null
[ "$crd_installed_here" = 1 ] && kubectl delete crd rootcauseanalyses.crashdiag.io >/dev/null
kubectl version -o json | jq -r '"server " + .serverVersion.gitVersion' >server-version.txt
date -u +%Y-%m-%dT%H:%M:%SZ >>server-version.txt
