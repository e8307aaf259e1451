//! Project automation, run as `cargo xtask <command>`.
//!
//! Each command lives in its own module; this file only dispatches.

use std::process::ExitCode;

mod bench;
mod bench_copy;
mod capi;
mod dax;

type Task = fn(&[String]) -> Result<(), String>;

/// Commands: name, one-line help, entry point.
const TASKS: &[(&str, &str, Task)] = &[
    (
        "bench",
        "pmem2 vs the C libpmem2: memcpy/memset/persist/map, side by side",
        bench::run,
    ),
    (
        "bench-copy",
        "pmem2 copy (persisted, verified) against cp and dd, tmpfs and disk, interleaved medians",
        bench_copy::run,
    ),
    (
        "build-c",
        "build libpmem2.so.1, libpmem.so.1 and their .a into target/capi/lib",
        capi::build_c,
    ),
    (
        "install-c",
        "install the C libraries (libpmem2, libpmem), headers, pkg-config files and man pages: --prefix DIR [--libdir DIR] [--mandir DIR] [--destdir DIR]",
        capi::install_c,
    ),
    (
        "c-test",
        "C library tests: symbols, headers, differential run against PMDK, examples",
        capi::c_test,
    ),
    (
        "libpmem-test",
        "libpmem.so.1: symbols, header, differential vs Debian's libpmem1, fio/pmempool/libpmemobj",
        capi::libpmem_test,
    ),
    (
        "libpmem-bench",
        "fio's libpmem engine on our libpmem.so.1 and Debian's, interleaved, medians",
        capi::libpmem_bench::run,
    ),
    (
        "dax-test",
        "run the DAX suite in a QEMU guest with emulated NVDIMMs (docs/dax-vm.md)",
        dax::run,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        usage();
        return ExitCode::from(2);
    };
    let Some((_, _, task)) = TASKS.iter().find(|(n, _, _)| n == name) else {
        eprintln!("xtask: unknown command '{name}'");
        usage();
        return ExitCode::from(2);
    };
    match task(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask {name}: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn usage() {
    eprintln!("usage: cargo xtask <command> [args]\n\ncommands:");
    for (name, help, _) in TASKS {
        eprintln!("  {name:<14} {help}");
    }
}
