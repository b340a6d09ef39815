#!/usr/bin/env python3
"""Prints the one-line category list collectors label incidents with.

Read from docs/categories.md (generated from the code's list), plus the labelling conventions
docs/rules.md settles, so a collector's label and the engine's category mean the same thing.
Usage: tests/corpus/tools/categories.py > categories.txt
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[3]

CONVENTIONS = """
Conventions (where two categories could be argued, this is the label):
- A script with Windows (CRLF) line endings (`/bin/bash^M`, `$'\\r': command not found`) is
  missing_executable_or_file.
- A JVM/Node/Go heap exhaustion (java.lang.OutOfMemoryError: Java heap space, JavaScript heap out of
  memory) and a kernel OOM kill (exit 137 / OOMKilled) are both oom_killed.
- A certificate or key *file* that is not there (nginx "cannot load certificate ... No such file",
  "unable to read file: /etc/certs/x.pem") is missing_config_or_secret, like any missing file; a TLS
  listener started with no certificate configured at all (Kestrel "No server certificate was
  specified"), or a certificate that is untrusted, expired, for another name or malformed, is
  tls_certificate_error.
- A pull refused because the registry's certificate is not trusted (x509 on the registry's /v2/
  URL) is tls_certificate_error: the fix is the node's trust store, not the image reference. Other
  pull failures (no such tag, no credentials, wrong platform, registry unreachable) are image_pull.
- A config file (or Secret, ConfigMap, key) that is not there is missing_config_or_secret; one that
  is there but does not parse, or holds a key its program does not know, is config_parse_error; an environment variable whose value is rejected is invalid_env_value; a
  required one that is absent is missing_env_var.
- A cause outside every category (kernel setting, seccomp, licence, hardware...) is unknown. So
  are a command-line flag the program does not know (renamed or removed in its version, args for
  another program: "flag provided but not defined", "unknown flag") and PostgreSQL refusing a data
  directory with group or world access.
"""


def main() -> None:
    text = (ROOT / "docs/categories.md").read_text()
    blocks = re.split(r"^## `", text, flags=re.M)[1:]
    for b in blocks:
        name, _, rest = b.partition("`")
        desc = next((l.strip() for l in rest.splitlines() if l.strip()), "")
        print(f"- {name}: {desc}")
    print(CONVENTIONS)


if __name__ == "__main__":
    main()
