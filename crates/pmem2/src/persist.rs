//! Persist, flush and drain for each store granularity.
//!
//! | granularity | persist | flush | drain |
//! |---|---|---|---|
//! | [`Page`](Granularity::Page) | `msync` of every live mapping overlapping the range | same | nothing |
//! | [`CacheLine`](Granularity::CacheLine) | flush each line + fence | flush each line | fence |
//! | [`Byte`](Granularity::Byte) | fence | nothing | fence |
//!
//! The functions are plain `extern "C"` functions that depend only on the
//! granularity: they are chosen once per process (the flush instruction from
//! CPUID and the environment), so two maps of equal granularity hand out
//! identical pointers, and the C ABI returns them as they are. They work on
//! any mapped address, not only inside a [`Map`](crate::Map).

use std::ffi::c_void;
use std::sync::OnceLock;

use crate::arch::{self, flush_range, with_flush, Flush, FlushKind};
use crate::config::Granularity;
use crate::error::{Error, Result};
use crate::sys::mm;
use crate::{check, env, registry};

/// `pmem2_persist_fn`: makes `[ptr, ptr + len)` durable; also the type of
/// `pmem2_flush_fn`, which starts writing the range back ([`DrainFn`] waits).
pub type PersistFn = unsafe extern "C" fn(ptr: *const c_void, len: usize);
/// `pmem2_drain_fn`: waits for earlier flushes to complete.
pub type DrainFn = unsafe extern "C" fn();

/// The persistence functions of one granularity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PersistOps {
    /// Flush + drain.
    pub(crate) persist: PersistFn,
    /// Flush only.
    pub(crate) flush: PersistFn,
    /// Drain only.
    pub(crate) drain: DrainFn,
}

/// The flush instruction this process uses, chosen once from the CPU and
/// the environment (`PMEM_NO_CLWB`, `PMEM_NO_CLFLUSHOPT`), as PMDK does.
pub(crate) fn flush_kind() -> FlushKind {
    static KIND: OnceLock<FlushKind> = OnceLock::new();
    *KIND.get_or_init(|| {
        let tunables = env::tunables();
        let kind = arch::detect_flush(arch::FlushAllowed {
            clwb: !tunables.no_clwb,
            clflushopt: !tunables.no_clflushopt,
        });
        crate::debug_log::plog!(
            crate::debug_log::DETAIL,
            "flush_kind",
            "flush instruction: {kind:?} (CLWB {}, CLFLUSHOPT {})",
            if tunables.no_clwb {
                "disabled by PMEM_NO_CLWB"
            } else {
                "allowed"
            },
            if tunables.no_clflushopt {
                "disabled by PMEM_NO_CLFLUSHOPT"
            } else {
                "allowed"
            }
        );
        kind
    })
}

/// Whether deep flush writes back with `aarch64` `DC CVADP` (to the point
/// of deep persistence) rather than [`flush_kind`]'s instruction; chosen
/// once, after `flush_kind`.
pub(crate) fn deep_flush_cvadp() -> bool {
    static CVADP: OnceLock<bool> = OnceLock::new();
    *CVADP.get_or_init(|| {
        let cvadp = arch::detect_deep_flush(flush_kind());
        crate::debug_log::plog!(
            crate::debug_log::DETAIL,
            "deep_flush",
            "deep flush writes back with {}",
            if cvadp {
                "DC CVADP"
            } else {
                "the flush instruction"
            }
        );
        cvadp
    })
}

/// The persistence functions of `granularity`, chosen once per process:
/// the checking variants when crash-consistency checking is on
/// ([`check`](crate::check)), else the plain ones.
pub(crate) fn ops(granularity: Granularity) -> &'static PersistOps {
    static TABLE: OnceLock<[PersistOps; 3]> = OnceLock::new();
    &TABLE.get_or_init(|| {
        if check::enabled() {
            checking_table()
        } else {
            *plain_table()
        }
    })[granularity as usize]
}

/// The plain persistence functions, which the checking ones call.
fn plain_table() -> &'static [PersistOps; 3] {
    static PLAIN: OnceLock<[PersistOps; 3]> = OnceLock::new();
    PLAIN.get_or_init(|| with_flush!(flush_kind(), F => build_table::<F>()))
}

fn checking_table() -> [PersistOps; 3] {
    [
        PersistOps {
            persist: checked_persist::<0>,
            flush: checked_flush::<0>,
            drain: checked_drain::<0>,
        },
        PersistOps {
            persist: checked_persist::<1>,
            flush: checked_flush::<1>,
            drain: checked_drain::<1>,
        },
        PersistOps {
            persist: checked_persist::<2>,
            flush: checked_flush::<2>,
            drain: checked_drain::<2>,
        },
    ]
}

