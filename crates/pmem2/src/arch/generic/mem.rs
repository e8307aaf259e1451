//! The portable kernel: 8-byte stores, no SIMD, no non-temporal stores.
//!
//! Used on aarch64 and other architectures, under Miri, and on x86_64 with
//! `PMEM_NO_MOVNT=1`. It keeps PMDK's documented guarantee: when `dst` and
//! `len` are both multiples of 8, every store is an 8-byte store (libpmemobj
//! relies on it for atomic 8-byte updates). Those stores are relaxed atomic
//! stores, which the compiler may not merge into wider or split into
//! narrower ones.
//!
//! Shape of a forward copy: bytes until `dst` is 8-aligned, 8-byte words
//! until it is 64-aligned, whole 64-byte lines (each flushed once written),
//! the remaining words, the remaining bytes; the partial head and tail lines
//! are flushed at the end of each part. A backward copy (overlap with
//! `dst > src`) mirrors it from the end.

#[cfg(not(miri))]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::arch::kernel::Kernel;
use crate::arch::{flush_range, Flush, CACHE_LINE_SIZE};

const WORD: usize = 8;

/// Where the generic kernel's stores go: the real memory, or a recorder in
/// tests (which checks the store widths).
pub(crate) trait Stores {
    /// Stores an 8-byte word at an 8-aligned address.
    ///
    /// # Safety
    /// `p` is 8-aligned and writable for 8 bytes.
    unsafe fn word(p: *mut u8, v: u64);
    /// Stores one byte.
    ///
    /// # Safety
    /// `p` is writable.
    unsafe fn byte(p: *mut u8, v: u8);
}

/// Stores straight to memory.
pub(crate) struct Direct;

impl Stores for Direct {
    #[inline(always)]
    #[cfg(not(miri))]
    unsafe fn word(p: *mut u8, v: u64) {
        // SAFETY: the caller guarantees `p` is 8-aligned and writable; no
        // other thread accesses it non-atomically during the call (the C
        // contract of a memory function).
        unsafe { AtomicU64::from_ptr(p.cast()) }.store(v, Ordering::Relaxed);
    }

    /// Under Miri: a plain aligned 8-byte write. Miri's weak-memory
    /// emulation panics (an internal error, nightly 1.97) when byte and
    /// word accesses mix on memory an atomic store wrote, which overlapping
    /// moves do; the atomic store is only there to stop the compiler from
    /// merging or splitting stores, which Miri doesn't do.
    #[inline(always)]
    #[cfg(miri)]
    unsafe fn word(p: *mut u8, v: u64) {
        // SAFETY: the caller guarantees `p` is 8-aligned and writable.
        unsafe { p.cast::<u64>().write(v) };
    }
    #[inline(always)]
    unsafe fn byte(p: *mut u8, v: u8) {
        // SAFETY: the caller guarantees `p` is writable.
        unsafe { p.write(v) };
    }
}

/// The portable kernel family.
pub(crate) struct Generic;

impl Kernel for Generic {
    const HAS_NT: bool = false;
    const NAME: &'static str = "generic";
    const NT_COPY: (&'static str, bool) = ("generic", false);

    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: same contract as the trait's.
        unsafe { copy::<F, Direct>(dst, src, len) }
    }
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize, _wc: bool) {
        // SAFETY: same contract as the trait's.
        unsafe { copy::<F, Direct>(dst, src, len) }
    }
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: same contract as the trait's.
        unsafe { set::<F, Direct>(dst, byte, len) }
    }
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize, _wc: bool) {
        // SAFETY: same contract as the trait's.
        unsafe { set::<F, Direct>(dst, byte, len) }
    }
}

/// Bytes from `addr` to the next multiple of `align` (a power of two).
#[inline(always)]
fn to_align(addr: usize, align: usize) -> usize {
    addr.wrapping_neg() & (align - 1)
}

