//! memmove, memcpy and memset that make their stores durable.
//!
//! # The C-ABI functions
//!
//! [`memmove_fn`], [`memcpy_fn`] and [`memset_fn`] return plain
//! `extern "C"` function pointers that depend only on the store
//! granularity. The kernel (SIMD width, non-temporal or temporal stores) and
//! the flush instruction are chosen once per process from CPUID and the
//! environment, so two maps of equal granularity hand out identical pointers
//! and one memset may run across several adjacent maps. They work on any
//! writable address, not only inside a [`Map`](crate::Map).
//!
//! The rules are PMDK's:
//!
//! | granularity | kernel choice | after the copy |
//! |---|---|---|
//! | [`CacheLine`](Granularity::CacheLine) | `NOFLUSH` → temporal, no flush; `NONTEMPORAL` or `WC` → non-temporal; `TEMPORAL` or `WB` → temporal + flush; shorter than `PMEM_MOVNT_THRESHOLD` (256) → temporal + flush; else non-temporal | fence unless `NODRAIN` or `NOFLUSH` |
//! | [`Byte`](Granularity::Byte) | `NOFLUSH` → temporal; `NONTEMPORAL` → non-temporal; else temporal; the SIMD kernels flush nothing (the generic and libc ones flush with the CPU's instruction, as PMDK's do) | fence unless `NODRAIN` or `NOFLUSH` |
//! | [`Page`](Granularity::Page) | as cache line, `NODRAIN` ignored | `msync` of the range unless `NOFLUSH` |
//!
//! With `len == 0` (or `dest == src` for memmove) they copy nothing but
//! still end as the table says (fence, or `msync` of the range), as PMDK's
//! do: a run of `NODRAIN` calls may be ended by such a call. They always
//! return `dest`. Overlapping moves work in both directions. The
//! generic kernel (`PMEM_NO_MOVNT=1`, non-x86 CPUs) stores 8 bytes at a time
//! wherever `dest` and `len` are 8-byte aligned.
//!
//! Kernels: SSE2, AVX and AVX-512F on `x86_64` (`PMEM_AVX=0` and
//! `PMEM_AVX512F=0` rule them out as in PMDK; on non-Intel CPUs with
//! AVX-512F, non-temporal copies use AVX stores, measured faster, unless
//! `PMEM_AVX512F=1`), the portable 8-byte
//! kernel with `PMEM_NO_MOVNT=1` and on other CPUs, libc's memmove/memset
//! plus a flush with `PMEM_NO_MOVNT=1 PMEM_NO_GENERIC_MEMCPY=1`.
//! `PMEM_MOVNT_THRESHOLD` and `PMEM_WC_WORKAROUND` work as in PMDK (the
//! latter only for the SSE2 and AVX families, as PMDK's).
//! MOVDIR64B (`PMEM_MOVDIR64B`) is not implemented (untestable here: the
//! development CPU lacks it); the variable is accepted and changes nothing.
//! [`kernel_name`] and [`info`] say what this process uses.
//!
//! Non-temporal stores are followed by an `SFENCE` where PMDK issues one:
//! always on byte granularity and with `CLFLUSH`; with `CLWB`/`CLFLUSHOPT`
//! the drain fence orders them, so with `NODRAIN` the caller must drain
//! before relying on the data (as in C).
//!
//! # The safe API
//!
//! [`Map::copy_from_slice`](crate::Map::copy_from_slice) and
//! [`Map::fill`](crate::Map::fill) are range-checked and always leave memory
//! fenced: `NODRAIN` and `NOFLUSH` still select the kernel as in C (so
//! `NOFLUSH` skips the flush), but a fence is issued before returning, because
//! Rust's memory model requires an `SFENCE` between non-temporal stores and
//! any later access.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use bitflags::bitflags;

use crate::arch::{self, with_flush, Flush, NoFlush};
use crate::config::Granularity;

