//! CPU specifics: cache-line flush and store fence instructions, chosen once.
//!
//! Each architecture module provides zero-sized types implementing `Flush`
//! (one per flush instruction) and a `fence()` that orders flushes and
//! non-temporal stores. Code that flushes is generic over `Flush`, so each
//! instruction gets its own monomorphised function with no indirect call in
//! the loop, and the one runtime choice ([`flush_kind`]) picks among them.
//!
//! Under Miri, and on architectures without a specific module, the generic
//! module is used: it has no flush instruction and uses a sequentially
//! consistent fence.

#[cfg_attr(all(target_arch = "x86_64", not(miri)), path = "x86_64/mod.rs")]
#[cfg_attr(all(target_arch = "aarch64", not(miri)), path = "aarch64/mod.rs")]
#[cfg_attr(
    any(miri, not(any(target_arch = "x86_64", target_arch = "aarch64"))),
    path = "generic/mod.rs"
)]
pub(crate) mod imp;

/// The portable memory-op kernel, used on every architecture.
#[path = "generic/mem.rs"]
pub(crate) mod generic_mem;
pub(crate) mod kernel;

pub(crate) use imp::{detect_deep_flush, detect_flush};

/// Orders earlier flushes and non-temporal stores before later stores
/// (`SFENCE` on `x86_64`). Unit tests count the fences each thread issues
/// ([`fences`]).
#[inline(always)]
pub(crate) fn fence() {
    #[cfg(test)]
    FENCES.with(|n| n.set(n.get() + 1));
    imp::fence();
}

#[cfg(test)]
thread_local! {
    static FENCES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many fences this thread has issued through [`fence`] (unit tests only).
#[cfg(test)]
pub(crate) fn fences() -> usize {
    FENCES.with(std::cell::Cell::get)
}
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) use imp::{cpu_features, mem::choose_simd};

/// The `aarch64` flush choice: `DC CVAP` only when HWCAP reports `DCPOP`
/// *and* `cvap_executes` (which runs the instruction once under a `SIGILL`
/// guard) says the CPU executed it; otherwise `DC CVAC`, which every `ARMv8`
/// CPU has. QEMU's user mode reports `DCPOP` on `-cpu max` yet traps on
/// `DC CVAP`; a failed probe (the guard could not be installed) is treated
/// as a trap. The probe runs only when HWCAP reports the feature.
#[cfg(any(all(target_arch = "aarch64", not(miri)), test))]
pub(crate) fn choose_dc_flush(
    hwcap_dcpop: bool,
    cvap_executes: impl FnOnce() -> crate::error::Result<bool>,
) -> FlushKind {
    if hwcap_dcpop && cvap_executes().unwrap_or(false) {
        FlushKind::DcCvap
    } else {
        FlushKind::DcCvac
    }
}

/// Whether deep flush uses `aarch64` `DC CVADP` (clean to the point of
/// deep persistence, `FEAT_DPB2`): only when the process flushes with
/// `DC CVAP` (`FEAT_DPB2` extends `FEAT_DPB`), HWCAP2 reports `DCPODP` and
/// `cvadp_executes` (the instruction run once under a `SIGILL` guard)
/// says it executed.
#[cfg(any(all(target_arch = "aarch64", not(miri)), test))]
pub(crate) fn choose_dc_deep_flush(
    hwcap2_dcpodp: bool,
    flush: FlushKind,
    cvadp_executes: impl FnOnce() -> crate::error::Result<bool>,
) -> bool {
    flush == FlushKind::DcCvap && hwcap2_dcpodp && cvadp_executes().unwrap_or(false)
}

/// Writes back every cache line of `[addr, addr + len)` for a deep flush:
/// with `DC CVADP` when `cvadp` (see [`choose_dc_deep_flush`]), else with
/// the process's flush instruction `kind`.
///
/// # Safety
/// The whole range must be mapped in this process.
pub(crate) unsafe fn deep_flush_range(kind: FlushKind, cvadp: bool, addr: *const u8, len: usize) {
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    if cvadp {
        // SAFETY: forwarded from the caller.
        unsafe { flush_range::<imp::DcCvadp>(addr, len) };
        return;
    }
    let _ = cvadp;
    with_flush!(kind, F => {
        // SAFETY: forwarded from the caller.
        unsafe { flush_range::<F>(addr, len) }
    });
}

/// What the environment allows the flush choice to use (`PMEM_NO_CLWB`,
/// `PMEM_NO_CLFLUSHOPT`); decided by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // only x86_64 has a choice of flush instructions
pub(crate) struct FlushAllowed {
    /// CLWB may be used.
    pub(crate) clwb: bool,
    /// CLFLUSHOPT may be used.
    pub(crate) clflushopt: bool,
}

/// What the environment allows the SIMD kernel choice to use (`PMEM_AVX`,
/// `PMEM_AVX512F`); decided by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // only x86_64 has SIMD kernels
pub(crate) struct SimdAllowed {
    /// AVX kernels may be used (`PMEM_AVX` is not `0`).
    pub(crate) avx: bool,
    /// AVX-512F kernels may be used (`PMEM_AVX512F` is not `0`).
    pub(crate) avx512f: bool,
    /// AVX-512F asked for throughout (`PMEM_AVX512F` set, not `0`).
    pub(crate) avx512f_opt_in: bool,
}

