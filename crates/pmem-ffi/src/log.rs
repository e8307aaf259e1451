//! PMDK 2.1's logging API in the `LIBPMEM_1.0` node:
//! `pmem_log_set_threshold`, `pmem_log_get_threshold`,
//! `pmem_log_set_function`, with PMDK's return convention (0, or 1 with
//! `errno`). Every error this library records for `pmem_errormsg` is also
//! passed, at `PMEM_LOG_LEVEL_ERROR`, to a function set with
//! `pmem_log_set_function` when the main threshold lets errors through (its
//! `file_name` is NULL). The default function writes nothing (PMDK 1.12.1's
//! release build logs nothing; 2.1's default sends notices at load and
//! errors to syslog).

use std::ffi::{c_char, c_int, c_uint};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::errormsg::set_errno;

/// `enum pmem_log_level`'s largest value (`PMEM_LOG_LEVEL_DEBUG`).
const LEVEL_MAX: c_uint = 6;

/// The two thresholds: main (default `PMEM_LOG_LEVEL_WARNING`) and aux
/// (default `PMEM_LOG_LEVEL_HARK`).
static THRESHOLDS: [AtomicU32; 2] = [AtomicU32::new(3), AtomicU32::new(0)];

/// The user's log function (0: the default one).
static FUNCTION: AtomicUsize = AtomicUsize::new(0);

/// `pmem_log_function`.
pub type LogFunction = unsafe extern "C" fn(
    level: c_uint,
    file_name: *const c_char,
    line_no: c_uint,
    function_name: *const c_char,
    message: *const c_char,
);

/// `pmem_log_set_threshold`: 0, or 1 with `EINVAL` for an unknown
/// threshold or level.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_log_set_threshold(threshold: c_uint, value: c_uint) -> c_int {
    match THRESHOLDS.get(threshold as usize) {
        Some(slot) if value <= LEVEL_MAX => {
            slot.store(value, Ordering::Relaxed);
            0
        }
        _ => {
            set_errno(libc::EINVAL);
            1
        }
    }
}

/// `pmem_log_get_threshold`: 0 with `*value` set, or 1 with `EINVAL` for
/// an unknown threshold or a NULL `value`.
///
/// # Safety
/// `value` must be NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_log_get_threshold(threshold: c_uint, value: *mut c_uint) -> c_int {
    match THRESHOLDS.get(threshold as usize) {
        Some(slot) if !value.is_null() => {
            // SAFETY: non-NULL and valid (caller's contract).
            unsafe { value.write(slot.load(Ordering::Relaxed)) };
            0
        }
        _ => {
            set_errno(libc::EINVAL);
            1
        }
    }
}

/// `pmem_log_set_function`: stores the function (NULL restores the
/// default); 0.
///
/// # Safety
/// A non-NULL `function` must stay callable for the life of the process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_log_set_function(function: Option<LogFunction>) -> c_int {
    FUNCTION.store(function.map_or(0, |f| f as usize), Ordering::Relaxed);
    0
}

/// `PMEM_LOG_LEVEL_ERROR`.
const LEVEL_ERROR: c_uint = 2;

/// Passes an error message to the user's log function, if one is set and
/// the main threshold is at least `PMEM_LOG_LEVEL_ERROR`.
pub(crate) fn error(message: &str) {
    let f = FUNCTION.load(Ordering::Relaxed);
    if f == 0 || THRESHOLDS[0].load(Ordering::Relaxed) < LEVEL_ERROR {
        return;
    }
    let Ok(text) = std::ffi::CString::new(message) else {
        return;
    };
    // SAFETY: `f` was stored from a `LogFunction` by pmem_log_set_function,
    // whose caller keeps it callable; the strings live across the call.
    unsafe {
        let f: LogFunction = std::mem::transmute::<usize, LogFunction>(f);
        f(
            LEVEL_ERROR,
            std::ptr::null(),
            0,
            c"".as_ptr(),
            text.as_ptr(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let mut v = 99;
        // SAFETY: `v` is a live local.
        unsafe {
            assert_eq!(pmem_log_get_threshold(0, &raw mut v), 0);
            assert_eq!(v, 3);
            assert_eq!(pmem_log_get_threshold(1, &raw mut v), 0);
            assert_eq!(v, 0);
            assert_eq!(pmem_log_set_threshold(2, 0), 1);
            assert_eq!(pmem_log_set_threshold(0, 7), 1);
            assert_eq!(pmem_log_get_threshold(0, std::ptr::null_mut()), 1);
            assert_eq!(pmem_log_set_function(Some(record)), 0);
            crate::errormsg::set_errno(0);
            crate::errormsg::fail("t", &pmem2::Error::Unknown("seen by the log".into()));
            assert_eq!(pmem_log_set_function(None), 0);
            crate::errormsg::fail("t", &pmem2::Error::Unknown("not seen".into()));
        }
        // (Other tests may fail calls meanwhile: look for these two only.)
        let seen = SEEN.lock().unwrap();
        assert!(seen.iter().any(|m| m == "2 seen by the log"), "{seen:?}");
        assert!(!seen.iter().any(|m| m.contains("not seen")), "{seen:?}");
    }

    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    unsafe extern "C" fn record(
        level: c_uint,
        _file: *const c_char,
        _line: c_uint,
        _func: *const c_char,
        message: *const c_char,
    ) {
        // SAFETY: the library passes a NUL-terminated message.
        let m = unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy();
        SEEN.lock().unwrap().push(format!("{level} {m}"));
    }
}
