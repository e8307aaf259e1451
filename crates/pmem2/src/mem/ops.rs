//! The `extern "C"` memory functions, one per granularity, generic over
//! the kernel family and the flush instruction: PMDK's rules for which
//! kernel variant runs and what follows it.

use std::ffi::{c_int, c_uint, c_void};

use bitflags::Flags;

use super::{wc_workaround, MemFlags};
use crate::arch::kernel::Kernel;
use crate::arch::{self, Flush, NoFlush};

/// Which kernel variant a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    /// Temporal stores, nothing flushed (`NOFLUSH`).
    TemporalNoFlush,
    /// Temporal stores, each line flushed (nothing on eADR).
    Temporal,
    /// Non-temporal stores.
    NonTemporal,
}

/// PMDK's choice for cache-line and page granularity.
#[inline(always)]
pub(super) fn non_eadr_path(flags: MemFlags, len: usize, threshold: usize) -> Path {
    if flags.contains(MemFlags::NOFLUSH) {
        Path::TemporalNoFlush
    } else if flags.intersects(MemFlags::WC | MemFlags::NONTEMPORAL) {
        Path::NonTemporal
    } else if flags.intersects(MemFlags::WB | MemFlags::TEMPORAL) || len < threshold {
        Path::Temporal
    } else {
        Path::NonTemporal
    }
}

/// PMDK's choice for byte granularity (eADR): size and the WC/WB/TEMPORAL
/// hints don't matter.
#[inline(always)]
pub(super) fn eadr_path(flags: MemFlags) -> Path {
    if flags.contains(MemFlags::NOFLUSH) {
        Path::TemporalNoFlush
    } else if flags.contains(MemFlags::NONTEMPORAL) {
        Path::NonTemporal
    } else {
        Path::Temporal
    }
}

/// Copy without the final drain, non-eADR rules (cache line and page).
#[inline(always)]
unsafe fn move_nodrain<K: Kernel, F: Flush>(d: *mut u8, s: *const u8, len: usize, flags: MemFlags) {
    let threshold = crate::env::tunables().movnt_threshold;
    // SAFETY: the caller of the C function guarantees the ranges.
    unsafe {
        match non_eadr_path(flags, len, threshold) {
            Path::TemporalNoFlush => K::copy_t::<NoFlush>(d, s, len),
            Path::NonTemporal => K::copy_nt::<F>(d, s, len, wc_workaround()),
            Path::Temporal => K::copy_t::<F>(d, s, len),
        }
    }
}

/// Fill without the final drain, non-eADR rules.
#[inline(always)]
unsafe fn set_nodrain<K: Kernel, F: Flush>(d: *mut u8, c: u8, len: usize, flags: MemFlags) {
    let threshold = crate::env::tunables().movnt_threshold;
    // SAFETY: the caller of the C function guarantees the range.
    unsafe {
        match non_eadr_path(flags, len, threshold) {
            Path::TemporalNoFlush => K::set_t::<NoFlush>(d, c, len),
            Path::NonTemporal => K::set_nt::<F>(d, c, len, wc_workaround()),
            Path::Temporal => K::set_t::<F>(d, c, len),
        }
    }
}

#[inline(always)]
fn drains(flags: MemFlags) -> bool {
    !flags.intersects(MemFlags::NODRAIN | MemFlags::NOFLUSH)
}

/// Whether a move has bytes to copy. With `len == 0` or `dest == src` the
/// copy is skipped, but the drain (or `msync`) after it still happens, as
/// in PMDK: a run of `NODRAIN` calls may end with such a call.
#[inline(always)]
fn copies(dest: *mut c_void, src: *const c_void, len: usize) -> bool {
    len != 0 && dest.cast_const() != src
}

pub(super) unsafe extern "C" fn memmove_cache_line<K: Kernel, F: Flush>(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags);
    if copies(dest, src, len) {
        // SAFETY: the caller guarantees `dest` writable and `src` readable for `len`.
        unsafe { move_nodrain::<K, F>(dest.cast(), src.cast(), len, flags) };
    }
    if drains(flags) {
        arch::fence();
    }
    dest
}