bitflags! {
    /// `PMEM2_F_MEM_*`: hints and options for the memory functions.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MemFlags: u32 {
        /// Don't wait for the stores to become durable (the caller drains).
        const NODRAIN = 1;
        /// Prefer non-temporal stores (bypass the cache).
        const NONTEMPORAL = 2;
        /// Prefer temporal stores (write through the cache, then flush).
        const TEMPORAL = 4;
        /// Write-combining: treated as `NONTEMPORAL`.
        const WC = 8;
        /// Write-back: treated as `TEMPORAL`.
        const WB = 16;
        /// Don't flush or drain at all (the caller persists later).
        const NOFLUSH = 32;
    }
}

/// `pmem2_memmove_fn`: copies `len` bytes (ranges may overlap), durably
/// unless the flags say otherwise; returns `dest`.
pub type MemmoveFn = unsafe extern "C" fn(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void;
/// `pmem2_memcpy_fn`: as [`MemmoveFn`] (PMDK's memcpy is its memmove).
pub type MemcpyFn = MemmoveFn;
/// `pmem2_memset_fn`: fills `len` bytes with `(c as u8)`; returns `dest`.
pub type MemsetFn =
    unsafe extern "C" fn(dest: *mut c_void, c: c_int, len: usize, flags: c_uint) -> *mut c_void;

/// The memory functions of one granularity.
#[derive(Debug, Clone, Copy)]
pub struct MemOps {
    /// memmove and memcpy.
    pub memmove: MemmoveFn,
    /// memset.
    pub memset: MemsetFn,
}

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
    #[must_use]
    pub fn as_str(self) -> &'static str {
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
    #[must_use]
    pub fn is_supported(self) -> bool {
        match self {
            KernelKind::Libc | KernelKind::Generic => true,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Sse2 => true,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx => arch::imp::cpu_features().avx,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx512f => arch::imp::cpu_features().avx512f,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            KernelKind::Avx512fAvxNtCopy => {
                let cpu = arch::imp::cpu_features();
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

/// What this process uses for its memory functions (for `pmem2 info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// The kernel family.
    pub kernel: KernelKind,
    /// The flush instruction the kernels use.
    pub flush: arch::FlushKind,
    /// Copies at least this long use non-temporal stores by default.
    pub movnt_threshold: usize,
    /// Whether non-temporal loops fence every 768 bytes (`PMEM_WC_WORKAROUND`).
    pub wc_workaround: bool,
}

/// The kernel family this process uses, chosen once.
#[must_use]
pub fn kernel_kind() -> KernelKind {
    static KIND: OnceLock<KernelKind> = OnceLock::new();
    *KIND.get_or_init(|| choose_kernel(crate::env::tunables()))
}

/// The name of the kernel family this process uses, e.g. `"avx"`.
#[must_use]
pub fn kernel_name() -> &'static str {
    kernel_kind().as_str()
}

/// The kernel, flush instruction and thresholds this process uses.
#[must_use]
pub fn info() -> MemInfo {
    MemInfo {
        kernel: kernel_kind(),
        flush: arch::flush_kind(),
        movnt_threshold: crate::env::tunables().movnt_threshold,
        wc_workaround: wc_workaround(),
    }
}

/// Whether the non-temporal loops use PMDK's write-combining workaround:
/// `PMEM_WC_WORKAROUND` if set, else on for Intel CPUs; never when this
/// process uses an AVX-512F family, whose PMDK counterpart ignores the
/// variable (the mixed family's AVX copies included, since it stands in for
/// PMDK's AVX-512F kernel). The AVX-512F loops never fence for it, whatever
/// this says.
pub(crate) fn wc_workaround() -> bool {
    if matches!(
        kernel_kind(),
        KernelKind::Avx512f | KernelKind::Avx512fAvxNtCopy
    ) {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    let intel = arch::imp::cpu_features().intel;
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let intel = false;
    crate::env::tunables().wc_workaround.unwrap_or(intel)
}

/// Chooses the kernel from the CPU and the environment.
///
/// `PMEM_NO_MOVNT=1` (or a CPU without SIMD kernels) → generic, or libc with
/// `PMEM_NO_GENERIC_MEMCPY`. Otherwise the measured default for `x86_64`:
/// see [`choose_simd`](crate::arch::imp::mem::choose_simd).
fn choose_kernel(tunables: &crate::env::Tunables) -> KernelKind {
    let fallback = if tunables.no_generic_memcpy {
        KernelKind::Libc
    } else {
        KernelKind::Generic
    };
    if tunables.no_movnt {
        return fallback;
    }
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let avx512_opt_in = crate::env::secure_getenv("PMEM_AVX512F").is_some_and(|v| v != "0");
        arch::imp::mem::choose_simd(arch::imp::cpu_features(), tunables, avx512_opt_in)
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        fallback
    }
}

/// The memory functions of `granularity`, chosen once per process.
#[must_use]
pub fn ops(granularity: Granularity) -> &'static MemOps {
    // `choose_kernel` only returns supported kernels; the generic one
    // always is.
    &table(kernel_kind()).unwrap_or_else(generic_table)[granularity as usize]
}

/// The memory functions of `granularity` built on a given kernel family,
/// `None` if this CPU or build can't run it. Tests and benchmarks use this
/// to force a kernel; programs want [`ops`]. For the process's own kernel
/// it returns the very functions [`ops`] does.
#[must_use]
pub fn ops_with(kind: KernelKind, granularity: Granularity) -> Option<&'static MemOps> {
    table(kind).map(|t| &t[granularity as usize])
}

