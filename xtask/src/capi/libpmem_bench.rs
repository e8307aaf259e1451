//! `cargo xtask libpmem-bench [--rounds N]`: fio's `libpmem` engine on our
//! `libpmem.so.1` and on Debian's, interleaved, medians.
//!
//! Each round runs the same fio job once per library, in an order that
//! alternates between rounds (ours first in even rounds), on a file in
//! /dev/shm with `PMEM_IS_PMEM_FORCE=1` (which fio needs off real pmem).
//! Two jobs: 2 MiB writes with `direct=1` (fio asks for non-temporal
//! stores) and 4 KiB writes with `direct=0` (temporal stores + flush).
//! The table gives each library's median write bandwidth and the ratio
//! (ours / Debian's: above 1.00x ours is faster). `docs/benchmarks.md`,
//! section "libpmem: fio", records a run.

use std::fs;
use std::path::Path;

use super::libpmem;

/// Debian's library, the reference.
const SYSTEM_LIB: &str = "/usr/lib/x86_64-linux-gnu/libpmem.so.1";

/// One job: label and the fio options that differ.
const JOBS: &[(&str, &[&str])] = &[
    (
        "write bs=2M direct=1 (non-temporal)",
        &["--bs=2m", "--direct=1"],
    ),
    (
        "write bs=4K direct=0 (temporal)",
        &["--bs=4k", "--direct=0"],
    ),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Write bandwidth in MiB/s of one fio run (`lib`: our library directory,
/// or `None` for the system's).
fn fio_write_bw(file: &Path, options: &[&str], lib: Option<&Path>) -> Result<f64, String> {
    let mut cmd = std::process::Command::new("/usr/bin/fio");
    cmd.args([
        "--name=bench",
        "--ioengine=libpmem",
        "--rw=write",
        "--size=512m",
        "--loops=2",
        "--output-format=terse",
    ])
    .args(options)
    .arg(format!("--filename={}", file.display()))
    .env("PMEM_IS_PMEM_FORCE", "1")
    .env_remove("LD_PRELOAD");
    match lib {
        Some(lib) => cmd.env("LD_LIBRARY_PATH", lib),
        None => cmd.env_remove("LD_LIBRARY_PATH"),
    };
    let out = super::run(&mut cmd)?;
    let f: Vec<&str> = out.lines().last().unwrap_or("").split(';').collect();
    // terse v3: field 5 is the error, field 48 the write bandwidth in KiB/s.
    match (f.get(4), f.get(47).and_then(|v| v.parse::<f64>().ok())) {
        (Some(&"0"), Some(kib)) => Ok(kib / 1024.0),
        _ => Err(format!("unexpected fio output:\n{out}")),
    }
}

/// Entry point.
pub fn run(args: &[String]) -> Result<(), String> {
    let rounds = match args {
        [] => 9,
        [flag, n] if flag == "--rounds" => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or("--rounds takes a positive number")?,
        _ => return Err("usage: cargo xtask libpmem-bench [--rounds N]".into()),
    };
    for needed in [SYSTEM_LIB, "/usr/bin/fio"] {
        if !Path::new(needed).exists() {
            return Err(format!(
                "{needed} missing: apt-get install libpmem1 fio (or run cargo xtask libpmem-test)"
            ));
        }
    }
    let built = libpmem::build()?;
    let lib = built.lib_dir();
    let file = Path::new("/dev/shm").join(format!("pmem2-libpmem-bench-{}", std::process::id()));
    println!("fio --ioengine=libpmem, 512 MiB file on /dev/shm written twice per run, {rounds} rounds, medians");
    println!(
        "{:<40} {:>12} {:>12} {:>9}",
        "job", "pmem2 MiB/s", "PMDK MiB/s", "ours/PMDK"
    );
    let result = (|| {
        for (label, options) in JOBS {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                if round % 2 == 0 {
                    ours.push(fio_write_bw(&file, options, Some(&lib))?);
                    theirs.push(fio_write_bw(&file, options, None)?);
                } else {
                    theirs.push(fio_write_bw(&file, options, None)?);
                    ours.push(fio_write_bw(&file, options, Some(&lib))?);
                }
            }
            let (o, t) = (median(&mut ours), median(&mut theirs));
            println!("{label:<40} {o:>12.0} {t:>12.0} {:>8.2}x", o / t);
        }
        Ok(())
    })();
    let _ = fs::remove_file(&file);
    result
}
