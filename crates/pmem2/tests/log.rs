//! The debug log: `PMEM2_LOG_LEVEL=15` with `PMEM2_LOG_FILE` names, for every
//! memory operation, the routine it took, with PMDK's names, exactly once;
//! and nothing is logged without the variables.
//!
//! The environment is read once per process, so each case runs this test
//! binary again as a child process (the `#[ignore]`d `child_*` tests) with
//! the variables set.

mod common;

use std::ffi::c_void;
use std::path::Path;

use bitflags::Flags;

use pmem2::mem::{self, KernelKind};
use pmem2::{Config, FlushKind, Granularity, Map, MemFlags, Source};

fn flag_sets() -> [MemFlags; 8] {
    [
        MemFlags::empty(),
        MemFlags::NONTEMPORAL,
        MemFlags::WC,
        MemFlags::TEMPORAL,
        MemFlags::WB,
        MemFlags::NOFLUSH,
        MemFlags::NODRAIN,
        MemFlags::NONTEMPORAL | MemFlags::NODRAIN,
    ]
}

/// The name PMDK 1.12's debug build logs for a call (written from PMDK's
/// rules, independently of pmem2's dispatch code).
fn expected(
    kind: KernelKind,
    g: Granularity,
    is_move: bool,
    flags: MemFlags,
    len: usize,
) -> String {
    let op = if is_move { "memmove" } else { "memset" };
    let family = match kind {
        KernelKind::Libc => return format!("{op}_nodrain_libc"),
        KernelKind::Generic => return format!("{op}_nodrain_generic"),
        KernelKind::Sse2 => "sse2",
        KernelKind::Avx => "avx",
        KernelKind::Avx512f | KernelKind::Avx512fAvxNtCopy => "avx512f",
    };
    let info = mem::info();
    let eadr = g == Granularity::Byte;
    let nt = if flags.contains(MemFlags::NOFLUSH) {
        false
    } else if eadr {
        flags.contains(MemFlags::NONTEMPORAL)
    } else if flags.intersects(MemFlags::NONTEMPORAL | MemFlags::WC) {
        true
    } else if flags.intersects(MemFlags::TEMPORAL | MemFlags::WB) {
        false
    } else {
        len >= info.movnt_threshold
    };
    let flush = if flags.contains(MemFlags::NOFLUSH) {
        "noflush"
    } else if eadr {
        "empty"
    } else {
        match info.flush {
            FlushKind::Clwb => "clwb",
            FlushKind::Clflushopt => "clflushopt",
            FlushKind::Clflush => "clflush",
            other => panic!("no x86 flush instruction: {other:?}"),
        }
    };
    if !nt {
        return format!("{op}_mov_{family}_{flush}");
    }
    // The mixed family copies non-temporally with AVX.
    let family = if kind == KernelKind::Avx512fAvxNtCopy && is_move {
        "avx"
    } else {
        family
    };
    if family == "avx512f" {
        format!("{op}_movnt_{family}_{flush}")
    } else {
        let barrier = if info.wc_workaround {
            "wcbarrier"
        } else {
            "nobarrier"
        };
        format!("{op}_movnt_{family}_{flush}_{barrier}")
    }
}

/// Every routine name in a log text: the function field of PMDK's
/// `<libpmem2>: <15> [file:line function] ...` lines.
fn routines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with("<libpmem2>: <15> ["))
        .map(|l| {
            let inside = &l[l.find('[').unwrap() + 1..l.find(']').unwrap()];
            inside.split_whitespace().nth(1).unwrap().to_owned()
        })
        .collect()
}

/// Runs the ignored test `name` of this binary with `env`; returns the log.
fn run_child(name: &str, env: &[(&str, &str)], log: &Path) -> String {
    let out = common::self_command()
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PMEM2_LOG_LEVEL", "15")
        .env("PMEM2_LOG_FILE", log)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn every_kernel_and_flag_family_logs_its_routine_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = run_child("child_every_kernel", &[], &dir.path().join("pmem2.log"));
    // The child checked each call; here: the lines are PMDK-shaped and
    // cover both families of names.
    let names = routines(&log);
    assert!(
        names.iter().any(|n| n == "memmove_nodrain_generic"),
        "{log}"
    );
    assert!(names.iter().any(|n| n == "memset_nodrain_libc"), "{log}");
    if cfg!(target_arch = "x86_64") {
        assert!(
            names.iter().any(|n| n.starts_with("memmove_movnt_sse2_")),
            "{log}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("memset_mov_sse2_")),
            "{log}"
        );
    }
}

#[test]
fn pmem_no_movnt_selects_the_generic_and_libc_routines() {
    let dir = tempfile::tempdir().unwrap();
    for (env, want) in [
        (&[("PMEM_NO_MOVNT", "1")][..], "generic"),
        (
            &[("PMEM_NO_MOVNT", "1"), ("PMEM_NO_GENERIC_MEMCPY", "1")][..],
            "libc",
        ),
    ] {
        let path = dir.path().join(format!("{want}.log"));
        let log = run_child("child_process_functions", env, &path);
        assert_eq!(
            routines(&log),
            [
                format!("memmove_nodrain_{want}"),
                format!("memset_nodrain_{want}")
            ],
            "{log}"
        );
    }
}

