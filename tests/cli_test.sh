#!/usr/bin/env bash
# The CLI as a user runs it: exit codes, stdin, error messages, output formats.
set -uo pipefail
bin="$1"; src="$2"
fail=0; pass=0
check() {  # check NAME EXPECTED_CODE COMMAND... ; stdout+stderr in $out
  local name=$1 want=$2; shift 2
  out=$("$@" 2>&1); local code=$?
  if [ "$code" -ne "$want" ]; then echo "FAIL $name: exit $code, want $want"; echo "$out" | head -5; fail=$((fail+1)); return 1; fi
  pass=$((pass+1)); return 0
}
contains() {  # contains NAME NEEDLE
  if ! grep -qF -- "$2" <<<"$out"; then echo "FAIL $1: output lacks '$2'"; echo "$out" | head -5; fail=$((fail+1)); else pass=$((pass+1)); fi
}
ex="$src/examples/authentik-command-vs-args"
check stdin 0 bash -c "'$bin' explain -f - -o json < '$ex/pod.json'" && contains stdin '"category": "entrypoint_override"'
check yaml 0 "$bin" explain -f "$ex/pod.json" --events "$ex/events.json" -o yaml && contains yaml 'category: entrypoint_override'
check container 0 "$bin" explain -f "$ex/pod.json" -c authentik-server && contains container 'Container authentik-server'
check malformed 2 "$bin" explain -f "$src/tests/data/malformed.json" && contains malformed 'malformed JSON'
check missing_file 2 "$bin" explain -f /nonexistent.json && contains missing_file '/nonexistent.json: cannot open file'
check bad_output 2 "$bin" explain -f "$ex/pod.json" -o xml
check no_input 2 "$bin" explain && contains no_input 'give one of: pod NAME (or deploy/NAME ...), -f POD.json, --examples DIR'
check bad_rules_dir 2 "$bin" explain -f "$ex/pod.json" --rules-dir /nonexistent && contains bad_rules_dir '/nonexistent: is not a readable directory'
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'rules:\n  - id: broken\n    category: unknown_cat\n' > "$tmp/broken.yaml"
check broken_rules 2 "$bin" explain -f "$ex/pod.json" --rules-dir "$tmp" && contains broken_rules "$tmp/broken.yaml:2: rule 'broken'"
check rules_list 0 "$bin" rules list && contains rules_list 'entrypoint' && contains rules_list 'FIRST CONTACT' && contains rules_list '<=0.69'
# crashdiag run: a bad duration flag fails at once, naming the flag, before any kubeconfig is read.
check bad_evidence_delay 2 "$bin" run --evidence-delay soon --kubeconfig /nonexistent &&
  contains bad_evidence_delay '--evidence-delay "soon": not a duration'
check bad_resolve_after 2 "$bin" run --resolve-after 10 --kubeconfig /nonexistent &&
  contains bad_resolve_after '--resolve-after "10": not a duration'
# --alertmanager-url and its companions are checked as flags too, before the kubeconfig.
check bad_alertmanager_url 2 "$bin" run --alertmanager-url alertmanager:9093 --kubeconfig /nonexistent &&
  contains bad_alertmanager_url '--alertmanager-url "alertmanager:9093": use http:// or https://'
check bad_alertmanager_ca 2 "$bin" run --alertmanager-url https://am:9093 --alertmanager-ca /nonexistent.pem \
  --kubeconfig /nonexistent && contains bad_alertmanager_ca '--alertmanager-ca /nonexistent.pem: cannot read the file'
check bad_resend_interval 2 "$bin" run --alertmanager-resend-interval 0 --kubeconfig /nonexistent &&
  contains bad_resend_interval '--alertmanager-resend-interval must be more than 0'
check missing_kubeconfig 2 "$bin" run --kubeconfig /nonexistent && contains missing_kubeconfig '/nonexistent: cannot read the file'
check version 0 "$bin" --version && contains version 'crashdiag'
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
