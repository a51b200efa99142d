#!/usr/bin/env python3
"""Reproduce issue 30's findings 1, 2, 4 and 14 against a snippetd binary.

    python3 bench/adversarial.py --bin target/debug/snippetd [--json]

Starts a throw-away PostgreSQL (initdb/pg_ctl of the machine's PostgreSQL,
run as `postgres` when we are root, in a temporary directory, on a free
loopback port, with pg_stat_statements loaded) and, for each scenario, a
fresh database, `snippetd migrate` and `snippetd serve` on a free loopback
port with the scenario's settings. Tokens are minted in SQL as
tests/common/mod.rs `mint_with` does. Everything is stopped and deleted on
exit. Only 127.0.0.1 is ever contacted.

Scenarios (each prints one line; a markdown table comes last):

  import     Finding 1: one POST /snippets/import of 4 MiB of "1\\n"
             (2,097,152 bad lines); the server's peak RSS (VmHWM) before and
             after, the response's size and the time it took.
  forged     Finding 2: RATE_LIMIT_READS_PER_MINUTE=100, 1,000 GET /snippets
             from one address, each with a different well-formed (valid
             checksum) but unknown token: statuses, and token lookups in the
             database (pg_stat_statements) per request.
  ipv6       Finding 4: TRUSTED_PROXIES=127.0.0.0/8, reads 3 a minute; the
             viewer [2001:db8:1:1::1]:443 spends its budget, then 20 other
             addresses of the same /64 send one request each: how many got
             200 (each a fresh bucket; should be 0).
  quota      Finding 14: QUOTA_MAX_BYTES=300000; one snippet, then 30 PATCHes
             each replacing `code` with 95,000 new characters: 200s vs 403s,
             and the owner's stored bytes with history, as a multiple of
             QUOTA_MAX_BYTES.

Exits non-zero only when the harness itself fails (PostgreSQL or the
server does not start, a request cannot be sent): "bad" numbers are what
an old build is expected to show.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib

HOST = "127.0.0.1"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MIB = 1024 * 1024


class HarnessError(Exception):
    """Something the measurement depends on failed (not a bad number)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- tokens (src/auth/token.rs) --------------------------------------------


def base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        out.append(ALPHABET[n % 62])
        n //= 62
    return "".join(reversed(out))


def generate_token() -> str:
    """`snp_` + 32 random base62 + 6 base62 digits of the CRC32 of those 32."""
    random = "".join(secrets.choice(ALPHABET) for _ in range(32))
    return f"snp_{random}{base62(zlib.crc32(random.encode()), 6)}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- PostgreSQL --------------------------------------------------------------


def pg_bindir() -> str:
    """As scripts/pg-env.sh: pg_ctl on PATH, else the newest installed."""
    pg_ctl, initdb = shutil.which("pg_ctl"), shutil.which("initdb")
    if pg_ctl and initdb:
        return os.path.dirname(os.path.realpath(pg_ctl))
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    if not dirs:
        raise HarnessError("PostgreSQL server binaries not found: install postgresql")
    return max(dirs, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)


