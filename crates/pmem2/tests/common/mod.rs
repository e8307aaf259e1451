//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file removed on drop.
pub struct TempFile {
    pub path: PathBuf,
    pub file: File,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// tmpfs (page cache, no DAX) and a disk-backed directory.
pub fn test_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR"))];
    if Path::new("/dev/shm").is_dir() {
        dirs.push(PathBuf::from("/dev/shm"));
    }
    dirs
}

/// Reports that `test` did not check anything here and why, on the real
/// stderr (libtest captures `println!`/`eprintln!`, not direct writes), so
/// a skip shows in `cargo test`'s output instead of passing silently.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    // One write, so the line isn't cut by the harness's own output.
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Creates a read-write file of `len` bytes filled with `fill`.
pub fn temp_file_in(dir: &Path, len: usize, byte: u8) -> TempFile {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(format!(
        "pmem2-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, vec![byte; len]).unwrap();
    let file = File::options().read(true).write(true).open(&path).unwrap();
    TempFile { path, file }
}

pub fn temp_file(len: usize) -> TempFile {
    temp_file_in(&test_dirs()[0], len, 0)
}

pub fn page() -> usize {
    pmem2::persist::page_size()
}

/// Whether `MAP_SHARED_VALIDATE | MAP_SYNC` is accepted on a file of the
/// first test directory, which a kernel refuses unless the file is on DAX:
/// QEMU's user mode (CI's `aarch64` run) passes the flag through as
/// `MAP_SHARED`. A test whose premise is "no `MAP_SYNC` here" then reports
/// a skip ([`MAP_SYNC_WHY`]); the x86-64 run and the arm64 DAX guest,
/// on a real kernel, check it.
///
/// QEMU 7.2 accepts the flags only with `MAP_FIXED` (as pmem2 maps, over its
/// reservation), so the probe maps the same way.
pub fn map_sync_ignored() -> bool {
    use rustix::mm::{MapFlags, ProtFlags};
    use std::os::fd::AsFd;
    let f = temp_file(page());
    // SAFETY: a fresh inaccessible range chosen by the kernel, unmapped below.
    let hole = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            page(),
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::NORESERVE,
        )
    }
    .unwrap();
    // SAFETY: replaces the range reserved above, which nothing refers to.
    let mapped = unsafe {
        rustix::mm::mmap(
            hole,
            page(),
            ProtFlags::READ,
            MapFlags::SHARED_VALIDATE | MapFlags::SYNC | MapFlags::FIXED,
            f.file.as_fd(),
            0,
        )
    };
    // SAFETY: the range reserved above (whatever is mapped there now).
    unsafe { rustix::mm::munmap(hole, page()) }.unwrap();
    mapped.is_ok()
}

/// Whether this runs under QEMU's user mode, seen from an ioctl no regular
/// file implements failing with `ENOSYS` (QEMU can't translate it) instead
/// of the kernel's `ENOTTY`. There, cache maintenance (`DC CVAC`) touches
/// no memory, so a flush of a truncated file's pages never faults.
pub fn user_mode_emulator() -> bool {
    use std::os::fd::AsRawFd;
    let f = temp_file(page());
    let mut buf = [0u8; 32];
    // SAFETY: a request no regular file implements (`_IOWR('N', 1, 32
    // bytes)`), with a buffer of the size its number encodes.
    let rc = unsafe { libc::ioctl(f.file.as_raw_fd(), 0xc020_4e01, buf.as_mut_ptr()) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
}

/// Why a test skips when [`user_mode_emulator`].
pub const NO_FAULTING_FLUSH_WHY: &str =
    "cache maintenance never faults under QEMU user mode (DC CVAC touches no memory); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";

/// Why a fatal-fault scenario skips when [`user_mode_emulator`].
pub const FATAL_FAULT_WHY: &str =
    "QEMU user mode (7.2) can deadlock delivering a fatal SIGBUS from a memory fault (two threads left waiting on a futex, seen in CI); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";

/// Why a `/proc/self/maps` check skips when [`user_mode_emulator`] lists
/// nothing for a range the test knows is mapped.
pub const PROC_MAPS_WHY: &str =
    "QEMU user mode's emulated /proc/self/maps listed nothing for a reserved (PROT_NONE) range while other test threads mapped and unmapped (seen once in CI); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";

/// Why a test skips when [`map_sync_ignored`].
pub const MAP_SYNC_WHY: &str =
    "MAP_SYNC is accepted on a non-DAX file here (QEMU user mode ignores the flag); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";

/// A command running this test binary again. Under an emulator (CI's
/// `aarch64` run under `qemu-aarch64`, without `binfmt_misc`) the binary
/// can't be executed directly: `PMEM2_TEST_RUNNER`, when set, is the
/// command line to run it with (the same as cargo's runner).
pub fn self_command() -> std::process::Command {
    let exe = std::env::current_exe().unwrap();
    let runner = std::env::var("PMEM2_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = std::process::Command::new(program);
            cmd.args(words).arg(exe);
            cmd
        }
        None => std::process::Command::new(exe),
    }
}

/// The examples' helpers (the checker's tests use their plain store).
#[path = "../../examples/common/mod.rs"]
mod examples_common;
#[allow(unused_imports)] // as dead_code above: not every test binary stores
pub use examples_common::plain_store;

/// The checker's report so far, as `pmem2 check --json` prints it.
pub fn check_report(checker: &pmem2::check::Checker) -> serde_json::Value {
    serde_json::from_str(&format!("{checker:#}")).unwrap()
}

/// Lines the checker reported not flushed at the point named `point`.
pub fn not_flushed_at(checker: &pmem2::check::Checker, point: &str) -> u64 {
    check_report(checker)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "not_flushed" && f["point"] == format!("point {point:?}"))
        .map(|f| f["count"].as_u64().unwrap())
        .sum()
}
