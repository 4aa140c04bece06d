"""A notebook-style tour of dmarc_rs: parse a folder, look at the data, roll it up.

Run: python examples/explore.py FOLDER   (pandas optional)
"""

import sys
import time

import dmarc_rs

folder = sys.argv[1] if len(sys.argv) > 1 else "."

# 1. Parse every file of the folder on all cores; bad files are listed, not raised.
started = time.perf_counter()
reports, errors = dmarc_rs.parse_paths(folder)
elapsed = time.perf_counter() - started
records = sum(len(r) for r in reports)
print(f"{len(reports)} reports, {records} records in {elapsed:.2f} s; {len(errors)} files rejected")
for error in errors[:5]:
    print(f"  rejected {error.path}: {error.kind}: {error.message}")

# 2. Objects mirror the report format.
if reports:
    first = reports[0]
    print(f"first: {first!r}")
    for record in first.records[:3]:
        print(f"  {record!r}")

# 3. Rollups take the same filters as the server's API.
total = dmarc_rs.summary(reports)
print(f"messages {total['messages']}, DMARC pass {total['dmarc_pass']}, fail {total['dmarc_fail']}")
print("top sources:")
for source in dmarc_rs.by_source(reports)[:5]:
    print(f"  {source['source_ip']}: {source['messages']} messages, {source['dmarc_fail']} failing")
failing = dmarc_rs.summary(reports, dkim="fail", spf="fail")
print(f"messages failing both DKIM and SPF: {failing['messages']}")
for group in dmarc_rs.by_domain(reports)[:5]:
    print(f"  domain {group['key']}: {group['messages']}")

# 4. A table for pandas users, a list of dicts for everyone else.
try:
    frame = dmarc_rs.records_frame(reports)
except ImportError:
    rows = dmarc_rs.to_records(reports)
    print(f"{len(rows)} record rows (install pandas for a DataFrame)")
else:
    by_disposition = frame.groupby("disposition", observed=True)["count"].sum()
    print("messages by disposition:")
    print(by_disposition.to_string())
