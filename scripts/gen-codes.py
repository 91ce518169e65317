#!/usr/bin/env python3
"""Generate src/codes/data/*.tsv from the shared Windows error-code tables.

Usage: scripts/gen-codes.py [DATA_DIR]   (default: ../shared/data relative to the repo root)

Reads windows-error-codes.tsv, windows-error-facilities.tsv and windows-activation-codes.tsv
(see README-error-codes.md there) and writes compact copies without the provenance columns.
Attribution for the data is in NOTICE at the repo root.

Within one kind+value, rows are ordered so the best name comes first (src/codes relies on it):
for Win32, winerror.h rows before RAS/ROUTER ones; then rows with their own message text; then
names defined by more sources; then generic prefixes (ERROR_, E_, S_, STATUS_); then by name.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "codes", "data")
KINDS = {"win32": 0, "hresult": 1, "ntstatus": 2}
GENERIC = ("ERROR_", "E_", "S_", "STATUS_")


def clean(field):
    """No tabs or line breaks inside a field; runs of whitespace become one space."""
    return re.sub(r"\s+", " ", field).strip()


def read(path, ncols):
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    header, rows = lines[0].split("\t"), []
    if len(header) != ncols:
        sys.exit(f"{path}: expected {ncols} columns, header has {len(header)}")
    for n, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) != ncols:
            sys.exit(f"{path}:{n}: expected {ncols} columns, got {len(cols)}")
        rows.append(dict(zip(header, cols)))
    return rows


def code(text, where):
    value = int(text, 16)
    if not 0 <= value <= 0xFFFFFFFF:
        sys.exit(f"{where}: value out of range: {text}")
    return value


def write(name, header, rows):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in [header] + rows:
            f.write("\t".join(clean(str(c)) for c in row) + "\n")
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(rows)} rows")


def rank(r):
    own_text = r["message"] != "" and not r["message_source"].startswith("same value as")
    origins = {s.split(":")[0] for s in r["source"].split(";") if s}
    return (
        r["kind"] == "win32" and r["facility"] != "",
        not own_text,
        -len(origins),
        not r["name"].startswith(GENERIC),
        r["name"],
    )


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
    os.makedirs(OUT, exist_ok=True)

    codes = read(os.path.join(src, "windows-error-codes.tsv"), 8)
    for r in codes:
        if r["kind"] not in KINDS:
            sys.exit(f"unknown kind {r['kind']!r}")
        r["value"] = code(r["code"], r["name"])
    codes.sort(key=lambda r: (KINDS[r["kind"]], r["value"], rank(r)))
    write("error-codes.tsv", ["kind", "code", "name", "facility", "message"],
          [[r["kind"], f"0x{r['value']:08X}", r["name"], r["facility"], r["message"]] for r in codes])

    facs = read(os.path.join(src, "windows-error-facilities.tsv"), 4)
    write("facilities.tsv", ["kind", "facility", "names"],
          [[r["kind"], int(r["facility"]), r["names"]] for r in facs])

    acts = read(os.path.join(src, "windows-activation-codes.tsv"), 8)
    write("activation.tsv", ["code", "kind", "name", "message", "common_cause", "applies_to"],
          [[f"0x{code(r['code'], r['code']):08X}", r["kind"], r["name"], r["message"],
            r["common_cause"], r["applies_to"]] for r in acts])


if __name__ == "__main__":
    main()
