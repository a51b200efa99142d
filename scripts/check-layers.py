#!/usr/bin/env python3
"""Layers point down only, and no two files import each other.

Reads every `use` (and every `crate::…`/`super::…` path) in src/, maps it
to the file it names, and fails when:
- a top-level module imports one on a higher layer than its own (LAYERS,
  below: docs/architecture.md draws the same picture), or
- files import each other, directly or around a loop (a strongly connected
  component of more than one file).

Unit tests (`mod tests` blocks and tests.rs files) are left out: a test
may look at its own module. Standard library only; `make lint` runs it.
Exit 0 when clean, 1 with one line per problem otherwise.
"""

import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"

# Lowest first; a module may import its own layer's siblings only where
# LAYERS puts them in the same set, and anything below.
LAYERS = [
    {"util", "exit", "signals"},
    {"config"},
    {"logging", "metrics"},
    {"db"},
    {"auth"},
    {"snippets"},
    # The pages for people (src/web/): beside http and below it, on the
    # domain's face; http routes to them.
    {"web"},
    {"http"},
    {"serve", "supervisor", "healthcheck"},
    {"commands", "cli"},
    {"main", "lib"},
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}

USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]+);", re.S)
INLINE = re.compile(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def file_of(parts):
    """The longest prefix of `parts` that is a module file."""
    for k in range(len(parts), 0, -1):
        base = SRC.joinpath(*parts[:k])
        for f in (base.with_suffix(".rs"), base / "mod.rs"):
            if f.is_file():
                return f
    return None


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    if cur:
        items.append(cur)
    return [p for item in items for p in expand(head + item)]


def strip_tests(text):
    """The text without inline `#[cfg(test)] mod tests { … }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += text[j] == "{"
            depth -= text[j] == "}"
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def targets(path, text):
    me = module_of(path)
    paths = [p for u in USE.findall(text) for p in expand(u)]
    paths += INLINE.findall(text)
    for p in paths:
        segs = [s for s in p.split("::") if s not in ("", "*")]
        parts = []
        if segs[0] == "crate":
            parts = segs[1:]
        elif segs[0] == "super":
            base = me[:-1]
            segs = segs[1:]
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
            parts = base + segs
        elif segs[0] == "self":
            parts = me + segs[1:]
        f = file_of([s for s in parts if re.match(r"^[a-z_][a-z0-9_]*$", s)])
        if f and f != path:
            yield f


def main():
    files = [f for f in SRC.rglob("*.rs") if f.name != "tests.rs"]
    edges = {f: set() for f in files}
    problems = []
    for f in files:
        text = re.sub(r"//[^\n]*", "", strip_tests(f.read_text()))
        for t in targets(f, text):
            edges[f].add(t)
            a, b = module_of(f)[0], module_of(t)[0]
            if a != b and RANK.get(b, -1) > RANK.get(a, 99):
                problems.append(
                    f"{f.relative_to(SRC.parent)} imports {t.relative_to(SRC.parent)}: "
                    f"`{b}` is above `{a}`"
                )
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in files:
        if v not in index:
            visit(v)
    for comp in sccs:
        names = ", ".join(sorted(str(c.relative_to(SRC.parent)) for c in comp))
        problems.append(f"import cycle: {names}")
    for p in sorted(set(problems)):
        print(p)
    print(
        f"check-layers: {len(files)} files, {sum(map(len, edges.values()))} imports, "
        f"{len(set(problems))} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