/// Copies `len` bytes, overlapping or not, flushing each written line.
///
/// # Safety
/// `dst..dst+len` writable, `src..src+len` readable.
#[inline(always)]
pub(crate) unsafe fn copy<F: Flush, S: Stores>(dst: *mut u8, src: *const u8, len: usize) {
    if (dst as usize).wrapping_sub(src as usize) >= len {
        // SAFETY: forwarded contract; dst is below src or they don't overlap.
        unsafe { copy_forward::<F, S>(dst, src, len) }
    } else {
        // SAFETY: forwarded contract; dst is above src and they overlap.
        unsafe { copy_backward::<F, S>(dst, src, len) }
    }
}

/// Splits `len` bytes at `dst` into: bytes to 8-alignment, words to
/// 64-alignment, whole lines, trailing words, trailing bytes (forward order).
#[inline(always)]
fn split_forward(dst: usize, len: usize) -> [usize; 5] {
    let head_bytes = to_align(dst, WORD).min(len);
    let rest = len - head_bytes;
    let head_words = (to_align(dst + head_bytes, CACHE_LINE_SIZE) / WORD).min(rest / WORD);
    let rest = rest - head_words * WORD;
    let lines = rest / CACHE_LINE_SIZE;
    let rest = rest % CACHE_LINE_SIZE;
    [head_bytes, head_words, lines, rest / WORD, rest % WORD]
}

/// As [`split_forward`], from the end of the range backwards.
#[inline(always)]
fn split_backward(dst: usize, len: usize) -> [usize; 5] {
    let end = dst.wrapping_add(len);
    let tail_bytes = (end % WORD).min(len);
    let rest = len - tail_bytes;
    let tail_words = ((end - tail_bytes) % CACHE_LINE_SIZE / WORD).min(rest / WORD);
    let rest = rest - tail_words * WORD;
    let lines = rest / CACHE_LINE_SIZE;
    let rest = rest % CACHE_LINE_SIZE;
    [tail_bytes, tail_words, lines, rest / WORD, rest % WORD]
}

/// # Safety
/// As [`copy`], with `dst <= src` or no overlap.
#[inline(always)]
unsafe fn copy_forward<F: Flush, S: Stores>(dst: *mut u8, src: *const u8, len: usize) {
    let [head_bytes, head_words, lines, words, bytes] = split_forward(dst as usize, len);
    let (mut d, mut s) = (dst, src);
    // SAFETY: every access below stays within `[dst, dst+len)` and
    // `[src, src+len)` (the split adds up to `len`); word stores are at
    // 8-aligned `d` (after the head bytes); each load precedes the store
    // that could overwrite its source, since `d <= s` moving upwards.
    unsafe {
        for _ in 0..head_bytes {
            S::byte(d, s.read());
            d = d.add(1);
            s = s.add(1);
        }
        for _ in 0..head_words {
            S::word(d, s.cast::<u64>().read_unaligned());
            d = d.add(WORD);
            s = s.add(WORD);
        }
        if lines > 0 {
            flush_range::<F>(dst, d.offset_from_unsigned(dst));
        }
        for _ in 0..lines {
            for i in 0..CACHE_LINE_SIZE / WORD {
                S::word(
                    d.add(i * WORD),
                    s.add(i * WORD).cast::<u64>().read_unaligned(),
                );
            }
            F::flush_line(d);
            d = d.add(CACHE_LINE_SIZE);
            s = s.add(CACHE_LINE_SIZE);
        }
        let tail = d;
        for _ in 0..words {
            S::word(d, s.cast::<u64>().read_unaligned());
            d = d.add(WORD);
            s = s.add(WORD);
        }
        for _ in 0..bytes {
            S::byte(d, s.read());
            d = d.add(1);
            s = s.add(1);
        }
        flush_tail::<F>(lines, dst, len, tail, d);
    }
}

