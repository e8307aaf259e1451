#!/usr/bin/env bash
# CI stage "crash-consistency checker": runs the fixture programs (Rust:
# crates/pmem2/examples/check_fixture.rs; C: tests/c/check_fixture.c, built
# against include/libpmem2.h and our libpmem2.so.1) under `pmem2 check
# --json`, on tmpfs, with PMEM2_FORCE_GRANULARITY=cache_line and with the
# natural PAGE granularity. Each case must get exactly its expected set of
# finding kinds, and `pmem2 check` must exit 1 iff one of them is a
# durability verdict; each `-ok` twin must get none. The examples must check
# clean, plain and with --explore and their own checkers. About 3 min after
# the release build (which `cargo xtask build-c` shares), measured 3.5-4 min
# with the builds on the shared 2-core machine (load 4-6).
#
# usage: ci/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p pmem2-cli
cargo xtask build-c >/dev/null
target=${CARGO_TARGET_DIR:-target}
pmem2=$target/release/pmem2
rust_fixture=$target/release/examples/check_fixture
lib=$target/capi/lib
c_fixture=$target/capi/check_fixture
cargo build --release -q -p pmem2 --examples
for src in tests/c/check_fixture.c tests/c/ex_*.c; do
  ${CC:-cc} -std=gnu99 -g -O1 -Wall -Wextra -Werror -Iinclude -Itests/c \
    "$src" -L"$lib" -l:libpmem2.so.1 -lpthread -o "$target/capi/$(basename "$src" .c)"
done

scratch=$(mktemp -d /dev/shm/pmem2-check-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# case  kinds-at-cache_line  kinds-at-page  ("-" = none; kinds joined by +)
expectations='
missing-flush         not_flushed                          not_flushed
missing-fence         not_fenced                           -
nt-no-drain           nt_not_drained                       -
superfluous-flush     superfluous_flush                    superfluous_flush
double-flush          redundant_flush                      superfluous_flush
persist-before-store  not_flushed+superfluous_flush        not_flushed+superfluous_flush
flag-before-data      not_flushed                          not_flushed
'

cat >"$scratch/verify.py" <<'PY'
# argv: expected kinds ("-" for none, "clean" for no durability verdict
# whatever the performance notes, or a+b), pmem2 check's exit status,
# label; stdin: the JSON report.
import json, sys
rc, label = int(sys.argv[2]), sys.argv[3]
doc = json.load(sys.stdin)
kinds = {f["kind"] for f in doc["findings"]}
durable = {f["kind"] for f in doc["findings"] if f["durability"]}
if sys.argv[1] == "clean":
    expected = kinds - durable
else:
    expected = set() if sys.argv[1] == "-" else set(sys.argv[1].split("+"))
want_rc = 1 if durable else 0
# Write-tracking (PMEM2_CHECK_WRITE_TRACKING, passed as argv[4]): armed at
# the first named crash point or exploration point where the kernel allows
# it; forced off, never.
tracking = sys.argv[4] if len(sys.argv) > 4 else None
if tracking == "0" and doc["maps_write_tracked"] != 0:
    print(f"FAIL {label}: {doc['maps_write_tracked']} maps write-tracked, forced off")
    sys.exit(1)
if kinds != expected or rc != want_rc or doc.get("exit_status") != 0:
    print(f"FAIL {label}: kinds {sorted(kinds)} (expected {sorted(expected)}), "
          f"status {rc} (expected {want_rc}), program status {doc.get('exit_status')}")
    for f in doc["findings"]:
        print("   ", f["kind"], "at", f["point"], f["count"], f["stack"][:3])
    sys.exit(1)
print(f"ok   {label}: {'+'.join(sorted(kinds)) or 'clean'}, status {rc}")
PY

failures=0
runs=0
check_one() { # lang granularity case expected [write-tracking: 1 or 0]
  local lang=$1 gran=$2 case=$3 expected=$4 tracking=${5:-} out rc=0
  case $lang in
    rust) set -- "$rust_fixture" "$case" "$scratch/rust.file" ;;
    c) set -- "$c_fixture" "$case" "$scratch" ;;
    rust-example) set -- "$target/release/examples/$case" ;;
    c-example) set -- "$target/capi/$case" "$scratch" ;;
  esac
  if [ "$gran" = cache_line ]; then
    out=$(PMEM2_CHECK_WRITE_TRACKING=${tracking:-1} PMEM2_FORCE_GRANULARITY=cache_line \
      "$pmem2" check --json --lib "$lib" -- "$@") || rc=$?
  else
    out=$(PMEM2_CHECK_WRITE_TRACKING=${tracking:-1} env -u PMEM2_FORCE_GRANULARITY \
      "$pmem2" check --json --lib "$lib" -- "$@") || rc=$?
  fi
  runs=$((runs + 1))
  python3 "$scratch/verify.py" "$expected" "$rc" "$lang $gran $case${tracking:+ tracking=$tracking}" \
    $tracking <<<"$out" || failures=$((failures + 1))
}

