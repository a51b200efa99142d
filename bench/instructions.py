#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: the cost of a
request in snippetd's own CPU work, independent of what else the machine is
doing (wrk's requests/s are not, on a shared 2-core VM).

    bench/instructions.py LABEL=BINARY[,VAR=value...] ...

For each variant: `serve` under callgrind on a throw-away database (seeded
with 1,000 snippets), then N requests of each scenario sent one after another
on one keep-alive connection, then SIGTERM. Each variant runs once with no
request and once per scenario with N requests of it; the difference divided
by N is the cost of one request (startup, shutdown and timers cancel out). Sequential requests
keep the coalesced id lookup at one id per query in every variant.
Rate limits (issue 15) are on with budgets N requests never exhaust, unless
a variant sets RATE_LIMITS=off or budgets of its own: `on=BIN` against
`off=BIN,RATE_LIMITS=off` is the limiter's cost.
Needs DATABASE_URL (a server where it may create databases), valgrind.
INSTR_KEEP=DIR keeps each run's callgrind output as DIR/LABEL-SCENARIO.out
(LABEL-idle.out for the run with no request), for `callgrind_annotate`.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

N = int(os.environ.get("INSTR_REQUESTS", "500"))
# health get_id list search post put (the wrk scenarios of bench/run.sh)
SCENARIOS = os.environ.get("INSTR_SCENARIOS", "health get_id post").split()
BODY = json.dumps({"title": "bench", "language": "rust", "code": "fn main() {}" * 80})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def psql(url, sql):
    subprocess.run(["psql", "-q", url, "-c", sql], check=True, capture_output=True)


def run(binary, env, n, ids, token, scenario, keep=None):
    port = free_port()
    out = tempfile.mktemp(prefix="callgrind.")
    # A free metrics port too: a fixed one may be held by another run.
    e = dict(os.environ, HOST="127.0.0.1", PORT=str(port), RUST_LOG="info", LOG_FORMAT="json",
             METRICS_ADDR=f"127.0.0.1:{free_port()}")
    e.update(env)
    p = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "serve"],
        env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    etags = {}
    for s in [scenario] if scenario else []:
        for i in range(n):
            if s == "health":
                c.request("GET", "/health")
            elif s == "get_id":
                c.request("GET", f"/snippets/{ids[i % len(ids)]}",
                          headers=auth if env.get("INSTR_AUTH_GET") == "1" else {})
            elif s == "list":
                c.request("GET", "/snippets")
            elif s == "search":
                # one title among the seeded rows ('s' || n)
                c.request("GET", f"/snippets?q=s{i % 1000 + 1}")
            elif s == "post":
                c.request("POST", "/snippets", body=BODY,
                          headers={"Content-Type": "application/json", **auth})
            elif s == "put":
                sid = ids[i % len(ids)]
                c.request("PUT", f"/snippets/{sid}", body=BODY,
                          headers={"Content-Type": "application/json",
                                   "If-Match": etags.get(sid, "*"), **auth})
            r = c.getresponse()
            r.read()
            assert r.status < 300, (s, r.status)
            if s == "put":
                etags[sid] = r.getheader("ETag")
    c.close()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=300)
    total = 0
    for name in os.listdir(os.path.dirname(out)):
        if name.startswith(os.path.basename(out)):
            path = os.path.join(os.path.dirname(out), name)
            for line in open(path):
                m = re.match(r"(summary|totals): (\d+)", line)
                if m:
                    total += int(m.group(2))
                    break
            if keep and path == out:
                os.makedirs(os.path.dirname(keep), exist_ok=True)
                shutil.move(path, keep)
            else:
                os.remove(path)
    return total


def main():
    base = os.environ["DATABASE_URL"]
    rows = []
    for spec in sys.argv[1:]:
        label, rest = spec.split("=", 1)
        binary, *pairs = rest.split(",")
        env = {"RATE_LIMIT_READS_PER_MINUTE": "1000000", "RATE_LIMIT_WRITES_PER_MINUTE": "1000000"}
        env.update(p.split("=", 1) for p in pairs)
        db = "instr_" + uuid.uuid4().hex[:8]
        psql(base, f"CREATE DATABASE {db}")
        url = re.sub(r"/[^/?]*(\?|$)", f"/{db}\\1", base, count=1)
        env["DATABASE_URL"] = url
        menv = dict(os.environ, **env)
        subprocess.run([binary, "migrate"], env=menv, check=True, capture_output=True)
        psql(url, "INSERT INTO snippets (id, title, language, code, tags) SELECT gen_random_uuid(), "
                  "'s' || n, 'rust', repeat('x', 1000), '{}' FROM generate_series(1, 1000) n")
        ids = subprocess.run(["psql", "-tA", url, "-c", "SELECT id FROM snippets"],
                             check=True, capture_output=True, text=True).stdout.split()
        token = None
        if env.get("AUTH_MODE") != "open" and subprocess.run([binary, "owner", "add", "bench"], env=menv, capture_output=True).returncode == 0:
            # INSTR_SCOPES=snippets:read,snippets:write: an ordinary owner,
            # whose POSTs are checked against its quota (admins are exempt).
            scopes = env.get("INSTR_SCOPES", os.environ.get("INSTR_SCOPES", "admin"))
            token = subprocess.run([binary, "token", "create", "--owner", "bench", "--scopes", scopes],
                                   env=menv, check=True, capture_output=True, text=True).stdout.strip()
        kept = os.environ.get("INSTR_KEEP")
        keep = (lambda s: os.path.join(kept, f"{label}-{s}.out")) if kept else (lambda s: None)
        zero = run(binary, env, 0, ids, token, None, keep("idle"))
        for scenario in SCENARIOS:
            per = (run(binary, env, N, ids, token, scenario, keep(scenario)) - zero) / N
            rows.append((label, scenario, per))
            print(f"{label}\t{scenario}\t{per:,.0f}", flush=True)
        psql(base, f"DROP DATABASE {db}")
    return rows


if __name__ == "__main__":
    main()
