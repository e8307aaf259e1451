//! Crash-state exploration with a Rust consistency checker
//! (`Checker::start_exploring`). The checker must be started before the
//! first map, so this binary holds one test: a tiny redo log (the layout of
//! `examples/check_redo.rs`) runs correctly ordered first, and every crash
//! state passes; then with its commit count persisted before the log
//! entries (flag before data), and exploration finds a state the checker
//! rejects.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{check_report, not_flushed_at, plain_store};
use pmem2::check::Checker;
use pmem2::{Config, Granularity, Map, Source};
use serde_json::Value;

const COMMIT: usize = 0;
const LOG: usize = 64;
const TABLE: usize = 4096;

fn get(image: &[u8], offset: usize) -> u64 {
    u64::from_ne_bytes(image[offset..offset + 8].try_into().unwrap())
}

/// A committed log (count at 0) must hold that many intact entries
/// (offset, value, `!value ^ offset`) from 64.
fn consistent(image: &[u8]) -> bool {
    let n = get(image, COMMIT);
    n <= 8
        && (0..n as usize).all(|i| {
            let entry = LOG + i * 24;
            let (offset, value) = (get(image, entry), get(image, entry + 8));
            offset >= TABLE as u64 && get(image, entry + 16) == !value ^ offset
        })
}

fn transaction(map: &mut Map, updates: &[(u64, u64)], buggy: bool) {
    for (i, &(slot, value)) in updates.iter().enumerate() {
        let entry = LOG + i * 24;
        let offset = TABLE as u64 + slot * 8;
        plain_store(map, entry, offset);
        plain_store(map, entry + 8, value);
        plain_store(map, entry + 16, !value ^ offset);
    }
    let log_len = updates.len() * 24;
    if !buggy {
        map.persist(LOG, log_len).unwrap();
    }
    plain_store(map, COMMIT, updates.len() as u64);
    map.persist(COMMIT, 8).unwrap();
    if buggy {
        map.persist(LOG, log_len).unwrap();
    }
    for &(slot, value) in updates {
        plain_store(map, TABLE + slot as usize * 8, value);
    }
    map.persist(TABLE, 128).unwrap();
    plain_store(map, COMMIT, 0);
    map.persist(COMMIT, 8).unwrap();
}

fn run(buggy: bool) {
    let file = tempfile::tempfile().unwrap();
    file.set_len(16 * 1024).unwrap();
    let mut map = Map::new(
        &Config::with_granularity(Granularity::Page),
        &Source::from_file(&file).unwrap(),
    )
    .unwrap();
    transaction(&mut map, &[(1, 100), (2, 200)], buggy);
    transaction(&mut map, &[(3, 300), (1, 101), (7, 700)], buggy);
    drop(map);
}

fn crash_states(checker: &Checker) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&format!("{checker:#}")).unwrap();
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "crash_state")
        .cloned()
        .collect()
}

/// Plain stores on a map whose pages are write-tracked (armed at its first
/// exploration point): a store before arming, a store after a fence, a
/// second store to a page
/// already written and seen, a store to a page never written, each found
/// at the next crash point.
fn write_tracked_stores(checker: &Checker) {
    let file = tempfile::tempfile().unwrap();
    file.set_len(64 * 1024).unwrap();
    let map = Map::new(
        &Config::with_granularity(Granularity::Page),
        &Source::from_file(&file).unwrap(),
    )
    .unwrap();
    // (The commit count at 0 stays 0: the closure checks this map too.)
    plain_store(&map, 5 * 4096, 9); // before tracking is armed, never flushed
    plain_store(&map, 4096, 7);
    map.persist(4096, 8).unwrap(); // an exploration point: tracking armed
    plain_store(&map, 3 * 4096, 1); // after the fence
    pmem2::check::point("tracked-1");
    assert_eq!(not_flushed_at(checker, "tracked-1"), 2, "{checker}");
    plain_store(&map, 3 * 4096 + 512, 2); // the same page, seen already
    plain_store(&map, 9 * 4096, 3); // a page not written before
    pmem2::check::point("tracked-2");
    assert_eq!(not_flushed_at(checker, "tracked-2"), 2, "{checker}");
    map.persist(0, map.size()).unwrap();
    drop(map);
    let doc = check_report(checker);
    if doc["maps_write_tracked"] == 0 {
        println!(
            "SKIPPED write-tracked part of closure_checker_finds_flag_before_data: write-tracking \
             off (PMEM2_CHECK_WRITE_TRACKING=0) or refused by the kernel; the same stores were \
             checked by comparing everything"
        );
    }
}

fn explored(checker: &Checker) -> u64 {
    let doc: Value = serde_json::from_str(&format!("{checker:#}")).unwrap();
    doc["explored_states"].as_u64().unwrap()
}

#[test]
#[cfg_attr(miri, ignore = "maps files")]
fn closure_checker_finds_flag_before_data() {
    // Cache-line granularity (forced, as in tests/check.rs): CPU flushes
    // and fences count. The exploration stops at its first failing state,
    // so one process checks one granularity; ci/check.sh runs check_redo's
    // command checker at both.
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "cache_line");
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let checker = Checker::start_exploring(move |image| {
        seen.fetch_add(1, Ordering::Relaxed);
        consistent(image)
    })
    .unwrap();

    run(false);
    let correct = explored(&checker);
    assert!(correct >= 4, "{correct} states explored");
    assert_eq!(calls.load(Ordering::Relaxed), correct);
    assert!(crash_states(&checker).is_empty(), "{checker}");

    write_tracked_stores(&checker);
    assert!(crash_states(&checker).is_empty(), "{checker}");

    let started = std::time::Instant::now();
    run(true);
    let found = crash_states(&checker);
    assert_eq!(found.len(), 1, "{checker}");
    let detail = found[0]["detail"].as_str().unwrap();
    // The state applies the commit count's line (offset 0) and loses the
    // entries' line (0x40); no image file is written for a Rust checker.
    assert!(
        detail.contains("in-flight lines [0x0], lost [0x40]"),
        "{detail}"
    );
    assert!(detail.contains("not written: a Rust checker"), "{detail}");
    assert!(found[0]["durability"].as_bool().unwrap());
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
    drop(checker);
}
