//! The debug log's hooks for the C libraries (`crates/pmem2-ffi`,
//! `crates/pmem-ffi`): public only with the `c-abi` feature, which those
//! crates enable; not for Rust programs, no stability promise.
//!
//! A C library records every error in one place (where it sets the
//! thread's error message); there it calls [`log_error`], so level 1 of the
//! debug log has one line per error, with the text `pmem2_errormsg()`
//! returns, as in PMDK.

use crate::debug_log;

/// The C library a copy of this crate is built into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// `libpmem2.so.1`: `<libpmem2>` lines, `PMEM2_LOG_LEVEL`, `PMEM2_LOG_FILE`.
    Pmem2,
    /// `libpmem.so.1`: `<libpmem>` lines, `PMEM_LOG_LEVEL`, `PMEM_LOG_FILE`.
    Pmem,
}

/// Called on entry to the C library (before anything can log): the log
/// speaks for `library`, and the Rust API leaves the level-1 records of
/// the errors it returns to the C library's [`log_error`]. Cheap: a load
/// and, the first time, a store.
pub fn enter(library: Library) {
    debug_log::set_identity(match library {
        Library::Pmem2 => &debug_log::LIBPMEM2,
        Library::Pmem => &debug_log::LIBPMEM,
    });
    debug_log::errors_logged_by_caller();
}

/// Logs, at level 1, the error message `message` that `func` (a C
/// function name) is about to return; `file` and `line` are the C entry
/// point's Rust source location.
pub fn log_error(func: &str, file: &str, line: u32, message: &str) {
    if debug_log::enabled(debug_log::ERROR) {
        debug_log::write(
            debug_log::ERROR,
            file,
            line,
            format_args!("{func}"),
            format_args!("{message}"),
        );
    }
}

/// Size of a C library's per-thread error-message buffer, NUL included
/// (PMDK's `CORE_LAST_ERROR_MSG_MAXPRINT`: 300 characters and the NUL).
pub const MESSAGE_CAPACITY: usize = 301;

thread_local! {
    /// This thread's last error message, NUL-terminated. Each C library
    /// links its own copy of this crate, so each has its own buffer, as
    /// PMDK's libpmem and libpmem2 do.
    static LAST_MESSAGE: std::cell::UnsafeCell<[u8; MESSAGE_CAPACITY]> =
        const { std::cell::UnsafeCell::new([0; MESSAGE_CAPACITY]) };
}

/// Records `message` as this thread's last error message, truncated to 300
/// bytes and at the first NUL byte (a C string can't hold one), and logs it
/// at level 1 as returned by the C function `func`: the one place a C
/// library records an error, so each error it returns is logged once.
#[track_caller]
pub fn set_message(func: &str, message: &str) {
    let at = std::panic::Location::caller();
    log_error(func, at.file(), at.line(), message);
    let bytes = message.as_bytes();
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

/// This thread's last error message, NUL-terminated (`""` before the first
/// error): what `pmem2_errormsg`/`pmem_errormsg` return. Valid until the
/// thread exits; the text changes with the next error on this thread.
#[must_use]
pub fn message_ptr() -> *const std::ffi::c_char {
    LAST_MESSAGE
        .try_with(|cell| cell.get().cast::<std::ffi::c_char>().cast_const())
        // During thread teardown: a static empty string.
        .unwrap_or(c"".as_ptr())
}

/// This thread's last error message as a Rust string (tests, the CLI).
#[must_use]
pub fn last_message() -> String {
    LAST_MESSAGE
        .try_with(|cell| {
            // SAFETY: the buffer is always NUL-terminated (zero-initialised,
            // and `set_message` writes the terminator), and it lives as long
            // as the thread; no write happens while this copy is taken.
            let text = unsafe { std::ffi::CStr::from_ptr(cell.get().cast::<std::ffi::c_char>()) };
            text.to_string_lossy().into_owned()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_is_per_thread_truncated_and_cut_at_nul() {
        std::thread::spawn(|| {
            assert_eq!(last_message(), "");
            set_message("t", "first");
            assert_eq!(last_message(), "first");
            set_message("t", "x");
            assert_eq!(
                last_message(),
                "x",
                "a shorter message replaces a longer one"
            );
            set_message("t", &"a".repeat(1000));
            assert_eq!(last_message().len(), MESSAGE_CAPACITY - 1);
            set_message("t", "before\0after");
            assert_eq!(last_message(), "before");
            // SAFETY: message_ptr returns this thread's NUL-terminated buffer.
            let text = unsafe { std::ffi::CStr::from_ptr(message_ptr()) };
            assert_eq!(text.to_str().unwrap(), "before");
        })
        .join()
        .unwrap();
        std::thread::spawn(|| assert_eq!(last_message(), "", "other threads don't see it"))
            .join()
            .unwrap();
    }
}