# Twice: with write-tracking of the maps' pages (userfaultfd, on by default)
# and with it forced off (every comparison reads the whole range): the same
# verdicts.
for tracking in 1 0; do
  while read -r case cl page; do
    [ -n "$case" ] || continue
    for lang in rust c; do
      check_one "$lang" cache_line "$case" "$cl" "$tracking"
      check_one "$lang" page "$case" "$page" "$tracking"
      check_one "$lang" cache_line "$case-ok" - "$tracking"
      check_one "$lang" page "$case-ok" - "$tracking"
    done
  done <<<"$expectations"
done

# The examples (7 Rust, the C ex_*.c programs) must check clean (no
# durability verdict; performance notes allowed) on both granularities.
for gran in cache_line page; do
  for name in basic advanced log map_multiple_files redo ringbuf unsafe_shutdown; do
    check_one rust-example "$gran" "$name" clean
  done
  for src in tests/c/ex_*.c; do
    check_one c-example "$gran" "$(basename "$src" .c)" clean
  done
done

# Crash-state exploration: the redo log with its commit flag persisted before
# its entries has a failing crash state; the correct one has none.
explore_one() { # granularity mode expected
  local out rc=0
  out=$(PMEM2_FORCE_GRANULARITY=$1 "$pmem2" check --json --explore --budget 60 \
    --checker "$target/release/examples/check_redo verify" \
    -- "$target/release/examples/check_redo" "$2" "$scratch/redo") || rc=$?
  runs=$((runs + 1))
  python3 "$scratch/verify.py" "$3" "$rc" "explore $1 $2" <<<"$out" ||
    failures=$((failures + 1))
}
explore_one cache_line run-buggy crash_state+superfluous_flush
explore_one cache_line run superfluous_flush
explore_one page run-buggy crash_state+superfluous_flush
explore_one page run -

# Region markers honoured by exploration (pmreorder's -x): check_redo's
# transactions are the region redo_tx; with NoReorderNoCheck no state inside
# is checked, so the flag-before-data bug goes unseen; with NoReorderDoCheck
# only the in-order state is, which is consistent; a reordering engine finds
# the bug as without markers. An unknown engine is refused.
markers_one() { # markers expected
  local out rc=0
  out=$(PMEM2_FORCE_GRANULARITY=cache_line "$pmem2" check --json --explore --budget 60 \
    --markers "$1" --checker "$target/release/examples/check_redo verify" \
    -- "$target/release/examples/check_redo" run-buggy "$scratch/redo") || rc=$?
  runs=$((runs + 1))
  python3 "$scratch/verify.py" "$2" "$rc" "explore --markers $1 run-buggy" <<<"$out" ||
    failures=$((failures + 1))
}
markers_one redo_tx=NoReorderNoCheck superfluous_flush
markers_one redo_tx=NoReorderDoCheck superfluous_flush
markers_one redo_tx=ReorderPartial crash_state+superfluous_flush
runs=$((runs + 1))
if "$pmem2" check --explore --markers redo_tx=Bogus --checker true -- true 2>/dev/null; then
  echo "FAIL --markers with an unknown engine accepted"; failures=$((failures + 1))
else
  echo "ok   --markers with an unknown engine refused"
fi

# The examples with their own consistency checkers (`verify IMAGE`): every
# crash state exploration reaches must pass, on both granularities, within
# the budget (the report says how many states were checked and whether the
# budget ran out). About 50 s in all, most of it ex_multiple_files (3 MiB
# of non-temporal stores in flight at one fence: 256 sampled states per map).
# Each checker must also be able to say no: it accepts a zeroed image of
# its size (a file never written) and rejects one of 0xff bytes.
cat >"$scratch/explored.py" <<'PY'
import json, sys
label, rc = sys.argv[1], int(sys.argv[2])
doc = json.load(sys.stdin)
bad = [f for f in doc["findings"] if f["durability"]]
if rc != 0 or bad or doc.get("exit_status") != 0 or doc.get("exploration_budget_spent") \
        or not doc.get("explored_states"):
    print(f"FAIL {label}: status {rc}, program status {doc.get('exit_status')}, "
          f"{doc.get('explored_states')} states, budget spent {doc.get('exploration_budget_spent')}")
    for f in bad:
        print("   ", f["kind"], "at", f["point"], f.get("detail"), f["stack"][:3])
    sys.exit(1)
print(f"ok   {label}: {doc['explored_states']} crash states pass "
      f"({doc['maps_write_tracked']} of {doc['maps_checked']} maps write-tracked)")
