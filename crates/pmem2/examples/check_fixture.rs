//! Fixtures for the crash-consistency checker (`pmem2 check`, `ci/check.sh`):
//! each case carries ONE seeded durability or performance bug, and its
//! `-ok` twin is the correct version.
//!
//! usage: `check_fixture CASE FILE` (FILE is created, 16 KiB)
//!
//! | case | the bug |
//! |---|---|
//! | `missing-flush` | a store never persisted |
//! | `missing-fence` | a store flushed but never drained |
//! | `nt-no-drain` | a non-temporal copy (`NODRAIN`) never drained |
//! | `superfluous-flush` | a persist of a line that was not modified |
//! | `double-flush` | a line flushed twice before the drain |
//! | `persist-before-store` | the persist comes before the store it should cover |
//! | `flag-before-data` | a commit flag made durable (and the commit point reached) before its data |
//!
//! Run it under `pmem2 check -- check_fixture CASE FILE` (or with
//! `PMEM2_CHECK=report`); the expected verdicts per granularity are in
//! `ci/check.sh`.

mod common;

use std::process::ExitCode;

use common::plain_store;
use pmem2::{Config, Granularity, Map, MemFlags, Source};

fn run(case: &str, map: &mut Map) -> pmem2::Result<()> {
    let g = map.store_granularity();
    match case {
        "missing-flush" => {
            plain_store(map, 0, 1);
        }
        "missing-flush-ok" => {
            plain_store(map, 0, 1);
            map.persist(0, 8)?;
        }
        "missing-fence" => {
            plain_store(map, 128, 2);
            map.flush(128, 8)?;
        }
        "missing-fence-ok" => {
            plain_store(map, 128, 2);
            map.flush(128, 8)?;
            map.drain();
        }
        "nt-no-drain" | "nt-no-drain-ok" => {
            let data = vec![0x5a_u8; 4096];
            let memcpy = pmem2::mem::memcpy_fn(g);
            let flags = (MemFlags::NONTEMPORAL | MemFlags::NODRAIN).bits();
            // SAFETY: the 4096 bytes at offset 4096 are inside the writable
            // 16 KiB map; `data` is a distinct buffer.
            unsafe {
                memcpy(
                    map.addr().add(4096).cast(),
                    data.as_ptr().cast(),
                    4096,
                    flags,
                )
            };
            if case.ends_with("-ok") {
                // SAFETY: a drain function takes no arguments.
                unsafe { pmem2::persist::drain_fn(g)() };
            }
        }
        "superfluous-flush" | "superfluous-flush-ok" => {
            plain_store(map, 0, 3);
            map.persist(0, 8)?;
            if case == "superfluous-flush" {
                // Nothing was stored in the last page.
                map.persist(3 * 4096, 8)?;
            }
        }
        "double-flush" | "double-flush-ok" => {
            plain_store(map, 64, 4);
            map.flush(64, 8)?;
            if case == "double-flush" {
                map.flush(64, 8)?;
            }
            map.drain();
        }
        "persist-before-store" => {
            map.persist(256, 8)?;
            plain_store(map, 256, 5);
        }
        "persist-before-store-ok" => {
            plain_store(map, 256, 5);
            map.persist(256, 8)?;
        }
        "flag-before-data" | "flag-before-data-ok" => {
            // A record of 256 bytes at 8192 (another page than the flag, so that
            // at PAGE granularity too the flag's msync does not cover it),
            // valid once the flag at 0 is set.
            map.fill(8192, 256, 0xd0, MemFlags::NOFLUSH)?;
            if case.ends_with("-ok") {
                map.persist(8192, 256)?;
            }
            // The commit is a named region: `|commit.BEGIN` ... `|commit.END`
            // in the store log, around the flag's store, flush and fence.
            pmem2::check::point("commit.BEGIN");
            plain_store(map, 0, 1);
            map.persist(0, 8)?;
            pmem2::check::point("commit.END");
            pmem2::check::point("committed");
            if !case.ends_with("-ok") {
                map.persist(8192, 256)?;
            }
        }
        other => {
            eprintln!("check_fixture: unknown case {other:?}");
            std::process::exit(2);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, case, path] = args.as_slice() else {
        eprintln!("usage: check_fixture CASE FILE");
        return ExitCode::from(2);
    };
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(16 * 1024)?;
        let source = Source::from_file(&file)?;
        let mut map = Map::new(&Config::with_granularity(Granularity::Page), &source)?;
        run(case, &mut map)?;
        map.delete().map_err(|e| e.error)?;
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("check_fixture: {err}");
            ExitCode::FAILURE
        }
    }
}