/// The table of a kernel family, built once per process.
fn table(kind: KernelKind) -> Option<&'static [MemOps; 3]> {
    static TABLES: [OnceLock<Option<[MemOps; 3]>>; KernelKind::ALL.len()] =
        [const { OnceLock::new() }; KernelKind::ALL.len()];
    if kind == KernelKind::Generic {
        return Some(generic_table());
    }
    let slot = KernelKind::ALL.iter().position(|&k| k == kind)?;
    TABLES[slot].get_or_init(|| build_for(kind)).as_ref()
}

fn generic_table() -> &'static [MemOps; 3] {
    static GENERIC: OnceLock<[MemOps; 3]> = OnceLock::new();
    GENERIC.get_or_init(|| build_generic(arch::flush_kind()))
}

fn build_for(kind: KernelKind) -> Option<[MemOps; 3]> {
    if !kind.is_supported() {
        return None;
    }
    let flush = arch::flush_kind();
    Some(match kind {
        KernelKind::Libc => with_flush!(flush, F => build_table::<LibcKernel, F>()),
        KernelKind::Generic => build_generic(flush),
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        KernelKind::Sse2 => with_flush!(flush, F => build_table::<arch::imp::mem::Sse2, F>()),
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        KernelKind::Avx => with_flush!(flush, F => build_table::<arch::imp::mem::Avx, F>()),
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        KernelKind::Avx512f => {
            with_flush!(flush, F => build_table::<arch::imp::mem::Avx512f, F>())
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        KernelKind::Avx512fAvxNtCopy => {
            type K = Mixed<arch::imp::mem::Avx512f, arch::imp::mem::Avx>;
            with_flush!(flush, F => build_table::<K, F>())
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        KernelKind::Sse2 | KernelKind::Avx | KernelKind::Avx512f | KernelKind::Avx512fAvxNtCopy => {
            return None
        }
    })
}

fn build_generic(flush: arch::FlushKind) -> [MemOps; 3] {
    with_flush!(flush, F => build_table::<arch::generic_mem::Generic, F>())
}

fn build_table<K: Kernel, F: Flush>() -> [MemOps; 3] {
    [
        MemOps {
            memmove: memmove_byte::<K, F>,
            memset: memset_byte::<K, F>,
        },
        MemOps {
            memmove: memmove_cache_line::<K, F>,
            memset: memset_cache_line::<K, F>,
        },
        MemOps {
            memmove: memmove_page::<K, F>,
            memset: memset_page::<K, F>,
        },
    ]
}

/// `pmem2_get_memmove_fn` for a granularity.
#[must_use]
pub fn memmove_fn(granularity: Granularity) -> MemmoveFn {
    ops(granularity).memmove
}

/// `pmem2_get_memcpy_fn` for a granularity (the memmove function).
#[must_use]
pub fn memcpy_fn(granularity: Granularity) -> MemcpyFn {
    ops(granularity).memmove
}

/// `pmem2_get_memset_fn` for a granularity.
#[must_use]
pub fn memset_fn(granularity: Granularity) -> MemsetFn {
    ops(granularity).memset
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

    /// Temporal copy, each written line flushed with `F`.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize);
    /// Non-temporal copy.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize);
    /// Temporal fill.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize);
    /// Non-temporal fill.
    ///
    /// # Safety
    /// See the trait documentation.
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize);
}

/// Whether a non-temporal kernel flushing with `F` ends with an `SFENCE`
/// (PMDK: yes without flush, for eADR, and with `CLFLUSH`; with `CLWB` and
/// `CLFLUSHOPT` the drain fence orders the stores).
#[inline(always)]
#[allow(dead_code)] // only the x86_64 kernels have non-temporal stores
pub(crate) fn sfence_after_nt<F: Flush>() -> bool {
    !matches!(F::KIND, arch::FlushKind::Clwb | arch::FlushKind::Clflushopt)
}

/// The functions of `T`, except the non-temporal copy, which is `N`'s.
#[allow(dead_code)] // only x86_64 has two SIMD families to mix
pub(crate) struct Mixed<T, N>(std::marker::PhantomData<(T, N)>);

impl<T: Kernel, N: Kernel> Kernel for Mixed<T, N> {
    const HAS_NT: bool = T::HAS_NT && N::HAS_NT;

    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: same contract.
        unsafe { T::copy_t::<F>(dst, src, len) }
    }
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: same contract.
        unsafe { N::copy_nt::<F>(dst, src, len) }
    }
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: same contract.
        unsafe { T::set_t::<F>(dst, byte, len) }
    }
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: same contract.
        unsafe { T::set_nt::<F>(dst, byte, len) }
    }
}

