//! SSE2 (baseline `x86_64`): 16-byte vectors.

use core::arch::x86_64::{
    __m128i, _mm_loadu_si128, _mm_set1_epi8, _mm_storeu_si128, _mm_stream_si128,
};

use super::{line_impl, simd_kernel, Vector};
use crate::arch::Flush;

/// The SSE2 kernel family.
pub(crate) struct Sse2;

impl Vector for __m128i {
    const SIZE: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` readable for 16 bytes.
        unsafe { _mm_loadu_si128(p.cast()) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` writable for 16 bytes.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn stream(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` 16-aligned and writable, and a
        // fence before the memory is accessed again.
        unsafe { _mm_stream_si128(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: SSE2 is part of x86_64.
        unsafe { _mm_set1_epi8(b as i8) }
    }

    line_impl!(__m128i, 0, 1, 2, 3);
}

simd_kernel!(Sse2, __m128i, "sse2", nt_barrier_names: true);
