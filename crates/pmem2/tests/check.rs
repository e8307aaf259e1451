//! The crash-consistency checker through its Rust API: `Checker::start`
//! must come before the first map, so this binary holds one test, which
//! runs the seeded bugs one after another on cache-line granularity (forced
//! per map through `PMEM2_FORCE_GRANULARITY`, read at each map creation) and
//! checks the findings each adds. The full matrix (both granularities, Rust
//! and C, through `pmem2 check`) is `ci/check.sh`.

mod common;

use std::collections::BTreeMap;

use common::{check_report, plain_store};
use pmem2::check::{self, Checker};
use pmem2::{Config, Granularity, Map, MemFlags, Source};

/// Finding kinds and their counts (lines, or calls) in the report so far.
fn kinds(checker: &Checker) -> BTreeMap<String, u64> {
    let doc = check_report(checker);
    let mut out = BTreeMap::new();
    for f in doc["findings"].as_array().unwrap() {
        *out.entry(f["kind"].as_str().unwrap().to_owned())
            .or_default() += f["count"].as_u64().unwrap();
    }
    out
}

/// One seeded bug (or the correct program) and the findings it must add.
struct Case {
    name: &'static str,
    run: fn(&mut Map),
    expected: &'static [(&'static str, u64)],
}

fn case(name: &'static str, run: fn(&mut Map), expected: &'static [(&'static str, u64)]) -> Case {
    Case {
        name,
        run,
        expected,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "missing flush",
            |m| plain_store(m, 0, 1),
            &[("not_flushed", 1)],
        ),
        case(
            "missing fence",
            |m| {
                plain_store(m, 128, 2);
                m.flush(128, 8).unwrap();
            },
            &[("not_fenced", 1)],
        ),
        case(
            "NT copy without drain",
            |m| {
                let memcpy = pmem2::mem::memcpy_fn(m.store_granularity());
                let data = [7u8; 1024];
                let flags = (MemFlags::NONTEMPORAL | MemFlags::NODRAIN).bits();
                // SAFETY: 1024 bytes at 4096 are inside the 16 KiB map.
                unsafe { memcpy(m.addr().add(4096).cast(), data.as_ptr().cast(), 1024, flags) };
            },
            &[("nt_not_drained", 16)],
        ),
        case(
            "superfluous flush",
            |m| m.persist(3 * 4096, 8).unwrap(),
            &[("superfluous_flush", 1)],
        ),
        case(
            "double flush",
            |m| {
                plain_store(m, 64, 4);
                m.flush(64, 8).unwrap();
                m.flush(64, 8).unwrap();
                m.drain();
            },
            &[("redundant_flush", 1)],
        ),
        case(
            "persist before store",
            |m| {
                m.persist(256, 8).unwrap();
                plain_store(m, 256, 5);
            },
            &[("not_flushed", 1), ("superfluous_flush", 1)],
        ),
        case(
            "flag before data",
            |m| {
                m.fill(8192, 256, 0xd0, MemFlags::NOFLUSH).unwrap();
                // A new value: the file keeps the earlier cases' bytes, and
                // storing the bytes already there is no change to see.
                plain_store(m, 0, 11);
                m.persist(0, 8).unwrap();
                check::point("committed");
                m.persist(8192, 256).unwrap();
            },
            &[("not_flushed", 4)],
        ),
        case(
            "persist outside every mapping",
            |_| {
                let heap = [0u8; 64];
                let persist = pmem2::persist::persist_fn(Granularity::CacheLine);
                // SAFETY: the heap buffer is mapped for its length.
                unsafe { persist(heap.as_ptr().cast(), heap.len()) };
            },
            &[("outside_mappings", 1)],
        ),
        case(
            "all correct",
            |m| {
                plain_store(m, 0, 9);
                m.persist(0, 8).unwrap();
                m.write(512, &[1; 300]).unwrap();
                m.copy_from_slice(4096, &[2; 4096], MemFlags::NONTEMPORAL)
                    .unwrap();
                plain_store(m, 128, 3);
                m.flush(128, 8).unwrap();
                m.drain();
            },
            &[],
        ),
    ]
}

#[test]
fn seeded_bugs_get_their_verdicts() {
    let checker = Checker::start().expect("first use of pmem2 in this process");
    let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        env!("CARGO_TARGET_TMPDIR")
    })
    .unwrap();
    // This binary's only test: nothing else reads the environment now.
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "cache_line");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("f"))
        .unwrap();
    file.set_len(16 * 1024).unwrap();
    let source = Source::from_file(&file).unwrap();
    let config = Config::with_granularity(Granularity::Page);

    for Case {
        name,
        run: case,
        expected,
    } in cases()
    {
        let before = kinds(&checker);
        let mut map = Map::new(&config, &source).unwrap();
        assert_eq!(map.store_granularity(), Granularity::CacheLine);
        case(&mut map);
        map.delete().map_err(|e| e.error).unwrap();
        let mut added = kinds(&checker);
        for (k, n) in &before {
            *added.get_mut(k).unwrap() -= n;
        }
        added.retain(|_, n| *n != 0);
        let expected: BTreeMap<String, u64> = expected
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect();
        assert_eq!(added, expected, "{name}:\n{checker}");
    }
}
