//! `cargo xtask libpmem-test`: the tests of `libpmem.so.1` against
//! Debian's PMDK 1.12.1 and its real clients.
//!
//! 1. build and install (libpmem only) into a temporary prefix;
//! 2. Debian's packages, installed with apt-get when missing (as root):
//!    `libpmem1 libpmem-dev` (the reference), `fio`, `pmdk-tools`
//!    (pmempool), `libpmemobj-dev`;
//! 3. the symbol check against Debian's `libpmem.so.1`;
//! 4. `libpmem.h` compiles standalone as C99, C11 and C++11, pedantic;
//! 5. `ours_log.c` built with `pkg-config --libs libpmem` and statically
//!    with `libpmem.a`;
//! 6. `tests/libpmem/diff_libpmem.c` built against PMDK's header and
//!    library and against ours; the PMDK-built binary on PMDK's library is
//!    the reference for the PMDK-built binary on ours and our build on ours
//!    (line by line, except `tests/libpmem/known-differences.txt`);
//!    `ours_log.c` (the PMDK 2.1 log API, absent from 1.12.1) on ours;
//! 7. real clients on our library through `LD_LIBRARY_PATH`, after checking
//!    with `ldd` and `LD_DEBUG=bindings` that they bind `libpmem.so.1` to
//!    ours: fio's `libpmem` engine writing and verifying (crc32c) a file
//!    on /dev/shm; `pmempool create obj` + `pmempool check`; a libpmemobj
//!    program whose transactions survive restarts and a crash.
//!
//! Prints `N passed, M failed` last and fails when M > 0.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::test::{compare, known_differences, succeeded, Tally};
use super::{cc, libpmem, root, run};

/// Debian's library and header (`libpmem1`, `libpmem-dev`).
const SYSTEM_LIB: &str = "/usr/lib/x86_64-linux-gnu/libpmem.so.1";
const SYSTEM_HEADER: &str = "/usr/include/libpmem.h";
/// What the clients need: (file that proves the package is there, package).
const PACKAGES: &[(&str, &str)] = &[
    (SYSTEM_LIB, "libpmem1"),
    (SYSTEM_HEADER, "libpmem-dev"),
    ("/usr/bin/fio", "fio"),
    ("/usr/bin/pmempool", "pmdk-tools"),
    ("/usr/include/libpmemobj.h", "libpmemobj-dev"),
];
/// Environment variables libpmem reads: cleared for every run.
const PMEM_ENV: &[&str] = &[
    "PMEM_IS_PMEM_FORCE",
    "PMEM_NO_FLUSH",
    "PMEM_NO_CLWB",
    "PMEM_NO_CLFLUSHOPT",
    "PMEM_NO_MOVNT",
    "PMEM_NO_GENERIC_MEMCPY",
    "PMEM_MOVNT_THRESHOLD",
    "PMEM_AVX",
    "PMEM_AVX512F",
    "PMEM_MOVDIR64B",
    "PMEM_WC_WORKAROUND",
    "PMEM_MMAP_HINT",
    "PMEM_LOG_LEVEL",
    "PMEM_LOG_FILE",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
];
/// The environments the differential test runs in (libpmem reads these
/// at load; each run is a new process).
const DIFF_ENVS: &[&[(&str, &str)]] = &[
    &[],
    &[("PMEM_IS_PMEM_FORCE", "1")],
    &[("PMEM_NO_FLUSH", "1")],
    &[("PMEM_NO_FLUSH", "0")],
    &[("PMEM_NO_MOVNT", "1")],
    &[("PMEM_NO_MOVNT", "1"), ("PMEM_NO_GENERIC_MEMCPY", "1")],
    &[("PMEM_MOVNT_THRESHOLD", "5")],
    &[("PMEM_AVX", "0"), ("PMEM_AVX512F", "0")],
    &[("PMEM_NO_CLWB", "1"), ("PMEM_NO_CLFLUSHOPT", "1")],
    &[("PMEM_WC_WORKAROUND", "1"), ("PMEM_MOVDIR64B", "1")],
    &[("PMEM_MMAP_HINT", "0x10000000000")],
];

/// Time limit of one program (`timeout(1)` syntax).
const TIMEOUT: &str = "300";

/// A command with libpmem's environment cleared and, for `ours`, our
/// library first on the search path.
fn command(program: impl AsRef<std::ffi::OsStr>, lib: Option<&Path>) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=5", TIMEOUT]).arg(program);
    for var in PMEM_ENV {
        cmd.env_remove(var);
    }
    if let Some(lib) = lib {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
    cmd
}

