//! `pmem_map_file`, `pmem_unmap`, `pmem_is_pmem`, `pmem_msync` and the
//! deep operations `pmem_deep_drain` / `pmem_deep_persist`.

use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use pmem2::libpmem;

use crate::errormsg::{fail, fail_panic, record, set_errno};

/// Runs an `int` entry point: `Ok` → 0, an error → -1 with `errno` and the
/// message, a panic → -1 (`EINVAL`).
#[track_caller]
fn int_call(func: &str, body: impl FnOnce() -> pmem2::Result<()>) -> c_int {
    pmem2::c_abi::enter(pmem2::c_abi::Library::Pmem);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(err)) => {
            fail(func, &err);
            -1
        }
        Err(_) => {
            fail_panic(func);
            -1
        }
    }
}

/// `pmem_map_file`: opens or creates `path` (`PMEM_FILE_CREATE`, `_EXCL`,
/// `_SPARSE`, `_TMPFILE`; `mode` for a created file) and maps all of it
/// shared, read-write. On success writes the mapped length to
/// `*mapped_lenp` and `pmem_is_pmem` of the mapping to `*is_pmemp` (each if
/// non-NULL); on failure returns NULL with `errno` and the message, the
/// out-parameters untouched.
///
/// After a successful mapping that the kernel refused `MAP_SYNC` for (not a
/// DAX file system), `errno` is `EOPNOTSUPP`, as PMDK leaves it: fio's
/// libpmem engine reads it to refuse such files unless
/// `PMEM_IS_PMEM_FORCE=1`.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; the out-pointers NULL or
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_map_file(
    path: *const c_char,
    len: usize,
    flags: c_int,
    mode: libc::mode_t,
    mapped_lenp: *mut usize,
    is_pmemp: *mut c_int,
) -> *mut c_void {
    pmem2::c_abi::enter(pmem2::c_abi::Library::Pmem);
    if path.is_null() {
        record("pmem_map_file", "invalid (NULL) path", libc::EINVAL);
        return std::ptr::null_mut();
    }
    // SAFETY: non-NULL and NUL-terminated (caller's contract).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    let path = Path::new(OsStr::from_bytes(bytes));
    let mapped = catch_unwind(|| libpmem::map_file(path, len, flags as u32, mode));
    match mapped {
        Ok(Ok(m)) => {
            if !m.tracked {
                set_errno(libc::EOPNOTSUPP);
            }
            if !mapped_lenp.is_null() {
                // SAFETY: non-NULL, valid for a write (caller's contract).
                unsafe { mapped_lenp.write(m.len) };
            }
            if !is_pmemp.is_null() {
                let is_pmem = c_int::from(pmem2::is_pmem(m.addr, m.len));
                // SAFETY: as above.
                unsafe { is_pmemp.write(is_pmem) };
            }
            m.addr.cast()
        }
        Ok(Err(err)) => {
            fail("pmem_map_file", &err);
            std::ptr::null_mut()
        }
        Err(_) => {
            fail_panic("pmem_map_file");
            std::ptr::null_mut()
        }
    }
}

/// `pmem_unmap`: `munmap` of `[addr, addr + len)` (any mapping, partial
/// ranges allowed), which stops being persistent memory for
/// `pmem_is_pmem`. -1 with `errno` and `munmap: <strerror>` on failure.
///
/// # Safety
/// Nothing may use the range afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_unmap(addr: *mut c_void, len: usize) -> c_int {
    // SAFETY: forwarded from the caller.
    int_call("pmem_unmap", || unsafe { libpmem::unmap(addr.cast(), len) })
}

/// `pmem_is_pmem`: 1 when the whole range is persistent memory (mapped by
/// `pmem_map_file` with `MAP_SYNC` or from a device DAX), with PMDK's
/// `PMEM_IS_PMEM_FORCE` override; 0 for `len == 0`. The address is only
/// compared.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_is_pmem(addr: *const c_void, len: usize) -> c_int {
    c_int::from(pmem2::is_pmem(addr.cast(), len))
}

/// `pmem_msync`: `msync(MS_SYNC)` of the pages holding the range; -1 with
/// `errno` and `msync: <strerror>` on failure.
///
/// # Safety
/// Always safe to call (msync doesn't change memory).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_msync(addr: *const c_void, len: usize) -> c_int {
    int_call("pmem_msync", || libpmem::msync(addr.cast(), len))
}

/// `pmem_deep_drain`: makes earlier stores to the range durable through
/// the memory controller: `msync` of non-device-DAX parts, the region's
/// `deep_flush` for device DAX ones. -1 with `errno` when an `msync` fails.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_deep_drain(addr: *const c_void, len: usize) -> c_int {
    int_call("pmem_deep_drain", || libpmem::deep_drain(addr.cast(), len))
}

/// `pmem_deep_persist`: `pmem_deep_flush` then `pmem_deep_drain`.
///
/// # Safety
/// The range must be mapped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_deep_persist(addr: *const c_void, len: usize) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { crate::persist::pmem_deep_flush(addr, len) };
    int_call("pmem_deep_persist", || {
        libpmem::deep_drain(addr.cast(), len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errormsg::last_message;

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    }

    #[test]
    fn map_file_out_params_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::ffi::CString::new(dir.path().join("f").as_os_str().as_bytes()).unwrap();
        let (mut mapped, mut is_pmem) = (12345usize, 7);
        // SAFETY: valid C string and out-pointers.
        unsafe {
            let p = pmem_map_file(
                path.as_ptr(),
                0,
                1,
                0o600,
                &raw mut mapped,
                &raw mut is_pmem,
            );
            assert!(p.is_null());
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(
                last_message(),
                "zero 'len' not allowed with PMEM_FILE_CREATE"
            );
            assert_eq!((mapped, is_pmem), (12345, 7), "untouched on failure");
            let p = pmem_map_file(std::ptr::null(), 0, 0, 0, &raw mut mapped, &raw mut is_pmem);
            assert!(p.is_null());
            assert_eq!(last_message(), "invalid (NULL) path");
            let p = pmem_map_file(
                path.as_ptr(),
                4096,
                1,
                0o600,
                &raw mut mapped,
                &raw mut is_pmem,
            );
            assert!(!p.is_null());
            assert_eq!(mapped, 4096);
            assert_eq!(
                is_pmem,
                pmem_is_pmem(p, 4096),
                "the out-parameter is pmem_is_pmem's"
            );
            assert_eq!(pmem_msync(p, 4096), 0);
            assert_eq!(pmem_deep_persist(p, 4096), 0);
            assert_eq!(pmem_unmap(p, 0), -1);
            assert_eq!(last_message(), "munmap: Invalid argument");
            assert_eq!(pmem_unmap(p, 4096), 0);
            assert_eq!(pmem_msync(std::ptr::null(), 1), -1);
            assert_eq!(errno(), libc::ENOMEM);
            assert_eq!(last_message(), "msync: Cannot allocate memory");
            assert_eq!(pmem_is_pmem(std::ptr::null(), 0), 0);
        }
    }
}