/// `ptr::copy` / `ptr::write_bytes` (libc's memmove and memset) plus a flush.
pub(crate) struct LibcKernel;

impl Kernel for LibcKernel {
    const HAS_NT: bool = false;

    unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: the caller guarantees both ranges; `ptr::copy` allows overlap.
        unsafe {
            std::ptr::copy(src, dst, len);
            arch::flush_range::<F>(dst, len);
        }
    }
    unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
        // SAFETY: same contract.
        unsafe { Self::copy_t::<F>(dst, src, len) }
    }
    unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: the caller guarantees `dst..dst+len` is writable.
        unsafe {
            std::ptr::write_bytes(dst, byte, len);
            arch::flush_range::<F>(dst, len);
        }
    }
    unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
        // SAFETY: same contract.
        unsafe { Self::set_t::<F>(dst, byte, len) }
    }
}

/// Which kernel variant a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Temporal stores, nothing flushed (`NOFLUSH`).
    TemporalNoFlush,
    /// Temporal stores, each line flushed (nothing on eADR).
    Temporal,
    /// Non-temporal stores.
    NonTemporal,
}

/// PMDK's choice for cache-line and page granularity.
#[inline(always)]
fn non_eadr_path(flags: MemFlags, len: usize, threshold: usize) -> Path {
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
fn eadr_path(flags: MemFlags) -> Path {
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
            Path::NonTemporal => K::copy_nt::<F>(d, s, len),
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
            Path::NonTemporal => K::set_nt::<F>(d, c, len),
            Path::Temporal => K::set_t::<F>(d, c, len),
        }
    }
}

/// Whether a move has bytes to copy. With `len == 0` or `dest == src` the
/// copy is skipped, but the drain (or `msync`) after it still happens, as
/// in PMDK: a run of `NODRAIN` calls may end with such a call.
#[inline(always)]
fn copies(dest: *mut c_void, src: *const c_void, len: usize) -> bool {
    len != 0 && dest.cast_const() != src
}

#[inline(always)]
fn drains(flags: MemFlags) -> bool {
    !flags.intersects(MemFlags::NODRAIN | MemFlags::NOFLUSH)
}

unsafe extern "C" fn memmove_cache_line<K: Kernel, F: Flush>(
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

unsafe extern "C" fn memset_cache_line<K: Kernel, F: Flush>(
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
unsafe extern "C" fn memmove_byte<K: Kernel, F: Flush>(
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
                Path::NonTemporal => K::copy_nt::<NoFlush>(d, s, len),
                Path::Temporal => K::copy_t::<NoFlush>(d, s, len),
            }
        }
    }
    if drains(flags) {
        arch::fence();
    }
    dest
}

