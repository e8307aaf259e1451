#!/bin/bash
# CI stage "dax": the DAX suite (crates/pmem2/tests/dax.rs) in QEMU guests, two boots each
# (write, then verify after a power cut). See docs/dax-vm.md.
#   1. the x86-64 guest: emulated NVDIMMs in three platform configurations and virtio-pmem;
#   2. the arm64 guest (`--config aarch64`): qemu-system-aarch64, virt machine under UEFI,
#      emulated NVDIMMs (fsdax ext4 + xfs, devdax), -cpu max (DC CVAP); its write boot also
#      runs, for real, the pmem2 tests that skip under qemu-user (ci/aarch64-qemu.sh).
# Both always run, each with its own budget; the stage fails if either fails.
#
# usage: ci/dax-stage.sh [cargo xtask dax-test options other than --config, e.g. --echo]
# exit:  0 when every test passed; non-zero on any failure, timeout or harness error.
# logs:  ${CARGO_TARGET_DIR:-target}/dax-vm/logs/<configuration>-<phase>.log
#
# Time on 2 cores shared with other builds (load average 4 to 6): x86-64 4.5 min with a warm
# cache and build (269 s: 8 boots of 26 to 40 s), 5.5 min cold, capped at 10 min (DAX_BUDGET,
# 540 s); arm64 2.5 min warm (149 s: 4 boots of 23 to 40 s; with the qemu-user skips in the
# aarch64 write boot, 17 s more there: 109 to 112 s at load 3.5), about 5 min cold (downloads,
# a cross build), capped at 8 min (DAX_AARCH64_BUDGET, 480 s). Each
# harness stops starting boots after its budget, and `timeout` is the last resort (QEMU dies
# with the harness, PR_SET_PDEATHSIG).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${DAX_BUDGET:-540}
arm_budget=${DAX_AARCH64_BUDGET:-480}
start=$SECONDS
rc=0
timeout --kill-after=15 590 cargo xtask dax-test --budget "$budget" \
  --config default --config cpu --config mem-ctrl --config virtio "$@" || rc=$?
echo "ci/dax-stage.sh: x86-64 guest: exit $rc after $((SECONDS - start))s"

# The arm64 guest's suite and CLI are cross-built static: the linker and the static glibc
# come from Debian's cross packages, the standard library from rustup.
arm_start=$SECONDS
arm_rc=0
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    apt-get update
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross
fi
rustup target add aarch64-unknown-linux-gnu
timeout --kill-after=15 $((arm_budget + 60)) cargo xtask dax-test --budget "$arm_budget" \
  --config aarch64 --config aarch64-cpu "$@" || arm_rc=$?
echo "ci/dax-stage.sh: arm64 guest: exit $arm_rc after $((SECONDS - arm_start))s"
echo "ci/dax-stage.sh: $((SECONDS - start))s in all"
if ((rc != 0)); then exit $rc; fi
exit $arm_rc
