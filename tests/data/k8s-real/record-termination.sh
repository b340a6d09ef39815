#!/usr/bin/env bash
# Records how a real kubelet 1.26 cuts a termination message to 4096 bytes in the middle of a
# UTF-8 sequence and what the API server then serves for it. The kubelet keeps the LAST 4096
# bytes (pkg/kubelet/kuberuntime/kuberuntime_container.go, tail.ReadAtMost), so the message is
# "x", U+20AC (3 bytes) and 4095 x 'a': the cut leaves the euro sign's last byte first. Usage as record.sh (root, the rig's node running). Namespace
# hostile-tm, deleted at the end.
set -euo pipefail
cd "$(dirname "$0")"
: "${KUBECONFIG:?set KUBECONFIG}"
kubectl create namespace hostile-tm >/dev/null
kubectl -n hostile-tm create -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: cut}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: localhost/busybox:1
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "printf 'x\\342\\202\\254' > /dev/termination-log; head -c 4095 /dev/zero | tr '\\0' a >> /dev/termination-log; exit 3"]
YAML
for _ in $(seq 1 60); do
  [ -n "$(kubectl -n hostile-tm get pod cut -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')" ] && break
  sleep 1
done
kubectl -n hostile-tm get pod cut -o json >24-get-pod-termination-message-cut-mid-utf8.json
kubectl delete namespace hostile-tm --wait=false >/dev/null