#[test]
fn trailing_dash_appends_the_pid_and_no_log_without_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("pid-");
    let out = common::self_command()
        .args([
            "child_process_functions",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("PMEM2_LOG_LEVEL", "15")
        .env("PMEM2_LOG_FILE", &base)
        .output()
        .unwrap();
    assert!(out.status.success());
    let logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0].to_string_lossy().into_owned();
    let pid = name.strip_prefix("pid-").expect("pid- prefix");
    assert!(pid.parse::<u32>().is_ok(), "{name}");
    assert_eq!(
        routines(&std::fs::read_to_string(dir.path().join(&name)).unwrap()).len(),
        2
    );

    // Level 0: no file is created, nothing is written.
    let quiet = dir.path().join("quiet.log");
    let out = common::self_command()
        .args([
            "child_process_functions",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("PMEM2_LOG_LEVEL", "0")
        .env("PMEM2_LOG_FILE", &quiet)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!quiet.exists());
}

/// A map to run the C-style functions on (page granularity needs a real
/// mapping for `msync`).
fn scratch() -> Map {
    let source = Source::anonymous(1 << 20).unwrap();
    Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap()
}

fn log_path() -> std::path::PathBuf {
    std::env::var_os("PMEM2_LOG_FILE")
        .expect("run by the parent test")
        .into()
}

#[test]
#[ignore = "child of every_kernel_and_flag_family_logs_its_routine_once (needs PMEM2_LOG_LEVEL=15 from process start)"]
fn child_every_kernel() {
    let map = scratch();
    let base = map.addr();
    let log = log_path();
    let mut seen = std::fs::read_to_string(&log).unwrap_or_default().len();
    let mut calls = 0;
    for kind in KernelKind::ALL {
        for g in [Granularity::Byte, Granularity::CacheLine, Granularity::Page] {
            let Some(ops) = mem::ops_with(kind, g) else {
                continue;
            };
            for flags in flag_sets() {
                for len in [100, 64 << 10] {
                    for is_move in [true, false] {
                        // SAFETY: both ranges lie inside the 1 MiB map and don't overlap.
                        unsafe {
                            let dst = base.add(512 << 10).cast::<c_void>();
                            if is_move {
                                (ops.memmove)(dst, base.cast::<c_void>(), len, flags.bits());
                            } else {
                                (ops.memset)(dst, 0x5a, len, flags.bits());
                            }
                        }
                        calls += 1;
                        let text = std::fs::read_to_string(&log).unwrap();
                        let new = &text[seen..];
                        seen = text.len();
                        let want = expected(kind, g, is_move, flags, len);
                        assert_eq!(
                            routines(new),
                            [want],
                            "{kind} {g:?} {flags:?} len {len} move {is_move}: {new}"
                        );
                    }
                }
            }
        }
    }
    assert!(calls >= 2 * 3 * 8 * 2 * 2, "{calls} calls");
}

#[test]
#[ignore = "child of the PMEM_NO_MOVNT and PMEM2_LOG_FILE tests (needs the environment from process start)"]
fn child_process_functions() {
    let map = scratch();
    let base = map.addr();
    let g = Granularity::CacheLine;
    // SAFETY: both ranges lie inside the 1 MiB map and don't overlap.
    unsafe {
        mem::memcpy_fn(g)(base.add(4096).cast(), base.cast::<c_void>(), 256, 0);
        mem::memset_fn(g)(base.cast(), 0, 256, 0);
    }
}

#[test]
fn rust_programs_get_the_records_through_the_log_facade() {
    let out = common::self_command()
        .args([
            "child_log_facade",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("PMEM2_LOG_LEVEL")
        .env_remove("PMEM2_LOG_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Collects `pmem2` records.
struct Collect(std::sync::Mutex<Vec<(log::Level, String)>>);

impl log::Log for Collect {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "pmem2"
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let text = record.args().to_string();
            self.0.lock().unwrap().push((record.level(), text));
        }
    }
    fn flush(&self) {}
}

#[test]
#[ignore = "child of rust_programs_get_the_records_through_the_log_facade (installs a process-wide logger)"]
fn child_log_facade() {
    static LOGGER: Collect = Collect(std::sync::Mutex::new(Vec::new()));
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let source = Source::anonymous(4096).unwrap();
    assert!(Map::new(&Config::new(), &source).is_err());
    let mut map = scratch();
    map.write(0, &[1u8; 300]).unwrap();
    let records = LOGGER.0.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|(level, text)| *level == log::Level::Debug
                && text.starts_with("[Map::new] mapped")),
        "{records:?}"
    );
    // Level 1: the error, with PMDK's code name and the Rust API's text
    // (the C library logs PMDK's).
    assert!(
        records
            .iter()
            .any(|(level, text)| *level == log::Level::Debug
                && text.starts_with(
                    "[Map::new] PMEM2_E_GRANULARITY_NOT_SET (-100008): the Config has no required store granularity"
                )),
        "{records:?}"
    );
    // The safe write is one memmove; its record names the routine.
    let traced: Vec<_> = records
        .iter()
        .filter(|(level, text)| *level == log::Level::Trace && text.starts_with("[memmove_"))
        .collect();
    assert_eq!(traced.len(), 1, "{records:?}");
    // No environment log was asked for: nothing on a file, nothing else.
    assert!(std::env::var_os("PMEM2_LOG_FILE").is_none());
}
