#!/bin/bash
# CI stage "dax": the DAX suite (crates/pmem2/tests/dax.rs) on emulated NVDIMMs and
# virtio-pmem in a QEMU guest, every configuration, two boots each. See docs/dax-vm.md.
#
# usage: ci/dax-stage.sh [cargo xtask dax-test options...]
# exit:  0 when every test passed; non-zero on any failure, timeout or harness error.
# logs:  ${CARGO_TARGET_DIR:-target}/dax-vm/logs/<configuration>-<phase>.log
#
# Time: about 1.5 min with a warm cache and build, 3 to 5 min cold on 2 cores; the stage is
# capped at 10 min: the harness stops starting boots after DAX_BUDGET seconds, and `timeout`
# is the last resort (QEMU dies with the harness, PR_SET_PDEATHSIG).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${DAX_BUDGET:-540}
start=$SECONDS
rc=0
timeout --kill-after=15 590 cargo xtask dax-test --budget "$budget" "$@" || rc=$?
echo "ci/dax-stage.sh: exit $rc after $((SECONDS - start))s"
exit $rc
