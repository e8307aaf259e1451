#!/usr/bin/env bash
# Benchmark (not a CI stage; figures in docs/check.md): the overhead of
# crash-consistency checking in report mode (PMEM2_CHECK=report) on a log
# append workload (crates/pmem2/examples/check_bench.rs: records of 64 B,
# 4 KiB and 1 MiB, plain stores + one persist each, 32 MiB in all, on tmpfs
# with PMEM2_FORCE_GRANULARITY=cache_line), beside the same unchecked
# workload under Valgrind's --tool=none (the floor of any Valgrind-based
# checker such as pmemcheck). Checked twice: with write-tracking of the
# map's pages (the default) and without (PMEM2_CHECK_WRITE_TRACKING=0).
# Then the case write-tracking is for: a 256 MiB map, 200 steps of one
# 8-byte write + persist + named crash point each. Rounds are interleaved;
# medians of ROUNDS (default 5) of the loop's time per record or step.
#
# usage: ci/check-bench.sh [ROUNDS]      (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind" >&2; exit 1; }
cargo build --release -q -p pmem2 --example check_bench
bin=${CARGO_TARGET_DIR:-target}/release/examples/check_bench
file=$(mktemp /dev/shm/pmem2-check-bench-XXXXXX)
trap 'rm -f "$file"' EXIT
total=$((32 << 20))
export PMEM2_FORCE_GRANULARITY=cache_line
results=$(mktemp)
for size in 64 4096 1048576; do
  for _ in $(seq "$rounds"); do
    echo "$size plain $(env -u PMEM2_CHECK "$bin" "$size" "$total" "$file")" >>"$results"
    echo "$size checked $(PMEM2_CHECK=report,out=/dev/null "$bin" "$size" "$total" "$file")" >>"$results"
    echo "$size notrack $(PMEM2_CHECK_WRITE_TRACKING=0 PMEM2_CHECK=report,out=/dev/null "$bin" "$size" "$total" "$file")" >>"$results"
    echo "$size valgrind $(env -u PMEM2_CHECK valgrind -q --tool=none "$bin" "$size" "$total" "$file")" >>"$results"
  done
done
for _ in $(seq "$rounds"); do
  echo "sparse plain $(env -u PMEM2_CHECK "$bin" sparse 200 $((256 << 20)) "$file")" >>"$results"
  echo "sparse checked $(PMEM2_CHECK=report,out=/dev/null "$bin" sparse 200 $((256 << 20)) "$file")" >>"$results"
  echo "sparse notrack $(PMEM2_CHECK_WRITE_TRACKING=0 PMEM2_CHECK=report,out=/dev/null "$bin" sparse 200 $((256 << 20)) "$file")" >>"$results"
done
python3 - "$results" "$rounds" <<'PY'
import statistics, sys
rows, sparse = {}, {}
for line in open(sys.argv[1]):
    size, mode, ns = line.split()
    if size == "sparse":
        sparse.setdefault(mode, []).append(int(ns))
        continue
    rows.setdefault(int(size), {}).setdefault(mode, []).append(int(ns))
print(f"log append + persist per record, cache_line granularity on tmpfs, median of {sys.argv[2]} interleaved rounds")
print(f"{'record':>8} {'unchecked':>12} {'checked':>12} {'ratio':>7} {'no tracking':>12} {'ratio':>7} "
      f"{'valgrind none':>14} {'ratio':>7}")
for size in sorted(rows):
    r = {m: statistics.median(v) for m, v in rows[size].items()}
    name = {64: "64 B", 4096: "4 KiB", 1048576: "1 MiB"}[size]
    print(f"{name:>8} {r['plain']:>10.0f}ns {r['checked']:>10.0f}ns {r['checked']/r['plain']:>6.2f}x "
          f"{r['notrack']:>10.0f}ns {r['notrack']/r['plain']:>6.2f}x "
          f"{r['valgrind']:>12.0f}ns {r['valgrind']/r['plain']:>6.2f}x")
r = {m: statistics.median(v) for m, v in sparse.items()}
print(f"sparse (256 MiB map, write + persist + point per step): unchecked {r['plain']:.0f}ns, "
      f"checked {r['checked']:.0f}ns ({r['checked']/r['plain']:.1f}x), "
      f"no tracking {r['notrack']:.0f}ns ({r['notrack']/r['plain']:.1f}x)")
PY
rm -f "$results"
