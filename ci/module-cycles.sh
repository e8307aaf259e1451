#!/usr/bin/env bash
# CI stage "module cycles": fails when the modules of crate `pmem2` depend on
# each other in a cycle (issue 11: one way through the core, each layer using
# only the ones below it).
#
# The module graph comes from cargo-modules (installed at a pinned version if
# missing: CARGO_MODULES_VERSION, default 0.27.0, the last one that builds
# with rustc 1.95; about 15-19 min to build on 2 cores, once per machine).
# `cargo modules dependencies` with functions, types and traits filtered out
# draws one node per module and a "uses" edge A -> B when code in module A
# uses an item of module B (`use` declarations and paths alike; #[cfg(test)]
# code is left out). This script finds the strongly connected components of
# those "uses" edges and fails if there is any cycle, printing each one.
#
# Structural "owns" edges (a parent contains its child) are not part of a
# cycle: `mod x;` is not a dependency. A module that uses its parent's items
# while the parent uses the child's (`pub use child::Thing` and
# `use super::Other`) is a cycle.
#
# cargo-modules' own `--acyclic` is not used: in 0.27 it checks the graph
# before the filters apply, so every type with a method that mentions the
# type (`impl T { fn new() -> T }`) is reported as a cycle.
#
# usage: ci/module-cycles.sh
set -euo pipefail
cd "$(dirname "$0")/.."

version=${CARGO_MODULES_VERSION:-0.27.0}
start=$SECONDS
if [ "$(cargo modules --version 2>/dev/null)" != "cargo-modules $version" ]; then
  echo "=== installing cargo-modules $version"
  cargo install cargo-modules --locked --version "$version"
  echo "=== installed in $((SECONDS - start))s"
fi
cargo modules --version

dot=${CARGO_TARGET_DIR:-target}/pmem2-modules.dot
mkdir -p "$(dirname "$dot")"
cargo modules dependencies --lib -p pmem2 \
  --no-externs --no-sysroot --no-fns --no-types --no-traits --no-owns >"$dot"

python3 - "$dot" <<'PY'
import re
import sys

# Edges as cargo-modules prints them:
#     "pmem2::a" -> "pmem2::b" [label="uses", ...]; // "uses" edge
edge = re.compile(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"\s*\[label="uses"')
graph = {}
for line in open(sys.argv[1]):
    m = edge.match(line)
    if m and m.group(1) != m.group(2):
        graph.setdefault(m.group(1), set()).add(m.group(2))
        graph.setdefault(m.group(2), set())
if not graph:
    sys.exit("ci/module-cycles.sh: no 'uses' edge in cargo-modules' output: format changed?")

# Tarjan's strongly connected components, iteratively.
index, low, on_stack, stack, sccs, counter = {}, {}, set(), [], [], [0]
for root in sorted(graph):
    if root in index:
        continue
    work = [(root, iter(sorted(graph[root])))]
    index[root] = low[root] = counter[0]; counter[0] += 1
    stack.append(root); on_stack.add(root)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is not None:
            if child not in index:
                index[child] = low[child] = counter[0]; counter[0] += 1
                stack.append(child); on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
            scc = []
            while True:
                n = stack.pop(); on_stack.discard(n); scc.append(n)
                if n == node:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))

def shortest_cycle(scc):
    """A shortest cycle through the component's first module (BFS)."""
    members, first = set(scc), scc[0]
    prev, frontier = {first: None}, [first]
    while frontier:
        nxt = []
        for n in frontier:
            for c in sorted(graph[n] & members):
                if c == first:
                    path = [n]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [first]
                if c not in prev:
                    prev[c] = n
                    nxt.append(c)
        frontier = nxt
    return scc

modules = len(graph)
edges = sum(len(v) for v in graph.values())
print(f"{modules} modules, {edges} 'uses' edges between them, {len(sccs)} cycle(s)")
for scc in sccs:
    short = lambda m: m.removeprefix("pmem2::") if m != "pmem2" else "pmem2 (lib.rs)"
    print(f"cycle among {len(scc)} modules: {', '.join(map(short, scc))}")
    print(f"  e.g. {' -> '.join(map(short, shortest_cycle(scc)))}")
    for a in scc:
        into = sorted(short(b) for b in graph[a] & set(scc))
        print(f"  {short(a)} uses {', '.join(into)}")
if sccs:
    sys.exit(f"ci/module-cycles.sh: {len(sccs)} module cycle(s) in pmem2")
PY
echo "ci/module-cycles.sh: no module cycle ($((SECONDS - start))s)"
