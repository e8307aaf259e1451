//! Several files mapped back to back in one virtual-memory reservation,
//! then written with a single memset that runs across all of them.
//!
//! A [`VmReservation`] holds an address range; `Config::set_vm_reservation`
//! places each map at a chosen offset inside it, so the files end up
//! adjacent in memory. The memory functions depend only on the store
//! granularity, so maps of equal granularity hand out the *same* memset
//! function, and one call may cover them all: that call is the one `unsafe`
//! block here, and its safety argument is that the maps tile the range.
//!
//! ```sh
//! cargo run -p pmem2 --example map_multiple_files              # three temporary files
//! cargo run -p pmem2 --example map_multiple_files -- F1 F2...  # existing files (overwritten)
//! ```
//!
//! `map_multiple_files verify IMAGE` is the crash-consistency checker of a
//! run on new (zeroed) files, for `pmem2 check --explore`; IMAGE is one
//! file's map. Exit status 0 when a crash could leave it (each 64-byte
//! line wholly zero or wholly filled: the memset's lines reach the file in
//! any order, each as a whole), 1 if not, 2 when it can't be read.

mod common;

use std::fs::File;
use std::path::PathBuf;

use pmem2::mem::MemFlags;
use pmem2::{Config, Granularity, Map, Source, VmReservation};

/// The files to map: the arguments, or temporary files removed on drop.
struct PoolFiles {
    paths: Vec<PathBuf>,
    temporary: bool,
}

impl PoolFiles {
    fn from_args() -> std::io::Result<Self> {
        let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        if !args.is_empty() {
            return Ok(PoolFiles {
                paths: args,
                temporary: false,
            });
        }
        let dir = std::env::temp_dir();
        let mut files = PoolFiles {
            paths: Vec::new(),
            temporary: true,
        };
        for (i, size) in [64u64 << 10, 256 << 10, 128 << 10].into_iter().enumerate() {
            let path = dir.join(format!("pmem2-multi-{}-{i}", std::process::id()));
            files.paths.push(path.clone());
            File::create(&path)?.set_len(size)?;
        }
        Ok(files)
    }
}

impl Drop for PoolFiles {
    fn drop(&mut self) {
        if self.temporary {
            for p in &self.paths {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// The byte the memset fills the files with.
const FILL: u8 = b'-';

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each line of a crash image is all zeros or all FILL.
    common::exit_if_verify("map_multiple_files", |image| {
        image
            .chunks(64)
            .all(|l| l.iter().all(|&b| b == 0) || l.iter().all(|&b| b == FILL))
    });
    let pool = PoolFiles::from_args()?;
    let files = pool
        .paths
        .iter()
        .map(|p| File::options().read(true).write(true).open(p))
        .collect::<std::io::Result<Vec<_>>>()?;
    let sources = files
        .iter()
        .map(Source::from_file)
        .collect::<pmem2::Result<Vec<_>>>()?;

    // Every map must start at a multiple of its source's alignment, and
    // occupies whole pages: lay them out with the largest alignment.
    let mut alignment = 0;
    for s in &sources {
        alignment = alignment.max(s.alignment()?);
    }
    let mut offsets = Vec::new();
    let mut total = 0;
    for s in &sources {
        offsets.push(total);
        total += s.size()?.next_multiple_of(alignment);
    }
    let reservation = VmReservation::new(None, total)?;
    println!(
        "reserved {total} bytes at {:p} for {} files",
        reservation.addr(),
        sources.len()
    );

    let mut maps = Vec::new();
    for ((source, &offset), path) in sources.iter().zip(&offsets).zip(&pool.paths) {
        let mut config = Config::with_granularity(Granularity::Page);
        config.set_vm_reservation(Some(&reservation), offset);
        let map = Map::new(&config, source)?;
        println!(
            "  {} at +{offset} ({} bytes, {})",
            path.display(),
            map.size(),
            map.store_granularity()
        );
        maps.push(map);
    }

    // One function for all: equal granularity means the identical pointer.
    let memset = pmem2::mem::memset_fn(maps[0].store_granularity());
    for map in &maps[1..] {
        if map.store_granularity() != maps[0].store_granularity()
            || pmem2::mem::memset_fn(map.store_granularity()) as usize != memset as usize
        {
            return Err("the files have different store granularities".into());
        }
    }

    // SAFETY: the maps tile [addr, addr + total) of the reservation without
    // gaps: each starts where the previous one's (alignment-rounded) size
    // ends, each is writable, and no one else accesses them while they are
    // alive. The bytes past the end of a file inside its last page are part
    // of the mapping and are simply not written back to the file.
    unsafe {
        memset(
            reservation.addr().cast(),
            i32::from(FILL),
            total,
            MemFlags::NONTEMPORAL.bits(),
        );
    }

    for map in &maps {
        let mut contents = vec![0u8; map.size()];
        map.read(0, &mut contents)?;
        assert!(contents.iter().all(|&b| b == FILL));
    }
    println!(
        "one memset of {total} bytes filled all {} files",
        maps.len()
    );

    for map in maps {
        map.delete()?;
    }
    reservation.delete()?;
    Ok(())
}
