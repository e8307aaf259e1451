//! The per-thread error message (`pmem2_errormsg`) and `pmem2_err_to_errno`.
//!
//! Like PMDK, each thread has a fixed buffer of 301 bytes (300 characters
//! and the NUL); longer messages are truncated. A message stays until the
//! next error on the same thread: success doesn't clear it (PMDK's release
//! builds don't either).

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::os::raw::c_int;

use crate::codes::{PMEM2_E_NOSUPP, PMEM2_E_UNKNOWN};

/// Size of the message buffer, NUL included (PMDK's `CORE_LAST_ERROR_MSG_MAXPRINT`).
pub const MESSAGE_CAPACITY: usize = 301;

thread_local! {
    /// This thread's last error message, NUL-terminated.
    static LAST_MESSAGE: UnsafeCell<[u8; MESSAGE_CAPACITY]> =
        const { UnsafeCell::new([0; MESSAGE_CAPACITY]) };
}

/// Stores `msg` as this thread's last error message, truncated to 300
/// bytes and at the first NUL byte (a C string can't hold one), and logs it
/// at level 1 of the debug log as returned by `func`: the one place the C
/// library records an error, so each error it returns is logged once.
#[track_caller]
pub fn set_message(func: &str, msg: &str) {
    let at = std::panic::Location::caller();
    pmem2::c_abi::log_error(func, at.file(), at.line(), msg);
    let bytes = msg.as_bytes();
    let len = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(MESSAGE_CAPACITY - 1);
    // `try_with` fails only while the thread is being torn down; there is
    // nobody left to read the message then.
    let _ = LAST_MESSAGE.try_with(|cell| {
        let buf = cell.get().cast::<u8>();
        // SAFETY: `buf` points to this thread's MESSAGE_CAPACITY-byte
        // buffer; `len + 1 <= MESSAGE_CAPACITY`; `bytes` is a separate
        // allocation, so the copy doesn't overlap. No Rust reference into
        // the buffer exists (C readers only hold raw pointers and can't run
        // on this thread during the write).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, len);
            buf.add(len).write(0);
        }
    });
}

/// This thread's last message as a Rust string (for tests and the CLI).
#[must_use]
pub fn last_message() -> String {
    LAST_MESSAGE
        .try_with(|cell| {
            // SAFETY: the buffer is always NUL-terminated (zero-initialised,
            // and `set_message` writes the terminator), and it lives as long
            // as the thread; no write happens while this copy is taken.
            let cstr = unsafe { std::ffi::CStr::from_ptr(cell.get().cast::<c_char>()) };
            cstr.to_string_lossy().into_owned()
        })
        .unwrap_or_default()
}

/// Returns the last error message of the calling thread: `""` before the
/// first error. The pointer stays valid until the thread exits; the text
/// changes with the next error on this thread.
///
/// # Safety
/// Always safe to call; the returned string must not be written to or freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_errormsg() -> *const c_char {
    LAST_MESSAGE
        .try_with(|cell| cell.get().cast::<c_char>().cast_const())
        // During thread teardown: a static empty string.
        .unwrap_or(c"".as_ptr())
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

    #[test]
    fn empty_then_set_then_per_thread() {
        std::thread::spawn(|| {
            assert_eq!(errormsg(), "");
            set_message("t", "first");
            assert_eq!(errormsg(), "first");
            set_message("t", "x");
            assert_eq!(errormsg(), "x", "a shorter message replaces a longer one");
            assert_eq!(last_message(), "x");
        })
        .join()
        .unwrap();
        std::thread::spawn(|| assert_eq!(errormsg(), "", "other threads don't see it"))
            .join()
            .unwrap();
    }

    #[test]
    fn truncated_to_capacity_and_at_nul() {
        let long = "a".repeat(1000);
        set_message("t", &long);
        assert_eq!(errormsg().len(), MESSAGE_CAPACITY - 1);
        set_message("t", "before\0after");
        assert_eq!(errormsg(), "before");
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