unsafe extern "C" fn memset_byte<K: Kernel, F: Flush>(
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
                Path::NonTemporal => K::set_nt::<NoFlush>(d, c, len),
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
unsafe extern "C" fn memmove_page<K: Kernel, F: Flush>(
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

unsafe extern "C" fn memset_page<K: Kernel, F: Flush>(
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

impl crate::Map {
    /// The memory functions of this map's granularity (identical for every
    /// map of that granularity).
    #[must_use]
    pub fn mem_ops(&self) -> &'static MemOps {
        ops(self.store_granularity())
    }

    /// Copies `data` to `offset` with the memcpy of this map's granularity
    /// and `flags`, as `pmem2_memcpy_fn`.
    ///
    /// Unlike the C function, memory is always fenced on return: with
    /// `NODRAIN` or `NOFLUSH` the kernel choice is the C one (no flush with
    /// `NOFLUSH`), but a fence follows, which Rust requires after
    /// non-temporal stores. With page granularity an `msync` failure is
    /// reported instead of aborting.
    ///
    /// # Errors
    /// [`Error::MapRange`](crate::Error::MapRange) when the range is outside
    /// the map, [`Error::NoAccess`](crate::Error::NoAccess) when the map
    /// isn't writable, [`Error::Os`](crate::Error::Os) when `msync` fails.
    pub fn copy_from_slice(
        &mut self,
        offset: usize,
        data: &[u8],
        flags: MemFlags,
    ) -> crate::Result<()> {
        self.require(crate::Protection::WRITE, "writ")?;
        let dest = self.checked_range(offset, data.len())?;
        let granularity = self.store_granularity();
        let run = if granularity == Granularity::Page {
            Granularity::CacheLine
        } else {
            granularity
        };
        // SAFETY: `dest..dest + len` is inside this writable map (checked
        // above); `data` is readable for its length; the memory functions
        // allow overlap.
        unsafe {
            (ops(run).memmove)(
                dest.cast(),
                data.as_ptr().cast(),
                data.len(),
                (flags | MemFlags::NODRAIN).bits(),
            );
        }
        finish(dest, data.len(), granularity, flags)
    }

    /// Fills `[offset, offset + len)` with `byte` using the memset of this
    /// map's granularity and `flags`, as `pmem2_memset_fn`; always fenced on
    /// return, as [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    ///
    /// # Errors
    /// As [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    pub fn fill(
        &mut self,
        offset: usize,
        len: usize,
        byte: u8,
        flags: MemFlags,
    ) -> crate::Result<()> {
        self.require(crate::Protection::WRITE, "writ")?;
        let dest = self.checked_range(offset, len)?;
        let granularity = self.store_granularity();
        let run = if granularity == Granularity::Page {
            Granularity::CacheLine
        } else {
            granularity
        };
        // SAFETY: `dest..dest + len` is inside this writable map.
        unsafe {
            (ops(run).memset)(
                dest.cast(),
                c_int::from(byte),
                len,
                (flags | MemFlags::NODRAIN).bits(),
            );
        }
        finish(dest, len, granularity, flags)
    }

    /// Moves `len` bytes from `src_offset` to `dst_offset` inside the map
    /// (the ranges may overlap), as `pmem2_memmove_fn`; always fenced on
    /// return, as [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    ///
    /// # Errors
    /// As [`Map::copy_from_slice`](crate::Map::copy_from_slice), for either range.
    pub fn copy_within(
        &mut self,
        src_offset: usize,
        dst_offset: usize,
        len: usize,
        flags: MemFlags,
    ) -> crate::Result<()> {
        self.require(
            crate::Protection::WRITE | crate::Protection::READ,
            "read and writ",
        )?;
        let src = self.checked_range(src_offset, len)?;
        let dest = self.checked_range(dst_offset, len)?;
        let granularity = self.store_granularity();
        let run = if granularity == Granularity::Page {
            Granularity::CacheLine
        } else {
            granularity
        };
        // SAFETY: both ranges are inside this readable and writable map;
        // the memory functions allow overlap.
        unsafe {
            (ops(run).memmove)(
                dest.cast(),
                src.cast(),
                len,
                (flags | MemFlags::NODRAIN).bits(),
            );
        }
        finish(dest, len, granularity, flags)
    }
}

/// The end of a safe memory operation: the fence (always, see
/// [`Map::copy_from_slice`](crate::Map::copy_from_slice)), then for page
/// granularity the `msync` unless `NOFLUSH`, with its error reported.
fn finish(
    dest: *mut u8,
    len: usize,
    granularity: Granularity,
    flags: MemFlags,
) -> crate::Result<()> {
    arch::fence();
    if granularity == Granularity::Page && !flags.contains(MemFlags::NOFLUSH) && len > 0 {
        crate::persist::sync_pages(dest, len)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expectations of PMDK's `pmem2_mem_ext` test (128 and 1024 bytes).
    #[test]
    fn path_choice_matches_pmdk() {
        use Path::{NonTemporal as Nt, Temporal as T, TemporalNoFlush as NoF};
        let f = MemFlags::from_bits_retain;
        let cases: &[(u32, Path, Path, Path)] = &[
            // flags, non-eADR small, non-eADR big, eADR (any size)
            (0, T, Nt, T),
            (2, Nt, Nt, Nt),
            (4, T, T, T),
            (2 | 4, Nt, Nt, Nt),
            (8, Nt, Nt, T),
            (16, T, T, T),
            (32, NoF, NoF, NoF),
            (1, T, Nt, T),
            (63, NoF, NoF, NoF),
            (8 | 16, Nt, Nt, T),
        ];
        for &(bits, small, big, eadr) in cases {
            assert_eq!(non_eadr_path(f(bits), 128, 256), small, "flags {bits}");
            assert_eq!(non_eadr_path(f(bits), 1024, 256), big, "flags {bits}");
            assert_eq!(eadr_path(f(bits)), eadr, "flags {bits}");
        }
        assert_eq!(non_eadr_path(f(0), 255, 256), T);
        assert_eq!(non_eadr_path(f(0), 256, 256), Nt);
        assert_eq!(non_eadr_path(f(0), 0, 0), Nt);
        assert_eq!(non_eadr_path(f(0), usize::MAX, usize::MAX), Nt);
    }

    /// memcpy is memmove; each granularity has its own functions, and they
    /// are the process's kernel's.
    #[test]
    fn pointers_depend_only_on_granularity() {
        for g in Granularity::ALL {
            assert_eq!(memmove_fn(g) as usize, memcpy_fn(g) as usize);
            let own = ops_with(kernel_kind(), g).unwrap();
            assert_eq!(memmove_fn(g) as usize, own.memmove as usize);
            assert_eq!(memset_fn(g) as usize, own.memset as usize);
        }
        let [b, c, p] = Granularity::ALL.map(ops);
        for (x, y) in [(b, c), (c, p), (b, p)] {
            assert_ne!(x.memmove as usize, y.memmove as usize);
            assert_ne!(x.memset as usize, y.memset as usize);
        }
    }

    /// Fences issued by `f` on this thread.
    fn fences_in(f: impl FnOnce()) -> usize {
        let before = arch::fences();
        f();
        arch::fences() - before
    }

    /// `msync` calls made by `f` on this thread.
    fn msyncs_in(f: impl FnOnce()) -> usize {
        let before = crate::persist::msyncs();
        f();
        crate::persist::msyncs() - before
    }

    /// PMDK drains after a zero-length copy or fill and after a move onto
    /// itself, so a run of NODRAIN calls ended by one is drained.
    #[test]
    fn zero_length_and_same_pointer_still_drain() {
        let dangling = std::ptr::NonNull::<u8>::dangling()
            .as_ptr()
            .cast::<c_void>();
        let mut one = [7u8];
        let p = one.as_mut_ptr().cast::<c_void>();
        let nodrain = MemFlags::NODRAIN.bits();
        let noflush = MemFlags::NOFLUSH.bits();
        for kind in KernelKind::ALL {
            for g in [Granularity::Byte, Granularity::CacheLine] {
                let Some(ops) = ops_with(kind, g) else {
                    continue;
                };
                let what = format!("{kind} {g:?}");
                // SAFETY: with len 0 (or dest == src) nothing is accessed.
                unsafe {
                    for flags in [0, MemFlags::NONTEMPORAL.bits(), MemFlags::WB.bits()] {
                        let n = fences_in(|| {
                            assert_eq!((ops.memmove)(dangling, dangling, 0, flags), dangling);
                        });
                        assert_eq!(n, 1, "{what}: memmove len 0, flags {flags}");
                        let n = fences_in(|| {
                            assert_eq!((ops.memset)(dangling, 1, 0, flags), dangling);
                        });
                        assert_eq!(n, 1, "{what}: memset len 0, flags {flags}");
                        let n = fences_in(|| {
                            assert_eq!((ops.memmove)(p, p, 1, flags), p);
                        });
                        assert_eq!(n, 1, "{what}: memmove dest == src, flags {flags}");
                    }
                    for flags in [nodrain, noflush] {
                        let n = fences_in(|| {
                            (ops.memmove)(dangling, dangling, 0, flags);
                            (ops.memset)(dangling, 1, 0, flags);
                            (ops.memmove)(p, p, 1, flags);
                        });
                        assert_eq!(n, 0, "{what}: flags {flags}");
                    }
                }
            }
        }
        assert_eq!(one, [7]);
    }

    /// On a PAGE map, a move onto itself msyncs the range as PMDK does.
    #[test]
    fn page_move_onto_itself_msyncs() {
        let file = tempfile::tempfile().unwrap();
        let page = crate::persist::page_size();
        file.set_len(4 * page as u64).unwrap();
        let source = crate::Source::from_file(&file).unwrap();
        let map =
            crate::Map::new(&crate::Config::with_granularity(Granularity::Page), &source).unwrap();
        assert_eq!(map.store_granularity(), Granularity::Page);
        let p = map.addr().cast::<c_void>();
        for kind in KernelKind::ALL {
            let Some(ops) = ops_with(kind, Granularity::Page) else {
                continue;
            };
            // SAFETY: `[p, p + 2 pages)` is inside the live map; dest == src
            // copies nothing.
            unsafe {
                for flags in [0, MemFlags::NODRAIN.bits()] {
                    let n = msyncs_in(|| {
                        assert_eq!((ops.memmove)(p, p, 2 * page, flags), p);
                    });
                    assert_eq!(n, 1, "{kind}: flags {flags}");
                }
                let n = msyncs_in(|| {
                    (ops.memmove)(p, p, 2 * page, MemFlags::NOFLUSH.bits());
                });
                assert_eq!(n, 0, "{kind}: NOFLUSH");
            }
        }
    }

    #[test]
    fn generic_kernel_round_trip() {
        // Small enough for Miri: every granularity and flag combination.
        let src: Vec<u8> = (0..150u8).collect();
        for g in Granularity::ALL {
            let ops = ops_with(KernelKind::Generic, g).unwrap();
            let libc = ops_with(KernelKind::Libc, g).unwrap();
            for bits in [0u32, 1, 2, 4, 8, 16, 32, 63] {
                for len in [1usize, 9, 64, 100, 141] {
                    let mut a = vec![0u8; 150];
                    let mut b = vec![0u8; 150];
                    // SAFETY: both buffers hold 150 bytes; offsets + len <= 150.
                    unsafe {
                        let r = (ops.memmove)(
                            a.as_mut_ptr().add(3).cast(),
                            src.as_ptr().cast(),
                            len,
                            bits,
                        );
                        assert_eq!(r, a.as_mut_ptr().add(3).cast());
                        (libc.memmove)(
                            b.as_mut_ptr().add(3).cast(),
                            src.as_ptr().cast(),
                            len,
                            bits,
                        );
                    }
                    assert_eq!(&a[3..3 + len], &src[..len]);
                    assert_eq!(a, b);
                    // SAFETY: as above.
                    unsafe {
                        (ops.memset)(a.as_mut_ptr().add(1).cast(), 0x1ff, len, bits);
                    }
                    assert!(a[1..=len].iter().all(|&x| x == 0xff));
                    assert_eq!(a[0], 0);
                }
            }
        }
    }
}
