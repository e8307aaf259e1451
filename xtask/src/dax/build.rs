//! Static builds of what runs in the guest: the `dax` integration test of `pmem2` and the
//! `pmem2` command-line tool. The guest has no Rust runtime libraries, only busybox, so both
//! are linked with `+crt-static`; the explicit `--target` keeps these artifacts (built with
//! their own `RUSTFLAGS`) apart from the host's. The aarch64 guest's are cross-built with
//! `aarch64-linux-gnu-gcc` as the linker (Debian's `gcc-aarch64-linux-gnu` and
//! `libc6-dev-arm64-cross`, whose static glibc they link). The arm64 guest also gets the test
//! binaries whose premise QEMU's user mode breaks ([`emulated`]), to run them for real.

use super::arch::Arch;
use super::emulated;
use super::proc::{run, tail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RUSTFLAGS: &str = "-C target-feature=+crt-static";

/// The guest's binaries.
pub struct Binaries {
    /// The DAX suite (`crates/pmem2/tests/dax.rs`).
    pub dax_tests: PathBuf,
    /// The `pmem2` tool.
    pub cli: PathBuf,
    /// The arm64 guest's only: the test binaries of [`emulated::BINARIES`], by name.
    pub emulated: Vec<(&'static str, PathBuf)>,
}

/// Runs cargo for `arch`, returns its JSON messages.
fn cargo(workspace: &Path, arch: Arch, args: &[&str], timeout: Duration) -> Result<String, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .env("RUSTFLAGS", RUSTFLAGS)
        .args(args)
        .args([
            "--target",
            arch.rust_target(),
            "--message-format=json-render-diagnostics",
        ]);
    let linker = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER";
    if arch == Arch::Aarch64 && std::env::var_os(linker).is_none() {
        cmd.env(linker, "aarch64-linux-gnu-gcc");
    }
    let what = format!("cargo {} --target {}", args.join(" "), arch.rust_target());
    let out = run(&mut cmd, &what, timeout)?;
    if !out.status.success() {
        return Err(format!("{what} failed:\n{}", tail(&out.stderr, 60)));
    }
    Ok(out.stdout)
}

/// The executable of the `kind` target `name` in cargo's `messages`.
fn executable(messages: &str, (kind, name): (&str, &str)) -> Result<PathBuf, String> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["name"] == name)
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == kind))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("no {kind} executable named {name} in cargo's messages"))
}

/// Builds the guest's binaries for `arch`.
pub fn build(workspace: &Path, arch: Arch, timeout: Duration) -> Result<Binaries, String> {
    let mut tests = vec!["test", "--no-run", "-p", "pmem2", "--test", "dax"];
    if arch == Arch::Aarch64 {
        tests.extend(emulated::cargo_targets());
    }
    let messages = cargo(workspace, arch, &tests, timeout)?;
    let dax_tests = executable(&messages, ("test", "dax"))?;
    let mut emulated = Vec::new();
    if arch == Arch::Aarch64 {
        for b in emulated::BINARIES {
            let want = match b.name {
                "lib" => ("lib", "pmem2"),
                t => ("test", t),
            };
            emulated.push((b.name, executable(&messages, want)?));
        }
    }
    let messages = cargo(
        workspace,
        arch,
        &["build", "-p", "pmem2-cli", "--bin", "pmem2"],
        timeout,
    )?;
    let cli = executable(&messages, ("bin", "pmem2"))?;
    Ok(Binaries {
        dax_tests,
        cli,
        emulated,
    })
}