/// Size of the unit a flush instruction writes back.
pub const CACHE_LINE_SIZE: usize = 64;

/// The instruction used to write a cache line back to persistent memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlushKind {
    /// `x86_64` `CLWB`: writes the line back and may keep it cached.
    Clwb,
    /// `x86_64` `CLFLUSHOPT`: writes back and evicts, weakly ordered.
    Clflushopt,
    /// `x86_64` `CLFLUSH`: writes back and evicts, strongly ordered.
    Clflush,
    /// `aarch64` `DC CVAP`: clean to the point of persistence (`ARMv8.2` `DCPoP`).
    DcCvap,
    /// `aarch64` `DC CVAC`: clean to the point of coherency.
    DcCvac,
    /// No flush instruction (other architectures, Miri).
    None,
}

impl FlushKind {
    /// The lower-case name used by the CLI and in logs, e.g. `"clwb"`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FlushKind::Clwb => "clwb",
            FlushKind::Clflushopt => "clflushopt",
            FlushKind::Clflush => "clflush",
            FlushKind::DcCvap => "dc_cvap",
            FlushKind::DcCvac => "dc_cvac",
            FlushKind::None => "none",
        }
    }
}

impl std::fmt::Display for FlushKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cache-line flush instruction.
///
/// Implementors are zero-sized markers; generic code calls
/// [`Flush::flush_line`] and gets the instruction inlined.
pub(crate) trait Flush {
    /// Which instruction this is.
    const KIND: FlushKind;

    /// Writes back the cache line containing `line`.
    ///
    /// # Safety
    /// `line` must point into memory mapped in this process (a flush of an
    /// unmapped address faults like a load would).
    unsafe fn flush_line(line: *const u8);
}

/// Flushes every cache line overlapping `[addr, addr + len)`.
///
/// # Safety
/// The whole range must be mapped in this process.
#[inline(always)]
pub(crate) unsafe fn flush_range<F: Flush>(addr: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    let start = addr as usize & !(CACHE_LINE_SIZE - 1);
    let end = (addr as usize).saturating_add(len);
    let mut line = start;
    while line < end {
        // SAFETY: `line` lies within a cache line that overlaps the caller's
        // range, which the caller guarantees is mapped; a cache line never
        // straddles a page, so the line's page is mapped too.
        unsafe { F::flush_line(addr.wrapping_add(line.wrapping_sub(addr as usize))) };
        line += CACHE_LINE_SIZE;
    }
}

/// A flush that does nothing: for byte granularity (eADR) and NOFLUSH.
pub(crate) struct NoFlush;

impl Flush for NoFlush {
    const KIND: FlushKind = FlushKind::None;
    #[inline(always)]
    unsafe fn flush_line(_line: *const u8) {}
}

/// Calls `$body` with the type implementing `Flush` for `$kind` bound to
/// `$F`: the single point where the runtime flush choice becomes a type.
macro_rules! with_flush {
    ($kind:expr, $F:ident => $body:expr) => {
        $crate::arch::imp::with_flush_impl!($kind, $F => $body)
    };
}
pub(crate) use with_flush;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Errno, Error};
    use std::cell::Cell;

    /// The choice for a HWCAP bit and a probe result, and whether the probe ran.
    fn choice(dcpop: bool, probe: crate::error::Result<bool>) -> (FlushKind, bool) {
        let ran = Cell::new(false);
        let kind = choose_dc_flush(dcpop, || {
            ran.set(true);
            probe
        });
        (kind, ran.get())
    }

    #[test]
    fn dc_cvap_needs_both_the_hwcap_bit_and_a_clean_probe() {
        assert_eq!(choice(true, Ok(true)), (FlushKind::DcCvap, true));
        // QEMU user mode: DCPOP reported, DC CVAP traps.
        assert_eq!(choice(true, Ok(false)), (FlushKind::DcCvac, true));
        // The guard could not be installed: not trusted.
        let err = Err(Error::os(Errno::INVAL, "sigaction(SIGILL)"));
        assert_eq!(choice(true, err), (FlushKind::DcCvac, true));
        // No DCPOP: never probed (a CPU without it would trap every time).
        assert_eq!(choice(false, Ok(true)), (FlushKind::DcCvac, false));
        assert_eq!(choice(false, Ok(false)), (FlushKind::DcCvac, false));
    }

    #[test]
    fn dc_cvadp_needs_dc_cvap_the_hwcap2_bit_and_a_clean_probe() {
        let deep = |dcpodp: bool, flush: FlushKind, probe: crate::error::Result<bool>| {
            let ran = Cell::new(false);
            let chosen = choose_dc_deep_flush(dcpodp, flush, || {
                ran.set(true);
                probe
            });
            (chosen, ran.get())
        };
        assert_eq!(deep(true, FlushKind::DcCvap, Ok(true)), (true, true));
        assert_eq!(deep(true, FlushKind::DcCvap, Ok(false)), (false, true));
        let err = Err(Error::os(Errno::INVAL, "sigaction(SIGILL)"));
        assert_eq!(deep(true, FlushKind::DcCvap, err), (false, true));
        // DC CVAP trapped or absent: DC CVADP is not tried.
        assert_eq!(deep(true, FlushKind::DcCvac, Ok(true)), (false, false));
        assert_eq!(deep(false, FlushKind::DcCvap, Ok(true)), (false, false));
    }
}
