#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a cycle.

For every crate's `src/`, each path a module names (`use crate::a::b`, `super::x`,
`crate::a::f()` in code, brace groups expanded) becomes an edge between the two sibling
modules under their lowest common ancestor (a parent using its child, or a child its
parent, is not an edge). Any strongly connected group of two or more siblings is a cycle.
Usage: module-cycles.py CRATE_DIR...
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+|::\{)")


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(text: str) -> list:
    """`crate::{a, b::{c, d}}` -> ['crate::a', 'crate::b::c', 'crate::b::d']."""
    text = re.sub(r"\s+", "", text)
    depth, start = 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner, rest = text[:start], text[start + 1 : i], text[i + 1 :]
                items, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        items.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                items.append(cur)
                out = []
                for item in filter(None, items):
                    out += expand_use(prefix + item + rest)
                return out
    return [text]


def references(source: str) -> list:
    source = re.sub(r"//[^\n]*", "", source)
    refs = []
    for m in re.finditer(r"\buse\s+([^;]+);", source):
        refs += expand_use(m.group(1))
    for m in PATH.finditer(source):
        if not m.group(2).endswith("{"):
            refs.append(m.group(1) + m.group(2))
    return refs


def resolve(here: tuple, ref: str, modules: set):
    parts = [p for p in re.split(r"::", ref.split(" as ")[0]) if p and p != "*"]
    if not parts or parts[0] not in ("crate", "super", "self"):
        return None
    base = list(here)
    while parts and parts[0] in ("crate", "super", "self"):
        head = parts.pop(0)
        if head == "crate":
            base = []
        elif head == "super":
            base = base[:-1]
    target = tuple(base)
    for p in parts:
        if target + (p,) in modules:
            target += (p,)
        else:
            break
    return target


def cycles(crate: Path) -> list:
    src = crate / "src"
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    modules = set(files)
    edges = {}
    for here, file in files.items():
        for ref in references(file.read_text()):
            target = resolve(here, ref, modules)
            if target is None:
                continue
            common = 0
            while common < min(len(here), len(target)) and here[common] == target[common]:
                common += 1
            if common == len(here) or common == len(target):
                continue  # the same module, a parent or a child
            parent = here[:common]
            edges.setdefault(parent, {}).setdefault(here[common], set()).add(target[common])
    found = []
    for parent, graph in edges.items():
        for group in strongly_connected(graph):
            if len(group) > 1:
                name = "::".join(parent) or "crate"
                found.append(f"{crate.name}: {name}: {' <-> '.join(sorted(group))}")
    return found


def strongly_connected(graph: dict) -> list:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            out.append(group)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    problems = [c for crate in sys.argv[1:] for c in cycles(Path(crate))]
    for p in problems:
        print("import cycle:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"ok: no import cycle between the modules of {len(sys.argv) - 1} crates")
