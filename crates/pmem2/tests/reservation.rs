//! Virtual-memory reservations: error paths with their codes, find over
//! several maps, extend and shrink around maps, and a concurrent stress test.

mod common;

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{
    map_sync_ignored, page, skip, temp_file, user_mode_emulator, MAP_SYNC_WHY, PROC_MAPS_WHY,
};
use pmem2::{Config, Granularity, Map, Source, VmReservation};
use pmem2_ffi::codes::*;

/// `(start, end, permissions)` of every mapping of this process.
/// The mappings of `rsv`, counted through the find functions.
fn count(rsv: &VmReservation) -> usize {
    let mut n = 0;
    let mut found = rsv.map_find_first();
    while let Ok(m) = found {
        n += 1;
        found = rsv.map_find_next(m.addr);
    }
    n
}

fn proc_maps() -> Vec<(usize, usize, String)> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .map(|l| {
            let mut fields = l.split_whitespace();
            let (s, e) = fields.next().unwrap().split_once('-').unwrap();
            (
                usize::from_str_radix(s, 16).unwrap(),
                usize::from_str_radix(e, 16).unwrap(),
                fields.next().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Permissions covering `[start, end)`, one per kernel mapping overlapping it.
fn perms_in(start: usize, end: usize) -> Vec<String> {
    proc_maps()
        .into_iter()
        .filter(|(s, e, _)| *s < end && *e > start)
        .map(|(_, _, p)| p)
        .collect()
}

/// The tests here check with [`perms_in`] that released ranges are free: a
/// map made meanwhile by a test on another thread can land in a range just
/// freed (the kernel hands out the most recent hole first; seen in the
/// arm64 guest), so they run one at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn config_at(rsv: &VmReservation, offset: usize) -> Config {
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_vm_reservation(Some(rsv), offset);
    config
}

#[test]
fn maps_land_at_their_offsets_and_are_found() {
    let _serial = one_at_a_time();
    let f = temp_file(2 * page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 16 * page()).unwrap();
    let base = rsv.addr() as usize;
    let mut maps = Vec::new();
    for offset in [2 * page(), 6 * page(), 10 * page()] {
        let map = Map::new(&config_at(&rsv, offset), &source).unwrap();
        assert_eq!(map.addr() as usize, base + offset);
        maps.push(map);
    }
    assert_eq!(count(&rsv), 3);
    assert_eq!(rsv.map_find(0, 3 * page()).unwrap().offset, 2 * page());
    assert_eq!(
        rsv.map_find(5 * page(), 8 * page()).unwrap().offset,
        6 * page()
    );
    assert_eq!(
        rsv.map_find(0, 2 * page()).unwrap_err().code(),
        PMEM2_E_MAPPING_NOT_FOUND
    );
    assert_eq!(
        rsv.map_find(12 * page(), page()).unwrap_err().code(),
        PMEM2_E_MAPPING_NOT_FOUND
    );
    let found = rsv.map_find(7 * page(), 1).unwrap();
    assert_eq!((found.addr, found.len), (maps[1].addr(), 2 * page()));
    assert_eq!(rsv.map_find_first().unwrap().offset, 2 * page());
    assert_eq!(rsv.map_find_last().unwrap().offset, 10 * page());
    assert_eq!(
        rsv.map_find_next(maps[0].addr()).unwrap().offset,
        6 * page()
    );
    assert_eq!(
        rsv.map_find_prev(maps[2].addr()).unwrap().offset,
        6 * page()
    );
    assert_eq!(
        rsv.map_find_prev(maps[0].addr()).unwrap_err().code(),
        PMEM2_E_MAPPING_NOT_FOUND
    );
    assert_eq!(
        rsv.map_find_next(maps[2].addr()).unwrap_err().code(),
        PMEM2_E_MAPPING_NOT_FOUND
    );
    // A map outside the reservation has no neighbours in it.
    let outside = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    assert_eq!(
        rsv.map_find_next(outside.addr()).unwrap_err().code(),
        PMEM2_E_MAPPING_NOT_FOUND
    );
}

#[test]
fn placement_errors() {
    let _serial = one_at_a_time();
    let f = temp_file(2 * page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 8 * page()).unwrap();
    let err = Map::new(&config_at(&rsv, page() / 2), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_OFFSET_UNALIGNED);
    let err = Map::new(&config_at(&rsv, 7 * page()), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
    let err = Map::new(&config_at(&rsv, usize::MAX & !(page() - 1)), &source).unwrap_err();
    assert_eq!(
        err.code(),
        PMEM2_E_LENGTH_OUT_OF_RANGE,
        "offset + length wraps"
    );
    let _first = Map::new(&config_at(&rsv, 2 * page()), &source).unwrap();
    for overlapping in [page(), 2 * page(), 3 * page()] {
        let err = Map::new(&config_at(&rsv, overlapping), &source).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_MAPPING_EXISTS, "at {overlapping}");
    }
    // Right next to it is fine.
    Map::new(&config_at(&rsv, 4 * page()), &source).unwrap();
}

#[test]
fn deleted_maps_leave_the_range_reserved() {
    let _serial = one_at_a_time();
    let f = temp_file(2 * page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let start = rsv.addr() as usize;
    let map = Map::new(&config_at(&rsv, 0), &source).unwrap();
    assert!(perms_in(start, start + 2 * page())
        .iter()
        .all(|p| p.starts_with("rw")));
    map.delete().unwrap();
    let perms = perms_in(start, start + 4 * page());
    if perms.is_empty() && user_mode_emulator() {
        skip(
            "deleted_maps_leave_the_range_reserved (/proc/self/maps after delete)",
            PROC_MAPS_WHY,
        );
    } else {
        assert!(
            !perms.is_empty() && perms.iter().all(|p| p == "---p"),
            "{perms:?}"
        );
    }
    assert_eq!(count(&rsv), 0);
    // The range can be mapped again.
    let again = Map::new(&config_at(&rsv, 0), &source).unwrap();
    drop(again);
    assert!(perms_in(start, start + 4 * page())
        .iter()
        .all(|p| p == "---p"));
}

/// Whether the test files' file system refuses cache-line granularity (no
/// `MAP_SYNC`), as a kernel does; reports a skip under QEMU user mode.
fn refuses_cache_line() -> bool {
    let ignored = map_sync_ignored();
    if ignored {
        skip("a refused cache-line map (reservation tests)", MAP_SYNC_WHY);
    }
    !ignored
}

#[test]
fn refused_granularity_leaves_the_range_free() {
    let _serial = one_at_a_time();
    let f = temp_file(2 * page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let mut config = config_at(&rsv, 0);
    config.set_required_store_granularity(Granularity::CacheLine);
    if std::env::var_os("PMEM2_FORCE_GRANULARITY").is_none() && refuses_cache_line() {
        let err = Map::new(&config, &source).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_GRANULARITY_NOT_SUPPORTED);
        assert_eq!(count(&rsv), 0);
        let start = rsv.addr() as usize;
        assert!(perms_in(start, start + 4 * page())
            .iter()
            .all(|p| p == "---p"));
    }
    // The whole reservation can then be mapped.
    let whole = Map::new(&config_at(&rsv, 0), &source).unwrap();
    assert_eq!(rsv.map_find_first().unwrap().addr, whole.addr());
}

#[test]
fn reservation_delete_refused_while_not_empty() {
    let _serial = one_at_a_time();
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let start = rsv.addr() as usize;
    let map = Map::new(&config_at(&rsv, page()), &source).unwrap();
    let refused = rsv.delete().unwrap_err();
    assert_eq!(refused.error.code(), PMEM2_E_VM_RESERVATION_NOT_EMPTY);
    let rsv = refused.handle;
    drop(map);
    rsv.delete().unwrap();
    assert!(perms_in(start, start + 4 * page()).is_empty(), "released");
}

#[test]
fn a_map_keeps_its_reservation_alive() {
    let _serial = one_at_a_time();
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let start = rsv.addr() as usize;
    let mut map = Map::new(&config_at(&rsv, 0), &source).unwrap();
    drop(rsv);
    map.write(0, b"still here").unwrap();
    assert!(!perms_in(start + page(), start + 4 * page()).is_empty());
    drop(map);
    assert!(perms_in(start, start + 4 * page()).is_empty());
}

#[test]
fn extend_and_shrink_with_maps_at_the_edges() {
    let _serial = one_at_a_time();
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let first = Map::new(&config_at(&rsv, 0), &source).unwrap();
    let last = Map::new(&config_at(&rsv, 3 * page()), &source).unwrap();
    rsv.extend(4 * page()).unwrap();
    assert_eq!(rsv.size(), 8 * page());
    let tail = Map::new(&config_at(&rsv, 7 * page()), &source).unwrap();
    assert_eq!(rsv.map_find_last().unwrap().addr, tail.addr());
    assert_eq!(
        rsv.shrink(7 * page(), page()).unwrap_err().code(),
        PMEM2_E_VM_RESERVATION_NOT_EMPTY
    );
    assert_eq!(
        rsv.shrink(0, page()).unwrap_err().code(),
        PMEM2_E_VM_RESERVATION_NOT_EMPTY
    );
    assert_eq!(
        rsv.shrink(4 * page(), 4 * page()).unwrap_err().code(),
        PMEM2_E_VM_RESERVATION_NOT_EMPTY
    );
    drop(tail);
    rsv.shrink(4 * page(), 4 * page()).unwrap();
    assert_eq!(rsv.size(), 4 * page());
    drop(first);
    let before = rsv.addr() as usize;
    rsv.shrink(0, page()).unwrap();
    assert_eq!(rsv.addr() as usize, before + page());
    assert_eq!(rsv.map_find_first().unwrap().addr, last.addr());
    assert_eq!(rsv.map_find_first().unwrap().offset, 2 * page());
    // Extending into an occupied range is refused.
    let end = rsv.addr() as usize + rsv.size();
    let blocker = VmReservation::new(NonNull::new(end as *mut u8), page()).unwrap();
    assert_eq!(
        rsv.extend(page()).unwrap_err().code(),
        PMEM2_E_MAPPING_EXISTS
    );
    assert_eq!(
        rsv.size(),
        3 * page(),
        "a refused extension changes nothing"
    );
    drop(blocker);
}

#[test]
fn from_existing_is_never_unmapped() {
    let _serial = one_at_a_time();
    let len = 2 * page();
    // Map the range ourselves, wrap it, delete the wrapper: still mapped.
    // SAFETY: a fresh private anonymous mapping at a kernel-chosen address.
    let raw = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap();
    let addr = NonNull::new(raw.cast::<u8>()).unwrap();
    let source = Source::anonymous(len).unwrap();
    // SAFETY: `raw` stays mapped until the munmap below, after the wrappers are gone.
    let mut wrapped = unsafe { Map::from_existing(&source, addr, len, Granularity::Byte) }.unwrap();
    wrapped.write(0, b"mine").unwrap();
    // SAFETY: as above.
    let err = unsafe { Map::from_existing(&source, addr, 1, Granularity::Byte) }.unwrap_err();
    assert_eq!(err.code(), PMEM2_E_MAP_EXISTS);
    wrapped.delete().unwrap();
    assert!(!perms_in(raw as usize, raw as usize + len).is_empty());
    // SAFETY: we mapped it above and nothing refers to it any more.
    unsafe { rustix::mm::munmap(raw, len) }.unwrap();
}

/// Page-sized slots of the stress test's reservation.
const SLOTS: usize = 64;

/// 16 threads creating, finding and dropping mappings in one reservation.
/// Each map is filled with its owner's tag and checked before it is
/// dropped: two overlapping live mappings would clobber each other.
#[test]
fn concurrent_stress() {
    const THREADS: usize = 16;
    let _serial = one_at_a_time();
    let ops_per_thread: usize = std::env::var("PMEM2_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        / THREADS;
    let rsv = Arc::new(VmReservation::new(None, SLOTS * page()).unwrap());
    let start = rsv.addr() as usize;
    let created = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let rsv = Arc::clone(&rsv);
            let created = Arc::clone(&created);
            let refused = Arc::clone(&refused);
            std::thread::spawn(move || stress_worker(t, &rsv, &created, &refused, ops_per_thread))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(created.load(Ordering::Relaxed) > 0 && refused.load(Ordering::Relaxed) > 0);
    assert_eq!(count(&rsv), 0);
    let perms = perms_in(start, start + SLOTS * page());
    assert!(
        perms.iter().all(|p| p == "---p"),
        "every range mended: {perms:?}"
    );
    Arc::try_unwrap(rsv).unwrap().delete().unwrap();
    assert!(
        perms_in(start, start + SLOTS * page()).is_empty(),
        "reservation released"
    );
}

/// One thread of [`concurrent_stress`]: random map / verify-and-drop / find.
fn stress_worker(
    t: usize,
    rsv: &VmReservation,
    created: &AtomicUsize,
    refused: &AtomicUsize,
    ops: usize,
) {
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (t as u64 + 1);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut held: Vec<(Map, u64)> = Vec::new();
    for op in 0..ops {
        match next() % 4 {
            0 | 1 => {
                let pages = 1 + (next() % 3) as usize;
                let slot = (next() % SLOTS as u64) as usize;
                let source = Source::anonymous(pages * page()).unwrap();
                let mut config = Config::with_granularity(Granularity::Byte);
                config.set_vm_reservation(Some(rsv), slot * page());
                match Map::new(&config, &source) {
                    Ok(mut map) => {
                        let tag = ((t as u64) << 32) | op as u64;
                        let bytes = tag.to_le_bytes();
                        for p in 0..pages {
                            map.write(p * page(), &bytes).unwrap();
                        }
                        created.fetch_add(1, Ordering::Relaxed);
                        held.push((map, tag));
                    }
                    Err(e) => {
                        let c = e.code();
                        assert!(
                            c == PMEM2_E_MAPPING_EXISTS || c == PMEM2_E_LENGTH_OUT_OF_RANGE,
                            "unexpected {e}"
                        );
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            2 => {
                if !held.is_empty() {
                    let i = (next() as usize) % held.len();
                    let (map, tag) = held.swap_remove(i);
                    let mut buf = [0u8; 8];
                    for p in 0..map.size() / page() {
                        map.read(p * page(), &mut buf).unwrap();
                        assert_eq!(u64::from_le_bytes(buf), tag, "a live map was clobbered");
                    }
                    drop(map);
                }
            }
            _ => {
                let slot = (next() % SLOTS as u64) as usize;
                match rsv.map_find(slot * page(), page()) {
                    Ok(found) => assert!(found.offset + found.len <= SLOTS * page()),
                    Err(e) => assert_eq!(e.code(), PMEM2_E_MAPPING_NOT_FOUND),
                }
            }
        }
    }
    for (map, tag) in held {
        let mut buf = [0u8; 8];
        map.read(0, &mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), tag);
    }
}

/// A zero-length existing map occupies nothing, as in PMDK: more empty maps
/// and a real map may start at its address, an empty map inside a live map
/// is refused, and `delete` can't find it. (PMDK loops forever on a PAGE
/// persist over such a map; pmem2 persists around it at once.)
#[test]
fn zero_length_existing_maps_occupy_nothing() {
    let _serial = one_at_a_time();
    let len = 2 * page();
    // SAFETY: a fresh private anonymous mapping at a kernel-chosen address.
    let raw = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap();
    let addr = NonNull::new(raw.cast::<u8>()).unwrap();
    let source = Source::anonymous(len).unwrap();
    // SAFETY: `raw` stays mapped until the munmap at the end, after every
    // map is gone.
    let empty = unsafe { Map::from_existing(&source, addr, 0, Granularity::Page) }.unwrap();
    // SAFETY: `raw` stays mapped until the munmap at the end.
    let again = unsafe { Map::from_existing(&source, addr, 0, Granularity::Page) }.unwrap();
    // SAFETY: `raw` stays mapped until the munmap at the end.
    let real = unsafe { Map::from_existing(&source, addr, page(), Granularity::Page) }.unwrap();
    let inside = NonNull::new(addr.as_ptr().wrapping_add(100)).unwrap();
    // SAFETY: `raw` stays mapped until the munmap at the end.
    let err = unsafe { Map::from_existing(&source, inside, 0, Granularity::Page) }.unwrap_err();
    assert_eq!(
        err.code(),
        PMEM2_E_MAP_EXISTS,
        "empty map inside a live one"
    );
    let end = NonNull::new(addr.as_ptr().wrapping_add(page())).unwrap();
    // SAFETY: `raw` stays mapped until the munmap at the end.
    let at_end = unsafe { Map::from_existing(&source, end, 0, Granularity::Page) }.unwrap();

    let persist = pmem2::persist::persist_fn(Granularity::Page);
    // SAFETY: the ranges are inside the mapping made above.
    unsafe {
        persist(raw.cast_const(), 0);
        persist(raw.cast_const(), len);
        persist(raw.cast::<u8>().add(1).cast_const().cast(), 10);
    }
    empty.persist(0, 0).unwrap();

    // As pmem2_map_delete: an empty map isn't found, and deleting it leaves
    // the real map at its address registered.
    let failed = empty.delete().unwrap_err();
    assert_eq!(failed.error.code(), PMEM2_E_MAPPING_NOT_FOUND);
    drop(failed);
    drop((again, at_end));
    // SAFETY: `raw` stays mapped until the munmap at the end.
    let err = unsafe { Map::from_existing(&source, addr, 1, Granularity::Page) }.unwrap_err();
    assert_eq!(
        err.code(),
        PMEM2_E_MAP_EXISTS,
        "the real map is still registered"
    );
    real.delete().unwrap();
    // SAFETY: we mapped it above and nothing refers to it any more.
    unsafe { rustix::mm::munmap(raw, len) }.unwrap();
}

/// `map_find` sees a map's content, not the page-rounding pad after it,
/// as PMDK's does.
#[test]
fn map_find_ignores_the_rounding_pad() {
    let _serial = one_at_a_time();
    let f = temp_file(10_000);
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 16 * page()).unwrap();
    let map = Map::new(&config_at(&rsv, 0), &source).unwrap();
    assert_eq!(map.size(), 10_000);
    let next_page = 10_000usize.next_multiple_of(page());
    assert_eq!(rsv.map_find(9_999, 1).unwrap().offset, 0);
    assert_eq!(rsv.map_find(9_999, 0).unwrap().offset, 0);
    assert_eq!(rsv.map_find(0, 0).unwrap().offset, 0);
    for (offset, len) in [
        (10_000, 1),
        (10_000, 0),
        (10_000, next_page - 10_000),
        (next_page - 1, 1),
    ] {
        assert_eq!(
            rsv.map_find(offset, len).unwrap_err().code(),
            PMEM2_E_MAPPING_NOT_FOUND,
            "({offset}, {len})"
        );
    }
    let second = Map::new(&config_at(&rsv, next_page), &source).unwrap();
    // The pad of the first map doesn't hide the second.
    let found = rsv.map_find(next_page - 1, 2).unwrap();
    assert_eq!(found.addr, second.addr());
    assert_eq!(rsv.map_find(10_000, 4_000).unwrap().addr, second.addr());
    assert_eq!(rsv.map_find(9_999, 4_000).unwrap().addr, map.addr());
}

/// A map refused for its range must not remove another map's registry
/// entry at the same address (found by review).
#[test]
fn a_refused_map_leaves_other_registrations_alone() {
    let _serial = one_at_a_time();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let source = Source::anonymous(page()).unwrap();
    let addr = NonNull::new(rsv.addr()).unwrap();
    // SAFETY: the reservation's pages stay mapped (inaccessible) while
    // `existing` lives; it is never read or written.
    let existing = unsafe { Map::from_existing(&source, addr, page(), Granularity::Page) }.unwrap();
    let f = temp_file(page());
    let file = Source::from_file(&f.file).unwrap();
    for required in [Granularity::Byte, Granularity::Page] {
        let mut config = config_at(&rsv, 0);
        config.set_required_store_granularity(required);
        let err = Map::new(&config, &file).unwrap_err();
        assert_eq!(err.code(), -libc::EEXIST, "registered to the existing map");
        assert_eq!(count(&rsv), 0);
    }
    existing.delete().unwrap();
    // A map refused for its granularity doesn't unregister anything either.
    if std::env::var_os("PMEM2_FORCE_GRANULARITY").is_none() && refuses_cache_line() {
        let other = Map::new(&config_at(&rsv, 2 * page()), &file).unwrap();
        let mut config = config_at(&rsv, 0);
        config.set_required_store_granularity(Granularity::CacheLine);
        let err = Map::new(&config, &file).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_GRANULARITY_NOT_SUPPORTED);
        other.delete().unwrap();
    }
}

/// A config refers to its reservation weakly: deleting the reservation
/// releases the range, and the config can't map into it any more.
#[test]
fn a_deleted_reservation_is_released_despite_configs() {
    let _serial = one_at_a_time();
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let rsv = VmReservation::new(None, 4 * page()).unwrap();
    let addr = rsv.addr();
    let config = config_at(&rsv, 0);
    drop(Map::new(&config, &source).unwrap());
    rsv.delete().unwrap();
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        -libc::EINVAL
    );
    let again = VmReservation::new(NonNull::new(addr), 4 * page()).unwrap();
    assert_eq!(again.addr(), addr);
}

#[test]
fn empty_reservation_at_a_fixed_address_can_grow() {
    let _serial = one_at_a_time();
    let probe = VmReservation::new(None, 4 * page()).unwrap();
    let addr = probe.addr();
    probe.delete().unwrap();
    let rsv = VmReservation::new(NonNull::new(addr), 0).unwrap();
    assert_eq!((rsv.addr(), rsv.size()), (addr, 0));
    rsv.extend(2 * page()).unwrap();
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&config_at(&rsv, page()), &source).unwrap();
    assert_eq!(map.addr() as usize, addr as usize + page());
}
