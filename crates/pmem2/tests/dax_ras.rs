//! RAS on real DAX: deep flush, bad blocks (injected), mcsafe I/O, device
//! DAX geometry, NUMA node and unsafe shutdown count.
//!
//! Runs in the `cargo xtask dax-test` guest, reading the DAX suite's
//! environment: `PMEM2_DAX_FSDAX_DIRS` (colon-separated DAX mount points)
//! and `PMEM2_DAX_DEVDAX` (a device DAX). When neither is set it prints
//! `skipped` and passes. Like the DAX suite it prints one
//! `DAX-RESULT <PASS|FAIL> <test> <target> <detail>` line per case.
//! The cases live in `dax_ras/cases.rs` so the DAX suite can register them.

#[path = "dax_ras/cases.rs"]
mod cases;

use std::path::PathBuf;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[test]
fn dax_ras() {
    let fsdax: Vec<PathBuf> = env("PMEM2_DAX_FSDAX_DIRS")
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    let devdax = env("PMEM2_DAX_DEVDAX").map(PathBuf::from);
    if fsdax.is_empty() && devdax.is_none() {
        println!("skipped: PMEM2_DAX_FSDAX_DIRS and PMEM2_DAX_DEVDAX not set");
        return;
    }
    let mut failures = Vec::new();
    let mut run = |name: &str, label: &str, case: cases::Case, path: &PathBuf| {
        let outcome =
            std::panic::catch_unwind(|| case(path)).unwrap_or_else(|_| Err("panicked".to_string()));
        match outcome {
            Ok(detail) => println!("DAX-RESULT PASS {name} {label} {detail}"),
            Err(why) => {
                println!("DAX-RESULT FAIL {name} {label} {why}");
                failures.push(format!("{name} {label}: {why}"));
            }
        }
    };
    if let Some(dev) = &devdax {
        for (name, case) in cases::DEVDAX_CASES {
            run(name, "devdax", *case, dev);
        }
    }
    // fsdax last: the bad-block case leaves an unclearable emulated bad sector
    for dir in &fsdax {
        let label = dir.display().to_string();
        for (name, case) in cases::FSDAX_CASES {
            run(name, &label, *case, dir);
        }
    }
    assert!(failures.is_empty(), "failed: {failures:#?}");
}
