//! `cargo xtask dax-test`: the DAX suite (`crates/pmem2/tests/dax.rs`) on real DAX, in a QEMU
//! guest under software emulation, in every configuration of [`vm::CONFIGURATIONS`].
//!
//! Stages, each with its own timeout: download and unpack Debian 12 packages (cached), build
//! the suite and the `pmem2` tool statically, assemble an initramfs, then for every
//! configuration boot twice on fresh backing files: `write` (namespaces, mkfs, mount, all
//! tests, data persisted, power cut) and `verify` (mount again, check every persisted byte).
//! One line per test, target and configuration; non-zero exit on any failure. The x86-64
//! configurations share one set of packages, build and initramfs; the arm64 ones have their
//! own, and the `aarch64` write boot also runs the `pmem2` tests that skip under QEMU's user
//! mode ([`emulated`]). See `docs/dax-vm.md`.

mod arch;
mod build;
mod emulated;
mod fetch;
mod initramfs;
mod proc;
mod report;
mod vm;

use report::Status;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Command-line options.
struct Options {
    configs: Vec<&'static vm::Configuration>,
    echo: bool,
    keep_images: bool,
    boot_timeout: Duration,
    total_timeout: Duration,
    build_timeout: Duration,
    budget: Duration,
}

const HELP: &str = "usage: cargo xtask dax-test [options]
  --config NAME        run only this configuration (repeatable); NAME is one of
                       default, cpu, mem-ctrl, virtio (x86-64 guest), aarch64,
                       aarch64-cpu (arm64 guest)
  --echo               copy the guest console to stdout
  --keep-images        keep the NVDIMM backing files (target/dax-vm/images)
  --boot-timeout S     seconds for a guest to reach /init (default 120)
  --total-timeout S    seconds for one boot, start to power-off (default 300)
  --build-timeout S    seconds for each cargo build (default 360)
  --budget S           seconds for the whole run (default 900): no boot starts after it,
                       and a boot is cut short when it would end later
