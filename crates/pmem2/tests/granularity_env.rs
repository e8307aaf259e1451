//! `PMEM2_FORCE_GRANULARITY`: each granularity forced on tmpfs and on a
//! disk-backed file, with map, write, persist and read back.
//!
//! The variable is process-wide, so this binary has a single test.

mod common;

use common::{map_sync_ignored, page, skip, temp_file_in, test_dirs, MAP_SYNC_WHY};
use pmem2::{Config, Granularity, Map, Sharing, Source};
use pmem2_ffi::codes::*;

fn set_forced(value: Option<&str>) {
    // Only one test runs in this binary, so no other thread reads the
    // environment concurrently.
    match value {
        Some(v) => std::env::set_var("PMEM2_FORCE_GRANULARITY", v),
        None => std::env::remove_var("PMEM2_FORCE_GRANULARITY"),
    }
}

#[test]
fn forced_granularities() {
    for dir in test_dirs() {
        let f = temp_file_in(&dir, 4 * page(), 0);
        let source = Source::from_file(&f.file).unwrap();
        for (value, expected) in [
            ("page", Granularity::Page),
            ("cache_line", Granularity::CacheLine),
            ("CaCHe_Line", Granularity::CacheLine),
            ("CACHELINE", Granularity::CacheLine),
            ("byte", Granularity::Byte),
        ] {
            set_forced(Some(value));
            let mut map = Map::new(&Config::with_granularity(expected), &source).unwrap();
            assert_eq!(
                map.store_granularity(),
                expected,
                "{value} in {}",
                dir.display()
            );
            let data = format!("forced {value}");
            map.write(page() + 5, data.as_bytes()).unwrap();
            map.persist(0, map.size()).unwrap();
            // SAFETY: the range is inside the map and persist functions work on any mapped address.
            unsafe {
                let g = map.store_granularity();
                pmem2::persist::persist_fn(g)(map.addr().cast(), map.size());
                pmem2::persist::flush_fn(g)(map.addr().add(3).cast(), 100);
                pmem2::persist::drain_fn(g)();
            }
            let other = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
            let mut back = vec![0u8; data.len()];
            other.read(page() + 5, &mut back).unwrap();
            assert_eq!(back, data.as_bytes());
            drop(other);

            // Requiring something finer than forced is refused with PMDK's message.
            if expected == Granularity::CacheLine {
                let err =
                    Map::new(&Config::with_granularity(Granularity::Byte), &source).unwrap_err();
                assert_eq!(err.code(), PMEM2_E_GRANULARITY_NOT_SUPPORTED);
                assert_eq!(
                    err.to_string(),
                    "requested granularity not available because the platform doesn't support eADR"
                );
            }
        }
        // Private mappings stay byte granularity whatever is forced.
        set_forced(Some("page"));
        let mut config = Config::with_granularity(Granularity::Byte);
        config.set_sharing(Sharing::Private);
        assert_eq!(
            Map::new(&config, &source).unwrap().store_granularity(),
            Granularity::Byte
        );
        // Invalid values are ignored: tmpfs and disk give page granularity.
        if map_sync_ignored() {
            skip(
                "forced_granularities (invalid values ignored)",
                MAP_SYNC_WHY,
            );
            set_forced(None);
            continue;
        }
        for ignored in ["0", "bytes", "cache_line_x", ""] {
            set_forced(Some(ignored));
            let map = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
            assert_eq!(map.store_granularity(), Granularity::Page, "{ignored:?}");
        }
        set_forced(None);
    }
}
