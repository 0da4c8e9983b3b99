#!/usr/bin/env python3
"""Reads cargo-tarpaulin's JSON report; prints line coverage per crate and in total, and exits 1
when the total or any crate is under the minimum (percent, the second argument)."""
import json
import os
import sys

report_path, minimum = sys.argv[1], float(sys.argv[2])
root = os.getcwd()
with open(report_path) as f:
    report = json.load(f)

# A file belongs to the crate whose folder holds it; the server crate is the repository root.
crates = {"entity": "entity/", "migration": "migration/", "jobs": "jobs/"}
totals = {}
for entry in report["files"]:
    path = os.path.relpath("/".join(entry["path"]).replace("//", "/"), root)
    crate = next((name for name, prefix in crates.items() if path.startswith(prefix)), "skillmeat-server")
    covered, coverable = totals.get(crate, (0, 0))
    totals[crate] = (covered + entry["covered"], coverable + entry["coverable"])

failed = False
print(f"{'crate':<20} {'lines':>13} {'coverage':>9}")
for crate, (covered, coverable) in sorted(totals.items()):
    percent = 100.0 * covered / coverable if coverable else 100.0
    mark = "" if percent >= minimum else f"  < {minimum:.0f}%"
    failed |= percent < minimum
    print(f"{crate:<20} {covered:>6}/{coverable:<6} {percent:>8.2f}%{mark}")
covered = sum(c for c, _ in totals.values())
coverable = sum(t for _, t in totals.values())
total = 100.0 * covered / coverable if coverable else 100.0
failed |= total < minimum
print(f"{'TOTAL':<20} {covered:>6}/{coverable:<6} {total:>8.2f}%")
if failed:
    print(f"coverage gate FAILED: every crate and the total need at least {minimum:.0f}% of lines")
    sys.exit(1)
print(f"coverage gate passed (minimum {minimum:.0f}%)")
