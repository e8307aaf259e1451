#!/bin/sh
# /init of the pmem2 DAX test guest, built into the initramfs by `cargo xtask dax-test`
# (xtask/src/dax/initramfs.rs). Kernel command line: daxconfig=<configuration>
# daxplatform=default|cpu|mem-ctrl|virtio daxphase=write|verify daxsuitetimeout=<s>
# daxemutests=0|1
#
# Lines the host parses (xtask/src/dax/report.rs), everything else is only logged:
#   DAX-SETUP <step> PASS|FAIL [detail]      a setup step (modules, namespaces, mkfs, mount)
#   DAX-RESULT ...                           printed by the test binary, one per test and target
#   DAX-TESTS-EXIT rc=<n>                    exit status of the test binary
#   DAX-INFO-BEGIN <path> / DAX-INFO-END rc=<n>   stdout of `pmem2 info --json <path>` in between
#   DAX-EMU-BEGIN <name> / DAX-EMU-END <name> rc=<n>   output of /dax/emu/<name> in between
#   DAX-DONE                                 the guest got to the end (then it powers off)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
# the arm64 initramfs has /bin/sh only: its busybox could not list its applets on the host
# (--install finds busybox through /proc/self/exe)
if [ ! -e /bin/mount ]; then
  /bin/busybox mount -t proc proc /proc && /bin/busybox --install -s /bin && /bin/busybox umount /proc
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

CONFIG=unknown
PLATFORM=
PHASE=write
SUITE_TIMEOUT=180
EMU_TESTS=0
for w in $(cat /proc/cmdline); do
  case $w in
    daxconfig=*) CONFIG=${w#*=} ;;
    daxplatform=*) PLATFORM=${w#*=} ;;
    daxphase=*) PHASE=${w#*=} ;;
    daxsuitetimeout=*) SUITE_TIMEOUT=${w#*=} ;;
    daxemutests=*) EMU_TESTS=${w#*=} ;;
  esac
done
[ -n "$PLATFORM" ] || PLATFORM=$CONFIG
up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "DAX-LOG [$(up)] $*"; }
# step <name> <command...>: run one setup step, indent its output, report it
step() {
  name=$1; shift
  out=$("$@" 2>&1); rc=$?
  [ -n "$out" ] && echo "$out" | sed 's/^/    /'
  if [ $rc = 0 ]; then echo "DAX-SETUP $name PASS"
  else echo "DAX-SETUP $name FAIL exit=$rc: $(echo "$out" | tail -n 1)"; fi
  return $rc
}
finish() {
  echo "DAX-DONE"
  # No sync, no umount: what the tests persisted must survive a power cut.
  poweroff -f
  sleep 30
}

log "config=$CONFIG platform=$PLATFORM phase=$PHASE kernel=$(uname -r) arch=$(uname -m) cpus=$(nproc)"
log "cpu flush flags: $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | grep -o -wE 'clflush|clflushopt|clwb|avx512f|movdir64b|dcpop|dcpodp' | sort -u | tr '\n' ' ')"

for m in $(cat /etc/dax-modules); do
  insmod "/lib/modules/$m.ko" 2>&1 | sed 's/^/    /'
  grep -q "^$m " /proc/modules || echo "DAX-SETUP insmod-$m FAIL"
done