/// # Safety
/// As [`copy`], with `dst > src` and overlapping.
#[inline(always)]
unsafe fn copy_backward<F: Flush, S: Stores>(dst: *mut u8, src: *const u8, len: usize) {
    let [tail_bytes, tail_words, lines, words, bytes] = split_backward(dst as usize, len);
    // SAFETY: as in `copy_forward`, mirrored: pointers move down from the
    // ends, `d >= s`, so each load precedes any store over its source.
    unsafe {
        let end = dst.add(len);
        let (mut d, mut s) = (end, src.add(len));
        for _ in 0..tail_bytes {
            d = d.sub(1);
            s = s.sub(1);
            S::byte(d, s.read());
        }
        for _ in 0..tail_words {
            d = d.sub(WORD);
            s = s.sub(WORD);
            S::word(d, s.cast::<u64>().read_unaligned());
        }
        if lines > 0 {
            flush_range::<F>(d, end.offset_from_unsigned(d));
        }
        for _ in 0..lines {
            d = d.sub(CACHE_LINE_SIZE);
            s = s.sub(CACHE_LINE_SIZE);
            for i in (0..CACHE_LINE_SIZE / WORD).rev() {
                S::word(
                    d.add(i * WORD),
                    s.add(i * WORD).cast::<u64>().read_unaligned(),
                );
            }
            F::flush_line(d);
        }
        let head_end = d;
        for _ in 0..words {
            d = d.sub(WORD);
            s = s.sub(WORD);
            S::word(d, s.cast::<u64>().read_unaligned());
        }
        for _ in 0..bytes {
            d = d.sub(1);
            s = s.sub(1);
            S::byte(d, s.read());
        }
        flush_tail::<F>(lines, dst, len, d, head_end);
    }
}

/// Flushes the part after (forward) or before (backward) the whole lines,
/// `[from, to)`; with no whole lines, flushes the whole range once instead
/// (head and tail may then share a line).
///
/// # Safety
/// `[dst, dst+len)` and `[from, to)` mapped.
#[inline(always)]
unsafe fn flush_tail<F: Flush>(lines: usize, dst: *mut u8, len: usize, from: *mut u8, to: *mut u8) {
    // SAFETY: forwarded contract; `from <= to` by construction.
    unsafe {
        if lines > 0 {
            flush_range::<F>(from, to.offset_from_unsigned(from));
        } else {
            flush_range::<F>(dst, len);
        }
    }
}

