//! The debug log: `PMEM2_LOG_LEVEL` and `PMEM2_LOG_FILE` as libpmem2(7)
//! describes them, and the same records through the `log` crate's facade
//! (target `pmem2`) for Rust programs.
//!
//! Read once per process. Callers on hot paths ask [`enabled`] once, when
//! they build their tables (the memory-operation tables hold logging
//! wrappers only when level 15 is on), so a process without logging pays
//! nothing per call; elsewhere a record costs one check of the level (a
//! relaxed atomic load once the log is set up) and the `log` crate's own
//! check of its maximum level, before any formatting.
//!
//! The levels, as libpmem2(7) describes them:
//!
//! | level | what |
//! |---|---|
//! | 1 | every error returned, with its message |
//! | 2 | basic operations: sources, maps created and deleted (address, length, granularity and why) |
//! | 3 | decisions: flush instruction, kernel family, non-temporal threshold, environment variables and sysfs files read |
//! | 4 | per-call details that are not per memory operation: persist/flush/deep-flush ranges of `Map` methods, reservation operations |
//! | 15 | one line per memory operation, naming PMDK's routine for the path taken |
//!
//! Lines have PMDK's shape: `<libpmem2>: <LEVEL> [FILE:LINE FUNCTION] MESSAGE`
//! (`<libpmem>` and `PMEM_LOG_LEVEL`/`PMEM_LOG_FILE` in the libpmem C
//! library, which has its own copy of this module).
//!
//! # References
//! - [`libpmem2(7)`](https://pmem.io/pmdk/manpages/linux/master/libpmem2/libpmem2.7/), "DEBUGGING"

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::Error;
use crate::sys::process::secure_getenv;

/// Level 1: errors returned.
pub(crate) const ERROR: u32 = 1;
/// Level 2: basic operations.
pub(crate) const BASIC: u32 = 2;
/// Level 3: decisions, environment and sysfs.
pub(crate) const DETAIL: u32 = 3;
/// Level 4: per-call details that are not per memory operation.
pub(crate) const VERBOSE: u32 = 4;
/// The call-tracing level: one line per memory operation.
pub(crate) const CALL_TRACE: u32 = 15;

/// Which library the log speaks for: the line prefix and the variables.
pub(crate) struct Identity {
    /// `libpmem2` in `<libpmem2>: ...`.
    prefix: &'static str,
    /// The level variable.
    level_var: &'static str,
    /// The file variable.
    file_var: &'static str,
}

/// The default: libpmem2 and Rust programs.
pub(crate) static LIBPMEM2: Identity = Identity {
    prefix: "libpmem2",
    level_var: "PMEM2_LOG_LEVEL",
    file_var: "PMEM2_LOG_FILE",
};

/// The libpmem C library (`crates/pmem-ffi`).
#[cfg_attr(not(feature = "c-abi"), allow(dead_code))]
pub(crate) static LIBPMEM: Identity = Identity {
    prefix: "libpmem",
    level_var: "PMEM_LOG_LEVEL",
    file_var: "PMEM_LOG_FILE",
};

static IDENTITY: OnceLock<&'static Identity> = OnceLock::new();

/// Makes this copy of the crate log as `identity`. Only the first choice
/// counts, and only before the first record (the C library calls it on
/// entry, before anything can log).
#[cfg_attr(not(feature = "c-abi"), allow(dead_code))]
pub(crate) fn set_identity(identity: &'static Identity) {
    let _ = IDENTITY.set(identity);
}

/// Set by a C library: it logs the errors it returns itself (with PMDK's
/// texts, where it records `pmem2_errormsg`), so the Rust API's level-1
/// records would be duplicates.
static ERRORS_LOGGED_BY_CALLER: AtomicBool = AtomicBool::new(false);

/// See [`ERRORS_LOGGED_BY_CALLER`]. Loads first: a store on every C call
/// would bounce the cache line between threads.
#[cfg_attr(not(feature = "c-abi"), allow(dead_code))]
pub(crate) fn errors_logged_by_caller() {
    if !ERRORS_LOGGED_BY_CALLER.load(Ordering::Relaxed) {
        ERRORS_LOGGED_BY_CALLER.store(true, Ordering::Relaxed);
    }
}

/// The environment's level, cached for the cheap check (`u32::MAX`: not
/// read yet).
static LEVEL: AtomicU32 = AtomicU32::new(u32::MAX);

/// Where the environment's log goes.
enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct Logger {
    /// `PMEM2_LOG_LEVEL` (0: off).
    level: u32,
    sink: Sink,
    prefix: &'static str,
}

fn logger() -> &'static Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let identity = *IDENTITY.get_or_init(|| &LIBPMEM2);
        let logger = Logger::from_lookup(identity, secure_getenv);
        LEVEL.store(logger.level, Ordering::Relaxed);
        logger
    })
}

/// The environment's level: one relaxed load once the log is set up.
fn env_level() -> u32 {
    match LEVEL.load(Ordering::Relaxed) {
        u32::MAX => logger().level,
        level => level,
    }
}