# wait (up to 10 s) for the persistent memory devices to be probed
wait_for() {
  i=0
  while [ $i -lt 100 ]; do
    ok=1
    for p in "$@"; do [ -e "$p" ] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

dump_sysfs() {
  for r in /sys/bus/nd/devices/region*; do
    [ -d "$r" ] || continue
    for a in devtype nstype size align persistence_domain deep_flush; do
      if [ -e "$r/$a" ]; then log "sysfs $r/$a = $(cat "$r/$a" 2>&1 | tr '\n' ' ')"
      else log "sysfs $r/$a = <absent>"; fi
    done
  done
  for d in /sys/bus/dax/devices/*; do
    [ -d "$d" ] && log "sysfs $d: size=$(cat "$d/size") align=$(cat "$d/align" 2>/dev/null)"
  done
  log "devices: $(ls /dev/pmem* /dev/dax* 2>/dev/null | tr '\n' ' ')"
}

# ext4 goes on the first block device, xfs on the second (xfs needs 300 MiB at least)
DEVDAX=
if [ "$PLATFORM" = virtio ]; then
  step devices wait_for /dev/pmem0 /dev/pmem1
  EXT4_DEV=/dev/pmem0; XFS_DEV=/dev/pmem1
else
  step devices wait_for /sys/bus/nd/devices/region0 /sys/bus/nd/devices/region1
  if [ "$PHASE" = write ]; then
    # The DIMMs have a label area and start without labels: initialise them, then carve
    # region0 into two fsdax namespaces and region1 into one devdax namespace.
    step init-labels sh -c 'ndctl disable-region all && ndctl init-labels -f all && ndctl enable-region all'
    step namespace-ext4 ndctl create-namespace -r region0 -m fsdax -s 384M
    step namespace-xfs ndctl create-namespace -r region0 -m fsdax
    step namespace-devdax ndctl create-namespace -r region1 -m devdax
  fi
  step namespaces wait_for /dev/pmem0 /dev/pmem0.1
  EXT4_DEV=/dev/pmem0; XFS_DEV=/dev/pmem0.1
  wait_for /dev/dax1.0
  DEVDAX=$(ls /dev/dax* 2>/dev/null | head -n 1)
  [ -n "$DEVDAX" ] && echo "DAX-SETUP devdax PASS $DEVDAX" || echo "DAX-SETUP devdax FAIL no /dev/dax*"
fi
dump_sysfs

if [ "$PHASE" = write ]; then
  step mkfs-ext4 mkfs.ext4 -q -F -b 4096 "$EXT4_DEV"
  # reflink and DAX are mutually exclusive on 6.1
  step mkfs-xfs mkfs.xfs -q -f -m reflink=0 "$XFS_DEV"
fi
DIRS=
step mount-ext4 mount -t ext4 -o dax "$EXT4_DEV" /mnt/ext4 && DIRS=/mnt/ext4
step mount-xfs mount -t xfs -o dax "$XFS_DEV" /mnt/xfs && DIRS=${DIRS:+$DIRS:}/mnt/xfs
grep -E ' /mnt/(ext4|xfs) ' /proc/mounts | sed 's/^/    /'

export PMEM2_DAX_FSDAX_DIRS=$DIRS PMEM2_DAX_PLATFORM=$PLATFORM PMEM2_DAX_PHASE=$PHASE
[ -n "$DEVDAX" ] && export PMEM2_DAX_DEVDAX=$DEVDAX
export RUST_BACKTRACE=1
log "running the DAX suite: dirs=$DIRS devdax=$DEVDAX platform=$PLATFORM phase=$PHASE"
# a hung test must not hang the boot: the harness then reports the test that did not finish
# --include-ignored: the suite is #[ignore]d outside this guest (it needs PMEM2_DAX_*)
timeout -s KILL "$SUITE_TIMEOUT" /dax/dax-tests --include-ignored --test-threads=1 --nocapture
rc=$?
echo
echo "DAX-TESTS-EXIT rc=$rc"

if [ "$PHASE" = write ] && [ "$EMU_TESTS" = 1 ]; then
  # The pmem2 tests whose premise QEMU's user mode breaks (ci/aarch64-qemu.sh reports them
  # as skipped), run for real on this kernel, on tmpfs: the temporary directory, the
  # integration tests' CARGO_TARGET_TMPDIR (the host's path, compiled in) and /dev/shm.
  mkdir -p /dev/shm "$(cat /dax/emu-tmpdir)"
  mount -t tmpfs tmpfs /dev/shm
  mount -t tmpfs tmpfs "$(cat /dax/emu-tmpdir)"
  for t in /dax/emu/*; do
    name=${t##*/}
    # the unit tests run from the ext4 mount: a FIEMAP test needs the directory of its
    # binary on a disk file system (/dax is on the initramfs's tmpfs)
    if [ "$name" = lib ] && grep -q ' /mnt/ext4 ' /proc/mounts; then
      cp "$t" /mnt/ext4/pmem2-unit-tests && t=/mnt/ext4/pmem2-unit-tests
    fi
    log "running $name (tests that skip under QEMU user mode) from $t"
    echo "DAX-EMU-BEGIN $name"
    # no backtraces: symbolising one takes seconds under TCG (the panic names its line);
    # reservation.rs's 16-thread stress test does 4000 operations, not 100000 (28 s here);
    # one test at a time, as under QEMU's user mode (tests that read /proc/self/maps for a
    # range just freed must not see another test's map land there)
    (cd /tmp && env -u PMEM2_DAX_FSDAX_DIRS -u PMEM2_DAX_DEVDAX -u PMEM2_DAX_PLATFORM \
      -u PMEM2_DAX_PHASE TMPDIR=/tmp RUST_BACKTRACE=0 PMEM2_STRESS_OPS=4000 \
      timeout -s KILL 90 "$t" --test-threads=1 2>&1)
    rc=$?
    echo
    echo "DAX-EMU-END $name rc=$rc"
  done
  rm -f /mnt/ext4/pmem2-unit-tests
  log "tests that skip under QEMU user mode: done"
fi

if [ "$PHASE" = write ]; then
  info() {
    echo "DAX-INFO-BEGIN $1"
    /dax/pmem2 info --json "$1" 2>/tmp/info.err
    rc=$?
    echo
    echo "DAX-INFO-END rc=$rc"
    sed 's/^/DAX-INFO-STDERR /' /tmp/info.err
  }
  for d in $(echo "$DIRS" | tr ':' ' '); do
    dd if=/dev/zero of="$d/pmem2-info" bs=1M count=4 2>/dev/null
    info "$d/pmem2-info"
  done
  [ -n "$DEVDAX" ] && info "$DEVDAX"
fi
finish