pub(super) unsafe extern "C" fn memset_cache_line<K: Kernel, F: Flush>(
    dest: *mut c_void,
    c: c_int,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags);
    if len != 0 {
        // SAFETY: the caller guarantees `dest` writable for `len`.
        unsafe { set_nodrain::<K, F>(dest.cast(), c as u8, len, flags) };
    }
    if drains(flags) {
        arch::fence();
    }
    dest
}

/// Byte granularity (eADR): nothing is flushed by the SIMD kernels; the
/// generic and libc ones flush with the CPU's instruction, as PMDK's do.
pub(super) unsafe extern "C" fn memmove_byte<K: Kernel, F: Flush>(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags);
    let (d, s) = (dest.cast::<u8>(), src.cast::<u8>());
    if copies(dest, src, len) {
        // SAFETY: the caller guarantees the ranges.
        unsafe {
            match eadr_path(flags) {
                Path::TemporalNoFlush => K::copy_t::<NoFlush>(d, s, len),
                _ if !K::HAS_NT => K::copy_t::<F>(d, s, len),
                Path::NonTemporal => K::copy_nt::<NoFlush>(d, s, len, wc_workaround()),
                Path::Temporal => K::copy_t::<NoFlush>(d, s, len),
            }
        }
    }
    if drains(flags) {
        arch::fence();
    }
    dest
}

pub(super) unsafe extern "C" fn memset_byte<K: Kernel, F: Flush>(
    dest: *mut c_void,
    c: c_int,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags);
    let (d, c) = (dest.cast::<u8>(), c as u8);
    if len != 0 {
        // SAFETY: the caller guarantees the range.
        unsafe {
            match eadr_path(flags) {
                Path::TemporalNoFlush => K::set_t::<NoFlush>(d, c, len),
                _ if !K::HAS_NT => K::set_t::<F>(d, c, len),
                Path::NonTemporal => K::set_nt::<NoFlush>(d, c, len, wc_workaround()),
                Path::Temporal => K::set_t::<NoFlush>(d, c, len),
            }
        }
    }
    if drains(flags) {
        arch::fence();
    }
    dest
}

/// Page granularity: the cache-line operation, then `msync` unless NOFLUSH.
pub(super) unsafe extern "C" fn memmove_page<K: Kernel, F: Flush>(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags) - MemFlags::NODRAIN;
    if copies(dest, src, len) {
        // SAFETY: the caller guarantees the ranges.
        unsafe { move_nodrain::<K, F>(dest.cast(), src.cast(), len, flags) };
    }
    if !flags.contains(MemFlags::NOFLUSH) {
        sync_or_abort(dest.cast(), len);
    }
    dest
}

pub(super) unsafe extern "C" fn memset_page<K: Kernel, F: Flush>(
    dest: *mut c_void,
    c: c_int,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    let flags = MemFlags::from_bits_retain(flags) - MemFlags::NODRAIN;
    if len != 0 {
        // SAFETY: the caller guarantees the range.
        unsafe { set_nodrain::<K, F>(dest.cast(), c as u8, len, flags) };
    }
    if !flags.contains(MemFlags::NOFLUSH) {
        sync_or_abort(dest.cast(), len);
    }
    dest
}

/// Orders the stores, then `msync`s the range; aborts on failure, as the
/// page persist function does (a C memcpy can't report an error, and
/// returning would claim durability that was not achieved).
fn sync_or_abort(ptr: *const u8, len: usize) {
    arch::fence();
    if let Err(err) = crate::persist::sync_pages(ptr, len) {
        eprintln!("pmem2: msync failed, data may not be durable: {err}");
        std::process::abort();
    }
}

/// PMDK's name of the routine a call takes, for the debug log's call
/// tracing (level 15): `memmove_mov_avx_clwb`, `memset_movnt_sse2_empty_wcbarrier`,
/// `memmove_movnt_avx512f_noflush`, `memmove_nodrain_generic`, ...
struct Routine {
    op: &'static str,
    family: &'static str,
    /// `None` for the families without instruction-set routines (generic, libc).
    simd: Option<SimdRoutine>,
}

struct SimdRoutine {
    nt: bool,
    flush: &'static str,
    barrier: Option<&'static str>,
}

