#!/bin/sh
# dashboards/crashdiag.json: well-formed JSON, every datasource is the ${datasource} variable,
# and every panel query is valid PromQL.
#   JSON:   python3 -m json.tool, else node, else jq; none of them -> that part is skipped (said so).
#   PromQL: each "expr" becomes a recording rule for `promtool check rules`, with the Grafana
#           variables replaced ($__rate_interval -> 5m, $job/$namespace/$category -> .*).
# Metric names are checked by observability_refs_test.sh.
# Usage: dashboard_test.sh SOURCE_DIR   (exit 77: neither a JSON parser nor promtool found)
set -eu
src=${1:?usage: dashboard_test.sh SOURCE_DIR}
dash=$src/dashboards/crashdiag.json
[ -f "$dash" ] || { echo "FAIL: $dash does not exist"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checked=0
fail=0

# 1. Well-formed JSON, with whatever parser this machine has.
if command -v python3 >/dev/null 2>&1 && python3 -c 'import json' >/dev/null 2>&1; then
  parser="python3 -m json.tool"
  python3 -m json.tool "$dash" > /dev/null 2> "$tmp/err" || { echo "FAIL: $dash is not valid JSON: $(cat "$tmp/err")"; exit 1; }
elif command -v node >/dev/null 2>&1; then
  parser=node
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$dash" 2> "$tmp/err" \
    || { echo "FAIL: $dash is not valid JSON: $(head -5 "$tmp/err")"; exit 1; }
elif command -v jq >/dev/null 2>&1; then
  parser=jq
  jq empty "$dash" 2> "$tmp/err" || { echo "FAIL: $dash is not valid JSON: $(cat "$tmp/err")"; exit 1; }
else
  parser=
  echo "SKIP (part): no python3, node or jq to parse JSON; well-formedness not checked"
fi
if [ -n "$parser" ]; then
  echo "ok: valid JSON ($parser)"
  checked=$((checked + 1))
fi

# 2. No datasource pinned to one Grafana's uid: every "uid" is the variable, Grafana's built-in
# annotation source, or the dashboard's own uid.
bad_uids=$(grep -o '"uid": *"[^"]*"' "$dash" | sed 's/"uid": *"//; s/"$//' \
  | grep -v -x -e '${datasource}' -e '-- Grafana --' -e 'crashdiag' | sort -u | tr '\n' ' ' || true)
if [ -n "$bad_uids" ]; then
  echo "FAIL: $dash: datasource uids other than \${datasource}: $bad_uids"
  fail=1
fi
if ! grep -q '"type": "datasource"' "$dash"; then
  echo "FAIL: $dash: no datasource template variable"
  fail=1
fi
for v in datasource namespace category; do
  grep -q "\"name\": \"$v\"" "$dash" || { echo "FAIL: $dash: no template variable '$v'"; fail=1; }
done
[ "$fail" -eq 0 ] && echo "ok: datasource variable used everywhere; variables datasource, namespace, category"

# 3. PromQL: one expression per line ("expr": "..."), as the dashboard is written.
if command -v promtool >/dev/null 2>&1; then
  grep '"expr": ' "$dash" | sed 's/^ *"expr": "//; s/",\{0,1\} *$//; s/\\"/"/g; s/\\\\/\\/g' \
    | sed 's/\$__rate_interval/5m/g; s/\${[a-z_]*}/.*/g; s/\$[a-z_]*/.*/g' > "$tmp/exprs"
  n=$(wc -l < "$tmp/exprs")
  if [ "$n" -eq 0 ]; then
    echo "FAIL: $dash: no \"expr\" found"
    exit 1
  fi
  {
    echo "groups:"
    echo "  - name: dashboard"
    echo "    rules:"
    i=0
    while IFS= read -r e; do
      i=$((i + 1))
      q=$(printf '%s' "$e" | sed "s/'/''/g")
      echo "      - record: dashboard_expr_$i"
      echo "        expr: '$q'"
    done < "$tmp/exprs"
  } > "$tmp/dashboard-rules.yaml"
  if promtool check rules "$tmp/dashboard-rules.yaml" > "$tmp/out" 2>&1; then
    echo "ok: $n panel queries are valid PromQL (promtool check rules)"
    checked=$((checked + 1))
  else
    echo "FAIL: a dashboard query is not valid PromQL:"
    cat "$tmp/out"
    grep -n . "$tmp/exprs"
    fail=1
  fi
else
  echo "SKIP (part): promtool not found; PromQL not checked"
fi

[ "$fail" -eq 0 ] || exit 1
if [ "$checked" -eq 0 ]; then
  echo "SKIP: nothing to check JSON or PromQL with"
  exit 77
fi
echo "PASS: dashboard"
