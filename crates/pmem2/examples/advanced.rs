//! Mapping part of a file: offsets, lengths, alignment and granularity.
//!
//! `Map::new` takes an offset and a length, but both must be multiples of
//! the source's alignment (the page size for files, the device alignment —
//! often 2 MiB — for a device DAX). This example maps an arbitrary byte
//! range by widening it to the alignment, then works inside the requested
//! part only. It also asks for the finest granularity first and falls back
//! when the platform can't give it, printing why, and makes just the
//! written range durable.
//!
//! ```sh
//! cargo run -p pmem2 --example advanced                          # temp file, 97 KiB + 65 KiB
//! cargo run -p pmem2 --example advanced -- FILE OFFSET LENGTH    # bytes of FILE (overwritten)
//! pmem2 check --explore --checker "target/release/examples/advanced verify" \
//!     -- target/release/examples/advanced                        # every crash state of a run
//! ```
//!
//! `advanced verify IMAGE` is the crash-consistency checker of a run with
//! the default range on a new (zeroed) file; IMAGE is the map's contents.
//! Exit status 0 when it is a state a crash could leave, 1 if not, 2 when
//! it can't be read.

mod common;

use std::fs::File;

use pmem2::{Config, Error, Granularity, Map, Source};

use common::PoolFile;

/// The file to map: the first argument, or a temporary file removed on drop.
/// Maps `[offset, offset + len)` of `source`, widened to its alignment,
/// with the finest granularity available. Returns the map and where the
/// requested range starts inside it.
fn map_range(source: &Source<'_>, offset: usize, len: usize) -> pmem2::Result<(Map, usize)> {
    let alignment = source.alignment()?;
    let size = source.size()?;
    let start = offset / alignment * alignment;
    let end = (offset + len).next_multiple_of(alignment);
    println!(
        "alignment {alignment}: mapping [{start}, {end}) to reach [{offset}, {})",
        offset + len
    );

    let mut config = Config::new();
    config.set_offset(start)?;
    // A file whose size isn't aligned can still be mapped to its very end:
    // length 0 means "to the end of the source".
    config.set_length(if end > size { 0 } else { end - start });

    // Ask for the finest granularity; each refusal says why. Page, the
    // last resort, is available everywhere.
    for granularity in [Granularity::Byte, Granularity::CacheLine] {
        config.set_required_store_granularity(granularity);
        match Map::new(&config, source) {
            Ok(map) => return Ok((map, offset - start)),
            Err(e @ Error::GranularityNotSupported(_)) => {
                println!("granularity {granularity} refused: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    config.set_required_store_granularity(Granularity::Page);
    Ok((Map::new(&config, source)?, offset - start))
}

/// The default range: offset and length.
const OFFSET: usize = 97 << 10;
const LEN: usize = 65 << 10;

/// The byte the pattern puts at `i` bytes into the range.
fn pattern_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Whether `image` (the map of the default range, on a zeroed file) is a
/// state a crash could leave: zeros outside the range; inside, each 64-byte
/// line wholly zero or wholly the pattern (a line is never torn, and
/// nothing but the pattern is written). The map's start inside the file
/// follows from its size: the alignment that widens the range to exactly
/// that size.
fn consistent(image: &[u8]) -> bool {
    let inner = (12..=30).map(|shift| 1usize << shift).find_map(|a| {
        let start = OFFSET / a * a;
        ((OFFSET + LEN).next_multiple_of(a) - start == image.len()).then_some(OFFSET - start)
    });
    let Some(inner) = inner else {
        return false;
    };
    let outside_zero =
        image[..inner].iter().all(|&b| b == 0) && image[inner + LEN..].iter().all(|&b| b == 0);
    outside_zero
        && image[inner..inner + LEN]
            .chunks(64)
            .enumerate()
            .all(|(n, line)| {
                line.iter().all(|&b| b == 0)
                    || line
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == pattern_byte(n * 64 + i))
            })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("advanced", consistent);
    let mut args = std::env::args().skip(1);
    let pool = PoolFile::new(args.next(), "advanced", 1 << 20)?;
    let offset: usize = args.next().map_or(Ok(OFFSET), |s| s.parse())?;
    let len: usize = args.next().map_or(Ok(LEN), |s| s.parse())?;

    let file = File::options().read(true).write(true).open(&pool.path)?;
    let source = Source::from_file(&file)?;
    let size = source.size()?;
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(format!("[{offset}, +{len}) is outside the file ({size} bytes)").into());
    }

    let (mut map, inner) = map_range(&source, offset, len)?;
    println!(
        "mapped {} bytes with granularity {} (MAP_SYNC {}); the range starts at map offset {inner}",
        map.size(),
        map.store_granularity(),
        if map.map_sync() { "on" } else { "off" }
    );

    // Write a pattern into the requested range only and persist just it.
    let pattern: Vec<u8> = (0..len).map(pattern_byte).collect();
    map.copy_from_slice(inner, &pattern, pmem2::mem::MemFlags::NOFLUSH)?;
    map.persist(inner, len)?;

    // Bytes outside the map are out of reach: the safe API checks ranges.
    let past_end = map.write(map.size(), b"x").unwrap_err();
    println!(
        "writing past the map: {past_end} ({})",
        past_end.code_name()
    );

    let mut back = vec![0u8; len];
    map.read(inner, &mut back)?;
    assert_eq!(back, pattern);
    println!("{len} bytes at file offset {offset} written, persisted and read back");
    Ok(())
}
