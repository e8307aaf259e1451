#!/usr/bin/env bash
# Runs every example of the pmem2 crate with no arguments (each uses a
# temporary file and removes it) and fails on the first non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=(basic advanced log map_multiple_files redo ringbuf unsafe_shutdown)
# Fixtures that take arguments, run by their own stage (ci/check.sh).
fixtures=(check_fixture check_redo check_bench)
# Every example file must be in the list, so a new one can't be skipped.
for f in crates/pmem2/examples/*.rs; do
  name=$(basename "$f" .rs)
  if [[ ! " ${examples[*]} ${fixtures[*]} " =~ " ${name} " ]]; then
    echo "ci/examples.sh: example '$name' is not in the list" >&2
    exit 1
  fi
done
cargo build -q --release -p pmem2 --examples
for name in "${examples[@]}"; do
  echo "=== example $name"
  start=$(date +%s%N)
  if ! cargo run -q --release -p pmem2 --example "$name"; then
    echo "ci/examples.sh: example '$name' failed" >&2
    exit 1
  fi
  echo "=== $name ok ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
done
echo "all ${#examples[@]} examples passed"
