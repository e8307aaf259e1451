//! `aarch64`: `DC CVAP` when the CPU has `DCPoP`, else `DC CVAC`; `DMB ISHST`.
//!
//! `DC CVAP` is written as its system-instruction encoding
//! (`sys #3, c7, c12, #1`) so the assembler accepts it without `+dcpop`.

use core::arch::asm;

use super::{Flush, FlushKind};

/// `DC CVAP`: clean to the point of persistence.
pub(crate) struct DcCvap;
/// `DC CVAC`: clean to the point of coherency.
pub(crate) struct DcCvac;

impl Flush for DcCvap {
    const KIND: FlushKind = FlushKind::DcCvap;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: the caller guarantees `line` is mapped; chosen only when
        // HWCAP reports DCPOP.
        unsafe {
            asm!("sys #3, c7, c12, #1, {0}", in(reg) line, options(nostack, preserves_flags));
        };
    }
}

impl Flush for DcCvac {
    const KIND: FlushKind = FlushKind::DcCvac;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: the caller guarantees `line` is mapped; DC CVAC is base ARMv8.
        unsafe { asm!("dc cvac, {0}", in(reg) line, options(nostack, preserves_flags)) };
    }
}

/// Orders earlier stores and cache maintenance before later stores.
#[inline(always)]
pub(crate) fn fence() {
    // SAFETY: a data memory barrier has no effect beyond ordering.
    unsafe { asm!("dmb ishst", options(nostack, preserves_flags)) };
}

/// `HWCAP_DCPOP` from the kernel's `asm/hwcap.h`.
const HWCAP_DCPOP: usize = 1 << 16;

pub(crate) fn detect_flush(_allowed: super::FlushAllowed) -> FlushKind {
    let (hwcap, _) = rustix::param::linux_hwcap();
    if hwcap & HWCAP_DCPOP != 0 {
        FlushKind::DcCvap
    } else {
        FlushKind::DcCvac
    }
}

macro_rules! with_flush_impl {
    ($kind:expr, $F:ident => $body:expr) => {
        match $kind {
            $crate::arch::FlushKind::DcCvap => {
                type $F = $crate::arch::imp::DcCvap;
                $body
            }
            _ => {
                type $F = $crate::arch::imp::DcCvac;
                $body
            }
        }
    };
}
pub(crate) use with_flush_impl;