class Postgres:
    """A throw-away cluster on a free loopback port; trust auth, user `snippets`."""

    def __init__(self, root: str):
        self.bin = pg_bindir()
        self.root = root
        self.data = os.path.join(root, "pg")
        self.port = free_port()
        self.started = False

    def _as_pg(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(argv, capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise HarnessError(f"{' '.join(argv[:3])}… failed: {r.stderr.strip()[-2000:]}")
        return r

    def start(self) -> None:
        os.makedirs(self.data, mode=0o700)
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)
            os.chown(self.data, pg.pw_uid, pg.pw_gid)
        self._run(self._as_pg([f"{self.bin}/initdb", "-D", self.data, "-U", "snippets",
                               "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]))
        opts = (f"-p {self.port} -k {self.data} -c listen_addresses={HOST} "
                "-c max_connections=100 -c shared_preload_libraries=pg_stat_statements "
                "-c fsync=off -c synchronous_commit=off")
        self._run(self._as_pg([f"{self.bin}/pg_ctl", "-D", self.data, "-l",
                               os.path.join(self.data, "server.log"), "-w", "-o", opts, "start"]))
        self.started = True
        self.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def stop(self) -> None:
        if self.started:
            subprocess.run(self._as_pg([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast",
                                        "-w", "stop"]), capture_output=True)
            self.started = False

    def psql(self, db: str, sql: str) -> str:
        r = self._run([f"{self.bin}/psql", "-h", HOST, "-p", str(self.port), "-U", "snippets",
                       "-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1"], input=sql)
        return r.stdout.strip()

    def url(self, db: str) -> str:
        return f"postgres://snippets@{HOST}:{self.port}/{db}?sslmode=disable"

    def token_lookups(self, db: str) -> int:
        """Token lookups (SELECT … FROM "tokens" … sha256) run in `db` since the last reset."""
        return int(self.psql("postgres", f"""
            SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '{db}')
               AND query LIKE '%FROM "tokens"%sha256%'""") or 0)

    def reset_statements(self) -> None:
        self.psql("postgres", "SELECT pg_stat_statements_reset()")


# --- snippetd ----------------------------------------------------------------


class Server:
    """`snippetd migrate` then `snippetd serve` on a fresh database."""

    def __init__(self, binary: str, pg: Postgres, name: str, env: dict[str, str]):
        self.binary, self.pg, self.db = binary, pg, f"adv_{name}"
        self.port = free_port()
        self.log_path = os.path.join(pg.root, f"{name}.log")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": pg.url(self.db),
            "PORT": str(self.port),
            "HOST": HOST,
            "METRICS_ADDR": "off",
            "LOG_FLUSH_MS": "0",
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.pg.psql("postgres", f"CREATE DATABASE {self.db}")
        r = subprocess.run([self.binary, "migrate"], env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(f"snippetd migrate failed: {r.stderr.strip()[-2000:]}")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"snippetd serve exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if Client(self.port).request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise HarnessError(f"snippetd serve not healthy within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        self.proc = None

    def vm(self, field: str) -> int:
        """A VmXXX field of /proc/PID/status, in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise HarnessError(f"{field} not in /proc/{self.proc.pid}/status")

    def mint(self, owner: str, scopes: list[str]) -> str:
        """A token for `owner` (created if missing), as tests/common/mod.rs mint_with."""
        token = generate_token()
        digest = hashlib.sha256(token.encode()).hexdigest()
        arr = ",".join(f"'{s}'" for s in scopes)
        self.pg.psql(self.db, f"""
            INSERT INTO owners (handle) VALUES ('{owner}') ON CONFLICT DO NOTHING;
            INSERT INTO tokens (id, owner, name, scopes, sha256) VALUES
              (gen_random_uuid(), '{owner}', 'adversarial', ARRAY[{arr}]::text[],
               decode('{digest}', 'hex'));""")
        return token


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, reopened when the server closes it."""

    def __init__(self, port: int, timeout: float = 30):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, int, bytes]:
        """(status, body length, the body's first 64 KiB)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                head, size = b"", 0
                while chunk := resp.read(1 << 20):
                    if len(head) < 65536:
                        head += chunk[: 65536 - len(head)]
                    size += len(chunk)
                if resp.will_close:
                    self.close()
                return resp.status, size, head
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn:
            self.conn.close()
            self.conn = None


def tally(statuses: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sorted(statuses):
        out[str(s)] = out.get(str(s), 0) + 1
    return out


# --- scenarios ---------------------------------------------------------------


def scenario_import(srv: Server) -> dict:
    """Finding 1: 4 MiB of "1\\n" to POST /snippets/import amplified memory ~200x."""
    token = srv.mint("importer", ["snippets:read", "snippets:write"])
    lines = 2_097_152
    body = b"1\n" * lines
    client = Client(srv.port, timeout=180)
    client.request("GET", "/snippets", headers={"Authorization": f"Bearer {token}"})
    rss0, hwm0 = srv.vm("VmRSS"), srv.vm("VmHWM")
    t0 = time.monotonic()
    status, size, head = client.request("POST", "/snippets/import", body=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    secs = time.monotonic() - t0
    rss1, hwm1 = srv.vm("VmRSS"), srv.vm("VmHWM")
    client.close()
    return {"lines": lines, "body_bytes": len(body), "status": status,
            "response_bytes": size, "seconds": round(secs, 2),
            "hwm_before_mib": round(hwm0 / MIB, 1), "hwm_after_mib": round(hwm1 / MIB, 1),
            "hwm_growth_mib": round((hwm1 - hwm0) / MIB, 1),
            "rss_before_mib": round(rss0 / MIB, 1), "rss_after_mib": round(rss1 / MIB, 1),
            "response_head": head[:120].decode("utf-8", "replace")}


def scenario_forged(srv: Server) -> dict:
    """Finding 2: every well-formed unknown token cost a lookup, even once rate-limited."""
    n = 1000
    client = Client(srv.port)
    client.request("GET", "/health")  # the connection is open before the count starts
    srv.pg.reset_statements()
    statuses = []
    t0 = time.monotonic()
    for _ in range(n):
        statuses.append(client.request("GET", "/snippets", headers={
            "Authorization": f"Bearer {generate_token()}"})[0])
    secs = time.monotonic() - t0
    client.close()
    time.sleep(0.5)  # pg_stat_statements counts a statement as it ends
    lookups = srv.pg.token_lookups(srv.db)
    return {"requests": n, "statuses": tally(statuses), "token_lookups": lookups,
            "lookups_per_request": round(lookups / n, 3), "req_per_s": round(n / secs)}


def scenario_ipv6(srv: Server) -> dict:
    """Finding 4: each IPv6 address of one /64 had a bucket of its own."""
    client = Client(srv.port)

    def get(viewer: str) -> int:
        return client.request("GET", "/snippets?limit=1",
                              headers={"CloudFront-Viewer-Address": f"{viewer}:443"})[0]

    first = [get("[2001:db8:1:1::1]") for _ in range(5)]
    others = [f"[2001:db8:1:1::{n:x}]" for n in range(2, 21)]
    others.append("[2001:db8:1:1:ffff:ffff:ffff:fffe]")
    statuses = [get(v) for v in others]
    control = get("[2001:db8:1:2::1]")  # another /64: its own bucket either way
    client.close()
    return {"first_viewer_statuses": tally(first), "others": len(others),
            "fresh_buckets": statuses.count(200), "statuses": tally(statuses),
            "other_64_status": control}


def scenario_quota(srv: Server) -> dict:
    """Finding 14: revisions were outside the owner's byte quota."""
    quota, patches, size = 300_000, 30, 95_000
    token = srv.mint("hoarder", ["snippets:read", "snippets:write"])
    auth = {"Authorization": f"Bearer {token}"}
    client = Client(srv.port)
    status, _, head = client.request("POST", "/snippets", body=json.dumps(
        {"title": "hoard", "language": "text", "code": "x"}).encode(),
        headers={**auth, "Content-Type": "application/json"})
    if status != 201:
        raise HarnessError(f"create answered {status}: {head[:300]!r}")
    sid = json.loads(head)["id"]
    statuses = []
    for i in range(patches):
        code = ALPHABET[i % 62] * size
        statuses.append(client.request("PATCH", f"/snippets/{sid}", body=json.dumps(
            {"code": code}).encode(), headers={**auth, "Content-Type": "application/merge-patch+json"})[0])
    client.close()
    stored = int(srv.pg.psql(srv.db, """
        SELECT coalesce(sum(n), 0) FROM (
          SELECT octet_length(title) + coalesce(octet_length(description), 0)
                 + octet_length(code) AS n FROM snippets WHERE owner = 'hoarder'
          UNION ALL
          SELECT octet_length(r.title) + coalesce(octet_length(r.description), 0)
                 + octet_length(r.code)
            FROM snippet_revisions r JOIN snippets s ON s.id = r.snippet_id
           WHERE s.owner = 'hoarder') t"""))
    revisions = int(srv.pg.psql(srv.db, """
        SELECT count(*) FROM snippet_revisions r JOIN snippets s ON s.id = r.snippet_id
         WHERE s.owner = 'hoarder'"""))
    return {"quota_bytes": quota, "patches": patches, "statuses": tally(statuses),
            "ok": statuses.count(200), "refused_403": statuses.count(403),
            "revisions_stored": revisions, "stored_bytes": stored,
            "multiple_of_quota": round(stored / quota, 2)}


SCENARIOS = {
    "import": (scenario_import, {"REQUEST_TIMEOUT_SECONDS": "120"}),
    "forged": (scenario_forged, {"RATE_LIMIT_READS_PER_MINUTE": "100"}),
    "ipv6": (scenario_ipv6, {"TRUSTED_PROXIES": "127.0.0.0/8", "RATE_LIMIT_READS_PER_MINUTE": "3"}),
    "quota": (scenario_quota, {"QUOTA_MAX_BYTES": "300000"}),
}


def line(name: str, r: dict) -> str:
    if name == "import":
        return (f"finding 1 (import 4 MiB of '1\\n'): {r['status']}, {r['response_bytes']:,} bytes "
                f"in {r['seconds']} s; peak RSS {r['hwm_before_mib']} -> {r['hwm_after_mib']} MiB "
                f"(+{r['hwm_growth_mib']} MiB), RSS after {r['rss_after_mib']} MiB")
    if name == "forged":
        return (f"finding 2 (1,000 forged tokens, 100 reads/min): statuses {r['statuses']}, "
                f"{r['token_lookups']} token lookups = {r['lookups_per_request']} per request")
    if name == "ipv6":
        return (f"finding 4 (one /64, 3 reads/min): first viewer {r['first_viewer_statuses']}; "
                f"{r['fresh_buckets']} of {r['others']} other addresses got 200 (fresh buckets); "
                f"another /64: {r['other_64_status']}")
    return (f"finding 14 (quota 300,000 B, 30 x 95,000-char PATCH): {r['ok']} x 200, "
            f"{r['refused_403']} x 403; stored with history {r['stored_bytes']:,} B = "
            f"{r['multiple_of_quota']} x QUOTA_MAX_BYTES ({r['revisions_stored']} revisions)")


def table(results: dict) -> str:
    rows = ["| finding | measure | value |", "|---|---|---|"]
    if r := results.get("import"):
        rows.append(f"| 1 | import of 4 MiB of `1\\n`: peak RSS growth (VmHWM) | "
                    f"+{r['hwm_growth_mib']} MiB ({r['hwm_before_mib']} → {r['hwm_after_mib']}) |")
        rows.append(f"| 1 | … response size, time | {r['response_bytes']:,} B, {r['seconds']} s |")
    if r := results.get("forged"):
        rows.append(f"| 2 | token lookups per forged-token request (1,000 requests) | "
                    f"{r['lookups_per_request']} ({r['token_lookups']}; statuses "
                    + ", ".join(f"{k}×{v}" for k, v in r["statuses"].items()) + ") |")
    if r := results.get("ipv6"):
        rows.append(f"| 4 | fresh buckets per /64 (of {r['others']} other addresses) | "
                    f"{r['fresh_buckets']} |")
    if r := results.get("quota"):
        rows.append(f"| 14 | PATCHes 200 / 403; stored bytes with history | {r['ok']} / "
                    f"{r['refused_403']}; {r['stored_bytes']:,} B = {r['multiple_of_quota']}× quota |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/debug/snippetd", help="the snippetd binary")
    ap.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    ap.add_argument("--only", action="append", choices=list(SCENARIOS),
                    help="run only this scenario (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        log(f"adversarial: no executable at {binary}")
        return 2
    # SIGTERM unwinds like Ctrl-C, so the servers and PostgreSQL are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = tempfile.mkdtemp(prefix="snippetd-adv-")
    pg = Postgres(root)
    results: dict = {}
    t_start = time.monotonic()
    try:
        log(f"adversarial: PostgreSQL on {HOST}:{pg.port} in {root}")
        pg.start()
        for name in args.only or list(SCENARIOS):
            fn, env = SCENARIOS[name]
            srv = Server(binary, pg, name, env)
            t0 = time.monotonic()
            try:
                srv.start()
                results[name] = fn(srv)
            finally:
                srv.stop()
            results[name]["scenario_seconds"] = round(time.monotonic() - t0, 1)
            print(line(name, results[name]), flush=True)
    except (HarnessError, OSError, http.client.HTTPException) as e:
        log(f"adversarial: harness failure: {e}")
        return 1
    finally:
        pg.stop()
        if args.keep:
            log(f"adversarial: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    total = round(time.monotonic() - t_start, 1)
    print(f"\n{binary} ({total} s)\n\n{table(results)}")
    if args.json:
        print(json.dumps({"binary": binary, "seconds": total, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