fn output(cmd: &mut Command) -> Result<Output, String> {
    cmd.output().map_err(|e| format!("{cmd:?}: {e}"))
}

/// Installs the missing Debian packages (as root with apt-get).
fn ensure_packages() -> Vec<&'static str> {
    let missing = || -> Vec<&'static str> {
        PACKAGES
            .iter()
            .filter(|(f, _)| !Path::new(f).exists())
            .map(|(_, p)| *p)
            .collect()
    };
    let need = missing();
    if need.is_empty() {
        return need;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root && Path::new("/usr/bin/apt-get").exists() {
        println!("..    installing {}", need.join(" "));
        let quiet = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let mut install = vec!["install", "-y", "-qq"];
        install.extend(&need);
        let _ = quiet(&["update", "-qq"]) && quiet(&install);
    }
    missing()
}

/// `ldd` (with our `LD_LIBRARY_PATH`) resolves `libpmem.so.1` of `exe` to
/// our library.
fn resolves_to_ours(exe: &Path, lib: &Path) -> Result<String, String> {
    let out = output(Command::new("ldd").arg(exe).env("LD_LIBRARY_PATH", lib))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("libpmem.so.1 "))
        .ok_or_else(|| format!("ldd {}: no libpmem.so.1\n{text}", exe.display()))?;
    if line.contains(&lib.display().to_string()) {
        Ok(line.trim().to_string())
    } else {
        Err(format!("ldd {}: {line}", exe.display()))
    }
}

/// Runs `cmd` under `LD_DEBUG=bindings` and checks that `symbol` is bound
/// to our library (the debug output goes to a file, not the program's
/// stderr). Returns the program's output.
fn bound_to_ours(
    mut cmd: Command,
    work: &Path,
    symbol: &str,
    lib: &Path,
) -> Result<Output, String> {
    let log = work.join("ld-debug");
    let _ = fs::remove_dir_all(&log);
    fs::create_dir_all(&log).map_err(|e| e.to_string())?;
    cmd.env("LD_DEBUG", "bindings")
        .env("LD_DEBUG_OUTPUT", log.join("ld"));
    let out = output(&mut cmd)?;
    let mut text = String::new();
    for entry in fs::read_dir(&log).map_err(|e| e.to_string())?.flatten() {
        text.push_str(&fs::read_to_string(entry.path()).unwrap_or_default());
    }
    let ours = lib.join(libpmem::SONAME).display().to_string();
    let needle = format!("symbol `{symbol}' [{}]", libpmem::NODE);
    let bindings: Vec<&str> = text.lines().filter(|l| l.contains(&needle)).collect();
    if bindings.is_empty() {
        return Err(format!("LD_DEBUG: no binding of {symbol} seen"));
    }
    if let Some(bad) = bindings.iter().find(|l| !l.contains(&format!("to {ours}"))) {
        return Err(format!("LD_DEBUG: {bad}"));
    }
    Ok(out)
}

