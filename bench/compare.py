#!/usr/bin/env python3
"""One before/after table from several bench/out directories (compare.sh)."""
import csv
import os
import sys

runs = []
for d in sys.argv[1:]:
    rows = list(csv.DictReader(open(os.path.join(d, "results.tsv")), delimiter="\t"))
    runs.append((rows[0]["label"] if rows else os.path.basename(d), rows))
scenarios = list(dict.fromkeys(r["scenario"] for _, rows in runs for r in rows))
print("| scenario | " + " | ".join(label for label, _ in runs) + " |")
print("|---|" + "---:|" * len(runs))
for s in scenarios:
    cells = []
    for _, rows in runs:
        r = next((r for r in rows if r["scenario"] == s), None)
        if not r:
            cells.append("–")
            continue
        n = float(r["requests"] or 0)
        sd = float(r["cpu_snippetd_s"] or 0)
        extra = f" ({sd * 1e6 / n:.0f} µs)" if n and r["level"] != "pgbench" else ""
        p99 = f", p99 {r['p99_ms']}" if r["p99_ms"] else ""
        cells.append(f"{float(r['rps']):,.0f}{extra}{p99}")
    print(f"| {s} | " + " | ".join(cells) + " |")
print()
print("cells: requests/s (snippetd CPU µs per request), p99 ms")
