//! `aarch64`: `DC CVAP` when the CPU has `DCPoP` (and executes it), else
//! `DC CVAC`; `DMB ISHST`.
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

/// `DC CVADP`: clean to the point of deep persistence (`FEAT_DPB2`), used
/// by deep flush only. It reports itself as [`FlushKind::DcCvap`]'s
/// kind: the public `FlushKind` names the process's flush instruction, and
/// deep flush is chosen separately (`persist::deep_flush_cvadp`).
pub(crate) struct DcCvadp;

impl Flush for DcCvadp {
    const KIND: FlushKind = FlushKind::DcCvap;
    #[inline(always)]
    unsafe fn flush_line(line: *const u8) {
        // SAFETY: the caller guarantees `line` is mapped; chosen only when
        // HWCAP2 reports DCPODP and the probe executed it.
        unsafe {
            asm!("sys #3, c7, c13, #1, {0}", in(reg) line, options(nostack, preserves_flags));
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

/// Executes `DC CVAP` once, on a line of this stack frame (the probe of
/// [`detect_flush`]).
///
/// # Safety
/// Raises `SIGILL` on a CPU (or emulator) without `DC CVAP`: call it only
/// under `sys::sigill::executes`, which skips the 4-byte instruction.
unsafe fn probe_dc_cvap() {
    let line = 0u64;
    // SAFETY: `line` is mapped (this frame); cleaning a line has no effect
    // on its contents. The caller handles the trap.
    unsafe { DcCvap::flush_line((&raw const line).cast()) };
}

/// `DC CVAP` when HWCAP reports `DCPOP` and the instruction executes (an
/// emulator may report it without implementing it), else `DC CVAC`.
pub(crate) fn detect_flush(_allowed: super::FlushAllowed) -> FlushKind {
    let (hwcap, _) = crate::sys::process::hwcaps();
    super::choose_dc_flush(hwcap & HWCAP_DCPOP != 0, || {
        // SAFETY: `probe_dc_cvap` is one 4-byte instruction (inlined
        // `DC CVAP`, no outputs) that may trap; skipping it is sound.
        unsafe { crate::sys::sigill::executes(probe_dc_cvap, 4) }
    })
}

/// `HWCAP2_DCPODP` from the kernel's `asm/hwcap.h`.
const HWCAP2_DCPODP: usize = 1 << 0;

/// Executes `DC CVADP` once, on a line of this stack frame.
///
/// # Safety
/// As [`probe_dc_cvap`].
unsafe fn probe_dc_cvadp() {
    let line = 0u64;
    // SAFETY: as in `probe_dc_cvap`.
    unsafe { DcCvadp::flush_line((&raw const line).cast()) };
}

/// Whether deep flush uses `DC CVADP`: the process flushes with `DC CVAP`,
/// HWCAP2 reports `DCPODP`, and the instruction executes.
pub(crate) fn detect_deep_flush(flush: FlushKind) -> bool {
    let (_, hwcap2) = crate::sys::process::hwcaps();
    super::choose_dc_deep_flush(hwcap2 & HWCAP2_DCPODP != 0, flush, || {
        // SAFETY: `probe_dc_cvadp` is one 4-byte instruction (inlined
        // `DC CVADP`, no outputs) that may trap; skipping it is sound.
        unsafe { crate::sys::sigill::executes(probe_dc_cvadp, 4) }
    })
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
