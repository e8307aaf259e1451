//! x86_64 memory-op kernels: SSE2, AVX and AVX-512F.
//!
//! One algorithm ([`copy`], [`set`]) is written once over the [`Vector`]
//! trait and instantiated per instruction set inside a
//! `#[target_feature]` entry point, so the vector intrinsics inline into it
//! (the memchr pattern). Each (instruction set, flush instruction,
//! temporal/non-temporal) triple is its own monomorphised function.
//!
//! Shape of a copy longer than a cache line: the head up to the next 64-byte
//! boundary of `dst` with overlapping scalar/16-byte moves (loads before
//! stores, so overlap is safe), whole lines in blocks of four (all loads of
//! a block before its stores), then the tail the same way as the head. A
//! temporal copy flushes each line as it is written; a non-temporal one
//! streams whole lines and flushes only the head and tail. Overlap with
//! `dst > src` runs the same steps from the end.

mod avx;
mod avx512;
mod sse2;

use core::arch::x86_64::{_mm_prefetch, _MM_HINT_NTA};

pub(crate) use avx::Avx;
pub(crate) use avx512::Avx512f;
pub(crate) use sse2::Sse2;

use super::CpuFeatures;
use crate::arch::{fence, flush_range, Flush, CACHE_LINE_SIZE};
use crate::env::Tunables;
use crate::mem::{sfence_after_nt, KernelKind};

const LINE: usize = CACHE_LINE_SIZE;
/// Lines per unrolled block.
const BLOCK_LINES: usize = 4;
const BLOCK: usize = LINE * BLOCK_LINES;
/// Vectors per block for the narrowest vector (16 bytes).
const MAX_VECS: usize = BLOCK / 16;
/// The WC workaround fences after this many bytes of streaming stores
/// (12 lines, the number of write-combining buffers PMDK assumes).
const WC_SPAN: usize = 12 * LINE;
/// Non-temporal copies prefetch the source this far ahead.
const PREFETCH_AHEAD: usize = 1024;

/// A SIMD register type.
pub(crate) trait Vector: Copy {
    /// Width in bytes.
    const SIZE: usize;
    /// Unaligned load.
    ///
    /// # Safety
    /// `p` readable for `SIZE` bytes; the instruction set is enabled in the caller.
    unsafe fn load(p: *const u8) -> Self;
    /// Unaligned temporal store.
    ///
    /// # Safety
    /// `p` writable for `SIZE` bytes; the instruction set is enabled.
    unsafe fn store(p: *mut u8, v: Self);
    /// Non-temporal store.
    ///
    /// # Safety
    /// `p` writable for `SIZE` bytes and `SIZE`-aligned; the instruction set
    /// is enabled; an `SFENCE` follows before the memory is accessed again.
    unsafe fn stream(p: *mut u8, v: Self);
    /// Every byte `b`.
    ///
    /// # Safety
    /// The instruction set is enabled in the caller.
    unsafe fn splat(b: u8) -> Self;
}

/// The measured default instruction set for this CPU, after the
/// environment switches (`PMEM_AVX=0`, `PMEM_AVX512F=0`).
///
/// PMDK takes the widest available. On the AMD EPYC this was tuned on, the
/// widest is not the fastest: see `docs/benchmarks.md` for the measurements
/// behind this choice.
pub(crate) fn choose_simd(cpu: CpuFeatures, tunables: &Tunables) -> KernelKind {
    let mut kind = KernelKind::Sse2;
    if cpu.avx && tunables.avx {
        kind = KernelKind::Avx;
    }
    if cpu.avx512f && tunables.avx512f {
        kind = KernelKind::Avx512f;
    }
    kind
}

/// Whether the write-combining workaround is on (read once).
#[inline(always)]
fn wc_workaround() -> bool {
    static WC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WC.get_or_init(crate::mem::wc_workaround)
}

/// Bytes from `addr` to the next multiple of 64.
#[inline(always)]
fn to_line(addr: usize) -> usize {
    addr.wrapping_neg() & (LINE - 1)
}