/// The checking persist function of granularity `Granularity::ALL[G]`:
/// tells the checker, then runs the plain function (for an `msync`, after
/// it, since it is only known to be durable once done).
unsafe extern "C" fn checked_persist<const G: usize>(ptr: *const c_void, len: usize) {
    let plain = plain_table()[G];
    match Granularity::ALL[G] {
        Granularity::Page => {
            // SAFETY: the caller's contract is the plain function's.
            unsafe { (plain.persist)(ptr, len) };
            check::on_msync(ptr.cast(), len);
        }
        Granularity::CacheLine => {
            check::on_flush(ptr.cast(), len, true);
            // SAFETY: as above.
            unsafe { (plain.persist)(ptr, len) };
        }
        Granularity::Byte => {
            // SAFETY: as above.
            unsafe { (plain.persist)(ptr, len) };
            check::on_fence();
        }
    }
}

/// The checking flush function of granularity `Granularity::ALL[G]`.
unsafe extern "C" fn checked_flush<const G: usize>(ptr: *const c_void, len: usize) {
    let plain = plain_table()[G];
    match Granularity::ALL[G] {
        Granularity::Page => {
            // SAFETY: the caller's contract is the plain function's.
            unsafe { (plain.flush)(ptr, len) };
            check::on_msync(ptr.cast(), len);
        }
        Granularity::CacheLine => {
            check::on_flush(ptr.cast(), len, false);
            // SAFETY: as above.
            unsafe { (plain.flush)(ptr, len) };
        }
        // A byte-granularity flush does nothing.
        Granularity::Byte => {}
    }
}

/// The checking drain function of granularity `Granularity::ALL[G]`.
unsafe extern "C" fn checked_drain<const G: usize>() {
    // SAFETY: drain functions take no arguments and only fence.
    unsafe { (plain_table()[G].drain)() };
    if Granularity::ALL[G] != Granularity::Page {
        check::on_fence();
    }
}

fn build_table<F: Flush>() -> [PersistOps; 3] {
    [
        PersistOps {
            persist: byte_persist,
            flush: byte_flush,
            drain: fence_drain,
        },
        PersistOps {
            persist: cache_line_persist::<F>,
            flush: cache_line_flush::<F>,
            drain: fence_drain,
        },
        PersistOps {
            persist: page_persist,
            flush: page_persist,
            drain: page_drain,
        },
    ]
}

/// `pmem2_get_persist_fn` for a granularity.
#[must_use]
pub fn persist_fn(granularity: Granularity) -> PersistFn {
    ops(granularity).persist
}

/// `pmem2_get_flush_fn` for a granularity.
#[must_use]
pub fn flush_fn(granularity: Granularity) -> PersistFn {
    ops(granularity).flush
}

/// `pmem2_get_drain_fn` for a granularity.
#[must_use]
pub fn drain_fn(granularity: Granularity) -> DrainFn {
    ops(granularity).drain
}

unsafe extern "C" fn cache_line_persist<F: Flush>(ptr: *const c_void, len: usize) {
    // SAFETY: the caller of a persist function guarantees the range is mapped.
    unsafe { flush_range::<F>(ptr.cast(), len) };
    arch::fence();
}

unsafe extern "C" fn cache_line_flush<F: Flush>(ptr: *const c_void, len: usize) {
    // SAFETY: the caller of a flush function guarantees the range is mapped.
    unsafe { flush_range::<F>(ptr.cast(), len) };
}

unsafe extern "C" fn byte_persist(_ptr: *const c_void, _len: usize) {
    arch::fence();
}

unsafe extern "C" fn byte_flush(_ptr: *const c_void, _len: usize) {}

unsafe extern "C" fn fence_drain() {
    arch::fence();
}

unsafe extern "C" fn page_drain() {}

unsafe extern "C" fn page_persist(ptr: *const c_void, len: usize) {
    if let Err(err) = sync_pages(ptr.cast(), len) {
        // A C persist function has no way to report failure, and returning
        // would claim durability that was not achieved: PMDK aborts here too.
        eprintln!("pmem2: msync failed, data may not be durable: {err}");
        std::process::abort();
    }
}

/// The system page size: the alignment of every regular-file source and
/// the unit [`Granularity::Page`] persists.
#[must_use]
pub fn page_size() -> usize {
    mm::page_size()
}

/// Makes `[ptr, ptr + len)` durable by `msync(MS_SYNC)` of each live mapping
/// that overlaps it (parts outside any mapping are skipped, as in PMDK).
///
/// The start is aligned down to a page; `EINTR` is retried.
pub(crate) fn sync_pages(ptr: *const u8, len: usize) -> Result<()> {
    let page = mm::page_size();
    let start = ptr as usize & !(page - 1);
    let end = (ptr as usize).saturating_add(len);
    if end <= start {
        return Ok(());
    }
    let registry = registry::read();
    for (map_start, map_end, _) in registry.overlapping(start, end) {
        let from = start.max(map_start) & !(page - 1);
        let to = end.min(map_end);
        if to <= from {
            continue;
        }
        msync(from, to - from)?;
    }
    Ok(())
}

/// `msync(MS_SYNC)` of a page-aligned range; unit tests count the calls
/// each thread makes ([`msyncs`]).
fn msync(addr: usize, len: usize) -> Result<()> {
    #[cfg(test)]
    MSYNCS.with(|n| n.set(n.get() + 1));
    mm::sync(addr, len).map_err(|errno| Error::os(errno, "msync"))
}