impl Logger {
    fn from_lookup(identity: &Identity, lookup: impl Fn(&str) -> Option<String>) -> Logger {
        // PMDK reads the level with atoi: garbage is 0 (off).
        let level = lookup(identity.level_var)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0)
            .min(u32::MAX - 1);
        let sink = match lookup(identity.file_var) {
            Some(name) if level > 0 && !name.is_empty() => {
                // A trailing '-' gets the process id appended.
                let name = match name.strip_suffix('-') {
                    Some(_) => format!("{name}{}", std::process::id()),
                    None => name,
                };
                match File::create(&name) {
                    Ok(file) => Sink::File(Mutex::new(file)),
                    Err(err) => {
                        eprintln!(
                            "pmem2: {} {name}: {err}; logging to stderr",
                            identity.file_var
                        );
                        Sink::Stderr
                    }
                }
            }
            _ => Sink::Stderr,
        };
        Logger {
            level,
            sink,
            prefix: identity.prefix,
        }
    }
}

/// The `log` crate's level for a PMDK level: 1-3 `debug`, 4 and above
/// `trace` (errors a library returns are not the application's errors).
fn facade_level(level: u32) -> log::Level {
    if level <= 3 {
        log::Level::Debug
    } else {
        log::Level::Trace
    }
}

/// Whether records of `level` go anywhere: the environment's log, or a
/// `log` logger enabled for target `pmem2` at the matching level.
#[inline]
pub(crate) fn enabled(level: u32) -> bool {
    env_level() >= level || log::log_enabled!(target: "pmem2", facade_level(level))
}

/// Writes one record, if [`enabled`]. `file` and `line` are the caller's
/// (`file!()`, `line!()`), `func` the routine or method the record is about.
pub(crate) fn write(
    level: u32,
    file: &str,
    line: u32,
    func: fmt::Arguments<'_>,
    msg: fmt::Arguments<'_>,
) {
    let logger = logger();
    if logger.level >= level {
        let file = file.rsplit('/').next().unwrap_or(file);
        let prefix = logger.prefix;
        let text = format!("<{prefix}>: <{level}> [{file}:{line} {func}] {msg}\n");
        // A failed log write has nowhere to be reported; it is dropped.
        match &logger.sink {
            Sink::Stderr => drop(std::io::stderr().write_all(text.as_bytes())),
            Sink::File(file) => {
                let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                drop(file.write_all(text.as_bytes()));
            }
        }
    }
    let facade = facade_level(level);
    if log::log_enabled!(target: "pmem2", facade) {
        log::log!(target: "pmem2", facade, "[{func}] {msg}");
    }
}

/// Level 1 for the Rust API: `result`'s error, if any, is logged as
/// returned by `func`, at the caller's file and line. Nothing happens on
/// success but the match.
pub(crate) trait Returned {
    /// Logs the error and hands `self` back.
    #[must_use]
    fn logged(self, func: &'static str) -> Self;
}

impl<T> Returned for Result<T, Error> {
    #[inline(always)]
    #[track_caller]
    fn logged(self, func: &'static str) -> Self {
        if let Err(err) = &self {
            returned(func, err, Location::caller());
        }
        self
    }
}

#[cold]
fn returned(func: &'static str, err: &Error, at: &Location<'_>) {
    if !ERRORS_LOGGED_BY_CALLER.load(Ordering::Relaxed) && enabled(ERROR) {
        write(
            ERROR,
            at.file(),
            at.line(),
            format_args!("{func}"),
            format_args!("{} ({}): {err}", err.code_name(), err.code()),
        );
    }
}

/// Logs at `level` with the caller's file and line: `plog!(2, "Map::new", "...", args)`.
macro_rules! plog {
    ($level:expr, $func:expr, $($arg:tt)*) => {
        if $crate::debug_log::enabled($level) {
            $crate::debug_log::write(
                $level,
                file!(),
                line!(),
                format_args!("{}", $func),
                format_args!($($arg)*),
            );
        }
    };
}
pub(crate) use plog;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_parsing() {
        let with = |level: Option<&'static str>| {
            Logger::from_lookup(&LIBPMEM2, move |name| match name {
                "PMEM2_LOG_LEVEL" => level.map(str::to_owned),
                _ => None,
            })
            .level
        };
        assert_eq!(with(None), 0);
        assert_eq!(with(Some("15")), 15);
        assert_eq!(with(Some(" 3 ")), 3);
        assert_eq!(with(Some("x")), 0);
    }

    #[test]
    fn file_name_gets_pid_after_dash() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("log-").display().to_string();
        let logger = Logger::from_lookup(&LIBPMEM2, |name| match name {
            "PMEM2_LOG_LEVEL" => Some("1".into()),
            "PMEM2_LOG_FILE" => Some(base.clone()),
            _ => None,
        });
        assert!(matches!(logger.sink, Sink::File(_)));
        assert!(std::path::Path::new(&format!("{base}{}", std::process::id())).exists());
    }

    #[test]
    fn libpmem_reads_its_own_variables() {
        let logger = Logger::from_lookup(&LIBPMEM, |name| match name {
            "PMEM_LOG_LEVEL" => Some("3".into()),
            "PMEM2_LOG_LEVEL" => Some("15".into()),
            _ => None,
        });
        assert_eq!(logger.level, 3);
        assert_eq!(logger.prefix, "libpmem");
    }

    #[test]
    fn facade_levels() {
        assert_eq!(facade_level(1), log::Level::Debug);
        assert_eq!(facade_level(3), log::Level::Debug);
        assert_eq!(facade_level(4), log::Level::Trace);
        assert_eq!(facade_level(CALL_TRACE), log::Level::Trace);
    }
}
