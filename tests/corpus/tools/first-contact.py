#!/usr/bin/env python3
"""Each batch's incidents answered by the rules of the commit that measured it, and how often each
rule was right at first contact: the data for capping a rule's confidence (issue 11 item 5).

Usage: tests/corpus/tools/first-contact.py [--out FILE.tsv] [--from BATCH] [--rules] [--write]

The batch table of tests/corpus/batches/README.md names the commit each batch was measured with.
For each commit, its classifiers/rules is exported to a temporary directory and the corpus test
runs with CRASHDIAG_RULES_DIR pointing there; the rows of the batch's ids are kept. The engine and
the spec analyzers are today's (their C++ is not swapped), so analyzer answers are not first
contact and only rule answers are counted per rule. Labels are today's (relabels corrected).

Output TSV: batch, commit, id, expected, top, confidence, rule. --rules prints, per rule id, how
many confident (>= 0.7) answers it gave at first contact and how many were right. --write puts
that record into each rule of classifiers/rules as `first_contact: {confident: N, right: K}`; the
classifier reports a rule whose record falls short below the confident line (rule_pack.hpp).
Run it after a batch's first-contact figures are written down, never before measuring one.
"""
import collections
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[3]
BATCHES = ROOT / "tests/corpus/batches"
TEST = ROOT / "build/tests/crashdiag_tests"
CONFIDENT = 0.7


def batch_commits():
    """(batch, commit) for each row of the batch table, once per batch (some rows are repeated
    under a later paragraph). The commit is the first hash of the fourth column: the measuring
    commit, or the commit whose rules measured it ("(rules of round BH1, b20efca)")."""
    out = []
    seen = set()
    for line in (BATCHES / "README.md").read_text().splitlines():
        cells = line.split("|")
        if len(cells) < 6 or not re.fullmatch(r" [A-Z]+ ", cells[1]) or not re.fullmatch(r" \d+ ", cells[2]):
            continue
        batch = cells[1].strip()
        m = re.search(r"\b([0-9a-f]{7,40})\b", cells[4])
        if not m:
            sys.exit(f"batch {batch}: no commit in its table row")
        if batch not in seen:
            seen.add(batch)
            out.append((batch, m.group(1)))
    return out


def answers_with(commit, tmp):
    rules = pathlib.Path(tmp) / commit
    rules.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "classifiers/rules"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(rules)], input=archive, check=True)
    # The records themselves are dropped: a rule reported at 0.69 because of its record must still
    # count what it would have claimed, or a capped rule could never earn its confidence back.
    for pack in (rules / "classifiers/rules").glob("*.yaml"):
        text = pack.read_text()
        pack.write_text(re.sub(r"(?m)^    first_contact: .*\n", "", text))
    tsv = pathlib.Path(tmp) / f"{commit}.tsv"
    env = dict(os.environ, CRASHDIAG_RULES_DIR=str(rules / "classifiers/rules"), CRASHDIAG_CORPUS_TSV=str(tsv))
    # The corpus test's floors fail with old rules; only the TSV is wanted.
    subprocess.run([str(TEST), "--gtest_filter=Corpus.Holdout*"], env=env,
                   capture_output=True, check=False)
    rows = {}
    if tsv.exists():
        for line in tsv.read_text().splitlines():
            p = line.split("\t")
            if len(p) >= 6:
                rows[p[1]] = p
    return rows


def write_records(per):
    """Sets or replaces each rule's first_contact line, right after its confidence line."""
    for pack in sorted((ROOT / "classifiers/rules").glob("*.yaml")):
        lines = pack.read_text().splitlines(keepends=True)
        out = []
        rule = None
        for line in lines:
            m = re.match(r"^  - id: (\S+)", line)
            if m:
                rule = m.group(1)
            if re.match(r"^    first_contact:", line):
                continue  # every record is rewritten from the counts, or dropped
            out.append(line)
            if rule and re.match(r"^    confidence: ", line) and rule in per:
                n, k = per[rule]
                out.append(f"    first_contact: {{confident: {n}, right: {k}}}\n")
                rule = None
        pack.write_text("".join(out))


def main():
    args = sys.argv[1:]
    out = args[args.index("--out") + 1] if "--out" in args else None
    start = args[args.index("--from") + 1] if "--from" in args else None
    if "--write" in args and start:
        sys.exit("--write counts every batch; it cannot be combined with --from")
    batches = batch_commits()
    if start:
        names = [b for b, _ in batches]
        batches = batches[names.index(start):]
    cache = {}
    result = []
    counted = set()  # an incident in two batches (EV re-measured five of older batches) counts once
    with tempfile.TemporaryDirectory() as tmp:
        for batch, commit in batches:
            if commit not in cache:
                cache[commit] = answers_with(commit, tmp)
            rows = cache[commit]
            if not rows:
                if "--write" in args:
                    sys.exit(f"{batch}: no answers with {commit}; records not written")
                print(f"{batch}: no answers with {commit}", file=sys.stderr)
                continue
            ids = [l.strip() for l in (BATCHES / f"{batch}.txt").read_text().splitlines() if l.strip()]
            missing = 0
            for i in ids:
                r = rows.get(i)
                if r is None:
                    missing += 1
                elif i not in counted:
                    counted.add(i)
                    result.append([batch, commit, i, r[2], r[3], r[4], r[5]])
            if missing:
                print(f"{batch}: {missing} of its ids are not in the corpus any more", file=sys.stderr)
    lines = ["\t".join(r) for r in result]
    if out:
        pathlib.Path(out).write_text("\n".join(lines) + "\n")
    per = collections.defaultdict(lambda: [0, 0])
    for r in result:
        if float(r[5]) >= CONFIDENT:
            per[r[6]][0] += 1
            per[r[6]][1] += r[3] == r[4]
    if "--write" in args:
        write_records(per)
    if "--rules" in args:
        for rule, (n, ok) in sorted(per.items(), key=lambda kv: (kv[1][1] / kv[1][0], -kv[1][0])):
            print(f"{ok}/{n}\t{rule}")
    n = len(result)
    conf = [r for r in result if float(r[5]) >= CONFIDENT]
    print(f"{n} answers; top-1 {sum(r[3] == r[4] for r in result)}; confident {len(conf)}, right "
          f"{sum(r[3] == r[4] for r in conf)}", file=sys.stderr)


if __name__ == "__main__":
    main()