#[cfg(test)]
thread_local! {
    static MSYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many `msync` calls this thread has made (unit tests only).
#[cfg(test)]
pub(crate) fn msyncs() -> usize {
    MSYNCS.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each granularity has its own persist and flush; byte and cache-line
    /// granularity share the fence drain, page granularity's drain is
    /// another (empty) function.
    #[test]
    fn pointers_are_chosen_per_granularity() {
        let [b, c, p] = Granularity::ALL.map(|g| *ops(g));
        for (x, y) in [(b, c), (c, p), (b, p)] {
            assert_ne!(x.persist as usize, y.persist as usize);
            assert_ne!(x.flush as usize, y.flush as usize);
        }
        assert_eq!(b.drain as usize, c.drain as usize);
        assert_ne!(c.drain as usize, p.drain as usize);
        for g in Granularity::ALL {
            assert_eq!(persist_fn(g) as usize, ops(g).persist as usize);
            assert_eq!(flush_fn(g) as usize, ops(g).flush as usize);
            assert_eq!(drain_fn(g) as usize, ops(g).drain as usize);
        }
        // Page granularity flushes the way it persists: with msync.
        assert_eq!(p.flush as usize, p.persist as usize);
    }

    /// `(fences, msyncs)` issued on this thread by `f`.
    fn counted(f: impl FnOnce()) -> (usize, usize) {
        let (fences, msyncs) = (arch::fences(), msyncs());
        f();
        (arch::fences() - fences, self::msyncs() - msyncs)
    }

    /// What each function issues, as PMDK's `pmem2_persist` test counts
    /// them: cache line fences after flushing, byte only fences, page only
    /// msyncs (and only inside registered mappings).
    #[test]
    fn persist_functions_issue_what_their_granularity_needs() {
        let buf = vec![1u8; 10_000];
        let (ptr, len) = (buf.as_ptr().cast::<c_void>(), buf.len());
        for g in [Granularity::Byte, Granularity::CacheLine] {
            let o = ops(g);
            // SAFETY: `buf` is live and mapped for its whole length.
            unsafe {
                assert_eq!(counted(|| (o.persist)(ptr, len)), (1, 0), "{g:?} persist");
                assert_eq!(counted(|| (o.flush)(ptr, len)), (0, 0), "{g:?} flush");
                assert_eq!(counted(|| (o.drain)()), (1, 0), "{g:?} drain");
            }
        }
        let o = ops(Granularity::Page);
        // SAFETY: as above; page persist skips memory outside any map.
        unsafe {
            assert_eq!(counted(|| (o.persist)(ptr, len)), (0, 0), "heap memory");
            assert_eq!(counted(|| (o.drain)()), (0, 0), "page drain");
        }
        let file = tempfile::tempfile().unwrap();
        file.set_len(3 * page_size() as u64).unwrap();
        let source = crate::Source::from_file(&file).unwrap();
        let map =
            crate::Map::new(&crate::Config::with_granularity(Granularity::Page), &source).unwrap();
        let addr = map.addr().cast::<c_void>().cast_const();
        // SAFETY: the ranges are inside the live map.
        unsafe {
            assert_eq!(
                counted(|| (o.persist)(addr, map.size())),
                (0, 1),
                "page persist"
            );
            assert_eq!(
                counted(|| (o.flush)(addr.add(10), 100)),
                (0, 1),
                "page flush"
            );
        }
    }

    /// `Map::persist_all` is one persist of the whole map: one msync at
    /// PAGE granularity, one fence at BYTE (anonymous memory).
    #[test]
    #[cfg_attr(miri, ignore = "maps a file")]
    fn persist_all_is_one_persist_of_the_whole_map() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(3 * page_size() as u64 + 5).unwrap();
        let source = crate::Source::from_file(&file).unwrap();
        let config = crate::Config::with_granularity(Granularity::Page);
        let map = crate::Map::new(&config, &source).unwrap();
        if crate::sys::emulation::map_sync_accepted_without_dax() {
            // QEMU user mode accepts MAP_SYNC on any file: a cache-line map,
            // one persist is one fence there.
            assert_eq!(map.store_granularity(), Granularity::CacheLine);
            assert_eq!(counted(|| map.persist_all().unwrap()), (1, 0));
        } else {
            assert_eq!(map.store_granularity(), Granularity::Page);
            assert_eq!(counted(|| map.persist_all().unwrap()), (0, 1));
        }
        let anonymous = crate::Source::anonymous(page_size()).unwrap();
        let map = crate::Map::new(&config, &anonymous).unwrap();
        assert_eq!(map.store_granularity(), Granularity::Byte);
        assert_eq!(counted(|| map.persist_all().unwrap()), (1, 0));
    }

    #[test]
    fn sync_pages_skips_unregistered_memory() {
        let buf = vec![0u8; 4096 * 3];
        assert!(sync_pages(buf.as_ptr(), buf.len()).is_ok());
        assert!(sync_pages(buf.as_ptr(), 0).is_ok());
        assert!(sync_pages(usize::MAX as *const u8, 10).is_ok());
    }
}
