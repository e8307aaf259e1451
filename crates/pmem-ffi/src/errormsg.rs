//! The per-thread error message (`pmem_errormsg`), `errno`, and
//! `pmem_check_version`.
//!
//! Each thread has a fixed buffer of 301 bytes (PMDK 2.x's size: 300
//! characters and the NUL); longer messages are truncated. A message stays
//! until the next error on the same thread: success doesn't clear it, as
//! in PMDK.

use std::ffi::{c_char, c_uint};

#[cfg(test)]
pub use pmem2::c_abi::{last_message, MESSAGE_CAPACITY};

/// `PMEM_MAJOR_VERSION`.
pub const MAJOR_VERSION: c_uint = 1;
/// `PMEM_MINOR_VERSION`.
pub const MINOR_VERSION: c_uint = 1;

/// Stores `msg` as this thread's last error message (see
/// `pmem2::c_abi::set_message`) and logs it at level 1 of the debug log
/// (`PMEM_LOG_LEVEL`) as returned by `func`.
#[track_caller]
pub fn set_message(func: &str, msg: &str) {
    pmem2::c_abi::enter(pmem2::c_abi::Library::Pmem);
    pmem2::c_abi::set_message(func, msg);
}

/// Sets the calling thread's `errno`.
pub fn set_errno(value: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = value };
}

/// Records an error of `pmem2` returned by `func`: its message, and
/// `errno` as libpmem sets it.
#[track_caller]
pub fn fail(func: &str, err: &pmem2::Error) {
    record(
        func,
        &err.to_string(),
        pmem2::libpmem::errno_of(err).raw_os_error(),
    );
}

/// Records a failure: the message (also passed to a user log function) and
/// `errno`.
#[track_caller]
pub fn record(func: &str, message: &str, errno: i32) {
    set_message(func, message);
    crate::log::error(message);
    // Last: the log function may have changed errno.
    set_errno(errno);
}

/// Records a panic caught at the boundary: a message and `EINVAL`.
#[track_caller]
pub fn fail_panic(func: &str) {
    record(func, &format!("{func}: internal error"), libc::EINVAL);
}

fn message_ptr() -> *const c_char {
    pmem2::c_abi::message_ptr()
}

/// `pmem_errormsg`: the last error message of the calling thread (`""`
/// before the first error). Valid until the thread exits.
///
/// # Safety
/// Always safe to call; the string must not be written to or freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_errormsg() -> *const c_char {
    message_ptr()
}

/// `pmem_check_version`: NULL when this library (API 1.1) satisfies
/// `major_required.minor_required`; else PMDK's mismatch message, also
/// recorded for `pmem_errormsg` (the same pointer).
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_check_version(
    major_required: c_uint,
    minor_required: c_uint,
) -> *const c_char {
    if major_required != MAJOR_VERSION {
        set_message(
            "pmem_check_version",
            &format!(
                "libpmem major version mismatch (need {major_required}, found {MAJOR_VERSION})"
            ),
        );
        return message_ptr();
    }
    if minor_required > MINOR_VERSION {
        set_message(
            "pmem_check_version",
            &format!(
                "libpmem minor version mismatch (need {minor_required}, found {MINOR_VERSION})"
            ),
        );
        return message_ptr();
    }
    std::ptr::null()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn versions_and_messages() {
        std::thread::spawn(|| {
            // SAFETY: plain calls; the results are NUL-terminated or NULL.
            unsafe {
                assert_eq!(CStr::from_ptr(pmem_errormsg()).to_str().unwrap(), "");
                assert!(pmem_check_version(1, 0).is_null());
                assert!(pmem_check_version(1, 1).is_null());
                let m = pmem_check_version(2, 0);
                assert_eq!(m, pmem_errormsg());
                assert_eq!(
                    CStr::from_ptr(m).to_str().unwrap(),
                    "libpmem major version mismatch (need 2, found 1)"
                );
                let m = pmem_check_version(1, 2);
                assert_eq!(
                    CStr::from_ptr(m).to_str().unwrap(),
                    "libpmem minor version mismatch (need 2, found 1)"
                );
            }
            set_message("t", &"x".repeat(1000));
            assert_eq!(last_message().len(), MESSAGE_CAPACITY - 1);
        })
        .join()
        .unwrap();
    }
}
