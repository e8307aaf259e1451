//! `x86_64` memory-op kernels: SSE2, AVX and AVX-512F.
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
/// The WC workaround fences after this many bytes of streaming stores
/// (12 lines, the number of write-combining buffers PMDK assumes).
const WC_SPAN: usize = 12 * LINE;

/// A SIMD register type.
pub(crate) trait Vector: Copy {
    /// Width in bytes.
    const SIZE: usize;
    /// Whether the non-temporal loops honour the write-combining workaround
    /// (an `SFENCE` every 768 bytes). PMDK has it for its SSE2 and AVX
    /// kernels only; its AVX-512F kernel ignores `PMEM_WC_WORKAROUND`.
    const WC_BARRIER: bool = true;
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

    /// One cache line held in registers (a tuple of vectors, which the
    /// compiler keeps in registers; an array would be spilled).
    type Line: Copy;
    /// Loads a line from `p` (any alignment).
    ///
    /// # Safety
    /// `p` readable for 64 bytes; the instruction set is enabled.
    unsafe fn load_line(p: *const u8) -> Self::Line;
    /// Stores a line at `p`, temporal (`NT == false`) or non-temporal.
    ///
    /// # Safety
    /// `p` writable for 64 bytes, 64-aligned if `NT`; the instruction set
    /// is enabled; with `NT`, an `SFENCE` follows before the memory is
    /// accessed again.
    unsafe fn store_line<const NT: bool>(p: *mut u8, line: Self::Line);
    /// A line of `b`.
    ///
    /// # Safety
    /// The instruction set is enabled.
    unsafe fn splat_line(b: u8) -> Self::Line;
}

/// Implements the `Line` part of [`Vector`] for a vector of 16, 32 or 64
/// bytes as a tuple of 4, 2 or 1 vectors.
macro_rules! line_impl {
    ($v:ty, $($i:tt),+) => {
        type Line = ($(line_impl!(@ty $v, $i),)+);
        #[inline(always)]
        unsafe fn load_line(p: *const u8) -> Self::Line {
            // SAFETY: the caller guarantees 64 readable bytes at `p`.
            unsafe { ($(<$v as Vector>::load(p.add($i * <$v as Vector>::SIZE)),)+) }
        }
        #[inline(always)]
        unsafe fn splat_line(b: u8) -> Self::Line {
            // SAFETY: the caller guarantees the instruction set.
            let v = unsafe { <$v as Vector>::splat(b) };
            ($(line_impl!(@splat $v, v, $i),)+)
        }
        #[inline(always)]
        unsafe fn store_line<const NT: bool>(p: *mut u8, line: Self::Line) {
            // SAFETY: the caller guarantees 64 writable bytes at `p`,
            // aligned for streaming when `NT`.
            unsafe {
                $(
                    if NT {
                        <$v as Vector>::stream(p.add($i * <$v as Vector>::SIZE), line.$i);
                    } else {
                        <$v as Vector>::store(p.add($i * <$v as Vector>::SIZE), line.$i);
                    }
                )+
            }
        }
    };
    (@ty $v:ty, $i:tt) => { $v };
    (@splat $v:ty, $x:expr, $i:tt) => { $x };
}
pub(crate) use line_impl;

