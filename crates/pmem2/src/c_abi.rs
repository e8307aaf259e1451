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
