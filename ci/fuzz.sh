#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (FUZZ_SECONDS,
# default 20 s each) and fails if any of them finds a crash. Needs a nightly
# toolchain (sanitizers) and cargo-fuzz: installs them if missing
# (CARGO_FUZZ_VERSION pins a version; 0.13.2 is known to build with nightly
# 1.97 of 2026-05-19) and fails when it can't, never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/ensure-nightly.sh

start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }
seconds=${FUZZ_SECONDS:-20}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "=== installing cargo-fuzz${CARGO_FUZZ_VERSION:+ $CARGO_FUZZ_VERSION}"
  cargo +nightly install cargo-fuzz --locked ${CARGO_FUZZ_VERSION:+--version "$CARGO_FUZZ_VERSION"}
fi
cargo +nightly fuzz --version

cd fuzz
targets=$(cargo +nightly fuzz list)
echo "=== building $(echo "$targets" | xargs) ($(elapsed))"
cargo +nightly fuzz build

failed=()
for t in $targets; do
  echo "=== $t for ${seconds}s ($(elapsed))"
  # The seeds and the saved regressions join the corpus: a regression that
  # still crashes fails the run at once.
  mkdir -p "corpus/$t"
  for dir in "seeds/$t" "regressions/$t"; do
    if [ -d "$dir" ]; then
      cp -f "$dir"/* "corpus/$t/"
    fi
  done
  opts=(-max_total_time="$seconds" -print_final_stats=1)
  if [ -f "dict/$t.dict" ]; then
    opts+=(-dict="dict/$t.dict")
  fi
  if cargo +nightly fuzz run "$t" -- "${opts[@]}" >"/tmp/pmem2-fuzz-$t.log" 2>&1; then
    grep -E '^Done|stat::number_of_executed_units' "/tmp/pmem2-fuzz-$t.log" || true
  else
    # The assertion message first (the stack trace below it is long).
    grep -A3 'panicked at' "/tmp/pmem2-fuzz-$t.log" | head -n 20 || true
    tail -n 30 "/tmp/pmem2-fuzz-$t.log"
    echo "ci/fuzz.sh: $t found a crash (artifacts in fuzz/artifacts/$t/)" >&2
    failed+=("$t")
  fi
done

echo "=== done in $(elapsed)"
if [ ${#failed[@]} -ne 0 ]; then
  echo "ci/fuzz.sh: failing targets: ${failed[*]}" >&2
  exit 1
fi
