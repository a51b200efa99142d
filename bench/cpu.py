#!/usr/bin/env python3
"""CPU seconds so far: the whole machine (busy), one process (snippetd) and
a PostgreSQL cluster (postmaster + live children + reaped children).
Usage: cpu.py SNIPPETD_PID|0 POSTMASTER_PID  ->  "busy snippetd pg wall-clock" """
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    # after the comm: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
    return int(fields[1]), [int(x) for x in fields[11:15]]


def busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ


def main():
    sd, pm = int(sys.argv[1]), int(sys.argv[2])
    s = stat(sd) if sd else None
    sd_cpu = (s[1][0] + s[1][1]) / HZ if s else 0.0
    pg = 0
    p = stat(pm)
    if p:
        pg += sum(p[1])
    for name in os.listdir("/proc"):
        if name.isdigit():
            c = stat(name)
            if c and c[0] == pm:
                pg += c[1][0] + c[1][1]
    print(f"{busy():.2f} {sd_cpu:.2f} {pg / HZ:.2f} {time.time():.3f}")


main()
