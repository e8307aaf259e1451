#!/usr/bin/env bash
# Makes sure the nightly toolchain and the given components are installed,
# installing what is missing; exits non-zero when it can't, so the CI stage
# that needs them fails instead of being skipped.
#
# usage: ci/ensure-nightly.sh [COMPONENT...]     e.g. ci/ensure-nightly.sh miri rust-src
#
# A fresh machine has the stable toolchain only: nightly is installed with
# the minimal profile (rustc, cargo, rust-std). Already-installed toolchains
# and components are left alone (rustup's answer is quick then).
set -euo pipefail

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "ci/ensure-nightly.sh: installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
if [ $# -gt 0 ]; then
  rustup component add --toolchain nightly "$@"
fi
rustc +nightly --version