/// The default instruction set, chosen by measurement rather than width.
///
/// Candidates: SSE2; AVX unless `PMEM_AVX=0`; AVX-512F unless
/// `PMEM_AVX512F=0`. On Intel CPUs the widest candidate wins, as in PMDK
/// (not measured here). On other CPUs with both AVX and AVX-512F, the
/// mixed family wins (AVX-512F, but AVX for non-temporal copies) unless
/// `avx512_opt_in` (`PMEM_AVX512F` set to anything but `0`) asks for
/// AVX-512F throughout: on the AMD EPYC this was tuned on, `cargo xtask
/// bench --kernels` measured AVX-512F non-temporal copies 3-14 % slower
/// than AVX ones at 256 MiB (SSE2 0-11 % slower), while AVX-512F is 15 %
/// faster than AVX for temporal copies of cached data and 0-6 % faster
/// for non-temporal fills (see `docs/benchmarks.md`).
///
/// What made PMDK's AVX-512 copy slow there is mostly its loop shape (32
/// lines loaded, then 32 stored): the same shape here lost most of pmem2's
/// lead over C. Software prefetching made no measurable difference.
///
/// MOVDIR64B (`PMEM_MOVDIR64B`) is not implemented: the CPU this was built
/// on lacks it, so it could not be tested; asking for it changes nothing.
pub(crate) fn choose_simd(
    cpu: CpuFeatures,
    tunables: &Tunables,
    avx512_opt_in: bool,
) -> KernelKind {
    let avx = cpu.avx && tunables.avx;
    let avx512 = cpu.avx512f && tunables.avx512f;
    if avx512 && avx && !cpu.intel && !avx512_opt_in {
        KernelKind::Avx512fAvxNtCopy
    } else if avx512 {
        KernelKind::Avx512f
    } else if avx {
        KernelKind::Avx
    } else {
        KernelKind::Sse2
    }
}

