#!/usr/bin/env python3
"""Checks a staged batch of collected incidents, and copies it into holdout/.

Usage:
  tests/corpus/tools/validate.py DIR            check every DIR/**/*.yaml
  tests/corpus/tools/validate.py DIR --copy NAME  check, then copy to tests/corpus/holdout/<category>/
                                                  and list the ids in tests/corpus/batches/NAME.txt
It prints counts only (no categories per case, no evidence): whoever writes rules should not read a
holdout batch before the engine has run on it (docs/rules.md, "Keeping the figures honest").
"""
import pathlib
import re
import shutil
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests/corpus"
PLATFORMS = {"kubernetes", "openshift", "docker", "compose", "podman", "nomad", "other"}
MAPS = ("container", "pod", "status")
EVIDENCE_STATUS = ("waiting_reason", "waiting_message", "terminated_reason", "exit_code", "signal", "message")


def categories():
    text = (ROOT / "docs/categories.md").read_text()
    return set(re.findall(r"^## `([a-z0-9_]+)`", text, flags=re.M))


def known():
    ids, sources = {}, {}
    for f in CORPUS.glob("*/*/*.yaml"):
        if f.parts[-3] not in ("tune", "holdout"):
            continue
        d = yaml.safe_load(f.read_text())
        ids[d["id"]] = f
        sources.setdefault(d.get("source", ""), f)
    return ids, sources


def check(f, d, cats, ids, sources, seen):
    errs = []
    if not isinstance(d, dict):
        return ["not a YAML map"]
    for k in ("id", "source", "source_title", "category", "platform", "stack", "resolution"):
        if not isinstance(d.get(k), (str, int)) or str(d.get(k)).strip() == "":
            errs.append(f"missing {k}")
    i = str(d.get("id", ""))
    if i and not re.fullmatch(r"(so|sf|gh|blog|forum|su|au|gl|rd|ul)-[a-z0-9][a-z0-9-]*", i):
        errs.append(f"id {i!r} is not a kebab-case id with a source prefix")
    if f.stem != i:
        errs.append("file name is not the id")
    if i in ids:
        errs.append(f"id already in the corpus ({ids[i].relative_to(ROOT)})")
    if i in seen:
        errs.append("id twice in this batch")
    src = str(d.get("source", ""))
    if not src.startswith("http"):
        errs.append("source is not a URL")
    elif src in sources:
        errs.append(f"source already in the corpus ({sources[src].relative_to(ROOT)})")
    if d.get("category") not in cats:
        errs.append(f"unknown category {d.get('category')!r}")
    if d.get("platform") not in PLATFORMS:
        errs.append(f"platform {d.get('platform')!r} not one of {sorted(PLATFORMS)}")
    for k in MAPS:
        if k in d and not isinstance(d[k], dict):
            errs.append(f"{k} must be a map")
    if "logs" in d and not isinstance(d["logs"], str):
        errs.append("logs must be a string (a | block)")
    if "events" in d:
        ev = d["events"]
        if not isinstance(ev, list) or not all(isinstance(e, dict) and "message" in e for e in ev):
            errs.append("events must be a list of maps with a message")
    st = d.get("status") if isinstance(d.get("status"), dict) else {}
    has = bool(str(d.get("logs", "") or "").strip()) or bool(d.get("events")) or any(k in st for k in EVIDENCE_STATUS)
    if not has:
        errs.append("no evidence (logs, events or status)")
    return errs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = pathlib.Path(sys.argv[1])
    copy = sys.argv[3] if len(sys.argv) >= 4 and sys.argv[2] == "--copy" else None
    cats = categories()
    ids, sources = known()
    seen, bad, good = set(), 0, []
    for f in sorted(src.rglob("*.yaml")):
        try:
            d = yaml.safe_load(f.read_text())
        except yaml.YAMLError as e:
            print(f"{f}: does not parse: {str(e).splitlines()[0]}")
            bad += 1
            continue
        errs = check(f, d, cats, ids, sources, seen)
        if errs:
            bad += 1
            print(f"{f.name}: " + "; ".join(errs))
            continue
        seen.add(d["id"])
        sources[d["source"]] = f
        good.append((f, d))
    no_logs = sum(1 for _, d in good if not str(d.get("logs", "") or "").strip())
    docker = sum(1 for _, d in good if d["platform"] in ("docker", "compose", "podman"))
    print(f"{len(good)} valid, {bad} invalid; {no_logs} without logs; {docker} Docker/Compose/Podman")
    if copy is None:
        return
    if bad:
        sys.exit("not copied: fix or remove the invalid files first")
    for f, d in good:
        dst = CORPUS / "holdout" / d["category"] / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
    (CORPUS / "batches" / f"{copy}.txt").write_text("".join(d["id"] + "\n" for _, d in good))
    print(f"copied {len(good)} to tests/corpus/holdout/, ids in tests/corpus/batches/{copy}.txt")


if __name__ == "__main__":
    main()
