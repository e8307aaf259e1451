//! Fuzzing of `Config` setters with raw C values and `Map::new` on an
//! anonymous source.
//!
//! The input is an anonymous source size of at most 1 MiB, then a sequence
//! of setter calls (granularity, sharing and protection as raw C integers
//! through `try_from`/`from_c`, offset, length, resets) applied to a
//! `Config` and to a model of it, then bytes to write to the map. Checked: every setter accepts exactly the values PMDK
//! accepts and a refused value leaves the config unchanged; `Map::new`
//! never panics; its validation errors come in PMDK's order with PMDK's
//! codes; success implies granularity set, offset page-aligned, length a
//! page multiple, offset + length <= size, and a map of the expected size,
//! address, granularity and protection, which then reads and writes (or
//! refuses to) as its protection says; every error is a `PMEM2_E_*` code or
//! a negative errno with a message.
#![no_main]

use bitflags::Flags;
use libfuzzer_sys::fuzz_target;
use pmem2::{Config, Granularity, Map, Protection, Sharing, Source};
use pmem2_ffi::codes::{
    PMEM2_E_GRANULARITY_NOT_SET, PMEM2_E_GRANULARITY_NOT_SUPPORTED, PMEM2_E_INVALID_PROT_FLAG,
    PMEM2_E_INVALID_SHARING_VALUE, PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_MAP_RANGE, PMEM2_E_NO_ACCESS,
    PMEM2_E_OFFSET_OUT_OF_RANGE, PMEM2_E_OFFSET_UNALIGNED, PMEM2_E_SOURCE_EMPTY,
};
use pmem2_ffi::config::protection_from_c;
use pmem2_fuzz::{check_error, checked, Reader};

/// Largest anonymous source.
const MAX_SIZE: usize = 1 << 20;
/// At most this many setter calls per input.
const MAX_CALLS: usize = 24;
/// The bits `pmem2_config_set_protection` accepts.
const PROT_BITS: u32 = (1 << 29) | (1 << 30) | (1 << 31);

/// What the config should hold, tracked independently of pmem2.
#[derive(Debug, Clone, Copy, Default)]
struct Model {
    granularity: Option<i32>,
    sharing: i32,
    protection: u32,
    offset: usize,
    length: usize,
}

impl Model {
    /// The model of `Config::new()`.
    fn new() -> Self {
        Model {
            protection: (1 << 30) | (1 << 31),
            ..Model::default()
        }
    }
}

/// A size-like value: mostly page multiples near the source size, sometimes
/// raw (unaligned, huge, overflowing).
fn size_like(r: &mut Reader<'_>, page: usize) -> usize {
    match r.u8() % 4 {
        0 => usize::from(r.u8()) * page,
        1 => usize::from(r.u16()) * page,
        2 => usize::from(r.u16()),
        _ => r.u64() as usize,
    }
}

/// A C `int` biased towards the valid range and its edges.
fn c_int(r: &mut Reader<'_>) -> i32 {
    match r.u8() % 4 {
        0..=1 => i32::from(r.u8() % 4),
        2 => i32::from(r.u8() as i8),
        _ => r.u32() as i32,
    }
}

/// Asserts that `config` holds what the model says.
fn assert_same(config: &Config, m: &Model) {
    assert_eq!(
        config.required_store_granularity().map(|g| g as i32),
        m.granularity,
        "granularity"
    );
    assert_eq!(config.protection().bits(), m.protection, "protection");
    // Offset, length and sharing have no getters; the Debug form shows them
    // (and the maps made below check their effect).
    let shown = format!("{config:?}");
    let sharing = if m.sharing == 1 { "Private" } else { "Shared" };
    for part in [
        format!("offset: {}", m.offset),
        format!("length: {}", m.length),
        format!("sharing: {sharing}"),
    ] {
        assert!(shown.contains(&part), "{part} in {shown}");
    }
}

