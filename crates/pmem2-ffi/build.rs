//! Compiles `c/pmem2_perror.c` (the variadic `pmem2_perror`, which stable
//! Rust can't define) into a static library that rustc bundles into this
//! crate's static library and links into its tests. Uses the C compiler and
//! `ar` directly, without build dependencies: `$CC_<target>` (e.g.
//! `CC_aarch64_unknown_linux_gnu`), else for a cross build the GNU
//! cross tools (`aarch64-linux-gnu-gcc`, `aarch64-linux-gnu-ar`), else
//! `$CC` (default `cc`) and `ar`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// The C compiler and archiver for cargo's `TARGET`.
fn tools() -> (String, String) {
    let target = env::var("TARGET").expect("set by cargo");
    let host = env::var("HOST").expect("set by cargo");
    // aarch64-unknown-linux-gnu -> aarch64-linux-gnu (Debian's cross tools).
    let prefix = (target != host).then(|| target.replacen("-unknown-", "-", 1));
    let cc = env::var(format!("CC_{}", target.replace('-', "_")))
        .ok()
        .or_else(|| prefix.as_ref().map(|p| format!("{p}-gcc")))
        .or_else(|| env::var("CC").ok())
        .unwrap_or_else(|| "cc".into());
    let ar = prefix.map_or_else(|| "ar".into(), |p| format!("{p}-ar"));
    (cc, ar)
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let source = manifest.join("c/pmem2_perror.c");
    let include = manifest.join("../../include");
    let object = out.join("pmem2_perror.o");
    let (cc, ar) = tools();

    run(Command::new(cc)
        .args([
            "-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", "-c",
        ])
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&object));
    let archive = out.join("libpmem2_perror.a");
    let _ = std::fs::remove_file(&archive);
    run(Command::new(ar).arg("crs").arg(&archive).arg(&object));

    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rustc-link-lib=static=pmem2_perror");
    println!("cargo::rerun-if-changed={}", source.display());
    println!(
        "cargo::rerun-if-changed={}",
        include.join("libpmem2/base.h").display()
    );
    println!("cargo::rerun-if-env-changed=CC");
    println!(
        "cargo::rerun-if-env-changed=CC_{}",
        env::var("TARGET").expect("set by cargo").replace('-', "_")
    );
}
