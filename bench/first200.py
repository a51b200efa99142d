#!/usr/bin/env python3
"""Time from exec to the first 200 from GET /health.
Usage: first200.py PORT LOGFILE CMD...   (environment passed through)
Prints milliseconds, then stops the process with SIGTERM."""
import http.client
import signal
import subprocess
import sys
import time

port, log, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
with open(log, "ab") as out:
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    ms = None
    while time.monotonic() - t0 < 60 and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                ms = (time.monotonic() - t0) * 1000
                break
        except OSError:
            pass
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
if ms is None:
    sys.exit(f"first200: no 200 from {cmd} within 60 s (exit {proc.returncode}); see {log}")
print(f"{ms:.1f}")
