//! The memory-op kernel families: the [`Kernel`] trait every family
//! implements, [`KernelKind`] naming them, and the families that are not
//! tied to an instruction set ([`LibcKernel`], [`Mixed`]).
//!
//! Kernels only store and flush; which kernel runs, and with which
//! tunables, is decided by the caller (`crate::mem`) and passed in.

use super::Flush;

/// A family of memory-op kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// `ptr::copy` / `ptr::write_bytes` (libc) then a flush of the range:
    /// `PMEM_NO_GENERIC_MEMCPY` when the SIMD kernels are off.
    Libc,
    /// Portable 8-byte stores: `PMEM_NO_MOVNT=1`, non-x86 CPUs, Miri.
    Generic,
    /// `x86_64` SSE2, 16-byte vectors.
    Sse2,
    /// `x86_64` AVX, 32-byte vectors.
    Avx,
    /// `x86_64` AVX-512F, 64-byte vectors.
    Avx512f,
    /// `x86_64` AVX-512F, except non-temporal copies, which use AVX: the
    /// fastest on the AMD EPYC pmem2 was tuned on (see `docs/benchmarks.md`).
    Avx512fAvxNtCopy,
}

impl KernelKind {
    /// Every kernel family, whether or not this CPU runs it.
    pub const ALL: [KernelKind; 6] = [
        KernelKind::Libc,
        KernelKind::Generic,
        KernelKind::Sse2,
        KernelKind::Avx,
        KernelKind::Avx512f,
        KernelKind::Avx512fAvxNtCopy,
    ];

    /// The lower-case name, e.g. `"avx512f"`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KernelKind::Libc => "libc",
            KernelKind::Generic => "generic",
            KernelKind::Sse2 => "sse2",
            KernelKind::Avx => "avx",
            KernelKind::Avx512f => "avx512f",
            KernelKind::Avx512fAvxNtCopy => "avx512f_avx_ntcopy",
        }
    }

    /// Whether this build and CPU can run the kernel.
    pub(crate) fn is_supported(self) -> bool {
        match self {
            KernelKind::Libc | KernelKind::Generic => true,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Sse2 => true,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx => super::imp::cpu_features().avx,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx512f => super::imp::cpu_features().avx512f,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx512fAvxNtCopy => {
                let cpu = super::imp::cpu_features();
                cpu.avx512f && cpu.avx
            }
            #[cfg(not(all(target_arch = "x86_64", not(miri))))]
            KernelKind::Sse2
            | KernelKind::Avx
            | KernelKind::Avx512f
            | KernelKind::Avx512fAvxNtCopy => false,
        }
    }
}

impl std::fmt::Display for KernelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One family of copy and fill kernels.
///
/// The `_t` functions use temporal stores and flush every line they write
/// with `F`; the `_nt` ones use non-temporal stores for whole lines (head and
/// tail are temporal and flushed with `F`). Families without non-temporal
/// stores (`HAS_NT == false`) implement `_nt` as `_t`.
///
/// All of them: `len > 0`; `dst..dst+len` writable, `src..src+len` readable
/// (for moves the two may overlap); no fence at the end except where PMDK
/// issues an `SFENCE` after non-temporal stores ([`sfence_after_nt`]).
pub(crate) trait Kernel {
    /// Whether the `_nt` functions really use non-temporal stores.
    const HAS_NT: bool;
    /// PMDK's name of the family in its routine names: the instruction set
    /// (`"sse2"`, `"avx"`, `"avx512f"` in `memmove_mov_avx_clwb`), or the
    /// family of `memmove_nodrain_generic` / `memmove_nodrain_libc`.
    const NAME: &'static str;
    /// Whether PMDK's non-temporal routines of the family end in
    /// `_wcbarrier` / `_nobarrier` (SSE2 and AVX; not AVX-512F).
    const NT_BARRIER_NAMES: bool = false;
    /// [`NAME`](Self::NAME) and [`NT_BARRIER_NAMES`](Self::NT_BARRIER_NAMES)
    /// of the non-temporal copy, which [`Mixed`] takes from another family.
    const NT_COPY: (&'static str, bool);

    /// Temporal copy, each written line flushed with `F`.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize);
    /// Non-temporal copy.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize, wc_workaround: bool);
    /// Temporal fill.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize);
    /// Non-temporal fill.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize, wc_workaround: bool);
}

/// Whether a non-temporal kernel flushing with `F` ends with an `SFENCE`
/// (PMDK: yes without flush, for eADR, and with `CLFLUSH`; with `CLWB` and
/// `CLFLUSHOPT` the drain fence orders the stores).
#[inline(always)]
#[allow(dead_code)] // only the x86_64 kernels have non-temporal stores
pub(crate) fn sfence_after_nt<F: Flush>() -> bool {
    !matches!(
        F::KIND,
        super::FlushKind::Clwb | super::FlushKind::Clflushopt
    )
}

/// The functions of `T`, except the non-temporal copy, which is `N`'s.
#[allow(dead_code)] // only x86_64 has two SIMD families to mix
pub(crate) struct Mixed<T, N>(std::marker::PhantomData<(T, N)>);

impl<T: Kernel, N: Kernel> Kernel for Mixed<T, N> {
    const HAS_NT: bool = T::HAS_NT && N::HAS_NT;
    const NAME: &'static str = T::NAME;
    const NT_BARRIER_NAMES: bool = T::NT_BARRIER_NAMES;
    const NT_COPY: (&'static str, bool) = (N::NAME, N::NT_BARRIER_NAMES);

    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: same contract.
        unsafe { T::copy_t::<F>(dst, src, len) }
    }
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize, wc: bool) {
        // SAFETY: same contract.
        unsafe { N::copy_nt::<F>(dst, src, len, wc) }
    }
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: same contract.
        unsafe { T::set_t::<F>(dst, byte, len) }
    }
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize, wc: bool) {
        // SAFETY: same contract.
        unsafe { T::set_nt::<F>(dst, byte, len, wc) }
    }
}

/// `ptr::copy` / `ptr::write_bytes` (libc's memmove and memset) plus a flush.
pub(crate) struct LibcKernel;

impl Kernel for LibcKernel {
    const HAS_NT: bool = false;
    const NAME: &'static str = "libc";
    const NT_COPY: (&'static str, bool) = ("libc", false);

    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: the caller guarantees both ranges; `ptr::copy` allows overlap.
        unsafe {
            std::ptr::copy(src, dst, len);
            super::flush_range::<F>(dst, len);
        }
    }
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize, _wc: bool) {
        // SAFETY: same contract.
        unsafe { Self::copy_t::<F>(dst, src, len) }
    }
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: the caller guarantees `dst..dst+len` is writable.
        unsafe {
            std::ptr::write_bytes(dst, byte, len);
            super::flush_range::<F>(dst, len);
        }
    }
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize, _wc: bool) {
        // SAFETY: same contract.
        unsafe { Self::set_t::<F>(dst, byte, len) }
    }
}
