//! The workload of the checker's overhead benchmark (`ci/check-bench.sh`,
//! `docs/check.md`): appends records of SIZE bytes to a log in FILE (plain
//! stores, then one persist per record) until TOTAL bytes were written,
//! and prints the time per record of the append loop in nanoseconds.
//! `sparse` mode: a map of TOTAL bytes of which each of N steps writes 8
//! bytes on one page, persists them and marks a named crash point (which
//! compares the whole map, or with write-tracking only the pages written);
//! prints the time per step.
//!
//! usage: `check_bench SIZE TOTAL FILE` | `check_bench sparse N TOTAL FILE`

use std::time::Instant;

use pmem2::{Config, Granularity, Map, Source};

fn map_file(path: &str, total: usize) -> Result<(std::fs::File, Map), Box<dyn std::error::Error>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.set_len(total as u64)?;
    let map = Map::new(
        &Config::with_granularity(Granularity::Page),
        &Source::from_file(&file)?,
    )?;
    Ok((file, map))
}

/// `sparse`: few pages written in a large map, a crash point per step.
fn sparse(steps: usize, total: usize, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (_file, mut map) = map_file(path, total)?;
    let pages = total / 4096;
    let start = Instant::now();
    for i in 0..steps {
        let at = (i * 7919 % pages) * 4096;
        map.write(at, &(i as u64).to_ne_bytes())?;
        pmem2::check::point("step");
    }
    println!("{}", start.elapsed().as_nanos() / steps as u128);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, steps, total, path] = args.as_slice() {
        if mode == "sparse" {
            return sparse(steps.parse()?, total.parse()?, path);
        }
    }
    let [_, size, total, path] = args.as_slice() else {
        eprintln!("usage: check_bench SIZE TOTAL FILE | check_bench sparse N TOTAL FILE");
        std::process::exit(2);
    };
    let (size, total): (usize, usize) = (size.parse()?, total.parse()?);
    let (_file, map) = map_file(path, total)?;
    let record: Vec<u8> = (0..size).map(|i| (i % 251) as u8 + 1).collect();
    let records = total / size;
    let start = Instant::now();
    for i in 0..records {
        // SAFETY: record i lies inside the map; `record` is a distinct
        // buffer; no reference to the mapped bytes is created.
        unsafe {
            std::ptr::copy_nonoverlapping(record.as_ptr(), map.addr().add(i * size), size);
        }
        map.persist(i * size, size)?;
    }
    let ns = start.elapsed().as_nanos() / records as u128;
    println!("{ns}");
    Ok(())
}
