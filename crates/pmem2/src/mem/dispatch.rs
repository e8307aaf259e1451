//! The one runtime choice of memory-op kernel: from the CPU and the
//! environment, once per process, into tables of `extern "C"` functions
//! per granularity.

use std::sync::OnceLock;

use super::ops::{eadr_path, non_eadr_path, Path};
use super::ops::{
    memmove_byte, memmove_byte_logged, memmove_cache_line, memmove_cache_line_logged, memmove_page,
    memmove_page_logged, memset_byte, memset_byte_logged, memset_cache_line,
    memset_cache_line_logged, memset_page, memset_page_logged,
};
use super::{MemFlags, MemOps};
use crate::arch::kernel::{Kernel, KernelKind, LibcKernel};
use crate::arch::{self, with_flush, Flush, FlushKind};
use crate::config::Granularity;
use crate::persist::flush_kind;
use crate::{check, env};
use bitflags::Flags;
use std::ffi::{c_int, c_uint, c_void};

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
    *KIND.get_or_init(|| {
        let tunables = env::tunables();
        let kind = choose_kernel(tunables);
        crate::debug_log::plog!(
            crate::debug_log::DETAIL,
            "kernel_kind",
            "memory-operation kernels: {kind:?}, non-temporal from {} bytes (PMEM_MOVNT_THRESHOLD)",
            tunables.movnt_threshold
        );
        kind
    })
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
        let wc = env::tunables().wc_workaround.unwrap_or(intel);
        crate::debug_log::plog!(
            crate::debug_log::DETAIL,
            "wc_workaround",
            "write-combining workaround {}",
            if wc { "on" } else { "off" }
        );
        wc
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

/// The memory functions of `granularity`, chosen once per process: the
/// checking variants when crash-consistency checking is on
/// ([`check`](crate::check)), else the process's kernel's.
pub(crate) fn ops(granularity: Granularity) -> &'static MemOps {
    static CHOSEN: OnceLock<&'static [MemOps; 3]> = OnceLock::new();
    &CHOSEN.get_or_init(|| {
        if check::enabled() {
            static CHECKING: [MemOps; 3] = [
                MemOps {
                    memmove: checked_memmove::<0>,
                    memset: checked_memset::<0>,
                },
                MemOps {
                    memmove: checked_memmove::<1>,
                    memset: checked_memset::<1>,
                },
                MemOps {
                    memmove: checked_memmove::<2>,
                    memset: checked_memset::<2>,
                },
            ];
            &CHECKING
        } else {
            plain_table()
        }
    })[granularity as usize]
}

/// The process's kernel's table. `choose_kernel` only returns supported
/// kernels; the generic one always is.
fn plain_table() -> &'static [MemOps; 3] {
    table(kernel_kind()).unwrap_or_else(generic_table)
}

/// Tells the checker what a memory function of `Granularity::ALL[G]` with
/// `flags` did to `[dest, dest + len)` (after it ran).
fn checked_store<const G: usize>(dest: *const u8, len: usize, flags: MemFlags, memset: bool) {
    let granularity = Granularity::ALL[G];
    let path = if granularity == Granularity::Byte {
        eadr_path(flags)
    } else {
        non_eadr_path(flags, len, env::tunables().movnt_threshold)
    };
    let how = match path {
        Path::TemporalNoFlush => check::Store::NoFlush,
        Path::Temporal => check::Store::Flushed,
        Path::NonTemporal => check::Store::NonTemporal,
    };
    let regions = len != 0 && check::on_store(dest, len, how, memset);
    let noflush = flags.contains(MemFlags::NOFLUSH);
    if granularity == Granularity::Page {
        if !noflush {
            check::on_msync(dest, len);
        }
    } else if !noflush && !flags.contains(MemFlags::NODRAIN) {
        check::on_fence();
    }
    if regions {
        check::on_store_end(memset);
    }
}

/// The checking memmove of granularity `Granularity::ALL[G]`.
unsafe extern "C" fn checked_memmove<const G: usize>(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: the caller's contract is the plain function's.
    let r = unsafe { (plain_table()[G].memmove)(dest, src, len, flags) };
    let stored = if dest.cast_const() == src { 0 } else { len };
    checked_store::<G>(
        dest.cast(),
        stored,
        MemFlags::from_bits_retain(flags),
        false,
    );
    r
}

/// The checking memset of granularity `Granularity::ALL[G]`.
unsafe extern "C" fn checked_memset<const G: usize>(
    dest: *mut c_void,
    c: c_int,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: the caller's contract is the plain function's.
    let r = unsafe { (plain_table()[G].memset)(dest, c, len, flags) };
    checked_store::<G>(dest.cast(), len, MemFlags::from_bits_retain(flags), true);
    r
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
            type K = arch::kernel::Mixed<arch::imp::mem::Avx512f, arch::imp::mem::Avx>;
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

/// The table of kernel `K` with flush `F`. With the debug log's call
/// tracing on (`PMEM2_LOG_LEVEL=15`, or a `log` logger at `trace` for
/// target `pmem2`), decided here once, the functions log the routine each
/// call takes; otherwise they are the plain ones, which never look at the
/// log.
fn build_table<K: Kernel, F: Flush>() -> [MemOps; 3] {
    if crate::debug_log::enabled(crate::debug_log::CALL_TRACE) {
        return [
            MemOps {
                memmove: memmove_byte_logged::<K, F>,
                memset: memset_byte_logged::<K, F>,
            },
            MemOps {
                memmove: memmove_cache_line_logged::<K, F>,
                memset: memset_cache_line_logged::<K, F>,
            },
            MemOps {
                memmove: memmove_page_logged::<K, F>,
                memset: memset_page_logged::<K, F>,
            },
        ];
    }
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
