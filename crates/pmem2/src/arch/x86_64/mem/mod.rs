//! `x86_64` memory-op kernels: SSE2, AVX and AVX-512F.
//!
//! One algorithm ([`copy`], [`set`]) is written once over the [`Vector`]
//! trait and instantiated per instruction set inside a
//! `#[target_feature]` entry point, so the vector intrinsics inline into it
//! (the memchr pattern). Each (instruction set, flush instruction,
//! temporal/non-temporal) triple is its own monomorphised function.
//!
//! Shape of a copy longer than a cache line: the head up to the next 64-byte
//! boundary of `dst` with overlapping scalar/16-byte moves (loads before
//! stores, so overlap is safe), whole lines in blocks of four (all loads of
//! a block before its stores), then the tail the same way as the head. A
//! temporal copy flushes each line as it is written; a non-temporal one
//! streams whole lines and flushes only the head and tail. Overlap with
//! `dst > src` runs the same steps from the end.

mod avx;
mod avx512;
mod copy;
mod set;
mod small;
mod sse2;

pub(crate) use avx::Avx;
pub(crate) use avx512::Avx512f;
pub(crate) use sse2::Sse2;

use super::CpuFeatures;
pub(crate) use copy::copy;
pub(crate) use set::set;

use crate::arch::kernel::KernelKind;
use crate::arch::CACHE_LINE_SIZE;
#[cfg(test)]
use crate::arch::{fence, Flush};

const LINE: usize = CACHE_LINE_SIZE;
/// Lines per unrolled block.
const BLOCK_LINES: usize = 4;
const BLOCK: usize = LINE * BLOCK_LINES;
/// The WC workaround fences after this many bytes of streaming stores
/// (12 lines, the number of write-combining buffers PMDK assumes).
const WC_SPAN: usize = 12 * LINE;

/// A SIMD register type.
pub(crate) trait Vector: Copy {
    /// Width in bytes.
    const SIZE: usize;
    /// Whether the non-temporal loops honour the write-combining workaround
    /// (an `SFENCE` every 768 bytes). PMDK has it for its SSE2 and AVX
    /// kernels only; its AVX-512F kernel ignores `PMEM_WC_WORKAROUND`.
    const WC_BARRIER: bool = true;
    /// Unaligned load.
    ///
    /// # Safety
    /// `p` readable for `SIZE` bytes; the instruction set is enabled in the caller.
    unsafe fn load(p: *const u8) -> Self;
    /// Unaligned temporal store.
    ///
    /// # Safety
    /// `p` writable for `SIZE` bytes; the instruction set is enabled.
    unsafe fn store(p: *mut u8, v: Self);
    /// Non-temporal store.
    ///
    /// # Safety
    /// `p` writable for `SIZE` bytes and `SIZE`-aligned; the instruction set
    /// is enabled; an `SFENCE` follows before the memory is accessed again.
    unsafe fn stream(p: *mut u8, v: Self);
    /// Every byte `b`.
    ///
    /// # Safety
    /// The instruction set is enabled in the caller.
    unsafe fn splat(b: u8) -> Self;

    /// One cache line held in registers (a tuple of vectors, which the
    /// compiler keeps in registers; an array would be spilled).
    type Line: Copy;
    /// Loads a line from `p` (any alignment).
    ///
    /// # Safety
    /// `p` readable for 64 bytes; the instruction set is enabled.
    unsafe fn load_line(p: *const u8) -> Self::Line;
    /// Stores a line at `p`, temporal (`NT == false`) or non-temporal.
    ///
    /// # Safety
    /// `p` writable for 64 bytes, 64-aligned if `NT`; the instruction set
    /// is enabled; with `NT`, an `SFENCE` follows before the memory is
    /// accessed again.
    unsafe fn store_line<const NT: bool>(p: *mut u8, line: Self::Line);
    /// A line of `b`.
    ///
    /// # Safety
    /// The instruction set is enabled.
    unsafe fn splat_line(b: u8) -> Self::Line;
}

