#!/usr/bin/env python3
"""First-contact figures of one batch, from the corpus test's TSV.

Usage: CRASHDIAG_CORPUS_TSV=/tmp/x.tsv build/tests/crashdiag_tests --gtest_filter='Corpus.*'
       tests/corpus/tools/score.py /tmp/x.tsv NAME [--detail]
Without --detail it prints counts only; --detail lists each case (read it only when the figures
are written down: that is the moment the batch stops being unseen).
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = {}
    for line in open(sys.argv[1]):
        p = line.rstrip("\n").split("\t")
        if len(p) >= 6:
            rows[p[1]] = p
    detail = "--detail" in sys.argv
    names = [a for a in sys.argv[2:] if not a.startswith("--")]
    ids = []
    for n in names:
        ids += [l.strip() for l in (ROOT / "tests/corpus/batches" / f"{n}.txt").read_text().splitlines() if l.strip()]
    n = right = unknown = conf = conf_right = missing = answered_unknown = unknown_right = 0
    for i in ids:
        r = rows.get(i)
        if r is None:
            missing += 1
            continue
        _, _, exp, top, c, rule = r[:6]
        n += 1
        ok = exp == top
        right += ok
        unknown += top == "unknown" and exp != "unknown"
        answered_unknown += top == "unknown"
        unknown_right += top == "unknown" and exp == "unknown"
        if float(c) >= 0.7:
            conf += 1
            conf_right += ok
        if detail and not ok:
            print(f"{'CONF ' if float(c) >= 0.7 else ''}{r[0]:7} {i}: expected {exp}, got {top} {c} ({rule})")
    print(f"{'+'.join(names)}: {right}/{n} right ({100.0 * right / max(n, 1):.1f}%), unknown {unknown}, "
          f"confident {conf_right}/{conf}; answered unknown {answered_unknown} ({unknown_right} right)"
          + (f"; {missing} ids not in the TSV" if missing else ""))


if __name__ == "__main__":
    main()
