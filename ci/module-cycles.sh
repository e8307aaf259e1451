#!/usr/bin/env bash
# CI stage "module graph": crate pmem2's modules form layers with no cycle
# (docs/architecture.md). cargo-modules (pinned, installed if missing) emits
# the item-level dependency graph that rust-analyzer sees; this script lifts
# its "uses" edges to the top-level modules of the crate and fails on
#   - any cycle between top-level modules, and
#   - a lower layer using a higher one: `sys` may use only `error`; `arch`
#     only `sys` and `error`.
# Item-level cycles inside one module (a type and its methods) are normal and
# not reported; cargo-modules' own --acyclic flag counts those, which is why
# the lifting is done here.
#
# usage: ci/module-cycles.sh        (prints the module graph, then the verdict)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.27.0 # the last release that builds with this repository's rustc (1.95)
if ! cargo modules --version 2>/dev/null | grep -q "$version"; then
  echo "installing cargo-modules $version (a few minutes, once per machine)"
  cargo install cargo-modules --locked --version "$version" --quiet
fi

dot=$(mktemp)
trap 'rm -f "$dot"' EXIT
cargo modules dependencies --lib -p pmem2 --no-externs --no-sysroot > "$dot"

python3 - "$dot" <<'PY'
import re, sys

edges = set()
pattern = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')
for line in open(sys.argv[1]):
    m = pattern.match(line)
    if not m:
        continue
    a, b = (p.split("::") for p in m.groups())
    if len(a) < 2 or len(b) < 2 or a[0] != "pmem2" or b[0] != "pmem2":
        continue  # the crate root (lib.rs re-exports) sits above everything
    if a[1] != b[1]:
        edges.add((a[1], b[1]))
if not edges:
    sys.exit("module-cycles: no edges read from cargo-modules' output")

graph = {}
for a, b in sorted(edges):
    graph.setdefault(a, set()).add(b)
    graph.setdefault(b, set())
for m in sorted(graph):
    print(f"{m:12} -> {', '.join(sorted(graph[m])) or '-'}")

failures = []
allowed = {"sys": {"error"}, "arch": {"sys", "error"}}
for low, ok in allowed.items():
    extra = graph.get(low, set()) - ok
    if extra:
        failures.append(f"layer violation: {low} uses {', '.join(sorted(extra))}")

# Tarjan's strongly connected components: any component of two or more
# modules is a cycle.
index, low, stack, on, sccs = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        visit(v)
for comp in sccs:
    failures.append("cycle among modules: " + " <-> ".join(comp))

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"module graph: {len(graph)} modules, {len(edges)} edges, no cycle, layers respected")
PY
