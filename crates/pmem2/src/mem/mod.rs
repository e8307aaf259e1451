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
//! [`info`] says what this process uses.
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

mod dispatch;
mod ops;

use std::ffi::{c_int, c_uint, c_void};

use crate::config::Granularity;
use crate::flags::flag_set;

pub use crate::arch::kernel::KernelKind;
pub use dispatch::{info, ops_with, MemInfo};
pub(crate) use dispatch::{ops, wc_workaround};

flag_set! {
    /// `PMEM2_F_MEM_*`: hints and options for the memory functions.
    pub struct MemFlags {
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

/// No flags: durable on return, kernel chosen by size.
impl Default for MemFlags {
    fn default() -> Self {
        MemFlags::empty()
    }
}

/// `pmem2_memmove_fn` (and `pmem2_memcpy_fn`, which PMDK makes the same
/// function): copies `len` bytes (ranges may overlap), durably unless the
/// flags say otherwise; returns `dest`.
pub type MemmoveFn = unsafe extern "C" fn(
    dest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void;
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

/// `pmem2_get_memmove_fn` for a granularity.
#[must_use]
pub fn memmove_fn(granularity: Granularity) -> MemmoveFn {
    ops(granularity).memmove
}

/// `pmem2_get_memcpy_fn` for a granularity (the memmove function).
#[must_use]
pub fn memcpy_fn(granularity: Granularity) -> MemmoveFn {
    ops(granularity).memmove
}

/// `pmem2_get_memset_fn` for a granularity.
#[must_use]
pub fn memset_fn(granularity: Granularity) -> MemsetFn {
    ops(granularity).memset
}

#[cfg(test)]
mod tests {
    use super::dispatch::kernel_kind;
    use super::ops::{eadr_path, non_eadr_path, Path};
    use super::*;
    use crate::arch;
    use bitflags::Flags;
    use std::ffi::c_void;

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
                        let n =
                            fences_in(|| assert_eq!((ops.memset)(dangling, 1, 0, flags), dangling));
                        assert_eq!(n, 1, "{what}: memset len 0, flags {flags}");
                        let n = fences_in(|| assert_eq!((ops.memmove)(p, p, 1, flags), p));
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
    #[cfg_attr(miri, ignore = "maps a file, which Miri can't")]
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
                    let n = msyncs_in(|| assert_eq!((ops.memmove)(p, p, 2 * page, flags), p));
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