/// Implements the `Line` part of [`Vector`] for a vector of 16, 32 or 64
/// bytes as a tuple of 4, 2 or 1 vectors.
macro_rules! line_impl {
    ($v:ty, $($i:tt),+) => {
        type Line = ($(line_impl!(@ty $v, $i),)+);
        #[inline(always)]
        unsafe fn load_line(p: *const u8) -> Self::Line {
            // SAFETY: the caller guarantees 64 readable bytes at `p`.
            unsafe { ($(<$v as Vector>::load(p.add($i * <$v as Vector>::SIZE)),)+) }
        }
        #[inline(always)]
        unsafe fn splat_line(b: u8) -> Self::Line {
            // SAFETY: the caller guarantees the instruction set.
            let v = unsafe { <$v as Vector>::splat(b) };
            ($(line_impl!(@splat $v, v, $i),)+)
        }
        #[inline(always)]
        unsafe fn store_line<const NT: bool>(p: *mut u8, line: Self::Line) {
            // SAFETY: the caller guarantees 64 writable bytes at `p`,
            // aligned for streaming when `NT`.
            unsafe {
                $(
                    if NT {
                        <$v as Vector>::stream(p.add($i * <$v as Vector>::SIZE), line.$i);
                    } else {
                        <$v as Vector>::store(p.add($i * <$v as Vector>::SIZE), line.$i);
                    }
                )+
            }
        }
    };
    (@ty $v:ty, $i:tt) => { $v };
    (@splat $v:ty, $x:expr, $i:tt) => { $x };
}
pub(crate) use line_impl;

/// The default instruction set, chosen by measurement rather than width.
///
/// Candidates: SSE2; AVX unless `PMEM_AVX=0`; AVX-512F unless
/// `PMEM_AVX512F=0`. On Intel CPUs the widest candidate wins, as in PMDK
/// (not measured here). On other CPUs with both AVX and AVX-512F, the
/// mixed family wins (AVX-512F, but AVX for non-temporal copies) unless
/// `avx512_opt_in` (`PMEM_AVX512F` set to anything but `0`) asks for
/// AVX-512F throughout: on the AMD EPYC this was tuned on, `cargo xtask
/// bench --kernels` measured AVX-512F non-temporal copies 3-14 % slower
/// than AVX ones at 256 MiB (SSE2 0-11 % slower), while AVX-512F is 15 %
/// faster than AVX for temporal copies of cached data and 0-6 % faster
/// for non-temporal fills (see `docs/benchmarks.md`).
///
/// What made PMDK's AVX-512 copy slow there is mostly its loop shape (32
/// lines loaded, then 32 stored): the same shape here lost most of pmem2's
/// lead over C. Software prefetching made no measurable difference.
///
/// MOVDIR64B (`PMEM_MOVDIR64B`) is not implemented: the CPU this was built
/// on lacks it, so it could not be tested; asking for it changes nothing.
pub(crate) fn choose_simd(cpu: CpuFeatures, allowed: crate::arch::SimdAllowed) -> KernelKind {
    let avx = cpu.avx && allowed.avx;
    let avx512 = cpu.avx512f && allowed.avx512f;
    let avx512_opt_in = allowed.avx512f_opt_in;
    if avx512 && avx && !cpu.intel && !avx512_opt_in {
        KernelKind::Avx512fAvxNtCopy
    } else if avx512 {
        KernelKind::Avx512f
    } else if avx {
        KernelKind::Avx
    } else {
        KernelKind::Sse2
    }
}