/// Runs everything; `Err` when anything failed.
pub fn run_all(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("unexpected argument '{a}'"));
    }
    let mut t = Tally::default();
    let work = std::env::temp_dir().join(format!("pmem2-libpmem-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    run_in(&work, &mut t);
    let _ = fs::remove_dir_all(&work);
    println!("{} passed, {} failed", t.passed, t.failed);
    if t.failed == 0 {
        Ok(())
    } else {
        Err(format!("{} check(s) failed", t.failed))
    }
}

fn run_in(work: &Path, t: &mut Tally) {
    let built = libpmem::build();
    if !t.record(
        "build libpmem.so.1",
        built
            .as_ref()
            .map(|b| b.shared.display().to_string())
            .map_err(Clone::clone),
    ) {
        return;
    }
    let prefix = work.join("prefix");
    if !t.record(
        "install",
        super::Layout::new(&prefix, None, None, None)
            .and_then(|layout| libpmem::install(built.as_ref().unwrap(), &layout))
            .map(|()| prefix.display().to_string()),
    ) {
        return;
    }
    let lib = prefix.join("lib");
    let missing = ensure_packages();
    t.record(
        "Debian's libpmem1, libpmem-dev, fio, pmdk-tools, libpmemobj-dev present",
        if missing.is_empty() {
            Ok(String::new())
        } else {
            Err(format!("missing: apt-get install {}", missing.join(" ")))
        },
    );
    let system = Path::new(SYSTEM_LIB).exists() && Path::new(SYSTEM_HEADER).exists();
    t.record(
        "symbol check",
        libpmem::check(
            &lib.join(libpmem::SONAME),
            system.then_some(Path::new(SYSTEM_LIB)),
        ),
    );
    header_checks(&prefix, work, t);
    differential(&prefix, work, system, t);
    let log = compile(
        &root().join("tests/libpmem/ours_log.c"),
        &prefix,
        work,
        false,
        &[],
    );
    t.record(
        "ours_log.c: the PMDK 2.1 log API on our library",
        log.and_then(|exe| succeeded(&output(&mut command(&exe, Some(&lib)))?))
            .map(|o| o.trim().to_string()),
    );
    debug_log(&prefix, work, t);
    linking(&prefix, work, t);
    if missing.is_empty() {
        fio(&lib, work, t);
        pmempool(&lib, work, t);
        pmemobj(&prefix, work, t);
    }
}

/// `ours_debug_log.c` with `PMEM_LOG_LEVEL` 1, 3 and 15, `PMEM_LOG_FILE`
/// and `PMEM_IS_PMEM_FORCE=0` (a variable whose reading level 3 logs): it
/// checks its own log.
fn debug_log(prefix: &Path, work: &Path, t: &mut Tally) {
    let lib = prefix.join("lib");
    let exe = compile(
        &root().join("tests/libpmem/ours_debug_log.c"),
        prefix,
        work,
        false,
        &[],
    );
    for level in ["1", "3", "15"] {
        let log = work.join(format!("ours_debug_log.{level}.log"));
        t.record(
            &format!("ours_debug_log.c: PMEM_LOG_LEVEL={level} PMEM_LOG_FILE"),
            exe.clone().and_then(|exe| {
                // Removed first: a run that writes no log must fail.
                let _ = fs::remove_file(&log);
                let mut cmd = command(&exe, Some(&lib));
                cmd.arg(work)
                    .env("PMEM_LOG_LEVEL", level)
                    .env("PMEM_LOG_FILE", &log)
                    .env("PMEM_IS_PMEM_FORCE", "0");
                succeeded(&output(&mut cmd)?).map(|o| o.trim().to_string())
            }),
        );
    }
}

/// `ours_log.c` built the way users build: with `pkg-config --cflags --libs
/// libpmem` against the prefix, and statically with `libpmem.a`.
fn linking(prefix: &Path, work: &Path, t: &mut Tally) {
    let src = root().join("tests/libpmem/ours_log.c");
    let lib = prefix.join("lib");
    let pc = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--cflags", "--libs", "libpmem"]));
    t.record(
        "pkg-config build of ours_log.c (libpmem.pc)",
        pc.and_then(|flags| {
            let exe = work.join("ours_log.pkgconfig");
            run(cc()
                .arg("-o")
                .arg(&exe)
                .arg(&src)
                .args(flags.split_whitespace()))?;
            succeeded(&output(&mut command(&exe, Some(&lib)))?).map(|_| flags.trim().to_string())
        }),
    );
    t.record(
        "static link of ours_log.c with libpmem.a",
        (|| {
            let exe = work.join("ours_log.static");
            run(cc()
                .arg("-o")
                .arg(&exe)
                .arg("-I")
                .arg(prefix.join("include"))
                .arg(&src)
                .arg(lib.join("libpmem.a"))
                .args(super::NATIVE_LIBS))?;
            succeeded(&output(&mut command(&exe, None))?).map(|_| String::new())
        })(),
    );
}

/// Compiles a C file against our header and library, or PMDK's.
fn compile(
    src: &Path,
    prefix: &Path,
    work: &Path,
    system: bool,
    extra: &[&str],
) -> Result<PathBuf, String> {
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let exe = work.join(format!("{stem}.{}", if system { "pmdk" } else { "ours" }));
    let mut cmd = cc();
    cmd.args(["-std=gnu99", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(src);
    if system {
        cmd.arg(SYSTEM_LIB);
    } else {
        cmd.arg("-I")
            .arg(prefix.join("include"))
            .arg("-L")
            .arg(prefix.join("lib"))
            .arg("-lpmem");
    }
    cmd.args(extra).arg("-lpthread");
    run(&mut cmd)?;
    Ok(exe)
}

fn header_checks(prefix: &Path, work: &Path, t: &mut Tally) {
    let tu = work.join("header_only.c");
    let text = "#include <libpmem.h>\n#include <libpmem.h>\n\
                int main(void) { return PMEM_FILE_CREATE + (int)PMEM_F_MEM_VALID_FLAGS \
                + (int)PMEM_LOG_LEVEL_DEBUG - 70; }\n";
    if let Err(e) = fs::write(&tu, text) {
        t.record("libpmem.h", Err(e.to_string()));
        return;
    }
    for (name, compiler, args) in [
        (
            "libpmem.h compiles as C99",
            "cc",
            &["-x", "c", "-std=c99", "-pedantic"][..],
        ),
        (
            "libpmem.h compiles as C11",
            "cc",
            &["-x", "c", "-std=c11", "-pedantic"][..],
        ),
        (
            "libpmem.h compiles as C++11",
            "c++",
            &["-x", "c++", "-std=c++11", "-pedantic"][..],
        ),
    ] {
        let mut cmd = Command::new(compiler);
        cmd.args(args)
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
            .arg(prefix.join("include"))
            .arg(&tu);
        t.record(name, run(&mut cmd).map(|_| String::new()));
    }
}

/// Runs a differential binary with a fresh scratch directory and `env`.
fn run_diff(
    exe: &Path,
    lib: Option<&Path>,
    env: &[(&str, &str)],
    work: &Path,
    tag: &str,
) -> Result<String, String> {
    let scratch = work.join(format!("scratch-{tag}"));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let out = output(command(exe, lib).envs(env.iter().copied()).arg(&scratch));
    let _ = fs::remove_dir_all(&scratch);
    succeeded(&out?)
}

fn differential(prefix: &Path, work: &Path, system: bool, t: &mut Tally) {
    let src = root().join("tests/libpmem/diff_libpmem.c");
    let lib = prefix.join("lib");
    let ours = compile(&src, prefix, work, false, &[]);
    t.record(
        "diff_libpmem.c: compile against our header and library",
        ours.as_ref().map(|_| String::new()).map_err(Clone::clone),
    );
    if !system {
        return;
    }
    let pmdk = compile(&src, prefix, work, true, &[]);
    if !t.record(
        "diff_libpmem.c: compile against PMDK's header and library",
        pmdk.as_ref().map(|_| String::new()).map_err(Clone::clone),
    ) {
        return;
    }
    let pmdk = pmdk.unwrap();
    t.record(
        "diff_libpmem.c: the PMDK-built binary resolves libpmem.so.1 to ours",
        resolves_to_ours(&pmdk, &lib),
    );
    let known = known_differences("tests/libpmem/known-differences.txt");
    for env in DIFF_ENVS {
        let shown = if env.is_empty() {
            "default environment".to_string()
        } else {
            env.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let reference = match run_diff(&pmdk, None, env, work, "pmdk") {
            Ok(out) => out,
            Err(e) => {
                t.record(
                    &format!("diff_libpmem.c: run on PMDK's library ({shown})"),
                    Err(e),
                );
                continue;
            }
        };
        let mut runs = vec![(
            "PMDK-built binary on our library",
            run_diff(&pmdk, Some(&lib), env, work, "swap"),
        )];
        if let Ok(ours) = &ours {
            runs.push((
                "our build on our library",
                run_diff(ours, Some(&lib), env, work, "ours"),
            ));
        }
        for (what, out) in runs {
            let result = out.and_then(|out| {
                compare("PMDK", &reference, "ours", &out, &known).map(|(n, documented)| {
                    format!("{n} lines as on PMDK's library, {documented} documented difference(s)")
                })
            });
            t.record(&format!("diff_libpmem.c: {what} ({shown})"), result);
        }
    }
}

/// fio's libpmem engine: writes and verifies (crc32c) a file on /dev/shm.
fn fio(lib: &Path, work: &Path, t: &mut Tally) {
    let fio = Path::new("/usr/bin/fio");
    t.record(
        "fio resolves libpmem.so.1 to ours",
        resolves_to_ours(fio, lib),
    );
    let file = format!("/dev/shm/pmem2-libpmem-fio-{}", std::process::id());
    let job = |force: bool| {
        let mut cmd = command(fio, Some(lib));
        cmd.args([
            "--name=libpmem-verify",
            "--ioengine=libpmem",
            "--rw=write",
            "--bs=64k",
            "--size=64m",
            "--verify=crc32c",
            "--do_verify=1",
            "--direct=1",
            "--sync=1",
            "--output-format=terse",
            // fio would otherwise leave its verify state in the working
            // directory (a checkout, in CI).
            "--verify_state_save=0",
        ])
        .arg(format!("--filename={file}"));
        if force {
            cmd.env("PMEM_IS_PMEM_FORCE", "1");
        }
        cmd
    };
    let result = bound_to_ours(job(true), work, "pmem_memcpy", lib).and_then(|o| {
        let stdout = succeeded(&o)?;
        // terse v3: field 5 is the error code; 6.. read, 47.. write stats.
        let f: Vec<&str> = stdout.lines().last().unwrap_or("").split(';').collect();
        if f.len() > 50 && f[4] == "0" {
            Ok(format!(
                "64 MiB written and verified, write bandwidth {} KiB/s",
                f[47]
            ))
        } else {
            Err(format!("unexpected fio output:\n{stdout}"))
        }
    });
    t.record(
        "fio --ioengine=libpmem write + verify=crc32c on /dev/shm (PMEM_IS_PMEM_FORCE=1)",
        result,
    );
    // Without FORCE fio refuses the file, as on PMDK (is_pmem 0, errno set).
    let refused = output(&mut job(false)).and_then(|o| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !o.status.success() && text.contains("does not point to persistent memory") {
            Ok("\"does not point to persistent memory\"".to_string())
        } else {
            Err(format!("fio did not refuse a non-pmem file:\n{text}"))
        }
    });
    t.record(
        "fio without PMEM_IS_PMEM_FORCE refuses /dev/shm, as with PMDK",
        refused,
    );
    let _ = fs::remove_file(&file);
}

/// `pmempool create obj` and `pmempool check` (libpmemobj and libpmempool
/// on our libpmem).
fn pmempool(lib: &Path, work: &Path, t: &mut Tally) {
    let tool = Path::new("/usr/bin/pmempool");
    t.record(
        "pmempool resolves libpmem.so.1 to ours",
        resolves_to_ours(tool, lib),
    );
    for force in [false, true] {
        let pool = work.join(format!("pool-{force}"));
        let mut create = command(tool, Some(lib));
        create
            .args(["create", "--layout=pmem2", "obj", "--size=32M"])
            .arg(&pool);
        if force {
            create.env("PMEM_IS_PMEM_FORCE", "1");
        }
        let result = bound_to_ours(create, work, "pmem_memset_persist", lib)
            .and_then(|o| succeeded(&o))
            .and_then(|_| {
                let mut check = command(tool, Some(lib));
                check.args(["check", "-v"]).arg(&pool);
                let out = succeeded(&output(&mut check)?)?;
                if out.contains("consistent") && !out.contains("not consistent") {
                    Ok(out.lines().last().unwrap_or("").trim().to_string())
                } else {
                    Err(format!("pmempool check:\n{out}"))
                }
            });
        t.record(
            &format!(
                "pmempool create obj + check{}",
                if force { " (PMEM_IS_PMEM_FORCE=1)" } else { "" }
            ),
            result,
        );
        let _ = fs::remove_file(&pool);
    }
}

/// A libpmemobj program: transactions survive restarts, a crash inside a
/// transaction rolls back.
fn pmemobj(prefix: &Path, work: &Path, t: &mut Tally) {
    let lib = prefix.join("lib");
    let src = root().join("tests/libpmem/obj_tx.c");
    let exe = work.join("obj_tx");
    let built = run(cc()
        .args(["-std=gnu99", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lpmemobj"));
    if !t.record(
        "obj_tx.c: compile against Debian's libpmemobj",
        built.map(|_| String::new()),
    ) {
        return;
    }
    let pool = work.join("obj-pool");
    let step = |args: &[&str]| -> Result<String, String> {
        let mut cmd = command(&exe, Some(&lib));
        cmd.arg(args[0]).arg(&pool).args(&args[1..]);
        succeeded(&output(&mut cmd)?).map(|o| o.trim().to_string())
    };
    let result = (|| {
        let mut create = command(&exe, Some(&lib));
        create.arg("create").arg(&pool);
        succeeded(&bound_to_ours(create, work, "pmem_memcpy", &lib)?)?;
        step(&["check", "1"])?;
        step(&["commit"])?;
        step(&["commit"])?;
        step(&["check", "3"])?;
        step(&["crash"])?;
        step(&["check", "3"])?;
        step(&["commit"])?;
        step(&["check", "4"])
    })();
    t.record(
        "libpmemobj on our libpmem: create, 3 committed transactions, 1 crashed (rolled back), each in a new process",
        result,
    );
    let _ = fs::remove_file(&pool);
}
