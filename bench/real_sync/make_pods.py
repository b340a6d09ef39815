# Creates N ordinary pods (two containers, labels, env, probes, resources; ~7 KB as served) in a
# namespace of the rig, 16 connections in parallel, with the admin client certificate.
# Usage: python3 make_pods.py N NAMESPACE KUBECONFIG   (client-certificate kubeconfig, e.g. the k8s rig's admin one)
import json, ssl, sys, http.client, threading, base64, os, yaml
n = int(sys.argv[1]); ns = sys.argv[2]; kc = yaml.safe_load(open(sys.argv[3]))
user = kc['users'][0]['user']; cluster = kc['clusters'][0]['cluster']
d = os.environ.get('WORK', '/tmp/crashdiag-real-sync'); os.makedirs(d, exist_ok=True)
for k, f in [('client-certificate-data', 'crt'), ('client-key-data', 'key'), ('certificate-authority-data', 'ca')]:
    v = user.get(k) or cluster.get(k)
    if v: open(f'{d}/{f}.pem', 'wb').write(base64.b64decode(v))
    else:
        path = user.get(k.replace('-data', '')) or cluster.get(k.replace('-data', ''))
        open(f'{d}/{f}.pem', 'wb').write(open(path, 'rb').read())
ctx = ssl.create_default_context(cafile=f'{d}/ca.pem'); ctx.load_cert_chain(f'{d}/crt.pem', f'{d}/key.pem')
def pod(i):
    dep = f'svc-{i // 10}'
    c = lambda name, img: {"name": name, "image": img, "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", "sleep 3600"], "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [{"name": f"SETTING_{k}", "value": f"value-{k}-{i}"} for k in range(12)],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10},
        "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 20}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{dep}-7d9f8b6c5-{i:05d}", "namespace": ns,
        "labels": {"app": dep, "pod-template-hash": "7d9f8b6c5", "team": f"team-{i % 17}", "tier": "backend"},
        "annotations": {"example.com/owner": f"owner-{i % 31}@example.com", "example.com/build": f"build-{i}"}},
        "spec": {"containers": [c("app", "localhost/busybox:1"), c("sidecar", "localhost/busybox:1")],
                 "terminationGracePeriodSeconds": 5}}
def worker(k):
    conn = http.client.HTTPSConnection('127.0.0.1', 16443, context=ctx)
    for i in range(k, n, 16):
        body = json.dumps(pod(i))
        conn.request('POST', f'/api/v1/namespaces/{ns}/pods', body, {'Content-Type': 'application/json'})
        r = conn.getresponse(); r.read()
        if r.status not in (201, 409): print('status', r.status, file=sys.stderr)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
[t.start() for t in ts]; [t.join() for t in ts]