fuzz_target!(|data: &[u8]| {
    let page = pmem2::page_size();
    let mut r = Reader::new(data);
    let mut config = Config::new();
    let mut m = Model::new();

    // Read first, so that short inputs already choose them.
    let size = match r.u8() % 3 {
        0 => usize::from(r.u8()) * page,
        1 => usize::from(r.u16()) * page,
        _ => r.u32() as usize,
    } % (MAX_SIZE + 1);
    let off = usize::from(r.u16()) * 64 + usize::from(r.u8());
    let calls = usize::from(r.u8()) % (MAX_CALLS + 1);

    for _ in 0..calls {
        match r.u8() % 7 {
            0 => {
                let v = c_int(&mut r);
                match checked("Granularity::try_from", Granularity::try_from(v)) {
                    Ok(g) => {
                        assert!((0..=2).contains(&v), "granularity {v} accepted");
                        assert_eq!(g as i32, v);
                        config.set_required_store_granularity(g);
                        m.granularity = Some(v);
                    }
                    Err(e) => {
                        assert!(!(0..=2).contains(&v), "granularity {v} refused");
                        assert_eq!(e.code(), PMEM2_E_GRANULARITY_NOT_SUPPORTED);
                    }
                }
            }
            1 => {
                let v = c_int(&mut r);
                match checked("Sharing::try_from", Sharing::try_from(v)) {
                    Ok(s) => {
                        assert!((0..=1).contains(&v), "sharing {v} accepted");
                        assert_eq!(s as i32, v);
                        config.set_sharing(s);
                        m.sharing = v;
                    }
                    Err(e) => {
                        assert!(!(0..=1).contains(&v), "sharing {v} refused");
                        assert_eq!(e.code(), PMEM2_E_INVALID_SHARING_VALUE);
                    }
                }
            }
            2 => {
                let v = match r.u8() % 2 {
                    0 => u32::from(r.u8() & 7) << 29,
                    _ => r.u32(),
                };
                match checked("protection_from_c", protection_from_c(v)) {
                    Ok(p) => {
                        assert_eq!(v & !PROT_BITS, 0, "protection {v:#x} accepted");
                        assert_eq!(p.bits(), v);
                        config.set_protection(p);
                        m.protection = v;
                    }
                    Err(e) => {
                        assert_ne!(v & !PROT_BITS, 0, "protection {v:#x} refused");
                        assert_eq!(e.code(), PMEM2_E_INVALID_PROT_FLAG);
                    }
                }
            }
            3 => {
                let v = size_like(&mut r, page);
                match checked("Config::set_offset", config.set_offset(v)) {
                    Ok(_) => {
                        assert!(i64::try_from(v).is_ok(), "offset {v} accepted");
                        m.offset = v;
                    }
                    Err(e) => {
                        assert!(i64::try_from(v).is_err(), "offset {v} refused");
                        assert_eq!(e.code(), PMEM2_E_OFFSET_OUT_OF_RANGE);
                    }
                }
            }
            4 => {
                let v = size_like(&mut r, page);
                config.set_length(v);
                m.length = v;
            }
            5 => {
                config = Config::new();
                m = Model::new();
            }
            _ => {
                let v = c_int(&mut r);
                if let Ok(g) = Granularity::try_from(v) {
                    config = Config::with_granularity(g);
                    m = Model::new();
                    m.granularity = Some(v);
                }
            }
        }
        assert_same(&config, &m);
    }

    let source = Source::anonymous(size).expect("an anonymous source");

    // PMDK's order of checks, for a source of page alignment.
    let expected = if m.granularity.is_none() {
        Some(PMEM2_E_GRANULARITY_NOT_SET)
    } else if !m.offset.is_multiple_of(page) {
        Some(PMEM2_E_OFFSET_UNALIGNED)
    } else if size == 0 {
        Some(PMEM2_E_SOURCE_EMPTY)
    } else if !m.length.is_multiple_of(page) {
        Some(PMEM2_E_LENGTH_UNALIGNED)
    } else if m.offset.checked_add(m.length).is_none_or(|end| end > size) {
        Some(PMEM2_E_MAP_RANGE)
    } else {
        None
    };

    let result = checked("Map::new", Map::new(&config, &source));
    let mut map = match (result, expected) {
        (Err(e), Some(code)) => {
            assert_eq!(e.code(), code, "{m:?} size {size}: {e}");
            return;
        }
        (Err(e), None) => {
            // Only the system may refuse a valid request (e.g. ENOMEM).
            assert!(
                e.errno().is_some(),
                "{m:?} size {size}: valid config refused: {e}"
            );
            return;
        }
        (Ok(_), Some(code)) => panic!("{m:?} size {size}: mapped, expected code {code}"),
        (Ok(map), None) => map,
    };

    // Success: what PMDK documents held, and the map is what was asked for.
    let required = Granularity::try_from(m.granularity.expect("set")).expect("valid");
    assert_eq!(m.offset % page, 0);
    assert_eq!(m.length % page, 0);
    assert!(m.offset + m.length <= size);
    let expected_size = if m.length == 0 { size } else { m.length };
    assert_eq!(map.size(), expected_size, "{m:?} size {size}");
    assert_eq!(map.addr() as usize % page, 0, "unaligned map address");
    assert!(
        map.store_granularity() <= required,
        "granularity {:?} coarser than required {required:?}",
        map.store_granularity()
    );
    assert_eq!(
        map.store_granularity(),
        Granularity::Byte,
        "anonymous memory"
    );
    assert_eq!(map.protection().bits(), m.protection);

    // Use it: a write and a read at a fuzzer-chosen place.
    let payload = r.bytes(256).to_vec();
    let in_range = off
        .checked_add(payload.len())
        .is_some_and(|end| end <= map.size());
    let prot = Protection::from_bits_retain(m.protection);
    match checked("Map::write", map.write(off, &payload)) {
        Ok(()) => assert!(in_range && prot.contains(Protection::WRITE)),
        Err(e) if !prot.contains(Protection::WRITE) => assert_eq!(e.code(), PMEM2_E_NO_ACCESS),
        Err(e) => {
            assert!(!in_range, "write refused: {e}");
            assert_eq!(e.code(), PMEM2_E_MAP_RANGE);
        }
    }
    let mut back = vec![0u8; payload.len()];
    match checked("Map::read", map.read(off, &mut back)) {
        Ok(()) => {
            assert!(in_range && prot.contains(Protection::READ));
            if prot.contains(Protection::WRITE) {
                assert_eq!(back, payload, "read back differs");
            } else {
                assert!(back.iter().all(|&b| b == 0), "fresh anonymous memory");
            }
        }
        Err(e) if !prot.contains(Protection::READ) => assert_eq!(e.code(), PMEM2_E_NO_ACCESS),
        Err(e) => {
            assert!(!in_range, "read refused: {e}");
            assert_eq!(e.code(), PMEM2_E_MAP_RANGE);
        }
    }
    // A map that can be neither read nor written has nothing to flush
    // through it (a flush instruction would fault): NoAccess.
    match checked("Map::persist", map.persist(0, map.size())) {
        Ok(()) => assert!(prot.intersects(Protection::READ | Protection::WRITE)),
        Err(e) => {
            assert!(
                !prot.intersects(Protection::READ | Protection::WRITE),
                "persist refused: {e}"
            );
            assert_eq!(e.code(), PMEM2_E_NO_ACCESS);
        }
    }
    if let Err(e) = map.delete() {
        check_error("Map::delete", &e.into());
    }
});