/// Copies up to 64 bytes; all loads happen before any store, so the ranges
/// may overlap.
///
/// # Safety
/// `len <= 64`, `dst` writable and `src` readable for `len` bytes.
#[inline(always)]
unsafe fn small_copy(dst: *mut u8, src: *const u8, len: usize) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    debug_assert!(len <= LINE);
    // SAFETY: each access lies within `[0, len)` of its range: the pairs are
    // the first and last `w` bytes, with `w <= len` in each arm.
    unsafe {
        match len {
            0 => {}
            1 => dst.write(src.read()),
            2..=3 => {
                let (a, b) = (rd(src.cast::<u16>()), rd(src.add(len - 2).cast::<u16>()));
                wr(dst.cast::<u16>(), a);
                wr(dst.add(len - 2).cast::<u16>(), b);
            }
            4..=7 => {
                let (a, b) = (rd(src.cast::<u32>()), rd(src.add(len - 4).cast::<u32>()));
                wr(dst.cast::<u32>(), a);
                wr(dst.add(len - 4).cast::<u32>(), b);
            }
            8..=15 => {
                let (a, b) = (rd(src.cast::<u64>()), rd(src.add(len - 8).cast::<u64>()));
                wr(dst.cast::<u64>(), a);
                wr(dst.add(len - 8).cast::<u64>(), b);
            }
            16..=31 => {
                let (a, b) = (rd(src.cast::<u128>()), rd(src.add(len - 16).cast::<u128>()));
                wr(dst.cast::<u128>(), a);
                wr(dst.add(len - 16).cast::<u128>(), b);
            }
            _ => {
                let a = rd(src.cast::<u128>());
                let b = rd(src.add(16).cast::<u128>());
                let c = rd(src.add(len - 32).cast::<u128>());
                let d = rd(src.add(len - 16).cast::<u128>());
                wr(dst.cast::<u128>(), a);
                wr(dst.add(16).cast::<u128>(), b);
                wr(dst.add(len - 32).cast::<u128>(), c);
                wr(dst.add(len - 16).cast::<u128>(), d);
            }
        }
    }
}

/// Fills up to 64 bytes.
///
/// # Safety
/// `len <= 64`, `dst` writable for `len` bytes.
#[inline(always)]
unsafe fn small_set(dst: *mut u8, byte: u8, len: usize) {
    use std::ptr::write_unaligned as wr;
    debug_assert!(len <= LINE);
    let p8 = u64::from_ne_bytes([byte; 8]);
    let p16 = u128::from_ne_bytes([byte; 16]);
    // SAFETY: as in `small_copy`.
    unsafe {
        match len {
            0 => {}
            1 => dst.write(byte),
            2..=3 => {
                wr(dst.cast::<u16>(), p8 as u16);
                wr(dst.add(len - 2).cast::<u16>(), p8 as u16);
            }
            4..=7 => {
                wr(dst.cast::<u32>(), p8 as u32);
                wr(dst.add(len - 4).cast::<u32>(), p8 as u32);
            }
            8..=15 => {
                wr(dst.cast::<u64>(), p8);
                wr(dst.add(len - 8).cast::<u64>(), p8);
            }
            16..=31 => {
                wr(dst.cast::<u128>(), p16);
                wr(dst.add(len - 16).cast::<u128>(), p16);
            }
            _ => {
                wr(dst.cast::<u128>(), p16);
                wr(dst.add(16).cast::<u128>(), p16);
                wr(dst.add(len - 32).cast::<u128>(), p16);
                wr(dst.add(len - 16).cast::<u128>(), p16);
            }
        }
    }
}