/// Implements [`Kernel`](crate::arch::kernel::Kernel) for an instruction-set marker type
/// with four `#[target_feature]` entry points.
macro_rules! simd_kernel {
    ($name:ident, $vector:ty, $feature:literal, nt_barrier_names: $barrier:literal) => {
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn copy_entry<F: Flush, const NT: bool>(
            dst: *mut u8,
            src: *const u8,
            len: usize,
            wc_workaround: bool,
        ) {
            // SAFETY: forwarded contract; this function enables the feature.
            unsafe { super::copy::<$vector, F, NT>(dst, src, len, wc_workaround) }
        }

        #[target_feature(enable = $feature)]
        pub(super) unsafe fn set_entry<F: Flush, const NT: bool>(
            dst: *mut u8,
            byte: u8,
            len: usize,
            wc_workaround: bool,
        ) {
            // SAFETY: forwarded contract; this function enables the feature.
            unsafe { super::set::<$vector, F, NT>(dst, byte, len, wc_workaround) }
        }

        impl crate::arch::kernel::Kernel for $name {
            const HAS_NT: bool = true;
            const NAME: &'static str = $feature;
            const NT_BARRIER_NAMES: bool = $barrier;
            const NT_COPY: (&'static str, bool) = ($feature, $barrier);

            // SAFETY (all four): the contract is the trait's; the table only
            // holds this kernel when the CPU has the feature (checked by
            // `KernelKind::is_supported`).
            unsafe fn copy_t<F: Flush>(dst: *mut u8, src: *const u8, len: usize) {
                // SAFETY: see above.
                unsafe { copy_entry::<F, false>(dst, src, len, false) }
            }
            unsafe fn copy_nt<F: Flush>(dst: *mut u8, src: *const u8, len: usize, wc: bool) {
                // SAFETY: see above.
                unsafe { copy_entry::<F, true>(dst, src, len, wc) }
            }
            unsafe fn set_t<F: Flush>(dst: *mut u8, byte: u8, len: usize) {
                // SAFETY: see above.
                unsafe { set_entry::<F, false>(dst, byte, len, false) }
            }
            unsafe fn set_nt<F: Flush>(dst: *mut u8, byte: u8, len: usize, wc: bool) {
                // SAFETY: see above.
                unsafe { set_entry::<F, true>(dst, byte, len, wc) }
            }
        }
    };
}
use simd_kernel;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::FlushKind;

    #[test]
    fn simd_choice() {
        use crate::arch::SimdAllowed;
        let all = SimdAllowed {
            avx: true,
            avx512f: true,
            avx512f_opt_in: false,
        };
        let opt_in = SimdAllowed {
            avx512f_opt_in: true,
            ..all
        };
        let amd = CpuFeatures {
            avx: true,
            avx2: true,
            avx512f: true,
            ..CpuFeatures::default()
        };
        let intel = CpuFeatures { intel: true, ..amd };
        assert_eq!(choose_simd(amd, all), KernelKind::Avx512fAvxNtCopy);
        assert_eq!(choose_simd(amd, opt_in), KernelKind::Avx512f);
        assert_eq!(choose_simd(intel, all), KernelKind::Avx512f);
        let no_avx = SimdAllowed { avx: false, ..all };
        assert_eq!(choose_simd(amd, no_avx), KernelKind::Avx512f);
        let no_512 = SimdAllowed {
            avx512f: false,
            ..all
        };
        assert_eq!(choose_simd(intel, no_512), KernelKind::Avx);
        let no_512_opt_in = SimdAllowed {
            avx512f: false,
            ..opt_in
        };
        assert_eq!(choose_simd(amd, no_512_opt_in), KernelKind::Avx);
        let neither = SimdAllowed {
            avx: false,
            avx512f: false,
            avx512f_opt_in: true,
        };
        assert_eq!(choose_simd(intel, neither), KernelKind::Sse2);
        let old = CpuFeatures::default();
        assert_eq!(choose_simd(old, opt_in), KernelKind::Sse2);
        let avx_only = CpuFeatures { avx: true, ..old };
        assert_eq!(choose_simd(avx_only, opt_in), KernelKind::Avx);
    }
    use std::cell::RefCell;

    thread_local! {
        static FLUSHED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// Records the lines it is asked to flush. Its kind is CLWB so the
    /// kernels skip the trailing `SFENCE` as they do with CLWB; the test
    /// fences itself.
    struct Recorder;
    impl Flush for Recorder {
        const KIND: FlushKind = FlushKind::Clwb;
        unsafe fn flush_line(line: *const u8) {
            FLUSHED.with(|f| f.borrow_mut().push(line as usize & !(LINE - 1)));
        }
    }

    type CopyEntry = unsafe fn(*mut u8, *const u8, usize, bool);
    type SetEntry = unsafe fn(*mut u8, u8, usize, bool);

    /// (name, supported, temporal copy, NT copy, temporal set, NT set).
    fn kernels() -> Vec<(&'static str, bool, [CopyEntry; 2], [SetEntry; 2])> {
        let cpu = super::super::cpu_features();
        vec![
            (
                "sse2",
                true,
                [
                    sse2::copy_entry::<Recorder, false>,
                    sse2::copy_entry::<Recorder, true>,
                ],
                [
                    sse2::set_entry::<Recorder, false>,
                    sse2::set_entry::<Recorder, true>,
                ],
            ),
            (
                "avx",
                cpu.avx,
                [
                    avx::copy_entry::<Recorder, false>,
                    avx::copy_entry::<Recorder, true>,
                ],
                [
                    avx::set_entry::<Recorder, false>,
                    avx::set_entry::<Recorder, true>,
                ],
            ),
            (
                "avx512f",
                cpu.avx512f,
                [
                    avx512::copy_entry::<Recorder, false>,
                    avx512::copy_entry::<Recorder, true>,
                ],
                [
                    avx512::set_entry::<Recorder, false>,
                    avx512::set_entry::<Recorder, true>,
                ],
            ),
        ]
    }

    /// The lines overlapping `[addr, addr + len)`.
    fn lines_of(addr: usize, len: usize) -> Vec<usize> {
        if len == 0 {
            return Vec::new();
        }
        (addr & !(LINE - 1)..addr + len).step_by(LINE).collect()
    }

    /// Checks the flushes of one call: temporal flushes every written line
    /// exactly once; non-temporal flushes only lines it didn't stream
    /// (never a line outside the range, never twice), and nothing at all
    /// when the range is whole lines.
    fn check_flushes(nt: bool, dst: usize, len: usize, what: &str) {
        let mut flushed = FLUSHED.with(|f| std::mem::take(&mut *f.borrow_mut()));
        flushed.sort_unstable();
        let lines = lines_of(dst, len);
        if nt {
            let mut unique = flushed.clone();
            unique.dedup();
            assert_eq!(unique, flushed, "{what}: a line flushed twice");
            assert!(
                flushed.iter().all(|l| lines.contains(l)),
                "{what}: flush outside the range"
            );
            if dst.is_multiple_of(LINE) && len.is_multiple_of(LINE) {
                assert!(flushed.is_empty(), "{what}: whole lines were flushed");
            }
        } else {
            assert_eq!(flushed, lines, "{what}: temporal flushes");
        }
    }

    #[test]
    fn every_kernel_flushes_what_it_leaves_in_cache() {
        let src: Vec<u8> = (0..2000u32).map(|i| (i * 7 + 1) as u8).collect();
        let mut buf = vec![0u8; 2200];
        for (name, supported, copies, sets) in kernels() {
            if !supported {
                continue;
            }
            for (nt, (copy, set)) in [false, true].into_iter().zip(copies.into_iter().zip(sets)) {
                for off in [0usize, 1, 17, 63] {
                    for len in [
                        0usize, 1, 4, 8, 16, 32, 63, 64, 65, 100, 128, 260, 320, 1000, 1024,
                    ] {
                        let base = buf.as_mut_ptr();
                        let off = off + (64 - base as usize % 64) % 64;
                        let what = format!("{name} nt={nt} off={off} len={len}");
                        // SAFETY: `off + len <= 63 + 63 + 1024 < 2200`; the
                        // CPU has the kernel's features (checked above).
                        unsafe {
                            copy(base.add(off), src.as_ptr(), len, false);
                            fence();
                        }
                        check_flushes(nt, base as usize + off, len, &what);
                        assert_eq!(&buf[off..off + len], &src[..len], "{what}");
                        // SAFETY: as above.
                        unsafe {
                            set(buf.as_mut_ptr().add(off), 0xa7, len, false);
                            fence();
                        }
                        check_flushes(nt, buf.as_ptr() as usize + off, len, &what);
                        assert!(buf[off..off + len].iter().all(|&b| b == 0xa7), "{what}");
                    }
                }
            }
        }
    }

    /// `PMEM_WC_WORKAROUND` adds an `SFENCE` per 768 bytes of streaming
    /// stores to the SSE2 and AVX kernels only; PMDK's AVX-512F kernel has
    /// no such variant.
    #[test]
    fn wc_workaround_fences_only_sse2_and_avx() {
        let src = vec![0x5au8; 5000];
        let mut buf = vec![0u8; 5000 + LINE];
        let off = (LINE - buf.as_ptr() as usize % LINE) % LINE;
        for wc in [false, true] {
            for (name, supported, copies, sets) in kernels() {
                if !supported {
                    continue;
                }
                let count = |f: &dyn Fn()| {
                    let before = crate::arch::fences();
                    f();
                    crate::arch::fences() - before
                };
                // SAFETY: `off + 5000` is inside `buf`; the CPU has the
                // kernel's features (checked above). The recorder is CLWB,
                // so no trailing SFENCE is counted.
                let (copy_fences, set_fences) = unsafe {
                    let d = buf.as_mut_ptr().add(off);
                    (
                        count(&|| copies[1](d, src.as_ptr(), 5000, wc)),
                        count(&|| sets[1](d, 0x11, 5000, wc)),
                    )
                };
                fence();
                FLUSHED.with(|f| f.borrow_mut().clear());
                let expected = if wc && name != "avx512f" { 6 } else { 0 };
                assert_eq!(copy_fences, expected, "{name} copy, wc={wc}");
                assert_eq!(set_fences, expected, "{name} set, wc={wc}");
            }
        }
    }
}
