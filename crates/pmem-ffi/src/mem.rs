//! The copy and fill family: `pmem_memmove`, `pmem_memcpy`, `pmem_memset`
//! (with `PMEM_F_MEM_*` flags), their `_persist` (flags 0) and `_nodrain`
//! (`PMEM_F_MEM_NODRAIN`) variants. pmem2's kernels of libpmem's
//! granularity; memcpy is memmove (overlap-safe). All return `pmemdest`;
//! unknown flag bits are ignored, as in PMDK's release builds.

use std::ffi::{c_int, c_uint, c_void};

use pmem2::libpmem;
use pmem2::mem::{memmove_fn, memset_fn, MemFlags};

const NODRAIN: c_uint = MemFlags::NODRAIN.bits();

macro_rules! moves {
    ($( $(#[$doc:meta])* $name:ident, $flags:expr; )*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// `pmemdest` must be writable and `src` readable for `len` bytes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(pmemdest: *mut c_void, src: *const c_void, len: usize) -> *mut c_void {
            // SAFETY: forwarded from the caller.
            unsafe { memmove_fn(libpmem::granularity())(pmemdest, src, len, $flags) }
        }
    )*};
}

moves! {
    /// `pmem_memmove_persist`: copy (overlap allowed), flush, drain.
    pmem_memmove_persist, 0;
    /// `pmem_memcpy_persist`: as `pmem_memmove_persist`.
    pmem_memcpy_persist, 0;
    /// `pmem_memmove_nodrain`: copy and flush, no drain.
    pmem_memmove_nodrain, NODRAIN;
    /// `pmem_memcpy_nodrain`: as `pmem_memmove_nodrain`.
    pmem_memcpy_nodrain, NODRAIN;
}

/// `pmem_memmove`: copy with `PMEM_F_MEM_*` flags.
///
/// # Safety
/// `pmemdest` must be writable and `src` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memmove(
    pmemdest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { memmove_fn(libpmem::granularity())(pmemdest, src, len, flags) }
}

/// `pmem_memcpy`: as `pmem_memmove`.
///
/// # Safety
/// As `pmem_memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memcpy(
    pmemdest: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { memmove_fn(libpmem::granularity())(pmemdest, src, len, flags) }
}

/// `pmem_memset`: fill with `(unsigned char)c`, with `PMEM_F_MEM_*` flags.
///
/// # Safety
/// `pmemdest` must be writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memset(
    pmemdest: *mut c_void,
    c: c_int,
    len: usize,
    flags: c_uint,
) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { memset_fn(libpmem::granularity())(pmemdest, c, len, flags) }
}

/// `pmem_memset_persist`: fill, flush, drain.
///
/// # Safety
/// `pmemdest` must be writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memset_persist(
    pmemdest: *mut c_void,
    c: c_int,
    len: usize,
) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { memset_fn(libpmem::granularity())(pmemdest, c, len, 0) }
}

/// `pmem_memset_nodrain`: fill and flush, no drain.
///
/// # Safety
/// `pmemdest` must be writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memset_nodrain(
    pmemdest: *mut c_void,
    c: c_int,
    len: usize,
) -> *mut c_void {
    // SAFETY: forwarded from the caller.
    unsafe { memset_fn(libpmem::granularity())(pmemdest, c, len, NODRAIN) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_fills_any_memory() {
        let mut buf: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let p = buf.as_mut_ptr().cast::<c_void>();
        // SAFETY: all ranges lie inside `buf`.
        unsafe {
            // Overlapping, forwards and backwards.
            assert_eq!(pmem_memcpy_persist(p.byte_add(1), p, 5000), p.byte_add(1));
            assert_eq!(pmem_memmove(p, p.byte_add(1), 5000, 0xFFFF_FFFF), p);
            assert_eq!(
                pmem_memset_nodrain(p.byte_add(9000), 0x1AB, 1000),
                p.byte_add(9000)
            );
            crate::persist::pmem_drain();
            assert_eq!(pmem_memset(p, 0, 0, 0), p);
        }
        let expect: Vec<u8> = (0..=255).cycle().take(5000).collect();
        assert_eq!(&buf[..5000], &expect[..]);
        assert!(buf[9000..].iter().all(|&b| b == 0xAB));
    }
}