/// Copies `lines` whole lines from `src` to the line-aligned `dst`, in
/// blocks whose loads all precede their stores, upwards or (`BACK`)
/// downwards from the end.
///
/// # Safety
/// `dst` 64-aligned and writable for `lines * 64` bytes, `src` readable
/// for as many; if the ranges overlap, `BACK` is `dst > src`; the vector's
/// instruction set is enabled.
#[inline(always)]
unsafe fn copy_lines<V: Vector, F: Flush, const NT: bool, const BACK: bool>(
    dst: *mut u8,
    src: *const u8,
    lines: usize,
) {
    let per_block = BLOCK / V::SIZE;
    let per_line = LINE / V::SIZE;
    let wc = NT && wc_workaround();
    let mut since_fence = 0;
    let mut regs = [std::mem::MaybeUninit::<V>::uninit(); MAX_VECS];
    let mut done = 0;
    // SAFETY: every block/line touched is within the first `lines` lines of
    // both ranges; loads of a block all happen before its stores, and blocks
    // go in the direction that never overwrites source bytes not yet read
    // (caller's `BACK` contract); stream stores are at 64-aligned addresses.
    unsafe {
        while lines - done >= BLOCK_LINES {
            let off = if BACK {
                (lines - done - BLOCK_LINES) * LINE
            } else {
                done * LINE
            };
            let (d, s) = (dst.add(off), src.add(off));
            if NT && !BACK {
                for k in 0..BLOCK_LINES {
                    let ahead = s.wrapping_add(PREFETCH_AHEAD + k * LINE);
                    _mm_prefetch::<_MM_HINT_NTA>(ahead.cast());
                }
            }
            for (i, r) in regs.iter_mut().take(per_block).enumerate() {
                r.write(V::load(s.add(i * V::SIZE)));
            }
            for (i, r) in regs.iter().take(per_block).enumerate() {
                if NT {
                    V::stream(d.add(i * V::SIZE), r.assume_init());
                } else {
                    V::store(d.add(i * V::SIZE), r.assume_init());
                }
            }
            if !NT {
                for k in 0..BLOCK_LINES {
                    F::flush_line(d.add(k * LINE));
                }
            }
            done += BLOCK_LINES;
            if wc {
                since_fence += BLOCK;
                if since_fence >= WC_SPAN {
                    fence();
                    since_fence = 0;
                }
            }
        }
        while done < lines {
            let off = if BACK {
                (lines - done - 1) * LINE
            } else {
                done * LINE
            };
            let (d, s) = (dst.add(off), src.add(off));
            for (i, r) in regs.iter_mut().take(per_line).enumerate() {
                r.write(V::load(s.add(i * V::SIZE)));
            }
            for (i, r) in regs.iter().take(per_line).enumerate() {
                if NT {
                    V::stream(d.add(i * V::SIZE), r.assume_init());
                } else {
                    V::store(d.add(i * V::SIZE), r.assume_init());
                }
            }
            if !NT {
                F::flush_line(d);
            }
            done += 1;
        }
    }
}

/// Copies `len` bytes (the ranges may overlap), temporal or non-temporal.
///
/// # Safety
/// `dst` writable and `src` readable for `len` bytes; the vector's
/// instruction set is enabled in the caller.
#[inline(always)]
pub(crate) unsafe fn copy<V: Vector, F: Flush, const NT: bool>(
    dst: *mut u8,
    src: *const u8,
    len: usize,
) {
    // SAFETY: the parts below partition `[0, len)` of both ranges; each part
    // is copied with loads before stores, in the direction that is safe for
    // overlapping ranges.
    unsafe {
        if len <= LINE {
            small_copy(dst, src, len);
            flush_range::<F>(dst, len);
        } else {
            let head = to_line(dst as usize);
            let lines = (len - head) / LINE;
            let tail = (len - head) % LINE;
            let body = head + lines * LINE;
            if (dst as usize).wrapping_sub(src as usize) >= len {
                if head > 0 {
                    small_copy(dst, src, head);
                    flush_range::<F>(dst, head);
                }
                copy_lines::<V, F, NT, false>(dst.add(head), src.add(head), lines);
                if tail > 0 {
                    small_copy(dst.add(body), src.add(body), tail);
                    flush_range::<F>(dst.add(body), tail);
                }
            } else {
                if tail > 0 {
                    small_copy(dst.add(body), src.add(body), tail);
                    flush_range::<F>(dst.add(body), tail);
                }
                copy_lines::<V, F, NT, true>(dst.add(head), src.add(head), lines);
                if head > 0 {
                    small_copy(dst, src, head);
                    flush_range::<F>(dst, head);
                }
            }
        }
    }
    if NT && sfence_after_nt::<F>() {
        fence();
    }
}

