//! `x86_64`: CLWB, CLFLUSHOPT or CLFLUSH, and SFENCE.
//!
//! Stable Rust has no intrinsics for CLWB and CLFLUSHOPT, so they are emitted
//! with `asm!`. The blocks deliberately omit `nomem`: that keeps them compiler
//! memory barriers, so earlier stores are never moved past the flush.

use core::arch::asm;
use core::arch::x86_64::__cpuid_count;

pub(crate) mod mem;

use super::{Flush, FlushAllowed, FlushKind};

/// `CLWB`: write back, line may stay cached.
pub(crate) struct Clwb;
/// `CLFLUSHOPT`: write back and evict, weakly ordered.
pub(crate) struct Clflushopt;
/// `CLFLUSH`: write back and evict, ordered with other stores.
pub(crate) struct Clflush;

impl Flush for Clwb {
    const KIND: FlushKind = FlushKind::Clwb;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: the caller guarantees `line` is mapped; CLWB has no other
        // effect on program state and is only chosen when CPUID reports it.
        unsafe { asm!("clwb [{0}]", in(reg) line, options(nostack, preserves_flags)) };
    }
}

impl Flush for Clflushopt {
    const KIND: FlushKind = FlushKind::Clflushopt;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: as for CLWB; chosen only when CPUID reports CLFLUSHOPT.
        unsafe { asm!("clflushopt [{0}]", in(reg) line, options(nostack, preserves_flags)) };
    }
}

impl Flush for Clflush {
    const KIND: FlushKind = FlushKind::Clflush;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: the caller guarantees `line` is mapped; CLFLUSH is part of
        // SSE2, which every x86_64 CPU has.
        unsafe { asm!("clflush [{0}]", in(reg) line, options(nostack, preserves_flags)) };
    }
}

/// Orders all earlier flushes and non-temporal stores before later stores.
#[inline(always)]
pub(crate) fn fence() {
    // SAFETY: SFENCE only orders stores; x86_64 always has SSE.
    unsafe { asm!("sfence", options(nostack, preserves_flags)) };
}

/// CPU features pmem2 cares about, from CPUID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one flag per CPUID bit is the natural shape
pub(crate) struct CpuFeatures {
    /// CPUID.1:EDX[19].
    pub(crate) clflush: bool,
    /// CPUID.(7,0):EBX[23].
    pub(crate) clflushopt: bool,
    /// CPUID.(7,0):EBX[24].
    pub(crate) clwb: bool,
    /// CPUID.1:ECX[28], with the OS saving YMM state.
    pub(crate) avx: bool,
    /// AVX2, as std detects it.
    pub(crate) avx2: bool,
    /// AVX-512F, as std detects it (CPU and OS support).
    pub(crate) avx512f: bool,
    /// CPUID.(7,0):ECX[28].
    pub(crate) movdir64b: bool,
    /// Vendor string is `GenuineIntel`.
    pub(crate) intel: bool,
}

/// Reads the CPU's features once.
pub(crate) fn cpu_features() -> CpuFeatures {
    static FEATURES: std::sync::OnceLock<CpuFeatures> = std::sync::OnceLock::new();
    *FEATURES.get_or_init(|| {
        let leaf0 = __cpuid_count(0, 0);
        let max_leaf = leaf0.eax;
        let leaf1 = __cpuid_count(1, 0);
        let leaf7 = if max_leaf >= 7 {
            __cpuid_count(7, 0)
        } else {
            __cpuid_count(0, 0)
        };
        let has7 = max_leaf >= 7;
        let mut vendor = [0u8; 12];
        vendor[0..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&leaf0.ecx.to_le_bytes());
        CpuFeatures {
            clflush: leaf1.edx & (1 << 19) != 0,
            clflushopt: has7 && leaf7.ebx & (1 << 23) != 0,
            clwb: has7 && leaf7.ebx & (1 << 24) != 0,
            avx: std::arch::is_x86_feature_detected!("avx"),
            avx2: std::arch::is_x86_feature_detected!("avx2"),
            avx512f: std::arch::is_x86_feature_detected!("avx512f"),
            movdir64b: has7 && leaf7.ecx & (1 << 28) != 0,
            intel: &vendor == b"GenuineIntel",
        }
    })
}

/// Chooses the flush instruction as PMDK does: CLFLUSH, upgraded to
/// CLFLUSHOPT unless `PMEM_NO_CLFLUSHOPT=1`, upgraded to CLWB unless
/// `PMEM_NO_CLWB=1`.
pub(crate) fn detect_flush(allowed: FlushAllowed) -> FlushKind {
    choose_flush(cpu_features(), allowed)
}

/// `x86_64` has no flush instruction deeper than its cache write-back:
/// deep flush goes through the region's `deep_flush` file.
pub(crate) fn detect_deep_flush(_flush: FlushKind) -> bool {
    false
}

fn choose_flush(cpu: CpuFeatures, allowed: FlushAllowed) -> FlushKind {
    let mut kind = FlushKind::Clflush;
    if cpu.clflushopt && allowed.clflushopt {
        kind = FlushKind::Clflushopt;
    }
    if cpu.clwb && allowed.clwb {
        kind = FlushKind::Clwb;
    }
    kind
}

macro_rules! with_flush_impl {
    ($kind:expr, $F:ident => $body:expr) => {
        match $kind {
            $crate::arch::FlushKind::Clwb => {
                type $F = $crate::arch::imp::Clwb;
                $body
            }
            $crate::arch::FlushKind::Clflushopt => {
                type $F = $crate::arch::imp::Clflushopt;
                $body
            }
            _ => {
                type $F = $crate::arch::imp::Clflush;
                $body
            }
        }
    };
}
pub(crate) use with_flush_impl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_choice_honours_environment() {
        let all = CpuFeatures {
            clflush: true,
            clflushopt: true,
            clwb: true,
            ..CpuFeatures::default()
        };
        let allow = |clwb, clflushopt| FlushAllowed { clwb, clflushopt };
        assert_eq!(choose_flush(all, allow(true, true)), FlushKind::Clwb);
        assert_eq!(choose_flush(all, allow(false, true)), FlushKind::Clflushopt);
        assert_eq!(choose_flush(all, allow(false, false)), FlushKind::Clflush);
        assert_eq!(choose_flush(all, allow(true, false)), FlushKind::Clwb);
        let old = CpuFeatures {
            clflush: true,
            ..CpuFeatures::default()
        };
        assert_eq!(choose_flush(old, allow(true, true)), FlushKind::Clflush);
    }

    #[test]
    fn every_flush_instruction_runs_on_this_cpu() {
        let buf = vec![7u8; 4096];
        let cpu = cpu_features();
        // SAFETY: `buf` is mapped; each instruction is used only if present.
        unsafe {
            super::super::flush_range::<Clflush>(buf.as_ptr(), buf.len());
            if cpu.clflushopt {
                super::super::flush_range::<Clflushopt>(buf.as_ptr(), buf.len());
            }
            if cpu.clwb {
                super::super::flush_range::<Clwb>(buf.as_ptr(), buf.len());
            }
        }
        fence();
        assert!(buf.iter().all(|&b| b == 7));
    }
}
