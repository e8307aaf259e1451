//! The debug log: `PMEM2_LOG_LEVEL` and `PMEM2_LOG_FILE` as libpmem2(7)
//! describes them, and the same records through the `log` crate's facade
//! (target `pmem2`) for Rust programs.
//!
//! Read once per process. Callers on hot paths ask [`enabled`] once, when
//! they build their tables (the memory-operation tables hold logging
//! wrappers only when level 15 is on), so a process without logging pays
//! nothing per call.
//!
//! Lines have PMDK's shape: `<libpmem2>: <LEVEL> [FILE:LINE FUNCTION] MESSAGE`.
//!
//! # References
//! - [`libpmem2(7)`](https://pmem.io/pmdk/manpages/linux/master/libpmem2/libpmem2.7/), "DEBUGGING"

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::sys::process::secure_getenv;

/// The call-tracing level: one line per memory operation.
pub(crate) const CALL_TRACE: u32 = 15;

/// Where the environment's log goes.
enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct Logger {
    /// `PMEM2_LOG_LEVEL` (0: off).
    level: u32,
    sink: Sink,
}

fn logger() -> &'static Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    LOGGER.get_or_init(|| Logger::from_lookup(secure_getenv))
}

impl Logger {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Logger {
        // PMDK reads the level with atoi: garbage is 0 (off).
        let level = lookup("PMEM2_LOG_LEVEL")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let sink = match lookup("PMEM2_LOG_FILE") {
            Some(name) if level > 0 && !name.is_empty() => {
                // A trailing '-' gets the process id appended.
                let name = match name.strip_suffix('-') {
                    Some(_) => format!("{name}{}", std::process::id()),
                    None => name,
                };
                match File::create(&name) {
                    Ok(file) => Sink::File(Mutex::new(file)),
                    Err(err) => {
                        eprintln!("pmem2: PMEM2_LOG_FILE {name}: {err}; logging to stderr");
                        Sink::Stderr
                    }
                }
            }
            _ => Sink::Stderr,
        };
        Logger { level, sink }
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
pub(crate) fn enabled(level: u32) -> bool {
    logger().level >= level || log::log_enabled!(target: "pmem2", facade_level(level))
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
        let text = format!("<libpmem2>: <{level}> [{file}:{line} {func}] {msg}\n");
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
            Logger::from_lookup(move |name| match name {
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
        let logger = Logger::from_lookup(|name| match name {
            "PMEM2_LOG_LEVEL" => Some("1".into()),
            "PMEM2_LOG_FILE" => Some(base.clone()),
            _ => None,
        });
        assert!(matches!(logger.sink, Sink::File(_)));
        assert!(std::path::Path::new(&format!("{base}{}", std::process::id())).exists());
    }

    #[test]
    fn facade_levels() {
        assert_eq!(facade_level(1), log::Level::Debug);
        assert_eq!(facade_level(3), log::Level::Debug);
        assert_eq!(facade_level(4), log::Level::Trace);
        assert_eq!(facade_level(CALL_TRACE), log::Level::Trace);
    }
}
