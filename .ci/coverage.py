#!/usr/bin/env python3
"""Line coverage per crate from cargo-tarpaulin's JSON report; fails below the minimum.

Usage: coverage.py REPORT.json MINIMUM_PERCENT
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

report = json.loads(Path(sys.argv[1]).read_text())
minimum = float(sys.argv[2])
root = Path.cwd().resolve()
per_crate = defaultdict(lambda: [0, 0])
for entry in report["files"]:
    path = Path("/".join(entry["path"]).replace("//", "/"))
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        continue  # a dependency's file
    crate = relative.parts[0]
    if crate in ("target", "fuzz"):
        continue  # generated code, and the fuzz targets (run by cargo-fuzz, not tests)
    per_crate[crate][0] += entry["covered"]
    per_crate[crate][1] += entry["coverable"]

covered = sum(c for c, _ in per_crate.values())
coverable = sum(t for _, t in per_crate.values())
print(f"{'crate':<16} {'lines':>14} {'coverage':>9}")
for crate, (c, t) in sorted(per_crate.items()):
    print(f"{crate:<16} {c:>6} / {t:<6} {100 * c / max(t, 1):>8.1f}%")
total = 100 * covered / max(coverable, 1)
print(f"{'workspace':<16} {covered:>6} / {coverable:<6} {total:>8.1f}%")
print("(dmarc-py is tested by its pytest suite through the wheel, which is not measured here)")
if total < minimum:
    print(f"line coverage {total:.1f}% is below the minimum of {minimum}%", file=sys.stderr)
    sys.exit(1)