/// Fills `len` bytes with `byte`, flushing each written line.
///
/// # Safety
/// `dst..dst+len` writable.
#[inline(always)]
pub(crate) unsafe fn set<F: Flush, S: Stores>(dst: *mut u8, byte: u8, len: usize) {
    let [head_bytes, head_words, lines, words, bytes] = split_forward(dst as usize, len);
    let pattern = u64::from_ne_bytes([byte; WORD]);
    let mut d = dst;
    // SAFETY: every store stays within `[dst, dst+len)`; word stores are at
    // 8-aligned addresses (after the head bytes).
    unsafe {
        for _ in 0..head_bytes {
            S::byte(d, byte);
            d = d.add(1);
        }
        for _ in 0..head_words {
            S::word(d, pattern);
            d = d.add(WORD);
        }
        if lines > 0 {
            flush_range::<F>(dst, d.offset_from_unsigned(dst));
        }
        for _ in 0..lines {
            for i in 0..CACHE_LINE_SIZE / WORD {
                S::word(d.add(i * WORD), pattern);
            }
            F::flush_line(d);
            d = d.add(CACHE_LINE_SIZE);
        }
        let tail = d;
        for _ in 0..words {
            S::word(d, pattern);
            d = d.add(WORD);
        }
        for _ in 0..bytes {
            S::byte(d, byte);
            d = d.add(1);
        }
        flush_tail::<F>(lines, dst, len, tail, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::FlushKind;
    use std::cell::RefCell;

    /// (address, width) of every store, and every flushed line.
    type Log = (Vec<(usize, usize)>, Vec<usize>);

    thread_local! {
        static LOG: RefCell<Log> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    struct Recorder;
    impl Stores for Recorder {
        unsafe fn word(p: *mut u8, v: u64) {
            assert_eq!(p as usize % 8, 0, "unaligned word store");
            LOG.with(|l| l.borrow_mut().0.push((p as usize, 8)));
            // SAFETY: forwarded contract.
            unsafe { Direct::word(p, v) };
        }
        unsafe fn byte(p: *mut u8, v: u8) {
            LOG.with(|l| l.borrow_mut().0.push((p as usize, 1)));
            // SAFETY: forwarded contract.
            unsafe { Direct::byte(p, v) };
        }
    }

    struct RecordFlush;
    impl Flush for RecordFlush {
        const KIND: FlushKind = FlushKind::None;
        unsafe fn flush_line(line: *const u8) {
            LOG.with(|l| l.borrow_mut().1.push(line as usize & !63));
        }
    }

    fn take_log() -> Log {
        LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }

    /// Checks the recorded stores cover `[dst, dst+len)` exactly once, that
    /// all are 8-byte when `dst` and `len` are 8-aligned, and that every
    /// written line was flushed exactly once.
    fn check_log(dst: usize, len: usize) {
        let (stores, flushes) = take_log();
        let mut covered = vec![0u8; len];
        for &(addr, width) in &stores {
            for c in &mut covered[addr - dst..addr - dst + width] {
                *c += 1;
            }
        }
        assert!(covered.iter().all(|&c| c == 1), "dst {dst:#x} len {len}");
        if dst.is_multiple_of(8) && len.is_multiple_of(8) {
            assert!(
                stores.iter().all(|&(_, w)| w == 8),
                "dst {dst:#x} len {len}"
            );
        }
        let mut lines: Vec<usize> = (dst & !63..dst + len).step_by(64).collect();
        if len == 0 {
            lines.clear();
        }
        let mut sorted = flushes;
        sorted.sort_unstable();
        assert_eq!(sorted, lines, "dst {dst:#x} len {len}");
    }

    #[test]
    fn store_widths_and_flushes() {
        let mut buf = vec![0u64; 64];
        let base = buf.as_mut_ptr().cast::<u8>();
        let src = vec![0x5au8; 300];
        let sizes: &[usize] = if cfg!(miri) {
            &[0, 1, 8, 63, 64, 72, 130, 200]
        } else {
            &[
                0, 1, 7, 8, 9, 16, 56, 63, 64, 65, 72, 127, 128, 136, 200, 256,
            ]
        };
        for off in 0..16 {
            for &len in sizes {
                // SAFETY: `buf` holds 512 bytes; `off + len <= 272`.
                let dst = unsafe { base.add(off) };
                // SAFETY: `dst..dst+len` is inside `buf`, `src` holds 300 bytes.
                unsafe { copy_forward::<RecordFlush, Recorder>(dst, src.as_ptr(), len) };
                check_log(dst as usize, len);
                // SAFETY: as above; `dst + 8 > dst` so the ranges overlap
                // with the destination above, as a backward copy requires.
                unsafe { copy_backward::<RecordFlush, Recorder>(dst.add(8), dst, len) };
                check_log(dst as usize + 8, len);
                // SAFETY: as above.
                unsafe { set::<RecordFlush, Recorder>(dst, 0xee, len) };
                check_log(dst as usize, len);
            }
        }
    }

    #[test]
    fn copy_matches_ptr_copy_both_directions() {
        const N: usize = 200;
        let max_len = if cfg!(miri) { 80 } else { 140 };
        let step = if cfg!(miri) { 13 } else { 1 };
        for len in (0..max_len).step_by(step) {
            for shift in [-17isize, -8, -1, 1, 8, 9, 40] {
                let init: Vec<u8> = (0..N).map(|i| i as u8).collect();
                let (mut ours, mut want) = (init.clone(), init);
                let (src, dst) = if shift > 0 {
                    (20, 20 + shift as usize)
                } else {
                    (20 + (-shift) as usize, 20)
                };
                // SAFETY: both ranges are inside the 200-byte buffers.
                unsafe {
                    let p = ours.as_mut_ptr();
                    copy::<crate::arch::NoFlush, Direct>(p.add(dst), p.add(src), len);
                    let q = want.as_mut_ptr();
                    std::ptr::copy(q.add(src), q.add(dst), len);
                }
                assert_eq!(ours, want, "len {len} shift {shift}");
            }
        }
    }
}
