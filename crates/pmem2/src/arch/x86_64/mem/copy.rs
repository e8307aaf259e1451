//! The copy algorithm, written once over [`Vector`]: head, whole lines in
//! blocks of four (loads before stores), tail; upwards or, for an
//! overlapping move to a higher address, downwards.

use super::small::{nt_tail_size, small_copy, stream_tail, to_line};
use super::{Vector, BLOCK, BLOCK_LINES, LINE, WC_SPAN};
use crate::arch::kernel::sfence_after_nt;
use crate::arch::{fence, flush_range, Flush};

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
pub(super) unsafe fn copy_lines<V: Vector, F: Flush, const NT: bool, const BACK: bool>(
    dst: *mut u8,
    src: *const u8,
    lines: usize,
    wc_workaround: bool,
) {
    let wc = NT && V::WC_BARRIER && wc_workaround;
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

/// Copies the `tail` bytes after the last whole line (`dst` line-aligned):
/// streamed if non-temporal and of a streamable size, else temporal and
/// flushed.
///
/// # Safety
/// `dst` writable and `src` readable for `tail` bytes, loads before stores.
#[inline(always)]
pub(super) unsafe fn copy_tail<F: Flush, const NT: bool>(
    dst: *mut u8,
    src: *const u8,
    tail: usize,
) {
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
    wc_workaround: bool,
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
                copy_lines::<V, F, NT, false>(dst.add(head), src.add(head), lines, wc_workaround);
                copy_tail::<F, NT>(dst.add(body), src.add(body), tail);
            } else {
                copy_tail::<F, NT>(dst.add(body), src.add(body), tail);
                copy_lines::<V, F, NT, true>(dst.add(head), src.add(head), lines, wc_workaround);
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
