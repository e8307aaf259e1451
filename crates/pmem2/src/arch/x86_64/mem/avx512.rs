//! AVX-512F: 64-byte vectors, one per cache line (`vmovntdq zmm`).

use core::arch::x86_64::{
    __m512i, _mm512_loadu_si512, _mm512_set1_epi8, _mm512_storeu_si512, _mm512_stream_si512,
};

use super::{line_impl, simd_kernel, Vector};
use crate::arch::Flush;

/// The AVX-512F kernel family.
pub(crate) struct Avx512f;

impl Vector for __m512i {
    const SIZE: usize = 64;
    const WC_BARRIER: bool = false;
    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` readable for 64 bytes and AVX-512F.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` writable for 64 bytes and AVX-512F.
        unsafe { _mm512_storeu_si512(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn stream(p: *mut u8, v: Self) {
        // SAFETY: the caller guarantees `p` 64-aligned and writable,
        // AVX-512F, and a fence before the memory is accessed again.
        unsafe { _mm512_stream_si512(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        unsafe { _mm512_set1_epi8(b as i8) }
    }

    line_impl!(__m512i, 0);
}

simd_kernel!(Avx512f, __m512i, "avx512f", nt_barrier_names: false);
