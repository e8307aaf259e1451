//! The debug log's levels 1-4 (libpmem2(7)): each level's records appear
//! with `PMEM2_LOG_LEVEL` at that level, and the records of higher levels
//! don't. The environment is read once per process, so each level runs the
//! `#[ignore]`d child test of this binary again with the variables set.

mod common;

use std::path::Path;

use pmem2::{Config, Error, Granularity, Map, MemFlags, Source, VmReservation};

/// Runs `child_operations` with `PMEM2_LOG_LEVEL=level`; returns the log
/// (`None`: no log file was made).
fn run_at(level: u32, dir: &Path) -> Option<String> {
    let log = dir.join(format!("level{level}.log"));
    let out = common::self_command()
        .args([
            "child_operations",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PMEM2_LOG_LEVEL", level.to_string())
        .env("PMEM2_LOG_FILE", &log)
        .env("PMEM2_LEVELS_DIR", dir)
        .env("PMEM_MOVNT_THRESHOLD", "256")
        .env("PMEM2_FORCE_GRANULARITY", "PAGE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "level {level}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(log).ok()
}

/// The lines of `log` at exactly `level`.
fn at(log: &str, level: u32) -> Vec<&str> {
    let tag = format!("<libpmem2>: <{level}> [");
    log.lines().filter(|l| l.starts_with(&tag)).collect()
}

/// Asserts that a line at `level` names `func` and contains `text`.
fn has(log: &str, level: u32, func: &str, text: &str) {
    assert!(
        at(log, level)
            .iter()
            .any(|l| l.contains(&format!(" {func}] ")) && l.contains(text)),
        "no level-{level} record of {func} with {text:?} in:\n{log}"
    );
}

/// What every level's log holds, and what the level's own records are.
fn check_level(log: &str, level: u32) {
    // Every line is PMDK-shaped and of a level that is on.
    for line in log.lines() {
        let lvl: u32 = line
            .strip_prefix("<libpmem2>: <")
            .and_then(|r| r.split('>').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not PMDK's shape: {line:?}"));
        assert!(
            (1..=level).contains(&lvl),
            "level {lvl} record at PMEM2_LOG_LEVEL={level}: {line}"
        );
        assert!(line.contains(".rs:"), "no file:line: {line}");
    }
    // Level 1: each error returned, once, with its message.
    has(log, 1, "Map::new", "PMEM2_E_GRANULARITY_NOT_SET");
    has(log, 1, "Map::new", "Config::set_required_store_granularity");
    has(log, 1, "Config::set_offset", "PMEM2_E_OFFSET_OUT_OF_RANGE");
    has(log, 1, "Map::write", "PMEM2_E_MAP_RANGE");
    assert_eq!(at(log, 1).len(), 3, "one record per error returned:\n{log}");
    if level >= 2 {
        has(log, 2, "Source::from_fd", ": Regular, device ");
        has(log, 2, "Source::anonymous", "4096 bytes");
        has(log, 2, "Map::new", "granularity Page (required Page)");
        has(log, 2, "Map::new", "anonymous memory");
        has(log, 2, "Map::delete", "unmapped 8192 bytes at 0x");
    }
    if level >= 3 {
        has(log, 3, "flush_kind", "flush instruction:");
        has(log, 3, "kernel_kind", "memory-operation kernels:");
        has(log, 3, "kernel_kind", "non-temporal from 256 bytes");
        has(log, 3, "platform_is_eadr", "persistence_domain");
        has(log, 3, "env", "PMEM_MOVNT_THRESHOLD=256");
        has(log, 3, "Map::new", "PMEM2_FORCE_GRANULARITY=PAGE: Page");
    }
    if level >= 4 {
        has(log, 4, "Map::persist", "offset 0, 100 bytes");
        has(log, 4, "Map::flush", "offset 64, 8 bytes");
        has(log, 4, "VmReservation::new", "8388608 bytes");
        has(log, 4, "VmReservation::extend", "by 2097152 bytes");
        has(
            log,
            4,
            "VmReservation::shrink",
            "offset 8388608, 2097152 bytes",
        );
        has(log, 4, "VmReservation::delete", "8388608 bytes");
        // Map::persist logs itself only, not the flush it is made of.
        assert_eq!(
            at(log, 4)
                .iter()
                .filter(|l| l.contains(" Map::flush] "))
                .count(),
            1,
            "{log}"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "runs child processes")]
fn each_level_logs_its_records_and_none_above() {
    let dir = tempfile::tempdir().unwrap();
    for level in 1..=4 {
        let log = run_at(level, dir.path()).expect("no log file");
        check_level(&log, level);
    }
    // Off: not even a file.
    assert_eq!(run_at(0, dir.path()), None);
}

#[test]
#[ignore = "child of each_level_logs_its_records_and_none_above (needs PMEM2_LOG_LEVEL from process start)"]
fn child_operations() {
    let dir = std::path::PathBuf::from(std::env::var_os("PMEM2_LEVELS_DIR").unwrap());
    let path = dir.join("file");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    file.set_len(8192).unwrap();
    let source = Source::from_file(&file).unwrap();

    // Errors: no granularity set; an offset mmap can't take; a write past the end.
    let err = Map::new(&Config::new(), &source).unwrap_err();
    assert!(matches!(err, Error::GranularityNotSet(_)));
    assert!(Config::new().set_offset(usize::MAX).is_err());

    let mut config = Config::new();
    config.set_required_store_granularity(Granularity::Page);
    let mut map = Map::new(&config, &source).unwrap();
    assert!(map.write(8190, b"four").is_err());
    map.copy_from_slice(0, &[7; 100], MemFlags::empty())
        .unwrap();
    map.persist(0, 100).unwrap();
    map.flush(64, 8).unwrap();
    map.delete().unwrap();

    let anon = Source::anonymous(4096).unwrap();
    Map::new(&config, &anon).unwrap().delete().unwrap();

    let rsv = VmReservation::new(None, 8 << 20).unwrap();
    rsv.extend(2 << 20).unwrap();
    rsv.shrink(8 << 20, 2 << 20).unwrap();
    rsv.delete().unwrap();
}
