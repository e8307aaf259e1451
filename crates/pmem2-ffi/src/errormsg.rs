//! The per-thread error message (`pmem2_errormsg`) and `pmem2_err_to_errno`.
//!
//! Like PMDK, each thread has a fixed buffer of 301 bytes (300 characters
//! and the NUL, kept by `pmem2::c_abi`); longer messages are truncated. A
//! message stays until the next error on the same thread: success doesn't
//! clear it (PMDK's release builds don't either).

use std::ffi::c_char;
use std::os::raw::c_int;

pub use pmem2::c_abi::{last_message, set_message, MESSAGE_CAPACITY};

use crate::codes::{PMEM2_E_NOSUPP, PMEM2_E_UNKNOWN};

/// Returns the last error message of the calling thread: `""` before the
/// first error. The pointer stays valid until the thread exits; the text
/// changes with the next error on this thread.
///
/// # Safety
/// Always safe to call; the returned string must not be written to or freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_errormsg() -> *const c_char {
    pmem2::c_abi::message_ptr()
}

/// Converts a pmem2 return code to an errno value, as PMDK does:
/// `PMEM2_E_NOSUPP` → `ENOTSUP`, any other library code → `EINVAL`, a
/// negated errno → that errno. 0 stays 0.
///
/// PMDK aborts on a positive argument; this returns `EINVAL` instead.
/// Declared in PMDK's header but not exported from its shared library, so
/// it is only in `libpmem2.a` (as in PMDK).
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_err_to_errno(err: c_int) -> c_int {
    if err == PMEM2_E_NOSUPP {
        libc::ENOTSUP
    } else if err <= PMEM2_E_UNKNOWN || err > 0 {
        libc::EINVAL
    } else {
        -err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn errormsg() -> String {
        // SAFETY: pmem2_errormsg returns a NUL-terminated thread-local buffer.
        unsafe { CStr::from_ptr(pmem2_errormsg()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The buffer itself is tested in `pmem2::c_abi`; this checks that
    /// `pmem2_errormsg` returns it.
    #[test]
    fn errormsg_returns_the_thread_message() {
        std::thread::spawn(|| {
            assert_eq!(errormsg(), "");
            set_message("t", "first");
            assert_eq!(errormsg(), "first");
            assert_eq!(last_message(), "first");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn err_to_errno_follows_pmdk() {
        // SAFETY: plain integer function.
        let conv = |e| unsafe { pmem2_err_to_errno(e) };
        assert_eq!(conv(PMEM2_E_NOSUPP), libc::ENOTSUP);
        assert_eq!(conv(PMEM2_E_UNKNOWN), libc::EINVAL);
        assert_eq!(conv(-100_037), libc::EINVAL);
        assert_eq!(conv(-libc::ENOTSUP), libc::ENOTSUP);
        assert_eq!(conv(-libc::ENOMEM), libc::ENOMEM);
        assert_eq!(conv(0), 0);
        assert_eq!(conv(5), libc::EINVAL);
    }
}