/// Whether the write-combining workaround is on (read once).
#[inline(always)]
fn wc_workaround() -> bool {
    static WC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    #[cfg(test)]
    if let Some(forced) = tests::WC_FORCED.with(std::cell::Cell::get) {
        return forced;
    }
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
/// blocks of four lines whose loads all precede their stores, upwards or
/// (`BACK`) downwards from the end. Temporal stores flush each line right
/// after storing it.
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
    let wc = NT && V::WC_BARRIER && wc_workaround();
    let mut since_fence = 0;
    let mut done = 0;
    // SAFETY: every line touched is within the first `lines` lines of both
    // ranges; a block's loads all happen before its stores, and blocks go
    // in the direction that never overwrites source bytes not yet read
    // (caller's `BACK` contract); `dst` lines are 64-aligned for streaming.
    unsafe {
        let put = |d: *mut u8, line: V::Line| {
            V::store_line::<NT>(d, line);
            if !NT {
                F::flush_line(d);
            }
        };
        while lines - done >= BLOCK_LINES {
            let off = if BACK {
                (lines - done - BLOCK_LINES) * LINE
            } else {
                done * LINE
            };
            let (d, s) = (dst.add(off), src.add(off));
            let l0 = V::load_line(s);
            let l1 = V::load_line(s.add(LINE));
            let l2 = V::load_line(s.add(2 * LINE));
            let l3 = V::load_line(s.add(3 * LINE));
            if BACK {
                put(d.add(3 * LINE), l3);
                put(d.add(2 * LINE), l2);
                put(d.add(LINE), l1);
                put(d, l0);
            } else {
                put(d, l0);
                put(d.add(LINE), l1);
                put(d.add(2 * LINE), l2);
                put(d.add(3 * LINE), l3);
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
            put(dst.add(off), V::load_line(src.add(off)));
            done += 1;
        }
    }
}

/// Whether a non-temporal operation ends with one streaming store instead
/// of a temporal store and a flush: a tail of exactly 4, 8, 16 or 32 bytes
/// (PMDK's rule; the tail starts on a line boundary, so it is aligned).
#[inline(always)]
fn nt_tail_size(tail: usize) -> bool {
    matches!(tail, 4 | 8 | 16 | 32)
}

/// Streams the first `len` (4, 8, 16 or 32) bytes of `words` to `dst`.
///
/// # Safety
/// `dst` 16-aligned and writable for `len` bytes; an `SFENCE` follows
/// before the memory is accessed again.
#[inline(always)]
unsafe fn stream_tail(dst: *mut u8, words: [u64; 4], len: usize) {
    use core::arch::x86_64::{_mm_set_epi64x, _mm_stream_si128, _mm_stream_si32, _mm_stream_si64};
    // SAFETY: the caller guarantees `len` writable, aligned bytes; SSE2 is
    // part of x86_64.
    unsafe {
        match len {
            4 => _mm_stream_si32(dst.cast(), words[0] as i32),
            8 => _mm_stream_si64(dst.cast(), words[0] as i64),
            _ => {
                _mm_stream_si128(dst.cast(), _mm_set_epi64x(words[1] as i64, words[0] as i64));
                if len == 32 {
                    let hi = _mm_set_epi64x(words[3] as i64, words[2] as i64);
                    _mm_stream_si128(dst.add(16).cast(), hi);
                }
            }
        }
    }
}

/// Copies the `tail` bytes after the last whole line (`dst` line-aligned):
/// streamed if non-temporal and of a streamable size, else temporal and
/// flushed.
///
/// # Safety
/// `dst` writable and `src` readable for `tail` bytes, loads before stores.
#[inline(always)]
unsafe fn copy_tail<F: Flush, const NT: bool>(dst: *mut u8, src: *const u8, tail: usize) {
    // SAFETY: forwarded contract; reads of `src` stay within `tail` bytes
    // (the array's unused words are never read).
    unsafe {
        if NT && nt_tail_size(tail) {
            let mut words = [0u64; 4];
            std::ptr::copy_nonoverlapping(src, words.as_mut_ptr().cast::<u8>(), tail);
            stream_tail(dst, words, tail);
        } else if tail > 0 {
            small_copy(dst, src, tail);
            flush_range::<F>(dst, tail);
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
        let head = to_line(dst as usize);
        if len < LINE || (len == LINE && !(NT && head == 0)) {
            small_copy(dst, src, len);
            flush_range::<F>(dst, len);
        } else {
            let lines = (len - head) / LINE;
            let tail = (len - head) % LINE;
            let body = head + lines * LINE;
            if (dst as usize).wrapping_sub(src as usize) >= len {
                if head > 0 {
                    small_copy(dst, src, head);
                    flush_range::<F>(dst, head);
                }
                copy_lines::<V, F, NT, false>(dst.add(head), src.add(head), lines);
                copy_tail::<F, NT>(dst.add(body), src.add(body), tail);
            } else {
                copy_tail::<F, NT>(dst.add(body), src.add(body), tail);
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
        let head = to_line(dst as usize);
        if len < LINE || (len == LINE && !(NT && head == 0)) {
            small_set(dst, byte, len);
            flush_range::<F>(dst, len);
        } else {
            if head > 0 {
                small_set(dst, byte, head);
                flush_range::<F>(dst, head);
            }
            let line = V::splat_line(byte);
            let mut d = dst.add(head);
            let mut left = len - head;
            let wc = NT && V::WC_BARRIER && wc_workaround();
            let mut since_fence = 0;
            let put = |d: *mut u8| {
                V::store_line::<NT>(d, line);
                if !NT {
                    F::flush_line(d);
                }
            };
            while left >= BLOCK {
                put(d);
                put(d.add(LINE));
                put(d.add(2 * LINE));
                put(d.add(3 * LINE));
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
                put(d);
                d = d.add(LINE);
                left -= LINE;
            }
            if NT && nt_tail_size(left) {
                let p8 = u64::from_ne_bytes([byte; 8]);
                stream_tail(d, [p8, p8, p8, p8], left);
            } else if left > 0 {
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
        pub(super) unsafe fn copy_entry<F: Flush, const NT: bool>(
            dst: *mut u8,
            src: *const u8,
            len: usize,
        ) {
            // SAFETY: forwarded contract; this function enables the feature.
            unsafe { super::copy::<$vector, F, NT>(dst, src, len) }
        }

        #[target_feature(enable = $feature)]
        pub(super) unsafe fn set_entry<F: Flush, const NT: bool>(
            dst: *mut u8,
            byte: u8,
            len: usize,
        ) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::FlushKind;

    #[test]
    fn simd_choice() {
        let t = Tunables::default();
        let amd = CpuFeatures {
            avx: true,
            avx2: true,
            avx512f: true,
            ..CpuFeatures::default()
        };
        let intel = CpuFeatures { intel: true, ..amd };
        assert_eq!(choose_simd(amd, &t, false), KernelKind::Avx512fAvxNtCopy);
        assert_eq!(choose_simd(amd, &t, true), KernelKind::Avx512f);
        assert_eq!(choose_simd(intel, &t, false), KernelKind::Avx512f);
        let no_avx = Tunables {
            avx: false,
            ..t.clone()
        };
        assert_eq!(choose_simd(amd, &no_avx, false), KernelKind::Avx512f);
        let no_512 = Tunables {
            avx512f: false,
            ..t.clone()
        };
        assert_eq!(choose_simd(intel, &no_512, false), KernelKind::Avx);
        assert_eq!(choose_simd(amd, &no_512, true), KernelKind::Avx);
        let neither = Tunables {
            avx: false,
            avx512f: false,
            ..t.clone()
        };
        assert_eq!(choose_simd(intel, &neither, true), KernelKind::Sse2);
        let old = CpuFeatures::default();
        assert_eq!(choose_simd(old, &t, true), KernelKind::Sse2);
        let avx_only = CpuFeatures { avx: true, ..old };
        assert_eq!(choose_simd(avx_only, &t, true), KernelKind::Avx);
    }
    use std::cell::{Cell, RefCell};

    thread_local! {
        static FLUSHED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
        /// Overrides `PMEM_WC_WORKAROUND` for this thread's kernel calls.
        pub(super) static WC_FORCED: Cell<Option<bool>> = const { Cell::new(None) };
    }

    /// Records the lines it is asked to flush. Its kind is CLWB so the
    /// kernels skip the trailing `SFENCE` as they do with CLWB; the test
    /// fences itself.
    struct Recorder;
    impl Flush for Recorder {
        const KIND: FlushKind = FlushKind::Clwb;
        unsafe fn flush_line(line: *const u8) {
            FLUSHED.with(|f| f.borrow_mut().push(line as usize & !(LINE - 1)));
        }
    }

    type CopyEntry = unsafe fn(*mut u8, *const u8, usize);
    type SetEntry = unsafe fn(*mut u8, u8, usize);

    /// (name, supported, temporal copy, NT copy, temporal set, NT set).
    fn kernels() -> Vec<(&'static str, bool, [CopyEntry; 2], [SetEntry; 2])> {
        let cpu = super::super::cpu_features();
        vec![
            (
                "sse2",
                true,
                [
                    sse2::copy_entry::<Recorder, false>,
                    sse2::copy_entry::<Recorder, true>,
                ],
                [
                    sse2::set_entry::<Recorder, false>,
                    sse2::set_entry::<Recorder, true>,
                ],
            ),
            (
                "avx",
                cpu.avx,
                [
                    avx::copy_entry::<Recorder, false>,
                    avx::copy_entry::<Recorder, true>,
                ],
                [
                    avx::set_entry::<Recorder, false>,
                    avx::set_entry::<Recorder, true>,
                ],
            ),
            (
                "avx512f",
                cpu.avx512f,
                [
                    avx512::copy_entry::<Recorder, false>,
                    avx512::copy_entry::<Recorder, true>,
                ],
                [
                    avx512::set_entry::<Recorder, false>,
                    avx512::set_entry::<Recorder, true>,
                ],
            ),
        ]
    }

    /// The lines overlapping `[addr, addr + len)`.
    fn lines_of(addr: usize, len: usize) -> Vec<usize> {
        if len == 0 {
            return Vec::new();
        }
        (addr & !(LINE - 1)..addr + len).step_by(LINE).collect()
    }

    /// Checks the flushes of one call: temporal flushes every written line
    /// exactly once; non-temporal flushes only lines it didn't stream
    /// (never a line outside the range, never twice), and nothing at all
    /// when the range is whole lines.
    fn check_flushes(nt: bool, dst: usize, len: usize, what: &str) {
        let mut flushed = FLUSHED.with(|f| std::mem::take(&mut *f.borrow_mut()));
        flushed.sort_unstable();
        let lines = lines_of(dst, len);
        if nt {
            let mut unique = flushed.clone();
            unique.dedup();
            assert_eq!(unique, flushed, "{what}: a line flushed twice");
            assert!(
                flushed.iter().all(|l| lines.contains(l)),
                "{what}: flush outside the range"
            );
            if dst.is_multiple_of(LINE) && len.is_multiple_of(LINE) {
                assert!(flushed.is_empty(), "{what}: whole lines were flushed");
            }
        } else {
            assert_eq!(flushed, lines, "{what}: temporal flushes");
        }
    }

    #[test]
    fn every_kernel_flushes_what_it_leaves_in_cache() {
        let src: Vec<u8> = (0..2000u32).map(|i| (i * 7 + 1) as u8).collect();
        let mut buf = vec![0u8; 2200];
        for (name, supported, copies, sets) in kernels() {
            if !supported {
                continue;
            }
            for (nt, (copy, set)) in [false, true].into_iter().zip(copies.into_iter().zip(sets)) {
                for off in [0usize, 1, 17, 63] {
                    for len in [
                        0usize, 1, 4, 8, 16, 32, 63, 64, 65, 100, 128, 260, 320, 1000, 1024,
                    ] {
                        let base = buf.as_mut_ptr();
                        let off = off + (64 - base as usize % 64) % 64;
                        let what = format!("{name} nt={nt} off={off} len={len}");
                        // SAFETY: `off + len <= 63 + 63 + 1024 < 2200`; the
                        // CPU has the kernel's features (checked above).
                        unsafe {
                            copy(base.add(off), src.as_ptr(), len);
                            fence();
                        }
                        check_flushes(nt, base as usize + off, len, &what);
                        assert_eq!(&buf[off..off + len], &src[..len], "{what}");
                        // SAFETY: as above.
                        unsafe {
                            set(buf.as_mut_ptr().add(off), 0xa7, len);
                            fence();
                        }
                        check_flushes(nt, buf.as_ptr() as usize + off, len, &what);
                        assert!(buf[off..off + len].iter().all(|&b| b == 0xa7), "{what}");
                    }
                }
            }
        }
    }

    /// `PMEM_WC_WORKAROUND` adds an `SFENCE` per 768 bytes of streaming
    /// stores to the SSE2 and AVX kernels only; PMDK's AVX-512F kernel has
    /// no such variant.
    #[test]
    fn wc_workaround_fences_only_sse2_and_avx() {
        let src = vec![0x5au8; 5000];
        let mut buf = vec![0u8; 5000 + LINE];
        let off = (LINE - buf.as_ptr() as usize % LINE) % LINE;
        for wc in [false, true] {
            WC_FORCED.with(|w| w.set(Some(wc)));
            for (name, supported, copies, sets) in kernels() {
                if !supported {
                    continue;
                }
                let count = |f: &dyn Fn()| {
                    let before = crate::arch::fences();
                    f();
                    crate::arch::fences() - before
                };
                // SAFETY: `off + 5000` is inside `buf`; the CPU has the
                // kernel's features (checked above). The recorder is CLWB,
                // so no trailing SFENCE is counted.
                let (copy_fences, set_fences) = unsafe {
                    let d = buf.as_mut_ptr().add(off);
                    (
                        count(&|| copies[1](d, src.as_ptr(), 5000)),
                        count(&|| sets[1](d, 0x11, 5000)),
                    )
                };
                fence();
                FLUSHED.with(|f| f.borrow_mut().clear());
                let expected = if wc && name != "avx512f" { 6 } else { 0 };
                assert_eq!(copy_fences, expected, "{name} copy, wc={wc}");
                assert_eq!(set_fences, expected, "{name} set, wc={wc}");
            }
        }
        WC_FORCED.with(|w| w.set(None));
    }
}
