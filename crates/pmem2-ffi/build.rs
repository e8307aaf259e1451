//! Compiles `c/pmem2_perror.c` (the variadic `pmem2_perror`, which stable
//! Rust can't define) into a static library that rustc bundles into this
//! crate's static library and links into its tests. Uses `$CC` (default
//! `cc`) and `ar` directly, without build dependencies.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let source = manifest.join("c/pmem2_perror.c");
    let include = manifest.join("../../include");
    let object = out.join("pmem2_perror.o");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());

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
    run(Command::new("ar").arg("crs").arg(&archive).arg(&object));

    println!("cargo::rustc-link-search=native={}", out.display());
    println!("cargo::rustc-link-lib=static=pmem2_perror");
    println!("cargo::rerun-if-changed={}", source.display());
    println!(
        "cargo::rerun-if-changed={}",
        include.join("libpmem2/base.h").display()
    );
    println!("cargo::rerun-if-env-changed=CC");
}
