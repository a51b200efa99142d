#!/usr/bin/env python3
"""The real-code search data set (issue 31): snippets cut from source code
on this machine, written as COPY text for `snippets` on stdout.

    corpus.py ROWS ROOT...      e.g. 1000000 /usr/lib/python3.11 /usr/include

Every file under the roots with a known source extension is read in sorted
path order and cut into pieces of 15-60 lines (the length a hash of the
path and position picks). When one pass over the files gives fewer than
ROWS pieces, the next pass cuts them again starting half a piece later, so
that pieces overlap but never repeat. Deterministic for the same files:
every choice is a hash of the path and piece number, no random state.

Each row: title "<file name>: <first identifier-ish line>", language from
the extension, tags from the path (package or directory names), owner one
of 50 (Zipf-like), 5 % private, 10 % unlisted, a description on a quarter
of the rows (the piece's first comment), created_at spread over 2026 and
the rows written in created_at order, as a real table is (rows are
inserted as they are created).
"""
import hashlib
import os
import re
import sys
import time

EXT = {
    ".py": "python", ".h": "c", ".c": "c", ".rs": "rust", ".js": "javascript",
    ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript",
    ".hpp": "cpp", ".cc": "cpp", ".cpp": "cpp", ".go": "go", ".sh": "shell",
    ".toml": "toml", ".md": "markdown", ".json": "json", ".yml": "yaml",
    ".yaml": "yaml", ".S": "asm", ".s": "asm", ".java": "java",
    ".rb": "ruby", ".pl": "perl", ".lua": "lua", ".sql": "sql",
    ".css": "css", ".html": "html", ".xml": "xml", ".proto": "protobuf",
}
OWNERS = 50
BASE = 1767225600  # 2026-01-01T00:00:00Z
SPAN = 365 * 86400
MAX_FILE = 4 << 20
SKIP_DIRS = {"tests", "test", "testdata", "benches", "fixtures"}


def h(*parts):
    return int.from_bytes(hashlib.blake2b("\0".join(map(str, parts)).encode(),
                                          digest_size=8).digest(), "big")


def files(roots):
    out = []
    for root in roots:
        for d, dirs, names in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS and not x.startswith("."))
            for n in sorted(names):
                lang = EXT.get(os.path.splitext(n)[1])
                if lang:
                    out.append((os.path.join(d, n), lang, root))
    return out


def tags_of(path, root):
    parts = os.path.relpath(path, root).split(os.sep)[:-1]
    tags = []
    for p in parts[:3]:
        p = re.sub(r"-\d+(\.\d+)*([-+.][\w.]+)?$", "", p).lower()  # crate-1.2.3 -> crate
        p = re.sub(r"[^a-z0-9_-]", "", p)[:40]
        if p and p not in tags and p not in ("src", "lib", "include", "index.crates.io"):
            tags.append(p)
    return tags[:3]


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\0", ""))


def arr(tags):
    return "{" + ",".join('"' + t + '"' for t in tags) + "}"


def pieces(path, lines, rnd):
    """(start, length) pieces of 15-60 lines; pass `rnd` starts later."""
    i, k = 0, 0
    first = True
    while i < len(lines):
        n = 15 + h(path, k, rnd) % 46
        if first and rnd:
            i += (n * rnd) // 2 % n
            first = False
            if i >= len(lines):
                break
        if len(lines) - i >= 15:
            yield i, n, k
        i += n
        k += 1


def main():
    want = int(sys.argv[1])
    roots = sys.argv[2:]
    fs = files(roots)
    texts = {}
    rows = []
    rnd = 0
    while len(rows) < want and rnd < 8:
        for path, lang, root in fs:
            if path not in texts:
                try:
                    if os.path.getsize(path) > MAX_FILE:
                        texts[path] = []
                        continue
                    with open(path, encoding="utf-8") as f:
                        texts[path] = f.read().split("\n")
                except (UnicodeDecodeError, OSError):
                    texts[path] = []
            lines = texts[path]
            for start, n, k in pieces(path, lines, rnd):
                code = "\n".join(lines[start:start + n]).strip("\n")
                if len(code) < 200 or len(code) > 8000:
                    continue
                rows.append((path, lang, root, start, code, rnd, k))
                if len(rows) >= want:
                    break
            if len(rows) >= want:
                break
        rnd += 1
    out = []
    for path, lang, root, start, code, rnd, k in rows:
        key = h(path, rnd, k)
        at = BASE + key % SPAN
        first = next((l.strip() for l in code.split("\n") if re.search(r"[A-Za-z_]{3}", l)), "")
        title = (os.path.basename(path) + ": " + first)[:120]
        comment = re.search(r"^\s*(?:#|//+|/?\*+|\"\"\")\s*(\S.{10,200})$", code, re.M)
        desc = comment.group(1).strip() if comment and key % 4 == 0 else None
        owner = "owner%02d" % min(OWNERS, int(OWNERS ** ((key >> 20) % 1000 / 1000.0)))
        v = (key >> 40) % 100
        vis = "private" if v < 5 else "unlisted" if v < 15 else "public"
        uid = hashlib.md5(f"{path}:{rnd}:{k}".encode()).hexdigest()
        uid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + ".%06d+00" % (key % 1000000)
        out.append((at, key % 1000000, "\t".join([
            uid, esc(title), lang, esc(code), "\\N" if desc is None else esc(desc),
            arr(tags_of(path, root)), ts, ts, owner, vis])))
    out.sort()
    w = sys.stdout.write
    for o in out:
        w(o[2] + "\n")
    print(f"corpus.py: {len(out)} rows from {len(fs)} files, {rnd} pass(es)", file=sys.stderr)


if __name__ == "__main__":
    main()