PY
explore_example() { # granularity lang name image-size
  local gran=$1 lang=$2 name=$3 size=$4 out rc=0 prog
  if [ "$lang" = rust ]; then
    prog=("$target/release/examples/$name")
  else
    prog=("$target/capi/$name" "$scratch")
  fi
  out=$(PMEM2_FORCE_GRANULARITY=$gran "$pmem2" check --json --lib "$lib" --explore --budget 120 \
    --checker "${prog[0]} verify" -- "${prog[@]}") || rc=$?
  runs=$((runs + 1))
  python3 "$scratch/explored.py" "explore $gran $name" "$rc" <<<"$out" ||
    failures=$((failures + 1))
  if [ "$gran" = page ]; then
    runs=$((runs + 1))
    head -c "$size" /dev/zero >"$scratch/zero.img"
    head -c "$size" /dev/zero | tr '\0' '\377' >"$scratch/ones.img"
    local zero=0 ones=0
    LD_LIBRARY_PATH=$lib "${prog[0]}" verify "$scratch/zero.img" || zero=$?
    LD_LIBRARY_PATH=$lib "${prog[0]}" verify "$scratch/ones.img" || ones=$?
    if [ "$zero" = 0 ] && [ "$ones" = 1 ]; then
      echo "ok   $name verify: zeroed image consistent, 0xff image not"
    else
      echo "FAIL $name verify: zeroed image -> $zero (expected 0), 0xff image -> $ones (expected 1)"
      failures=$((failures + 1))
    fi
  fi
}
explore_list=$(cat <<'LIST'
rust basic 4096
rust advanced 69632
rust log 1048576
rust map_multiple_files 65536
rust redo 65536
rust ringbuf 65536
rust unsafe_shutdown 4096
c ex_basic 1048576
c ex_log 65536
c ex_multiple_files 65536
c ex_threads 65536
c ex_unsafe_shutdown 65536
LIST
)
# Every example is in the list, so a new one can't go unexplored.
for src in tests/c/ex_*.c basic advanced log map_multiple_files redo ringbuf unsafe_shutdown; do
  name=$(basename "$src" .c)
  if ! grep -q " $name " <<<"$explore_list"; then
    echo "FAIL: example $name has no entry in ci/check.sh's exploration list"
    failures=$((failures + 1))
  fi
done
for gran in cache_line page; do
  while read -r lang name size; do
    explore_example "$gran" "$lang" "$name" "$size"
  done <<<"$explore_list"
done

# The store log (pmreorder's format): the grammar pmreorder parses, the
# file registered by name, pmem2's memset between its markers.
for lang in rust c; do
  runs=$((runs + 1))
  if [ "$lang" = rust ]; then
    prog=("$rust_fixture" flag-before-data-ok "$scratch/rust.file"); file=$scratch/rust.file
  else
    prog=("$c_fixture" flag-before-data-ok "$scratch"); file=$scratch/check
  fi
  PMEM2_FORCE_GRANULARITY=cache_line PMEM2_CHECK="report,out=/dev/null,log=$scratch/store.log" \
    LD_LIBRARY_PATH=$lib "${prog[@]}"
  if python3 - "$scratch/store.log" "$file" <<'PY'
import re, sys
log, path = open(sys.argv[1]).read(), sys.argv[2]
assert log.startswith("START|") and log.endswith("|STOP\n"), log[:80]
ops = log[len("START|"):-len("|STOP\n")].split("|")
num = r"0x[0-9a-f]+"
stack = []
for op in ops:
    f = op.split(";")
    if f[0] == "STORE":
        assert len(f) == 4 and all(re.fullmatch(num, x) for x in f[1:]), op
    elif f[0] == "FLUSH":
        assert len(f) == 3 and all(re.fullmatch(num, x) for x in f[1:]), op
    elif f[0] == "FENCE":
        assert len(f) == 1, op
    elif f[0] == "REGISTER_FILE":
        assert len(f) == 5 and f[1] == path, (op, path)
    elif op.endswith(".BEGIN"):
        stack.append(op[:-6])
    elif op.endswith(".END"):
        assert stack.pop() == op[:-4], op
    else:
        raise AssertionError(f"not a pmreorder record: {op}")
assert not stack, stack
assert "pmem2_memset.BEGIN" in ops and ops.count("FENCE") >= 2, ops[:10]
# The user-named region: the flag's store (its first word: value 1), its
# flush and fence, and nothing else.
begin, end = ops.index("commit.BEGIN"), ops.index("commit.END")
inside = [op.split(";")[0] for op in ops[begin + 1:end]]
assert inside == ["STORE", "FLUSH", "FENCE"], inside
assert ops[begin + 1].split(";")[2] == "0x1", ops[begin + 1]
assert ops.count("commit.BEGIN") == ops.count("commit.END") == 1
PY
  then echo "ok   store log ($lang): $(tr '|' '\n' <"$scratch/store.log" | wc -l) records"
  else echo "FAIL store log ($lang)"; failures=$((failures + 1)); fi
done

echo "check fixtures: $((runs - failures))/$runs as expected"
[ "$failures" -eq 0 ]
