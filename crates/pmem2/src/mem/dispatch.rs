//! The one runtime choice of memory-op kernel: from the CPU and the
//! environment, once per process, into tables of `extern "C"` functions
//! per granularity.

use std::sync::OnceLock;

use super::ops::{
    memmove_byte, memmove_cache_line, memmove_page, memset_byte, memset_cache_line, memset_page,
};
use super::MemOps;
use crate::arch::kernel::{Kernel, KernelKind, LibcKernel};
use crate::arch::{self, with_flush, Flush, FlushKind};
use crate::config::Granularity;
use crate::env;
use crate::persist::flush_kind;

/// What this process uses for its memory functions (for `pmem2 info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// The kernel family.
    pub kernel: KernelKind,
    /// The flush instruction the kernels use.
    pub flush: FlushKind,
    /// Copies at least this long use non-temporal stores by default.
    pub movnt_threshold: usize,
    /// Whether non-temporal loops fence every 768 bytes (`PMEM_WC_WORKAROUND`).
    pub wc_workaround: bool,
}

/// The kernel family this process uses, chosen once.
pub(crate) fn kernel_kind() -> KernelKind {
    static KIND: OnceLock<KernelKind> = OnceLock::new();
    *KIND.get_or_init(|| choose_kernel(env::tunables()))
}

/// The kernel, flush instruction and thresholds this process uses.
#[must_use]
pub fn info() -> MemInfo {
    MemInfo {
        kernel: kernel_kind(),
        flush: flush_kind(),
        movnt_threshold: env::tunables().movnt_threshold,
        wc_workaround: wc_workaround(),
    }
}

/// Whether the non-temporal loops use PMDK's write-combining workaround:
/// `PMEM_WC_WORKAROUND` if set, else on for Intel CPUs; never when this
/// process uses an AVX-512F family, whose PMDK counterpart ignores the
/// variable (the mixed family's AVX copies included, since it stands in for
/// PMDK's AVX-512F kernel). The AVX-512F loops never fence for it, whatever
/// this says. Read once; the kernels get it as an argument.
#[inline]
pub(crate) fn wc_workaround() -> bool {
    static WC: OnceLock<bool> = OnceLock::new();
    *WC.get_or_init(|| {
        if matches!(
            kernel_kind(),
            KernelKind::Avx512f | KernelKind::Avx512fAvxNtCopy
        ) {
            return false;
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        let intel = arch::cpu_features().intel;
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let intel = false;
        env::tunables().wc_workaround.unwrap_or(intel)
    })
}

/// Chooses the kernel from the CPU and the environment.
///
/// `PMEM_NO_MOVNT=1` (or a CPU without SIMD kernels) → generic, or libc with
/// `PMEM_NO_GENERIC_MEMCPY`. Otherwise the measured default for `x86_64`:
/// see `arch::choose_simd`.
fn choose_kernel(tunables: &env::Tunables) -> KernelKind {
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
        let allowed = arch::SimdAllowed {
            avx: tunables.avx,
            avx512f: tunables.avx512f,
            avx512f_opt_in: tunables.avx512f_opt_in,
        };
        arch::choose_simd(arch::cpu_features(), allowed)
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        fallback
    }
}

/// The memory functions of `granularity`, chosen once per process.
pub(crate) fn ops(granularity: Granularity) -> &'static MemOps {
    // `choose_kernel` only returns supported kernels; the generic one
    // always is.
    &table(kernel_kind()).unwrap_or_else(generic_table)[granularity as usize]
}

/// The memory functions of `granularity` built on a given kernel family,
/// `None` if this CPU or build can't run it. Tests and benchmarks use this
/// to force a kernel; programs want [`memmove_fn`](super::memmove_fn) and
/// [`memset_fn`](super::memset_fn). For the process's own kernel it returns
/// the very functions those do.
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
    GENERIC.get_or_init(|| build_generic(flush_kind()))
}

fn build_for(kind: KernelKind) -> Option<[MemOps; 3]> {
    if !kind.is_supported() {
        return None;
    }
    let flush = flush_kind();
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
            type K = crate::arch::kernel::Mixed<arch::imp::mem::Avx512f, arch::imp::mem::Avx>;
            with_flush!(flush, F => build_table::<K, F>())
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        KernelKind::Sse2 | KernelKind::Avx | KernelKind::Avx512f | KernelKind::Avx512fAvxNtCopy => {
            return None
        }
    })
}

fn build_generic(flush: FlushKind) -> [MemOps; 3] {
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
