//! `cargo xtask bench [--quick] [--aa] [--rounds N] [--kernels] [--filter TEXT] [--dir DIR]`:
//! pmem2 against PMDK's C libpmem2, side by side in one process.
//!
//! Installs Debian's `libpmem2` with apt-get when
//! `/usr/lib/x86_64-linux-gnu/libpmem2.so.1` is missing, then runs the
//! `memops` benchmark of the pmem2 crate (release build), which loads the
//! C library with `dlopen`. How to read its table: `docs/benchmarks.md`.

use std::path::Path;
use std::process::Command;

const C_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/libpmem2.so.1";

/// Entry point from the task table.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: cargo xtask bench [--quick] [--aa] [--rounds N] [--kernels [--reference KERNEL]] [--filter TEXT] [--dir DIR]\n\
             \n  --quick      fewer rounds, smaller file, no 16 MiB cells (a few minutes at most)\
             \n  --aa         each library against a second map of itself: the harness's noise floor per cell\
             \n  --rounds N   rounds per cell (default 21, 11 with --quick; at least 5)\
             \n  --kernels    every pmem2 kernel against C (or --reference KERNEL) at cache-line granularity\
             \n  --filter T   only cells whose label contains T, e.g. \"cache_line memcpy\" or \"256M\"\
             \n  --dir DIR    where the scratch files go (default /dev/shm)"
        );
        return Ok(());
    }
    ensure_c_library()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["bench", "--quiet", "-p", "pmem2", "--bench", "memops", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("can't run cargo bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}

/// Installs the C library with apt-get if it isn't there.
fn ensure_c_library() -> Result<(), String> {
    if Path::new(C_LIBRARY).exists() {
        return Ok(());
    }
    eprintln!("xtask bench: {C_LIBRARY} missing; installing libpmem2 with apt-get");
    for args in [
        &["update"][..],
        &["install", "-y", "libpmem2", "libpmem2-dev"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("can't run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("apt-get {} failed ({status})", args.join(" ")));
        }
    }
    if Path::new(C_LIBRARY).exists() {
        Ok(())
    } else {
        Err(format!("{C_LIBRARY} still missing after apt-get install"))
    }
}
