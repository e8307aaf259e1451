#!/usr/bin/env bash
# Mutation test of the crash-consistency checker (not a CI stage; figures in
# docs/check.md): deletes, one at a time, each persist/flush/drain call of
# the log and redo examples, rebuilds, and runs the mutant under
# `pmem2 check` with PMEM2_FORCE_GRANULARITY=cache_line and with the natural
# PAGE granularity (tmpfs), plain and with `--explore --checker "EXAMPLE
# verify"` (the example's own consistency checker). A mutant is caught when
# `pmem2 check` exits 1 (a durability verdict, or with --explore a crash
# state the checker rejects). Restores the sources on exit. About 6 min.
#
# usage: ci/check-mutants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cargo build --release -q -p pmem2-cli
pmem2=$target/release/pmem2
files=(crates/pmem2/examples/log.rs crates/pmem2/examples/redo.rs)
backup=$(mktemp -d)
for f in "${files[@]}"; do cp "$f" "$backup/"; done
restore() { for f in "${files[@]}"; do cp "$backup/$(basename "$f")" "$f"; done; rm -rf "$backup"; }
trap restore EXIT
cd_tmp=$(mktemp -d /dev/shm/pmem2-mutants-XXXXXX)
modes=(cache_line page explore:cache_line explore:page)
declare -A caught=([cache_line]=0 [page]=0 [explore:cache_line]=0 [explore:page]=0)
any=0
total=0
for f in "${files[@]}"; do
  name=$(basename "$f" .rs)
  while IFS=: read -r line text; do
    cp "$backup/$name.rs" "$f"
    sed -i "${line}d" "$f"
    cargo build --release -q -p pmem2 --example "$name"
    total=$((total + 1))
    verdicts=""
    hit=0
    for mode in "${modes[@]}"; do
      rc=0
      gran=${mode#explore:}
      if [ "$gran" = cache_line ]; then force=(env PMEM2_FORCE_GRANULARITY=cache_line); else force=(env -u PMEM2_FORCE_GRANULARITY); fi
      explore=()
      if [ "$mode" != "$gran" ]; then
        explore=(--explore --budget 120 --checker "$target/release/examples/$name verify")
      fi
      (cd "$cd_tmp" && "${force[@]}" "$pmem2" check "${explore[@]}" -- \
        "$target/release/examples/$name" >/dev/null 2>&1) || rc=$?
      if [ "$rc" -eq 1 ]; then
        caught[$mode]=$((caught[$mode] + 1)); verdicts+=" $mode:caught"; hit=1
      else
        verdicts+=" $mode:missed"
      fi
    done
    any=$((any + hit))
    echo "$name.rs:$line deleted ($(echo "$text" | xargs)):$verdicts"
  done < <(grep -n '\.persist(\|\.flush(\|\.drain()' "$backup/$name.rs")
done
rm -rf "$cd_tmp"
echo "mutants caught: cache_line ${caught[cache_line]}/$total, page ${caught[page]}/$total," \
  "explore cache_line ${caught[explore:cache_line]}/$total, explore page ${caught[explore:page]}/$total;" \
  "by any mode $any/$total"
