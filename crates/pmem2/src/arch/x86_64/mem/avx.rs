//! AVX: 32-byte vectors (`vmovdqu`, `vmovntdq ymm`).

use core::arch::x86_64::{
    __m256i, _mm256_loadu_si256, _mm256_set1_epi8, _mm256_storeu_si256, _mm256_stream_si256,
};

use super::{line_impl, simd_kernel, Vector};
use crate::arch::Flush;

/// The AVX kernel family.
pub(crate) struct Avx;

impl Vector for __m256i {
    const SIZE: usize = 32;
    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` readable for 32 bytes and AVX.
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` writable for 32 bytes and AVX.
        unsafe { _mm256_storeu_si256(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn stream(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` 32-aligned and writable, AVX,
        // and a fence before the memory is accessed again.
        unsafe { _mm256_stream_si256(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: the caller guarantees AVX.
        unsafe { _mm256_set1_epi8(b as i8) }
    }

    line_impl!(__m256i, 0, 1);
}

simd_kernel!(Avx, __m256i, "avx", nt_barrier_names: true);
