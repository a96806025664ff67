#!/usr/bin/env python3
"""Inserts `unsafe` where the compiler's strict-memory-safety warnings ask for it.
Usage: swift build 2>&1 | scripts/fix-unsafe.py  (repeat until it changes nothing)."""
import re, sys, collections
pat = re.compile(r"^(/[^:]+\.swift):(\d+):(\d+): warning: expression uses unsafe constructs but is not marked with 'unsafe'")
edits = collections.defaultdict(set)
for line in sys.stdin:
    m = pat.match(line)
    if m:
        edits[m.group(1)].add((int(m.group(2)), int(m.group(3))))
n = 0
for path, spots in edits.items():
    lines = open(path).read().split("\n")
    for ln, col in sorted(spots, reverse=True):
        s = lines[ln - 1]
        lines[ln - 1] = s[: col - 1] + "unsafe " + s[col - 1 :]
        n += 1
    open(path, "w").write("\n".join(lines))
print(f"inserted {n}")