impl std::fmt::Display for Routine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(simd) = &self.simd else {
            return write!(f, "{}_nodrain_{}", self.op, self.family);
        };
        let mov = if simd.nt { "movnt" } else { "mov" };
        write!(f, "{}_{mov}_{}_{}", self.op, self.family, simd.flush)?;
        if let Some(barrier) = simd.barrier {
            write!(f, "_{barrier}")?;
        }
        Ok(())
    }
}

/// The routine of a call on kernel `K` with flush `F` that takes `path`
/// (`eadr`: byte granularity, whose routines flush nothing).
fn routine<K: Kernel, F: Flush>(is_move: bool, path: Path, eadr: bool) -> Routine {
    let op = if is_move { "memmove" } else { "memset" };
    if !K::HAS_NT {
        return Routine {
            op,
            family: K::NAME,
            simd: None,
        };
    }
    let flush = match (path, eadr, F::KIND) {
        (Path::TemporalNoFlush, ..) => "noflush",
        (_, true, _) => "empty",
        (_, false, kind) => match kind {
            arch::FlushKind::Clwb => "clwb",
            arch::FlushKind::Clflushopt => "clflushopt",
            arch::FlushKind::Clflush => "clflush",
            _ => "empty",
        },
    };
    let nt = path == Path::NonTemporal;
    let (family, barrier_names) = if nt && is_move {
        K::NT_COPY
    } else {
        (K::NAME, K::NT_BARRIER_NAMES)
    };
    let barrier = (nt && barrier_names).then(|| {
        if wc_workaround() {
            "wcbarrier"
        } else {
            "nobarrier"
        }
    });
    Routine {
        op,
        family,
        simd: Some(SimdRoutine { nt, flush, barrier }),
    }
}

/// Generates the logging twin of a memory function: one level-15 line
/// naming the routine the call takes (when it stores anything), then the
/// function itself. The tables hold these only when level 15 is on.
macro_rules! logged {
    ($logged:ident, $plain:ident, move, $path:expr, $eadr:expr) => {
        pub(super) unsafe extern "C" fn $logged<K: Kernel, F: Flush>(
            dest: *mut c_void,
            src: *const c_void,
            len: usize,
            flags: c_uint,
        ) -> *mut c_void {
            if copies(dest, src, len) {
                let path = $path(MemFlags::from_bits_retain(flags), len);
                crate::debug_log::plog!(
                    crate::debug_log::CALL_TRACE,
                    routine::<K, F>(true, path, $eadr),
                    "dest {dest:p} src {src:p} len {len}"
                );
            }
            // SAFETY: the same contract, forwarded.
            unsafe { $plain::<K, F>(dest, src, len, flags) }
        }
    };
    ($logged:ident, $plain:ident, set, $path:expr, $eadr:expr) => {
        pub(super) unsafe extern "C" fn $logged<K: Kernel, F: Flush>(
            dest: *mut c_void,
            c: c_int,
            len: usize,
            flags: c_uint,
        ) -> *mut c_void {
            if len != 0 {
                let path = $path(MemFlags::from_bits_retain(flags), len);
                crate::debug_log::plog!(
                    crate::debug_log::CALL_TRACE,
                    routine::<K, F>(false, path, $eadr),
                    "dest {dest:p} c {c:#x} len {len}"
                );
            }
            // SAFETY: the same contract, forwarded.
            unsafe { $plain::<K, F>(dest, c, len, flags) }
        }
    };
}

fn non_eadr(flags: MemFlags, len: usize) -> Path {
    non_eadr_path(flags, len, crate::env::tunables().movnt_threshold)
}

fn eadr(flags: MemFlags, _len: usize) -> Path {
    eadr_path(flags)
}

logged!(
    memmove_cache_line_logged,
    memmove_cache_line,
    move,
    non_eadr,
    false
);
logged!(
    memset_cache_line_logged,
    memset_cache_line,
    set,
    non_eadr,
    false
);
logged!(memmove_page_logged, memmove_page, move, non_eadr, false);
logged!(memset_page_logged, memset_page, set, non_eadr, false);
logged!(memmove_byte_logged, memmove_byte, move, eadr, true);
logged!(memset_byte_logged, memset_byte, set, eadr, true);
