//! Pieces shorter than a cache line: the head and tail of a copy or fill
//! (overlapping scalar and 16-byte moves) and the non-temporal tail stores.

use super::LINE;

/// Bytes from `addr` to the next multiple of 64.
#[inline(always)]
pub(super) fn to_line(addr: usize) -> usize {
    addr.wrapping_neg() & (LINE - 1)
}

/// Copies up to 64 bytes; all loads happen before any store, so the ranges
/// may overlap.
///
/// # Safety
/// `len <= 64`, `dst` writable and `src` readable for `len` bytes.
#[inline(always)]
pub(super) unsafe fn small_copy(dst: *mut u8, src: *const u8, len: usize) {
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
pub(super) unsafe fn small_set(dst: *mut u8, byte: u8, len: usize) {
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

/// Whether a non-temporal operation ends with one streaming store instead
/// of a temporal store and a flush: a tail of exactly 4, 8, 16 or 32 bytes
/// (PMDK's rule; the tail starts on a line boundary, so it is aligned).
#[inline(always)]
pub(super) fn nt_tail_size(tail: usize) -> bool {
    matches!(tail, 4 | 8 | 16 | 32)
}

/// Streams the first `len` (4, 8, 16 or 32) bytes of `words` to `dst`.
///
/// # Safety
/// `dst` 16-aligned and writable for `len` bytes; an `SFENCE` follows
/// before the memory is accessed again.
#[inline(always)]
pub(super) unsafe fn stream_tail(dst: *mut u8, words: [u64; 4], len: usize) {
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
