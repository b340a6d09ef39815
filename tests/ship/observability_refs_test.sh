#!/bin/sh
# What the alerts, the dashboard and the docs refer to exists:
#   1. every crashdiag_* metric used in prometheusrule.yaml and dashboards/crashdiag.json is
#      registered in operator/src/metrics/metrics.cpp (_bucket/_sum/_count stripped);
#   2. every metric registered there is documented in docs/metrics.md;
#   3. every alert has a runbook_url whose anchor is a heading of docs/operations.md
#      (GitHub anchors: lowercase, punctuation dropped, spaces -> -);
#   4. the page/ticket split: both root-cause alerts use the same category list, every category
#      in it exists (classifiers/src/categories.cpp), and docs/operations.md's severity table
#      gives every category (and `other`) the severity the rules give it;
#   5. the #anchor links inside docs/metrics.md and docs/operations.md land on headings.
# Plain sh, sed, grep and awk: no interpreter needed.
# Usage: observability_refs_test.sh SOURCE_DIR
set -eu
export LC_ALL=C
src=${1:?usage: observability_refs_test.sh SOURCE_DIR}
rule=$src/manifests/prometheus/prometheusrule.yaml
dash=$src/dashboards/crashdiag.json
metrics_cpp=$src/operator/src/metrics/metrics.cpp
metrics_md=$src/docs/metrics.md
ops=$src/docs/operations.md
categories_cpp=$src/classifiers/src/categories.cpp
for f in "$rule" "$dash" "$metrics_cpp" "$metrics_md" "$ops" "$categories_cpp"; do
  [ -f "$f" ] || { echo "FAIL: $f does not exist"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 1. Metric names used -> registered.
grep -o '"crashdiag_[a-z_]*"' "$metrics_cpp" | tr -d '"' | sort -u > "$tmp/registered"
[ -s "$tmp/registered" ] || { echo "FAIL: no \"crashdiag_...\" names found in $metrics_cpp"; exit 1; }
for f in "$rule" "$dash"; do
  grep -o 'crashdiag_[a-z_]*' "$f" | sed 's/_bucket$//; s/_sum$//; s/_count$//' | sort -u > "$tmp/used"
  missing=$(comm -23 "$tmp/used" "$tmp/registered")
  if [ -n "$missing" ]; then
    for m in $missing; do echo "FAIL: $f uses $m, which $metrics_cpp does not register"; done
    fail=$((fail + 1))
  else
    echo "ok: the $(wc -l < "$tmp/used") crashdiag_* metrics used in $(basename "$f") are registered"
  fi
done

# 2. Registered -> documented (as `name` in docs/metrics.md).
undocumented=
for m in $(cat "$tmp/registered"); do
  grep -q "\`$m\`" "$metrics_md" || undocumented="$undocumented $m"
done
if [ -n "$undocumented" ]; then
  for m in $undocumented; do echo "FAIL: $m is registered in metrics.cpp but not documented in $metrics_md"; done
  fail=$((fail + 1))
else
  echo "ok: all $(wc -l < "$tmp/registered") registered metrics are documented in docs/metrics.md"
fi

# 3. Runbook anchors. Headings -> GitHub anchors.
before=$fail
slugs() { grep -E '^#{1,6} ' "$1" | sed -E 's/^#+ +//; s/ +$//' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'; }
slugs "$ops" > "$tmp/anchors"
alerts=$(grep -c '^ *- alert: ' "$rule")
urls=$(grep -c '^ *runbook_url: ' "$rule")
if [ "$alerts" -ne "$urls" ]; then
  echo "FAIL: $rule has $alerts alerts but $urls runbook_url annotations: every alert needs one"
  fail=$((fail + 1))
fi
prefix='https://github.com/crashdiag/crashdiag/blob/main/docs/operations.md#'
for url in $(grep '^ *runbook_url: ' "$rule" | sed 's/^ *runbook_url: *//; s/["'"'"']//g'); do
  case $url in
    "$prefix"*) ;;
    *) echo "FAIL: runbook_url $url does not start with $prefix"; fail=$((fail + 1)); continue ;;
  esac
  anchor=${url#"$prefix"}
  if ! grep -qx -- "$anchor" "$tmp/anchors"; then
    echo "FAIL: runbook_url anchor #$anchor is not a heading in $ops"
    fail=$((fail + 1))
  fi
done
[ "$fail" -eq "$before" ] && echo "ok: $urls runbook_url anchors are headings of docs/operations.md"

# 4. The page/ticket split.
before=$fail
grep -o 'CategoryInfo{"[a-z0-9_]*"' "$categories_cpp" | sed 's/.*"\([a-z0-9_]*\)"/\1/' > "$tmp/categories"
[ -s "$tmp/categories" ] || { echo "FAIL: no categories found in $categories_cpp"; exit 1; }
echo other >> "$tmp/categories"   # the metrics' bucket for a category outside the list
page_re=$(grep -o 'category=~"[^"]*"' "$rule" | sed 's/category=~"//; s/"$//' | sort -u)
ticket_re=$(grep -o 'category!~"[^"]*"' "$rule" | sed 's/category!~"//; s/"$//' | sort -u)
if [ "$(printf '%s\n' "$page_re" | grep -c .)" -ne 1 ] || [ "$page_re" != "$ticket_re" ]; then
  echo "FAIL: the page rule's category=~ list and the ticket rule's category!~ list differ:"
  echo "  page:   $page_re"
  echo "  ticket: $ticket_re"
  fail=$((fail + 1))
fi
printf '%s\n' "$page_re" | tr '|' '\n' > "$tmp/page"
for c in $(cat "$tmp/page"); do
  grep -qx -- "$c" "$tmp/categories" || { echo "FAIL: page category '$c' is not a category in $categories_cpp"; fail=$((fail + 1)); }
done
# The table: | `category` | page or ticket | reason |
awk -F'|' '/^\| *`[a-z0-9_]+` *\| *(page|ticket) *\|/ {
  c = $2; s = $3; gsub(/[ `]/, "", c); gsub(/ /, "", s); print c, s }' "$ops" > "$tmp/table"
for c in $(cat "$tmp/categories"); do
  want=ticket
  grep -qx -- "$c" "$tmp/page" && want=page
  got=$(awk -v c="$c" '$1 == c {print $2}' "$tmp/table")
  if [ -z "$got" ]; then
    echo "FAIL: category $c is missing from the severity table in $ops"
    fail=$((fail + 1))
  elif [ "$got" != "$want" ]; then
    echo "FAIL: $ops says $c is a $got, the rules make it a $want"
    fail=$((fail + 1))
  fi
done
extra=$(awk '{print $1}' "$tmp/table" | sort | comm -23 - "$(sort "$tmp/categories" > "$tmp/cs"; echo "$tmp/cs")")
if [ -n "$extra" ]; then
  echo "FAIL: $ops's severity table lists categories that do not exist: $extra"
  fail=$((fail + 1))
fi
[ "$fail" -eq "$before" ] && echo "ok: $(wc -l < "$tmp/page") page and $(($(wc -l < "$tmp/categories") - $(wc -l < "$tmp/page"))) ticket categories, docs/operations.md agrees"

# 5. Links between docs/metrics.md and docs/operations.md (#anchor, metrics.md#anchor,
# operations.md#anchor) land on headings.
before=$fail
slugs "$metrics_md" > "$tmp/metrics_anchors"
links=0
for doc in "$metrics_md" "$ops"; do
  self=$(basename "$doc")
  for link in $(grep -o '](\(metrics\.md\|operations\.md\)\{0,1\}#[a-z0-9_-]*)' "$doc" | sed 's/^](//; s/)$//'); do
    links=$((links + 1))
    target=${link%%#*}
    [ -n "$target" ] || target=$self
    case $target in
      metrics.md) list=$tmp/metrics_anchors ;;
      operations.md) list=$tmp/anchors ;;
    esac
    grep -qx -- "${link#*#}" "$list" || { echo "FAIL: $doc links to $link, which is not a heading of $target"; fail=$((fail + 1)); }
  done
done
[ "$fail" -eq "$before" ] && echo "ok: $links links between docs/metrics.md and docs/operations.md land on headings"

if [ "$fail" -ne 0 ]; then
  echo "FAIL: $fail problem(s) in the observability references (see above)"
  exit 1
fi
echo "PASS: observability references"
