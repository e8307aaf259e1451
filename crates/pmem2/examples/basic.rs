//! The smallest complete pmem2 program: map a file, store a string, make
//! it durable, read it back.
//!
//! It shows the three objects every pmem2 program has — a [`Source`] (what
//! to map), a [`Config`] (how: here the required store granularity, `Page`,
//! which every file system provides) and a [`Map`] — and the two ways to
//! make stores durable: `Map::write`, which copies and persists in one call,
//! and a copy that skips the flush (`MemFlags::NOFLUSH`) followed by an
//! explicit `Map::persist` of the range.
//!
//! ```sh
//! cargo run -p pmem2 --example basic            # a temporary file
//! cargo run -p pmem2 --example basic -- FILE    # FILE (at least 4 KiB, or created; overwritten)
//! pmem2 check --explore --checker "target/release/examples/basic verify" \
//!     -- target/release/examples/basic            # every crash state of a run
//! ```
//!
//! `basic verify IMAGE` is the crash-consistency checker of a run on a new
//! (zeroed) file: exit status 0 when IMAGE is a state a crash could leave,
//! 1 if not, 2 when it can't be read.

mod common;

use std::fs::File;

use pmem2::mem::MemFlags;
use pmem2::{Config, Granularity, Map, Source};

use common::PoolFile;

/// The file to map: the first argument, or a temporary file removed on drop.
const GREETING: &[u8] = b"hello, persistent memory";
const SECOND: &[u8] = b"written, then persisted";

/// Whether `image` is a state a crash of a run on a zeroed file could
/// leave: each string wholly absent (zeros) or present, the second only
/// after the first (`Map::write` is durable on return), nothing else
/// written.
fn consistent(image: &[u8]) -> bool {
    if image.len() < 64 + SECOND.len() {
        return false;
    }
    let field = |at: usize, text: &[u8]| -> Option<bool> {
        let bytes = &image[at..at + text.len()];
        if bytes == text {
            Some(true)
        } else if bytes.iter().all(|&b| b == 0) {
            Some(false)
        } else {
            None
        }
    };
    let (Some(first), Some(second)) = (field(0, GREETING), field(64, SECOND)) else {
        return false;
    };
    let rest_zero = image[GREETING.len()..64].iter().all(|&b| b == 0)
        && image[64 + SECOND.len()..].iter().all(|&b| b == 0);
    rest_zero && (first || !second)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("basic", consistent);
    let pool = PoolFile::new(std::env::args_os().nth(1), "basic", 4096)?;
    let file = File::options().read(true).write(true).open(&pool.path)?;

    // What to map, and how: the coarsest granularity this program can
    // handle. Page means "msync makes my stores durable", true everywhere.
    let source = Source::from_file(&file)?;
    let config = Config::with_granularity(Granularity::Page);
    let mut map = Map::new(&config, &source)?;
    println!(
        "{}: mapped {} bytes, store granularity {}",
        pool.path.display(),
        map.size(),
        map.store_granularity()
    );

    // One call: copy and make durable.
    let greeting = GREETING;
    map.write(0, greeting)?;

    // Or two steps: copy without flushing, then persist the range. This is
    // how several stores are made durable with one persist.
    let second = SECOND;
    map.copy_from_slice(64, second, MemFlags::NOFLUSH)?;
    map.persist(64, second.len())?;

    let mut back = vec![0u8; greeting.len()];
    map.read(0, &mut back)?;
    assert_eq!(back, greeting);
    println!("read back: {}", String::from_utf8_lossy(&back));

    // Unmaps and reports errors; dropping the map would unmap too.
    map.delete()?;
    Ok(())
}
