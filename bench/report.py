#!/usr/bin/env python3
"""Renders bench/out/results.tsv + meta.tsv as Markdown (bench/out/report.md).
Usage: report.py OUT_DIR"""
import csv
import os
import sys

out = sys.argv[1]
meta = {}
with open(os.path.join(out, "meta.tsv")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("\t")
        meta[k] = v
rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def get(level, scenario):
    for r in rows:
        if r["level"] == level and r["scenario"] == scenario:
            return r
    return None


def rate(level, scenario):
    r = get(level, scenario)
    return num(r["rps"]) if r else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def rmax(r_http, r_db):
    if not r_http or not r_db:
        return None
    return 1 / (1 / r_http + 1 / r_db)


p = print
p(f"# snippetd bench: {meta.get('label', '')}")
p()
p(f"commit {meta.get('commit')}, {meta.get('date')}, {meta.get('cpus')} CPUs, "
  f"kernel {meta.get('kernel')}, {meta.get('wrk')}, {meta.get('postgres')}")
p(f"load average before/after the run: {meta.get('loadavg_start')} / {meta.get('loadavg_end')} "
  "(other work on the machine shows up as 'other' CPU below)")
p(f"settings: {meta.get('settings')}, request body {meta.get('body_bytes', '?')} bytes")
p()

ncpu = int(meta.get("cpus", "1"))
levels = [lv for lv in dict.fromkeys(r["level"] for r in rows) if lv != "pgbench"]
# R_db for the id lookup: the faster of the random-id script and diesel's
# exact text with one fixed id (the higher ceiling, i.e. the stricter goal).
r_db = max((v for v in (rate("pgbench", "db_get_id"), rate("pgbench", "db_get_id_exact")) if v),
           default=None)
r_db_ins = rate("pgbench", "db_insert")
first = levels[0] if levels else None

if r_db or r_db_ins:
    p("## Ceiling (R_max = 1 / (1/R_http + 1/R_db))")
    p()
    p("| level | R_http (GET /health) | R_db id SELECT | R_max id | GET /snippets/{id} | fraction | R_db INSERT | R_max insert | POST /snippets | fraction |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lv in levels:
        r_http = rate(lv, "health")
        m_id, m_ins = rmax(r_http, r_db), rmax(r_http, r_db_ins)
        g, ins = rate(lv, "get_id"), rate(lv, "post")
        p(f"| {lv} | {fmt(r_http)} | {fmt(r_db)} | {fmt(m_id)} | {fmt(g)} | "
          f"{fmt(g / m_id if g and m_id else None, 2)} | {fmt(r_db_ins)} | {fmt(m_ins)} | {fmt(ins)} | "
          f"{fmt(ins / m_ins if ins and m_ins else None, 2)} |")
    p()
    p("pgbench (-M prepared, clients = pool size):")
    p()
    p("| statement | tps | mean latency ms | PostgreSQL CPU µs/tx | machine CPU µs/tx |")
    p("|---|---:|---:|---:|---:|")
    for r in rows:
        if r["level"] == "pgbench":
            n = num(r["requests"]) or 0
            p(f"| {r['scenario']} | {fmt(num(r['rps']))} | {r['mean_ms']} | "
              f"{fmt(num(r['cpu_pg_s']) * 1e6 / n if n else None, 1)} | "
              f"{fmt(num(r['cpu_busy_s']) * 1e6 / n if n else None, 1)} |")
    p()

for lv in levels:
    p(f"## HTTP scenarios, RUST_LOG={lv}")
    p()
    p("| scenario | req/s | p50 ms | p99 ms | errors (socket + HTTP ≥ 400) | CPU µs/req: snippetd | PostgreSQL | wrk | other | idle % |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["level"] != lv:
            continue
        n = num(r["requests"]) or 0
        busy, sd, pg, wk = (num(r[k]) for k in ("cpu_busy_s", "cpu_snippetd_s", "cpu_pg_s", "cpu_wrk_s"))
        per = (lambda v: v * 1e6 / n if n and v is not None else None)
        other = busy - sd - pg - wk if None not in (busy, sd, pg, wk) else None
        cap = ncpu * num(r["seconds"])
        idle = 100 * (cap - busy) / cap if busy is not None else None
        p(f"| {r['scenario']} | {fmt(num(r['rps']))} | {r['p50_ms']} | {r['p99_ms']} | "
          f"{r['socket_errors']} + {r['http_errors']} | {fmt(per(sd), 1)} | {fmt(per(pg), 1)} | "
          f"{fmt(per(wk), 1)} | {fmt(per(other), 1)} | {fmt(idle, 0)} |")
    p()

# Issue 34: the page for people against the JSON of the same snippets.
if any(rate(lv, "page100") for lv in levels):
    p("## The page for people vs the JSON (100-line snippets, issue 34: >= 0.5)")
    p()
    p("| RUST_LOG | json100 req/s | page100 req/s | page100/json100 |")
    p("|---|---:|---:|---:|")
    for lv in levels:
        x, y = rate(lv, "json100"), rate(lv, "page100")
        p(f"| {lv} | {fmt(x)} | {fmt(y)} | {fmt(y / x if x and y else None, 2)} |")
    p()

if len(levels) > 1:
    a, b = levels[0], levels[1]
    p(f"## Logging cost: RUST_LOG={a} vs {b}")
    p()
    p(f"| scenario | {a} req/s | {b} req/s | {b}/{a} |")
    p("|---|---:|---:|---:|")
    for r in rows:
        if r["level"] == a:
            x, y = num(r["rps"]), rate(b, r["scenario"])
            p(f"| {r['scenario']} | {fmt(x)} | {fmt(y)} | {fmt(y / x if x and y else None, 2)} |")
    p()

p("## Footprint")
p()
p("| what | value |")
p("|---|---:|")
size = num(meta.get("binary_bytes"))
p(f"| binary size ({os.path.basename(meta.get('binary', ''))}, stripped release) | {fmt(size / 1e6 if size else None, 1)} MB |")
for lv in levels:
    for key, what in (("rss_idle_kb", "RSS idle (after start, before load)"),
                      ("rss_peak_kb", "RSS peak under load (VmHWM)"),
                      ("rss_after_kb", "RSS 2 s after the load stopped")):
        v = num(meta.get(f"{key}_{lv}"))
        p(f"| {what}, RUST_LOG={lv} | {fmt(v / 1024 if v else None, 1)} MB |")
for key, what in (("startup_pending_ms", "exec → first 200, all migrations pending (`supervise`: wait, migrate, spawn `serve`)"),
                  ("startup_applied_ms", "exec → first 200, migrations applied (`supervise`)"),
                  ("startup_serve_ms", "exec → first 200, migrations applied (`serve`)")):
    if key in meta:
        p(f"| {what} | {meta[key]} ms |")
p()
if "startup_samples" in meta:
    p(f"startup samples (ms): {meta['startup_samples']}")
    p()
