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
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
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
/// a skip ([`MAP_SYNC_WHY`]); the DAX guest, a real kernel, runs it.
pub fn map_sync_ignored() -> bool {
    use std::os::fd::AsFd;
    let f = temp_file(page());
    // SAFETY: a fresh mapping chosen by the kernel, unmapped below.
    let mapped = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            page(),
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED_VALIDATE | rustix::mm::MapFlags::SYNC,
            f.file.as_fd(),
            0,
        )
    };
    match mapped {
        Ok(addr) => {
            // SAFETY: the mapping made above; nothing refers to it.
            unsafe { rustix::mm::munmap(addr, page()) }.unwrap();
            true
        }
        Err(_) => false,
    }
}

/// Why a test skips when [`map_sync_ignored`].
pub const MAP_SYNC_WHY: &str =
    "MAP_SYNC is accepted on a non-DAX file here (QEMU user mode ignores the flag); runs in the DAX guest";

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
