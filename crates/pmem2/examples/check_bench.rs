//! The workload of the checker's overhead benchmark (`ci/check-bench.sh`,
//! `docs/check.md`): appends records of SIZE bytes to a log in FILE (plain
//! stores, then one persist per record) until TOTAL bytes were written,
//! and prints the time per record of the append loop in nanoseconds.
//!
//! usage: `check_bench SIZE TOTAL FILE`

use std::time::Instant;

use pmem2::{Config, Granularity, Map, Source};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, size, total, path] = args.as_slice() else {
        eprintln!("usage: check_bench SIZE TOTAL FILE");
        std::process::exit(2);
    };
    let (size, total): (usize, usize) = (size.parse()?, total.parse()?);
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