files: <target dir>/dax-vm/{cache,logs,images}, logs as logs/<configuration>-<phase>.log";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        configs: Vec::new(),
        echo: false,
        keep_images: false,
        boot_timeout: Duration::from_mins(2),
        total_timeout: Duration::from_mins(5),
        build_timeout: Duration::from_mins(6),
        budget: Duration::from_mins(15),
    };
    let mut it = args.iter();
    let secs = |v: Option<&String>, flag: &str| -> Result<Duration, String> {
        v.and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{flag} needs a number of seconds"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => {
                let name = it.next().ok_or("--config needs a name")?;
                let cfg = vm::CONFIGURATIONS
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("unknown configuration {name}\n{HELP}"))?;
                o.configs.push(cfg);
            }
            "--echo" => o.echo = true,
            "--keep-images" => o.keep_images = true,
            "--boot-timeout" => o.boot_timeout = secs(it.next(), a)?,
            "--total-timeout" => o.total_timeout = secs(it.next(), a)?,
            "--build-timeout" => o.build_timeout = secs(it.next(), a)?,
            "--budget" => o.budget = secs(it.next(), a)?,
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}\n{HELP}")),
        }
    }
    if o.configs.is_empty() {
        o.configs = vm::CONFIGURATIONS.iter().collect();
    }
    Ok(o)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` or `<workspace>/target`.
fn target_dir(ws: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| ws.join("target"), |d| ws.join(PathBuf::from(d)))
}

fn stage(name: &str, start: Instant) {
    println!(
        "dax-test: {name} done in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

#[derive(Default)]
struct Totals {
    pass: usize,
    fail: usize,
    skip: usize,
}

fn print_rows(cfg: &str, phase: &str, rep: &report::BootReport, totals: &mut Totals) {
    println!(
        "  {cfg:<8} {phase:<6} {:<34} {:<8} PASS  {} steps",
        "setup", "-", rep.setup_passed
    );
    for r in &rep.rows {
        match r.status {
            Status::Pass => totals.pass += 1,
            Status::Fail => totals.fail += 1,
            Status::Skip => totals.skip += 1,
        }
        println!(
            "  {cfg:<8} {phase:<6} {:<34} {:<8} {}  {}",
            r.name,
            r.target,
            r.status.as_str(),
            r.detail
        );
    }
}

/// Whether QEMU runs on our `libpmem.so.1`: `ldd` with its library path
/// resolves `libpmem.so.1` to ours, and at load (`LD_DEBUG=bindings`, QEMU
/// is linked with `BIND_NOW`) `pmem_persist` and `pmem_memcpy_persist` bind
/// to our file.
fn qemu_uses_our_libpmem(b: &vm::Boot) -> Result<String, String> {
    let out = std::process::Command::new("ldd")
        .arg(vm::qemu_binary(b.root))
        .env("LD_LIBRARY_PATH", vm::qemu_library_path(b))
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("libpmem.so.1 "))
        .ok_or_else(|| "QEMU does not link libpmem.so.1".to_string())?;
    let ours = b.libpmem.join("libpmem.so.1").display().to_string();
    if !line.contains(&ours) {
        return Err(format!("QEMU uses {}", line.trim()));
    }
    let debug = std::env::temp_dir().join(format!("pmem2-dax-ld-{}", std::process::id()));
    let _ = fs::remove_dir_all(&debug);
    fs::create_dir_all(&debug).map_err(|e| e.to_string())?;
    let run = std::process::Command::new(vm::qemu_binary(b.root))
        .arg("-version")
        .env("LD_LIBRARY_PATH", vm::qemu_library_path(b))
        .env("LD_DEBUG", "bindings")
        .env("LD_DEBUG_OUTPUT", debug.join("ld"))
        .output()
        .map_err(|e| format!("qemu -version: {e}"));
    let mut log = String::new();
    for entry in fs::read_dir(&debug).into_iter().flatten().flatten() {
        log.push_str(&fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let _ = fs::remove_dir_all(&debug);
    run?;
    for symbol in ["pmem_persist", "pmem_memcpy_persist"] {
        let needle = format!("to {ours} [0]: normal symbol `{symbol}' [LIBPMEM_1.0]");
        if !log.lines().any(|l| l.contains(&needle)) {
            return Err(format!("LD_DEBUG: {symbol} is not bound to {ours}"));
        }
    }
    Ok(format!(
        "{}; pmem_persist, pmem_memcpy_persist bound to it",
        line.trim()
    ))
}

/// Reports (one row) whether QEMU runs on our `libpmem.so.1`.
fn check_qemu_libpmem(b: &vm::Boot, totals: &mut Totals) {
    match qemu_uses_our_libpmem(b) {
        Ok(line) => {
            totals.pass += 1;
            println!(
                "  host     {:<6} qemu_libpmem_is_ours               -        PASS  {line}",
                b.root.arch.name()
            );
        }
        Err(why) => {
            totals.fail += 1;
            println!(
                "  host     {:<6} qemu_libpmem_is_ours               -        FAIL  {why}",
                b.root.arch.name()
            );
        }
    }
}

/// The two boots of one configuration, on fresh backing files.
fn run_configuration(
    opts: &Options,
    cfg: &vm::Configuration,
    boot: &vm::Boot,
    logs: &Path,
    t0: Instant,
    totals: &mut Totals,
) -> Result<(), String> {
    let dir = vm::image_dir(boot.images, cfg);
    vm::fresh_images(cfg, &dir)?;
    let boot = vm::Boot {
        images: &dir,
        ..*boot
    };
    println!("dax-test: configuration {}: {}", cfg.name, cfg.about);
    for phase in ["write", "verify"] {
        let log = logs.join(format!("{}-{phase}.log", cfg.name));
        let Some(left) = opts.budget.checked_sub(t0.elapsed()) else {
            println!(
                "  {:<8} {phase:<6} not run: the time budget is spent",
                cfg.name
            );
            totals.fail += 1;
            break;
        };
        let boot = vm::Boot {
            total_timeout: boot.total_timeout.min(left),
            ..boot
        };
        let console = vm::boot(&boot, cfg, phase, &log)?;
        let rep = report::parse(
            cfg.platform,
            cfg.emulated_tests && phase == "write",
            &console,
        );
        print_rows(cfg.name, phase, &rep, totals);
        let failed = rep.rows.iter().any(|r| r.status == Status::Fail);
        println!(
            "dax-test: {} {phase}: {:.1}s, log {}",
            cfg.name,
            console.seconds,
            log.display()
        );
        if failed {
            println!("--- last lines of {} ---", log.display());
            println!("{}", proc::tail(&console.lines.join("\n"), 40));
            println!("---");
        }
        if console.problem.is_some() && phase == "write" {
            println!(
                "  {:<8} verify skipped: the write boot did not complete",
                cfg.name
            );
            totals.fail += 1;
            break;
        }
    }
    if !opts.keep_images {
        vm::remove_images(cfg, &dir);
    }
    Ok(())
}

