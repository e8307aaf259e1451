//! What the examples share, apart from pmem2: the file they work on, their
//! `verify IMAGE` mode, the crash-state checker that
//! `pmem2 check --explore --checker "EXAMPLE verify"` runs on each possible
//! crash image (ci/check.sh explores every example so), and the plain store
//! of the checker's fixtures.

// Each example includes this module and uses what it needs of it.
#![allow(dead_code)]

use std::fs::File;
use std::path::PathBuf;

/// The file an example works on: the path given on its command line (made
/// `size` bytes long if it doesn't exist), or a temporary file removed
/// when the value is dropped.
pub struct PoolFile {
    pub path: PathBuf,
    temporary: bool,
}

impl PoolFile {
    /// `given`, or `$TMPDIR/pmem2-NAME-PID`; created with `size` bytes when
    /// it doesn't exist.
    ///
    /// # Errors
    /// Creating or sizing the file failed.
    pub fn new(given: Option<impl Into<PathBuf>>, name: &str, size: u64) -> std::io::Result<Self> {
        let pool = match given {
            Some(path) => PoolFile {
                path: path.into(),
                temporary: false,
            },
            None => PoolFile {
                path: std::env::temp_dir().join(format!("pmem2-{name}-{}", std::process::id())),
                temporary: true,
            },
        };
        if !pool.path.exists() {
            File::create(&pool.path)?.set_len(size)?;
        }
        Ok(pool)
    }
}

impl Drop for PoolFile {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// When the arguments are `verify IMAGE`, exits with the verdict on the
/// image file: 0 when `consistent` accepts it, 1 when not (pmreorder's
/// convention), 2 when it can't be read or the arguments are wrong.
pub fn exit_if_verify(name: &str, consistent: impl Fn(&[u8]) -> bool) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("verify") {
        return;
    }
    let [_, image] = &args[..] else {
        eprintln!("usage: {name} verify IMAGE");
        std::process::exit(2);
    };
    std::process::exit(match std::fs::read(image) {
        Ok(image) => i32::from(!consistent(&image)),
        Err(err) => {
            eprintln!("{name} verify: {image}: {err}");
            2
        }
    });
}

/// A plain 8-byte store at `offset` of `map`, as a C program writing
/// through a pointer into the mapping makes it: not through a pmem2 call,
/// so the checker finds it by comparing (or write-tracking) the map's pages.
/// The checker's fixtures and its integration tests (`tests/common`) use it.
pub fn plain_store(map: &pmem2::Map, offset: usize, value: u64) {
    assert!(offset + 8 <= map.size());
    // SAFETY: inside the map, which the caller made writable; volatile, as
    // the checker reads the bytes; no reference to mapped bytes is kept.
    unsafe {
        map.addr()
            .add(offset)
            .cast::<[u8; 8]>()
            .write_volatile(value.to_ne_bytes());
    }
}
