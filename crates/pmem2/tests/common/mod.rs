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
