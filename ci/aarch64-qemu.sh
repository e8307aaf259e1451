#!/usr/bin/env bash
# The aarch64 build of pmem2 run under QEMU's user mode (qemu-aarch64), with
# two CPU models: `max` reports HWCAP_DCPOP yet traps on DC CVAP in user mode
# (the flush choice's probe must fall back to DC CVAC), `cortex-a57` has no
# DCPoP. Runs the crate's unit and integration tests with each; tests whose
# premise user mode breaks print `SKIPPED <test>: <why>` (counted here); a
# real kernel runs them in the x86-64 test stage, and on an arm64 kernel the
# arm64 DAX guest (ci/dax-stage.sh, `--config aarch64`; docs/dax-vm.md) runs
# their test binaries (xtask/src/dax/emulated.rs lists them) and fails if one
# of them skips there; this stage fails when a binary with a skip here is
# missing from that list. Then the C ABI tests for aarch64
# (`cargo xtask c-test --target aarch64-unknown-linux-gnu`).
# Time on 2 cores: 3 min 20 s with a warm target directory (build 2 min 15 s,
# each CPU model 20 to 25 s, C tests 20 s); a cold build adds several minutes.
#
# Optimised test code with debug assertions and overflow checks: TCG runs a
# debug build's exhaustive memops tests (tests/mem.rs) more than 10x slower.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if ((${#need[@]})); then
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    apt-get update
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
rustup target add "$target"
qemu-aarch64-static --version | head -1

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
mkdir -p target/aarch64-qemu
t0=$(date +%s)
cargo test --release --no-run --target "$target" -p pmem2
cargo build --release --target "$target" -p pmem2-cli
echo "aarch64-qemu: build $(( $(date +%s) - t0 ))s"

probe=/dev/shm/pmem2-ci-aarch64-$$
head -c 65536 /dev/zero > "$probe"
trap 'rm -f "$probe"' EXIT

for cpu in max cortex-a57; do
  t1=$(date +%s)
  # Each emulated process gets at most 10 minutes (a test binary takes
  # seconds): an emulator deadlock fails that binary instead of hanging CI.
  # One test at a time: QEMU's user mode emulates mmap and /proc/self/maps
  # for the whole process, and concurrent tests have tripped it (docs/dax-vm.md).
  qemu="qemu-aarch64-static -cpu $cpu -L /usr/aarch64-linux-gnu"
  runner="timeout -k 10 600 $qemu"
  log=target/aarch64-qemu/$cpu.log
  rc=0
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$runner" PMEM2_TEST_RUNNER="$runner" \
    cargo test --release --target "$target" -p pmem2 --no-fail-fast -- --test-threads=1 2>&1 | tee "$log" || rc=$?
  # The CLI reports the flush instruction the probe left: DC CVAC under user
  # mode on both models (`max` claims DCPOP but traps on DC CVAP).
  info=$($qemu target/$target/release/pmem2 info --json "$probe")
  echo "$info"
  flush=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["flush"])' "$info")
  # What the emulated CPU claims (glibc prints the auxiliary vector).
  hwcap=$(LD_SHOW_AUXV=1 $qemu target/$target/release/pmem2 --version | awk '$1 == "AT_HWCAP:" {print $2}')
  python3 - "$log" "$cpu" "$rc" "$flush" "$(( $(date +%s) - t1 ))" "$hwcap" <<'PY'
import re, sys
log, cpu, rc, flush, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
dcpop = bool(int(sys.argv[6].removeprefix("0x"), 16) & (1 << 16))
text = open(log, errors="replace").read()
passed = failed = ignored = 0
for m in re.finditer(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text, re.M):
    passed += int(m[1]); failed += int(m[2]); ignored += int(m[3])
skips = sorted(set(re.findall(r"SKIPPED ([^\n]*)", text)))
# Every test binary with a skip here must run in the arm64 guest (xtask/src/dax/emulated.rs).
guest = set(re.findall(r'name: "(\w+)"', open("xtask/src/dax/emulated.rs").read()))
binary, skipping = None, set()
for line in text.splitlines():
    m = re.match(r"\s*Running (?:unittests src/lib\.rs|tests/(\w+)\.rs)", line)
    if m:
        binary = m[1] or "lib"
    elif "SKIPPED " in line and binary:
        skipping.add(binary)
binaries = len(re.findall(r"^test result:", text, re.M))
print(f"aarch64-qemu -cpu {cpu}: {binaries} test binaries, {passed} passed, {failed} failed, "
      f"{ignored} ignored, {len(skips)} skipped (emulation), HWCAP DCPOP={dcpop}, flush={flush}, {secs}s")
for s in skips:
    print(f"  skipped: {s}")
bad = []
if re.search(r"SIGILL|signal: 4\b", text):
    bad.append("SIGILL")
if rc or failed:
    bad.append(f"cargo test rc={rc}, {failed} failed")
if skipping - guest:
    bad.append(f"{sorted(skipping - guest)} skip here but the arm64 DAX guest does not run them "
               "(add them to xtask/src/dax/emulated.rs)")
if binaries < 8:
    bad.append(f"only {binaries} test binaries reported")
if dcpop != (cpu == "max"):
    bad.append(f"HWCAP DCPOP={dcpop}: expected it on -cpu max only (the probe must be exercised)")
if flush != "dc_cvac":
    bad.append(f"flush={flush}: qemu-user implements no DC CVAP, the probe must pick dc_cvac")
if bad:
    print("aarch64-qemu FAILED:", "; ".join(bad))
    sys.exit(1)
PY
done

t2=$(date +%s)
PMEM2_TEST_RUNNER="qemu-aarch64-static -cpu max -L /usr/aarch64-linux-gnu" \
  cargo xtask c-test --target "$target"
echo "aarch64-qemu: C ABI tests $(( $(date +%s) - t2 ))s; stage $(( $(date +%s) - t0 ))s"
