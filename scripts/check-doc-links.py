#!/usr/bin/env python3
"""Check that README.md and docs/*.md point only at things that exist.

- Every relative Markdown link `[text](path)` names a file or directory
  tracked by git, and its `#anchor` (or a bare `(#anchor)`) matches a
  heading of the target document, as GitHub makes anchors from headings.
- Every repository path a doc names, in backticks or in running text
  (a token starting with a tracked top-level directory, such as
  `src/http/stack.rs` or tests/common/inproc.rs), is tracked by git.
  Globs (`tools/requirements-*.txt`) must match a tracked file; paths git
  ignores (build output such as bench/out/report.md) are skipped, and so
  are placeholders (`{id}`, `<sha>`, `…`).

Fenced code blocks are not checked. Standard library only; run from
anywhere inside the repository. Exit status 1 lists every problem as
FILE:LINE: message.
"""

import fnmatch
import os
import re
import subprocess
import sys
import unicodedata

ROOT = subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
).stdout.strip()

TRACKED = set(
    subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
) - {""}
DIRS = {os.path.dirname(p) for p in TRACKED}
for d in list(DIRS):
    while d:
        DIRS.add(d)
        d = os.path.dirname(d)
TOP_DIRS = sorted({p.split("/", 1)[0] for p in TRACKED if "/" in p})

LINK = re.compile(r"(?<!\!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
# A path-looking token: a tracked top-level directory, a slash, then path characters.
BARE_PATH = re.compile(
    r"(?<![\w./@:-])((?:" + "|".join(re.escape(d) for d in TOP_DIRS) + r")/[\w.*/-]*)"
)
PLACEHOLDER = re.compile(r"[{}<>…$]|\.\.\.")

# Paths a doc names relative to another directory, checked by hand: the
# file exists there. Keep this short; fix the doc instead where you can.
RELATIVE_TO = {}


def is_ignored(path):
    r = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
    return r.returncode == 0


def exists(path):
    path = path.rstrip("/")
    if any(c in path for c in "*?["):
        return any(fnmatch.fnmatch(p, path) for p in TRACKED)
    return path in TRACKED or path in DIRS


def slug(heading):
    """GitHub's anchor for a heading text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links → their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LN" or cat == "Mn":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def anchors(path, cache={}):
    if path in cache:
        return cache[path]
    found, seen = set(), {}
    in_fence = False
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(m.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            for m in re.finditer(r"<a\s+(?:id|name)=\"([^\"]+)\"", line):
                found.add(m.group(1))
    cache[path] = found
    return found


def check_link(doc, target, problems, where):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
        return  # absolute URL: not checked here
    path, _, anchor = target.partition("#")
    if path:
        resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path))
        if resolved.startswith(".."):
            problems.append(f"{where}: link {target} leaves the repository")
            return
        if not exists(resolved):
            problems.append(f"{where}: link {target}: {resolved} is not tracked by git")
            return
    else:
        resolved = doc
    if anchor:
        if not resolved.endswith(".md"):
            problems.append(f"{where}: link {target}: an anchor into a non-Markdown file")
        elif anchor not in anchors(resolved):
            problems.append(f"{where}: link {target}: no heading makes #{anchor} in {resolved}")


def check_path(doc, token, problems, where):
    token = token.rstrip(".,;:)'\"")
    token = re.sub(r":\d+(-\d+)?$", "", token)  # file:line
    if not token or "/" not in token or PLACEHOLDER.search(token):
        return
    if token.split("/", 1)[0] not in TOP_DIRS:
        return
    path = token.split("#", 1)[0]
    if exists(path) or is_ignored(path):
        return
    base = RELATIVE_TO.get((doc, path))
    if base is not None and exists(base + path):
        return
    problems.append(f"{where}: {path} is not tracked by git")


def check(doc):
    problems = []
    in_fence = False
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{doc}:{n}"
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            for m in list(LINK.finditer(line)) + list(IMAGE.finditer(line)):
                check_link(doc, m.group(1), problems, where)
            rest = LINK.sub(" ", IMAGE.sub(" ", line))
            for m in CODE_SPAN.finditer(rest):
                for part in m.group(1).split():
                    check_path(doc, part, problems, where)
            for m in BARE_PATH.finditer(CODE_SPAN.sub(" ", rest)):
                check_path(doc, m.group(1), problems, where)
    return problems


def main():
    docs = ["README.md"] + sorted(
        p for p in TRACKED if p.startswith("docs/") and p.endswith(".md") and p.count("/") == 1
    )
    docs += [a for a in sys.argv[1:] if a not in docs]
    problems = [p for d in docs for p in check(d)]
    for p in problems:
        print(p)
    print(f"check-doc-links: {len(docs)} docs, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
