#!/usr/bin/env python3
"""PostgreSQL's own cost of one transaction, measured where load on a shared
machine does not distort it much: CPU time of every server process (from
/proc: the postmaster's children, live and reaped) and WAL bytes (from
pg_current_wal_lsn()), per transaction of a pgbench script run by one client
(CLIENTS=n: n clients) with prepared statements, as diesel-async runs them.

    bench/pgcost.py LABEL=DB:SCRIPT[:SETTING=VALUE,...] ...

Variants run interleaved, ROUNDS times (default 3), N transactions each
(default 3,000), a CHECKPOINT before each; the median round is reported.
Needs PGHOST/PGPORT/PGUSER of a server whose data directory is PGDATA (for
the postmaster's pid) and the scripts' databases. The scripts get :title,
:descr and :code (~1 KB of code like bench/run.sh's body).
"""
import os
import random
import statistics
import subprocess
import sys
import time

N = int(os.environ.get("N", "3000"))
# Concurrent clients (N transactions in all): concurrent commits may share
# a WAL flush (group commit, commit_delay).
CLIENTS = int(os.environ.get("CLIENTS", "1"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
TICK = os.sysconf("SC_CLK_TCK")

random.seed(7)
KW = "fn let mut return if else for while match struct impl pub use const static async await loop break continue self true false where".split()
CODE = " ".join(random.choice(KW) if random.random() < 0.7 else "sym%d" % random.randrange(5000) for _ in range(160))


def postmaster():
    with open(os.path.join(os.environ["PGDATA"], "postmaster.pid")) as f:
        return int(f.readline())


def cpu_seconds(pm):
    """The postmaster's own and reaped children's CPU plus its live children's."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        if int(pid) == pm:
            total += utime + stime + cutime + cstime
        elif ppid == pm:
            total += utime + stime
    return total / TICK


def psql(db, sql):
    return subprocess.run(["psql", "-XAtq", "-d", db, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def wal(db):
    return int(psql(db, "SELECT pg_current_wal_insert_lsn() - '0/0'"))


def run(db, script, settings):
    env = dict(os.environ)
    if settings:
        env["PGOPTIONS"] = " ".join(f"-c {s}" for s in settings)
    psql(db, "CHECKPOINT")
    pm = postmaster()
    c0, w0, t0 = cpu_seconds(pm), wal(db), time.monotonic()
    subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(CLIENTS), "-t", str(N // CLIENTS), "-f", script,
                    "-D", "title=Benchmark snippet", "-D", "descr=Posted by the load test",
                    "-D", f"code={CODE}", db], check=True, capture_output=True, env=env)
    t1 = time.monotonic()
    time.sleep(0.3)  # the backend exits and is reaped
    return ((cpu_seconds(pm) - c0) / N * 1e6, (wal(db) - w0) / N, (t1 - t0) / N * 1e6)


def main():
    variants = []
    for arg in sys.argv[1:]:
        label, spec = arg.split("=", 1)
        db, script, *rest = spec.split(":", 2)
        settings = rest[0].split(",") if rest else []
        variants.append((label, db, script, settings))
    results = {v[0]: [] for v in variants}
    for r in range(ROUNDS):
        for label, db, script, settings in variants:
            results[label].append(run(db, script, settings))
            print(f"round {r + 1} {label}: {results[label][-1][0]:.0f} µs CPU, "
                  f"{results[label][-1][1]:.0f} B WAL, {results[label][-1][2]:.0f} µs wall",
                  file=sys.stderr)
    print(f"| variant | PostgreSQL CPU µs/txn | WAL bytes/txn | wall µs/txn |  (N = {N}, {CLIENTS} client(s), median of {ROUNDS})")
    print("|---|---:|---:|---:|")
    for label, rows in results.items():
        m = sorted(rows, key=lambda x: x[0])[len(rows) // 2]
        print(f"| {label} | {m[0]:.0f} | {statistics.median(x[1] for x in rows):.0f} | {m[2]:.0f} |")


main()