/// Fills `len` bytes with `byte`, temporal or non-temporal.
///
/// # Safety
/// `dst` writable for `len` bytes; the vector's instruction set is enabled.
#[inline(always)]
pub(crate) unsafe fn set<V: Vector, F: Flush, const NT: bool>(dst: *mut u8, byte: u8, len: usize) {
    // SAFETY: the head, lines and tail partition `[dst, dst+len)`; stream
    // stores are at 64-aligned addresses (after the head).
    unsafe {
        if len <= LINE {
            small_set(dst, byte, len);
            flush_range::<F>(dst, len);
        } else {
            let head = to_line(dst as usize);
            if head > 0 {
                small_set(dst, byte, head);
                flush_range::<F>(dst, head);
            }
            let v = V::splat(byte);
            let mut d = dst.add(head);
            let mut left = len - head;
            let wc = NT && wc_workaround();
            let mut since_fence = 0;
            while left >= BLOCK {
                for i in 0..BLOCK / V::SIZE {
                    if NT {
                        V::stream(d.add(i * V::SIZE), v);
                    } else {
                        V::store(d.add(i * V::SIZE), v);
                    }
                }
                if !NT {
                    for k in 0..BLOCK_LINES {
                        F::flush_line(d.add(k * LINE));
                    }
                }
                d = d.add(BLOCK);
                left -= BLOCK;
                if wc {
                    since_fence += BLOCK;
                    if since_fence >= WC_SPAN {
                        fence();
                        since_fence = 0;
                    }
                }
            }
            while left >= LINE {
                for i in 0..LINE / V::SIZE {
                    if NT {
                        V::stream(d.add(i * V::SIZE), v);
                    } else {
                        V::store(d.add(i * V::SIZE), v);
                    }
                }
                if !NT {
                    F::flush_line(d);
                }
                d = d.add(LINE);
                left -= LINE;
            }
            if left > 0 {
                small_set(d, byte, left);
                flush_range::<F>(d, left);
            }
        }
    }
    if NT && sfence_after_nt::<F>() {
        fence();
    }
}

/// Implements [`crate::mem::Kernel`] for an instruction-set marker type
/// with four `#[target_feature]` entry points.
macro_rules! simd_kernel {
    ($name:ident, $vector:ty, $feature:literal) => {
        #[target_feature(enable = $feature)]
        unsafe fn copy_entry<F: Flush, const NT: bool>(dst: *mut u8, src: *const u8, len: usize) {
            // SAFETY: forwarded contract; this function enables the feature.
            unsafe { super::copy::<$vector, F, NT>(dst, src, len) }
        }

        #[target_feature(enable = $feature)]
        unsafe fn set_entry<F: Flush, const NT: bool>(dst: *mut u8, byte: u8, len: usize) {
            // SAFETY: forwarded contract; this function enables the feature.
            unsafe { super::set::<$vector, F, NT>(dst, byte, len) }
        }

        impl crate::mem::Kernel for $name {
            const HAS_NT: bool = true;

            // SAFETY (all four): the contract is the trait's; the table only
            // holds this kernel when the CPU has the feature (checked by
            // `KernelKind::is_supported`).
            unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
                // SAFETY: see above.
                unsafe { copy_entry::<F, false>(dst, src, len) }
            }
            unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
                // SAFETY: see above.
                unsafe { copy_entry::<F, true>(dst, src, len) }
            }
            unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
                // SAFETY: see above.
                unsafe { set_entry::<F, false>(dst, byte, len) }
            }
            unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
                // SAFETY: see above.
                unsafe { set_entry::<F, true>(dst, byte, len) }
            }
        }
    };
}
use simd_kernel;
