#!/usr/bin/env bash
# Sync of crashdiag against the rig's real kube-apiserver versus a raw LIST of the same pods with
# curl (same TLS, same request, bytes discarded), measured side by side: ROUNDS rounds (default 5),
# each a raw RV=0 LIST then a crashdiag start, so both see the same machine load, once per encoding. Once at the
# start, the paged LIST from etcd (limit=500) for reference.
# Usage: measure.sh KUBECONFIG CRASHDIAG_BINARY   (after make_pods.py, which leaves the certificates in $WORK)
# Environment: ROUNDS, PAGED (1: also the paged LIST once), ENCODINGS ("json protobuf"; add
# "watch-list" for the streaming list, on a server that serves it), CRASHDIAG_ARGS (extra flags for
# `crashdiag run`).
#
# watch-list: the raw request is the streaming list crashdiag asks (KEP-3157), timed with curl
# until its end bookmark (the line annotated k8s.io/initial-events-end), and crashdiag runs with
# --watch-list true; its ratio is against that raw streaming list.
#
# What is timed for crashdiag: process start to its "initial list synced" line for pods (the whole
# pod list decoded into the store, rules compiled before it), and process start to /readyz (every
# list). curl must not send a User-Agent starting with "curl": kube-apiserver pretty-prints JSON for
# "curl", "Wget" and "Mozilla/5.0" agents (isPrettyPrint in
# k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go), 2.5 times the bytes.
set -euo pipefail
kc=$1; bin=$2; d=${WORK:-/tmp/crashdiag-real-sync}; rounds=${ROUNDS:-5}
cu=(curl -s -A raw-list-baseline --cacert $d/ca.pem --cert $d/crt.pem --key $d/key.pem)
srv=https://127.0.0.1:16443
now() { date +%s.%N; }
if [ "${PAGED:-1}" = 1 ]; then
  t0=$(now); cont=""; pages=0; bytes=0
  while :; do
    out=$("${cu[@]}" "$srv/api/v1/pods?limit=500${cont:+&continue=$cont}")
    bytes=$((bytes + ${#out})); pages=$((pages+1))
    cont=$(printf '%s' "${out:0:2000}" | grep -o '"continue":"[^"]*"' | head -1 | cut -d'"' -f4 || true)
    [ -z "$cont" ] && break
  done; t1=$(now)
  echo "raw LIST paged (limit=500, $pages pages, $bytes bytes, kept in a shell variable): $(echo "$t1 - $t0" | bc) s"
fi
# Each round: per encoding (ENCODINGS, default "json protobuf"), the raw RV=0 LIST in that encoding
# (curl, Accept as crashdiag sends it), then `crashdiag run --pod-list-encoding` with it. The ratio
# is against the raw LIST of the same encoding, and for protobuf also against the raw JSON LIST of
# the same round (what the sync took before protobuf was asked for). watch-list: the raw streaming
# list instead, and crashdiag with --watch-list (its pods come as JSON watch events whatever
# --pod-list-encoding says). Every round checks from crashdiag's log that its pod sync was the
# kind measured, so a fallback (a refused streaming list, a server without protobuf) stops the run
# rather than being timed under the wrong name.
encodings=${ENCODINGS:-json protobuf}
declare -A ratios list_ratios raws syncs
for r in $(seq 1 "$rounds"); do
  for enc in $encodings; do
    accept=application/json
    [ "$enc" = protobuf ] && accept="application/vnd.kubernetes.protobuf,application/json"
    read -ra extra <<<"${CRASHDIAG_ARGS:-}"  # extra flags, split on spaces (no globbing)
    t0=$(now)
    if [ "$enc" = watch-list ]; then
      # Until the end bookmark. The stream then goes quiet (it is a watch), so curl would not see
      # the closed pipe until timeoutSeconds: it is killed once grep has the bookmark.
      size=n/a
      rm -f $d/wl.fifo; mkfifo $d/wl.fifo
      "${cu[@]}" -N -H "Accept: application/json" "$srv/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=&sendInitialEvents=true&resourceVersionMatch=NotOlderThan" > $d/wl.fifo &
      curl_pid=$!
      found=0; grep -m1 -q 'k8s.io/initial-events-end' < $d/wl.fifo && found=1
      kill $curl_pid 2>/dev/null || true; wait $curl_pid 2>/dev/null || true
      rm -f $d/wl.fifo
      [ $found = 1 ] || { echo "no end bookmark: does the server serve streaming lists?"; exit 1; }
      extra+=(--watch-list true); flag_enc=json
    else
      size=$("${cu[@]}" -H "Accept: $accept" -o /dev/null -w '%{size_download}' "$srv/api/v1/pods?resourceVersion=0&limit=500")
      flag_enc=$enc
    fi
    t1=$(now); raw=$(echo "$t1 - $t0" | bc)
    t0=$(now)
    "$bin" run --kubeconfig "$kc" --pod-list-encoding "$flag_enc" --health-probe-bind-address 127.0.0.1:18081 \
      --metrics-bind-address 0 --log-level info --log-format json "${extra[@]}" > $d/run.log 2>&1 &
    pid=$!
    until curl -sf http://127.0.0.1:18081/readyz >/dev/null 2>&1; do sleep 0.02; kill -0 $pid || { echo "crashdiag died"; cat $d/run.log; exit 1; }; done
    t1=$(now); ready=$(echo "$t1 - $t0" | bc)
    # The log's ts is in milliseconds since the epoch.
    synced_line=$(grep '"resource":"pods"' $d/run.log | grep 'initial list synced')
    synced_ms=$(echo "$synced_line" | grep -o '"ts":[0-9]*' | cut -d: -f2)
    how=$(echo "$synced_line" | grep -o '"encoding":"[a-z-]*"' | cut -d'"' -f4)
    if [ "$how" != "$enc" ]; then
      echo "round $r, $enc: crashdiag synced its pods by $how, not $enc; stopping"; kill -TERM $pid; exit 1
    fi
    # "starting" is logged once the rules are compiled, just before the first request.
    started_ms=$(grep '"msg":"starting"' $d/run.log | grep -o '"ts":[0-9]*' | cut -d: -f2)
    pods=$(echo "$synced_ms / 1000 - $t0" | bc -l)
    list=$(echo "($synced_ms - $started_ms) / 1000" | bc -l)
    rss=$(grep VmRSS /proc/$pid/status | awk '{print $2}')
    kill -TERM $pid; wait $pid || true
    ratios[$enc]+="$(echo "$pods / $raw" | bc -l) "
    list_ratios[$enc]+="$(echo "$list / $raw" | bc -l) "
    raws[$enc]+="$raw "
    syncs[$enc]+="$list "
    printf 'round %d, %s: raw %s %.2f s (%s bytes); crashdiag: pods synced %.2f s after start (%.2f s after its first request), ready %.2f s, RSS %d KiB; ratios %.2f (from start), %.2f (from the first request)\n' \
      "$r" "$enc" "$([ "$enc" = watch-list ] && echo 'streaming list to its end bookmark' || echo 'LIST RV=0')" \
      "$raw" "$size" "$pods" "$list" "$ready" "$rss" "$(echo "$pods / $raw" | bc -l)" "$(echo "$list / $raw" | bc -l)"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
for enc in $encodings; do
  echo "$enc: median over $rounds rounds: raw request $(echo "${raws[$enc]}" | median) s, crashdiag's pod list" \
    "$(echo "${syncs[$enc]}" | median) s from its first request; ratio $(echo "${list_ratios[$enc]}" | median) from" \
    "the first request, $(echo "${ratios[$enc]}" | median) from process start"
done
if [[ " $encodings " == *" watch-list "* && " $encodings " == *" protobuf "* ]]; then
  # Per round: crashdiag's streaming sync against its protobuf list sync of the same round.
  read -ra wl <<<"${syncs[watch-list]}"; read -ra pb <<<"${syncs[protobuf]}"
  cross=""; for i in "${!wl[@]}"; do cross+="$(echo "${wl[$i]} / ${pb[$i]}" | bc -l) "; done
  echo "watch-list sync / protobuf list sync of the same round (from the first request): median $(echo "$cross" | median)"
fi
if [[ " $encodings " == *" json "* && " $encodings " == *" protobuf "* ]]; then
  # Per round: crashdiag's protobuf sync against the same round's raw JSON LIST.
  read -ra pb <<<"${syncs[protobuf]}"; read -ra js <<<"${raws[json]}"
  cross=""; for i in "${!pb[@]}"; do cross+="$(echo "${pb[$i]} / ${js[$i]}" | bc -l) "; done
  echo "protobuf sync / raw JSON LIST of the same round (from the first request): median $(echo "$cross" | median)"
fi