/// Entry point of `cargo xtask dax-test`.
pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse_args(args)?;
    let t0 = Instant::now();
    let ws = workspace_root();
    let base = target_dir(&ws).join("dax-vm");
    let logs = base.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let mut totals = Totals::default();
    // QEMU runs on our libpmem.so.1 (its NVDIMM backends are pmem=on).
    let libpmem_dir = crate::capi::libpmem::build()?.lib_dir();
    let mut arches: Vec<arch::Arch> = Vec::new();
    for cfg in &opts.configs {
        if !arches.contains(&cfg.arch) {
            arches.push(cfg.arch);
        }
    }
    for arch in arches {
        let t = Instant::now();
        let root = fetch::fetch(&base.join("cache"), arch, &mut |m| {
            println!("dax-test: {m}");
        })?;
        stage(
            &format!("{} packages (kernel {})", arch.name(), root.kernel_release),
            t,
        );

        let t = Instant::now();
        println!(
            "dax-test: building the DAX suite and the pmem2 tool (static, {})",
            arch.rust_target()
        );
        let bins = build::build(&ws, arch, opts.build_timeout)?;
        stage(&format!("{} build", arch.name()), t);

        let t = Instant::now();
        // the x86-64 file keeps its name of before the arm64 guest
        let initrd = match arch {
            arch::Arch::X86_64 => base.join("initramfs.cpio"),
            arch::Arch::Aarch64 => base.join(format!("initramfs-{}.cpio", arch.name())),
        };
        let emulated: Vec<(String, &Path)> = bins
            .emulated
            .iter()
            .map(|(name, path)| (format!("dax/emu/{name}"), path.as_path()))
            .collect();
        let mut payload = vec![
            ("dax/dax-tests", bins.dax_tests.as_path()),
            ("dax/pmem2", &bins.cli),
        ];
        payload.extend(emulated.iter().map(|(dest, path)| (dest.as_str(), *path)));
        // the integration tests' CARGO_TARGET_TMPDIR, compiled in (`<target dir>/<triple>/tmp`
        // with an explicit --target): /init mounts a tmpfs there
        let tmpdir = target_dir(&ws)
            .join(arch.rust_target())
            .join("tmp")
            .display()
            .to_string();
        let size = initramfs::build(&root, &payload, &[("dax/emu-tmpdir", tmpdir)], &initrd)?;
        stage(
            &format!("{} initramfs ({} MiB)", arch.name(), size >> 20),
            t,
        );

        let images = base.join("images");
        let boot = vm::Boot {
            root: &root,
            initramfs: &initrd,
            images: &images,
            init_timeout: opts.boot_timeout,
            total_timeout: opts.total_timeout,
            echo: opts.echo,
            libpmem: &libpmem_dir,
        };
        check_qemu_libpmem(&boot, &mut totals);
        for cfg in opts.configs.iter().filter(|c| c.arch == arch) {
            run_configuration(&opts, cfg, &boot, &logs, t0, &mut totals)?;
        }
    }
    println!(
        "dax-test: {} configuration(s): {} passed, {} failed, {} skipped; {:.0}s in all",
        opts.configs.len(),
        totals.pass,
        totals.fail,
        totals.skip,
        t0.elapsed().as_secs_f64()
    );
    if totals.fail > 0 {
        return Err(format!("{} failure(s)", totals.fail));
    }
    Ok(())
}
