#!/bin/sh
# The PrometheusRule's alerts, checked and unit-tested with promtool:
#   promtool check rules  on the extracted rule file (syntax, PromQL, templates, unknown fields)
#   promtool test rules   on manifests/prometheus/tests/*.yaml (firing and not firing)
# promtool reads plain rule files, so .spec (everything after `spec:`, de-indented by two) is
# extracted next to copies of the test files, which name it in rule_files. Nothing is written
# into the source tree.
# Usage: promtool_rules_test.sh SOURCE_DIR   (exit 77: promtool not installed)
set -eu
src=${1:?usage: promtool_rules_test.sh SOURCE_DIR}
rule=$src/manifests/prometheus/prometheusrule.yaml
tests=$src/manifests/prometheus/tests
extract_name=crashdiag-rules.yaml   # what the test files' rule_files name

if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not found (Debian: apt-get install prometheus)"
  exit 77
fi
[ -f "$rule" ] || { echo "FAIL: $rule does not exist"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The extract is only right if `spec:` is the last top-level key: a top-level key after it would
# be de-indented into the rule file (or silently lost), so refuse that.
after=$(awk 'found && /^[^ #]/ {print NR": "$0} /^spec:/ {found=1}' "$rule")
if [ -n "$after" ]; then
  echo "FAIL: $rule: top-level keys after spec: cannot be extracted: $after"
  exit 1
fi
if ! grep -q '^spec:' "$rule"; then
  echo "FAIL: $rule has no top-level spec:"
  exit 1
fi
sed -n '/^spec:/,$p' "$rule" | sed '1d; s/^  //' > "$tmp/$extract_name"

echo "== promtool check rules (extracted from $rule)"
if ! promtool check rules "$tmp/$extract_name"; then
  echo "FAIL: promtool check rules rejected the PrometheusRule's spec (extract: $tmp/$extract_name)"
  sed -n '1,20p' "$tmp/$extract_name"
  exit 1
fi

set -- "$tests"/*.yaml
[ -f "$1" ] || { echo "FAIL: no test files in $tests"; exit 1; }
for t in "$@"; do
  if ! grep -q "^  *- $extract_name" "$t"; then
    echo "FAIL: $t does not list '$extract_name' in rule_files"
    exit 1
  fi
  cp "$t" "$tmp/"
done

echo "== promtool test rules"
cd "$tmp"
status=0
for t in "$@"; do
  name=$(basename "$t")
  if ! promtool test rules "$name"; then
    echo "FAIL: promtool test rules $tests/$name"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "PASS: rules check and unit tests"
exit "$status"
