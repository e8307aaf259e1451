//! A tiny redo log for crash-state exploration (`pmem2 check --explore`,
//! `docs/check.md`): the program and its own consistency checker.
//!
//! usage:
//! * `check_redo run FILE` — three transactions, correctly ordered: log
//!   entries persisted, then the commit count, then the table updates;
//! * `check_redo run-buggy FILE` — the same with the commit count persisted
//!   *before* the log entries (flag before data);
//! * `check_redo verify IMAGE` — the checker: exit 0 when the image is
//!   consistent (no committed log, or every committed entry intact), 1 if
//!   not.
//!
//! Layout: the commit count (u64) at 0; up to 8 log entries of 24 bytes
//! (table offset, value, check word `!value ^ offset`) from 64; a table of
//! 16 u64 from 4096.

mod common;

use std::process::ExitCode;

use common::plain_store;
use pmem2::{Config, Granularity, Map, Source};

const COMMIT: usize = 0;
const LOG: usize = 64;
const TABLE: usize = 4096;
const SLOTS: u64 = 16;

fn get(image: &[u8], offset: usize) -> u64 {
    u64::from_ne_bytes(image[offset..offset + 8].try_into().unwrap())
}

fn transaction(map: &mut Map, updates: &[(u64, u64)], buggy: bool) -> pmem2::Result<()> {
    // A named region (`|redo_tx.BEGIN` ... `|redo_tx.END` in the store
    // log): `pmem2 check --explore --markers redo_tx=Engine` (pmreorder's
    // `-x`) chooses how crash states inside it are explored.
    pmem2::check::point("redo_tx.BEGIN");
    for (i, &(slot, value)) in updates.iter().enumerate() {
        let entry = LOG + i * 24;
        let offset = TABLE as u64 + slot * 8;
        plain_store(map, entry, offset);
        plain_store(map, entry + 8, value);
        plain_store(map, entry + 16, !value ^ offset);
    }
    let log_len = updates.len() * 24;
    if !buggy {
        map.persist(LOG, log_len)?;
    }
    plain_store(map, COMMIT, updates.len() as u64);
    map.persist(COMMIT, 8)?;
    if buggy {
        map.persist(LOG, log_len)?;
    }
    for &(slot, value) in updates {
        plain_store(map, TABLE + slot as usize * 8, value);
    }
    map.persist(TABLE, SLOTS as usize * 8)?;
    plain_store(map, COMMIT, 0);
    map.persist(COMMIT, 8)?;
    pmem2::check::point("redo_tx.END");
    Ok(())
}

fn run(path: &str, buggy: bool) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.set_len(16 * 1024)?;
    let mut map = Map::new(
        &Config::with_granularity(Granularity::Page),
        &Source::from_file(&file)?,
    )?;
    transaction(&mut map, &[(1, 100), (2, 200)], buggy)?;
    transaction(&mut map, &[(3, 300), (1, 101), (7, 700)], buggy)?;
    transaction(&mut map, &[(2, 201)], buggy)?;
    map.delete().map_err(|e| e.error)?;
    Ok(())
}

/// Whether a crash image is consistent: a committed log must be intact.
fn consistent(image: &[u8]) -> bool {
    let n = get(image, COMMIT);
    if n > 8 {
        return false;
    }
    (0..n as usize).all(|i| {
        let entry = LOG + i * 24;
        let (offset, value, check) = (
            get(image, entry),
            get(image, entry + 8),
            get(image, entry + 16),
        );
        (TABLE as u64..TABLE as u64 + SLOTS * 8).contains(&offset) && check == !value ^ offset
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1..).unwrap_or_default() {
        [mode, path] if mode == "run" => run(path, false),
        [mode, path] if mode == "run-buggy" => run(path, true),
        [mode, image] if mode == "verify" => {
            return match std::fs::read(image) {
                Ok(image) if image.len() >= TABLE => ExitCode::from(u8::from(!consistent(&image))),
                Ok(_) => ExitCode::from(2),
                Err(err) => {
                    eprintln!("check_redo verify: {image}: {err}");
                    ExitCode::from(2)
                }
            };
        }
        _ => {
            eprintln!("usage: check_redo run|run-buggy FILE | check_redo verify IMAGE");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("check_redo: {err}");
            ExitCode::FAILURE
        }
    }
}
