//! `cargo xtask c-test`: the C test suite of `libpmem2.so.1`.
//!
//! 1. build and install into a temporary prefix;
//! 2. the symbol check (against Debian's `libpmem2.so.1` when installed);
//! 3. the headers compile as C99 and C++11 with `-Wall -Wextra -Werror`;
//! 4. every `tests/c/*.c` compiled twice — against our header and library,
//!    and against the system's PMDK header and library (`libpmem2-dev`):
//!    * `diff_*.c`: the differential test. Output of the PMDK-built binary
//!      on PMDK's library, the same binary on ours, and our build on ours
//!      must be identical, line by line, except the lines listed in
//!      `tests/c/known-differences.txt` (each documented in `docs/c-abi.md`);
//!    * `ex_*.c`, `ours_*.c`: programs that check themselves, run on our
//!      library (both builds for `ex_*`, ours only for `ours_*`, which
//!      test behaviour where PMDK crashes);
//! 5. a program built with `pkg-config --cflags --libs libpmem2` against the
//!    installed prefix, and one linked statically with `libpmem2.a`.
//!
//! Prints `N passed, M failed` last and fails when M > 0.
//!
//! With `--target aarch64-unknown-linux-gnu` the library and our builds of
//! the programs are cross-compiled (`aarch64-linux-gnu-gcc`) and run under
//! QEMU's user mode (`Target::runner`). PMDK's side of the differential
//! test stays on the host: the reference output is PMDK's x86-64 library,
//! compared line by line with our aarch64 library's. Not run for aarch64:
//! the header checks (architecture-independent, done by the host run) and
//! PMDK-built binaries on our library (they are x86-64 programs). QEMU's
//! user mode accepts `MAP_SYNC` on any file, so both sides run with
//! `PMEM2_FORCE_GRANULARITY=page`, the granularity a kernel gives on the
//! scratch directory.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{build, cc, install, root, symbols, target, Layout, Target};

/// PMDK's library and header from Debian's `libpmem2-dev`.
const SYSTEM_LIB: &str = "/usr/lib/x86_64-linux-gnu/libpmem2.so.1";
const SYSTEM_HEADER: &str = "/usr/include/libpmem2.h";

/// Environment variables that change libpmem2's behaviour; cleared for
/// every run so both libraries see the same environment.
const PMEM_ENV: &[&str] = &[
    "PMEM2_FORCE_GRANULARITY",
    "PMEM2_LOG_LEVEL",
    "PMEM2_LOG_FILE",
    "PMEM_NO_CLWB",
    "PMEM_NO_CLFLUSHOPT",
    "PMEM_NO_MOVNT",
    "PMEM_NO_GENERIC_MEMCPY",
    "PMEM_MOVNT_THRESHOLD",
    "PMEM_AVX",
    "PMEM_AVX512F",
    "PMEM_MOVDIR64B",
    "PMEM_WC_WORKAROUND",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
];

/// Time limit of one test program (`timeout(1)` syntax).
const TIMEOUT: &str = "120";

/// Pass/fail counts.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) passed: u32,
    pub(super) failed: u32,
}

impl Tally {
    /// Counts and prints one check's outcome; returns whether it passed.
    pub(super) fn record(&mut self, name: &str, result: Result<String, String>) -> bool {
        match result {
            Ok(note) => {
                self.passed += 1;
                if note.is_empty() {
                    println!("ok    {name}");
                } else {
                    println!("ok    {name}: {note}");
                }
                true
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL  {name}");
                for line in why.lines() {
                    println!("      {line}");
                }
                false
            }
        }
    }
}

/// Which library a binary runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lib {
    /// The system's (PMDK's).
    System,
    /// Ours, through `LD_LIBRARY_PATH`.
    Ours,
}

struct Harness {
    prefix: PathBuf,
    work: PathBuf,
    system: bool,
    /// Cross-compiled: our programs run under `Target::runner`.
    cross: bool,
}

impl Harness {
    /// Compiles one C file; `system` selects PMDK's header and library.
    fn compile(&self, src: &Path, system: bool, extra: &[&str]) -> Result<PathBuf, String> {
        let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = self
            .work
            .join(format!("{stem}.{}", if system { "pmdk" } else { "ours" }));
        // PMDK's builds are host programs (its library is the host's).
        let mut cmd = if system { Command::new("cc") } else { cc() };
        cmd.args(["-std=gnu99", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(src);
        if system {
            cmd.arg(SYSTEM_LIB);
        } else {
            cmd.arg("-I")
                .arg(self.prefix.join("include"))
                .arg("-L")
                .arg(self.prefix.join("lib"))
                .arg("-lpmem2");
        }
        cmd.args(extra);
        super::run(&mut cmd)?;
        Ok(exe)
    }

    /// Runs a test binary with a fresh scratch directory.
    fn exec(&self, exe: &Path, lib: Lib, tag: &str) -> Result<Output, String> {
        let scratch = self.work.join(format!(
            "scratch-{}-{tag}",
            exe.file_name().unwrap().to_string_lossy()
        ));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        // A hung program fails its check instead of the whole run.
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=5", TIMEOUT]);
        if lib == Lib::Ours {
            cmd.args(target().runner());
        }
        cmd.arg(exe).arg(&scratch);
        for var in PMEM_ENV {
            cmd.env_remove(var);
        }
        if self.cross {
            // QEMU's user mode accepts MAP_SYNC on any file: both libraries
            // get page granularity forced, as a kernel would give them on
            // the scratch directory's file system.
            cmd.env("PMEM2_FORCE_GRANULARITY", "page");
        }
        if lib == Lib::Ours {
            cmd.env("LD_LIBRARY_PATH", self.prefix.join("lib"));
        }
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        let _ = fs::remove_dir_all(&scratch);
        Ok(out)
    }
}

/// Fails unless the program exited 0; returns its stdout.
pub(super) fn succeeded(out: &Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "exit {}\n--- stdout\n{stdout}--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Line prefixes whose lines may differ (documented in docs/c-abi.md),
/// read from `file` (relative to the repository).
pub(super) fn known_differences(file: &str) -> BTreeSet<String> {
    fs::read_to_string(root().join(file))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Whether a pair of differing lines is a documented difference: both
/// start with an entry of `known-differences.txt`.
fn is_documented(known: &BTreeSet<String>, a: &str, b: &str) -> bool {
    known
        .iter()
        .any(|k| a.starts_with(k.as_str()) && b.starts_with(k.as_str()))
}

/// Compares two outputs line by line: `Ok(lines compared, documented differences)`.
pub(super) fn compare(
    a_name: &str,
    a: &str,
    b_name: &str,
    b: &str,
    known: &BTreeSet<String>,
) -> Result<(usize, usize), String> {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut problems = Vec::new();
    let mut documented = 0;
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i).copied(), bl.get(i).copied());
        if x == y {
            continue;
        }
        match (x, y) {
            (Some(x), Some(y)) if is_documented(known, x, y) => {
                documented += 1;
            }
            _ => problems.push(format!(
                "line {}: {a_name}: {}\n{:>width$}  {b_name}: {}",
                i + 1,
                x.unwrap_or("<none>"),
                "",
                y.unwrap_or("<none>"),
                width = 8 + i.to_string().len()
            )),
        }
    }
    if problems.is_empty() {
        Ok((al.len(), documented))
    } else {
        Err(format!(
            "{} difference(s):\n{}",
            problems.len(),
            problems.join("\n")
        ))
    }
}

/// The header compiles standalone as C99 (pedantic) and C++11.
fn header_checks(h: &Harness, t: &mut Tally) {
    let tu = h.work.join("header_only.c");
    let text = "#include <libpmem2.h>\n#include <libpmem2.h>\n\
                int main(void) { struct pmem2_badblock bb = {0, 0}; \
                return (int)(bb.offset + bb.length) + PMEM2_E_UNKNOWN - PMEM2_E_UNKNOWN; }\n";
    if let Err(e) = fs::write(&tu, text) {
        t.record("header", Err(e.to_string()));
        return;
    }
    let include = h.prefix.join("include");
    for (name, args) in [
        (
            "header compiles as C99",
            &["-x", "c", "-std=c99", "-pedantic"][..],
        ),
        (
            "header compiles as C11",
            &["-x", "c", "-std=c11", "-pedantic"][..],
        ),
        (
            "header compiles as C++11",
            &["-x", "c++", "-std=c++11", "-pedantic"][..],
        ),
    ] {
        let compiler = if args[1] == "c++" { "c++" } else { "cc" };
        let mut cmd = Command::new(compiler);
        cmd.args(args)
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
            .arg(&include)
            .arg(&tu);
        t.record(name, super::run(&mut cmd).map(|_| String::new()));
    }
}

/// Whether PMDK's library and header are installed; if not, tries to
/// install Debian's `libpmem2-dev` (as root with apt-get, as CI machines
/// start bare).
fn system_pmdk() -> bool {
    let present = || Path::new(SYSTEM_LIB).exists() && Path::new(SYSTEM_HEADER).exists();
    if present() {
        return true;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root && Path::new("/usr/bin/apt-get").exists() {
        println!("..    installing libpmem2-dev (PMDK 1.12.1) for the differential test");
        let quiet = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let _ = quiet(&["update", "-qq"]) && quiet(&["install", "-y", "-qq", "libpmem2-dev"]);
    }
    present()
}

/// Runs everything; `Err` when anything failed.
pub fn run_all(args: &[String], allow_unwired: bool) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("unexpected argument '{a}'"));
    }
    let mut t = Tally::default();
    let work = std::env::temp_dir().join(format!("pmem2-c-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = run_in(&work, &mut t, allow_unwired);
    let _ = fs::remove_dir_all(&work);
    result?;
    println!("{} passed, {} failed", t.passed, t.failed);
    if t.failed == 0 {
        Ok(())
    } else {
        Err(format!("{} check(s) failed", t.failed))
    }
}

fn run_in(work: &Path, t: &mut Tally, allow_unwired: bool) -> Result<(), String> {
    let built = build(allow_unwired);
    if !t.record(
        "build-c",
        built
            .as_ref()
            .map(|b| b.shared.display().to_string())
            .map_err(Clone::clone),
    ) {
        return Ok(());
    }
    let built = built?;
    let prefix = work.join("prefix");
    if !t.record(
        "install-c",
        Layout::new(&prefix, None, None, None)
            .and_then(|layout| install(&built, &layout))
            .map(|()| prefix.display().to_string()),
    ) {
        return Ok(());
    }
    packaging_checks(&built, &prefix, work, t);
    let system = system_pmdk();
    if !system {
        t.record(
            "PMDK's libpmem2-dev present",
            Err(format!(
                "{SYSTEM_LIB} or {SYSTEM_HEADER} missing: apt-get install libpmem2-dev"
            )),
        );
    }
    let ours_so = prefix.join("lib/libpmem2.so.1");
    t.record(
        "symbol check",
        symbols::check(&ours_so, system.then_some(Path::new(SYSTEM_LIB))),
    );

    let h = Harness {
        prefix,
        work: work.to_path_buf(),
        system,
        cross: target() != Target::Host,
    };
    if h.cross {
        println!(
            "..    {target:?}: our programs run under {:?}; every program with \
             PMEM2_FORCE_GRANULARITY=page (QEMU user mode accepts MAP_SYNC anywhere)",
            target().runner(),
            target = target()
        );
    } else {
        header_checks(&h, t);
    }

    let known = known_differences("tests/c/known-differences.txt");
    let mut sources: Vec<PathBuf> = fs::read_dir(root().join("tests/c"))
        .map_err(|e| format!("tests/c: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    for src in &sources {
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("diff_") {
            differential(&h, src, &name, &known, t);
        } else if name.starts_with("ex_") || name.starts_with("ours_") {
            self_checking(&h, src, &name, t);
        }
    }

    user_builds(&h, work, t);
    Ok(())
}

/// `ex_basic.c` built the way users build: with pkg-config against the
/// prefix, and linked statically with `libpmem2.a`.
fn user_builds(h: &Harness, work: &Path, t: &mut Tally) {
    let basic = root().join("tests/c/ex_basic.c");
    let pc = super::run(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", h.prefix.join("lib/pkgconfig"))
            .args(["--cflags", "--libs", "libpmem2"]),
    );
    t.record(
        "pkg-config build of ex_basic.c",
        pc.and_then(|flags| {
            let exe = work.join("ex_basic.pkgconfig");
            super::run(
                cc().arg("-o")
                    .arg(&exe)
                    .arg(&basic)
                    .args(flags.split_whitespace()),
            )?;
            succeeded(&h.exec(&exe, Lib::Ours, "pc")?).map(|_| flags.trim().to_string())
        }),
    );
    // And one linked statically: no libpmem2.so at run time.
    t.record(
        "static link of ex_basic.c with libpmem2.a",
        (|| {
            let exe = work.join("ex_basic.static");
            super::run(
                cc().arg("-o")
                    .arg(&exe)
                    .arg("-I")
                    .arg(h.prefix.join("include"))
                    .arg(&basic)
                    .arg(h.prefix.join("lib/libpmem2.a"))
                    .args(super::NATIVE_LIBS),
            )?;
            let out = Command::new("timeout")
                .args(["--kill-after=5", TIMEOUT])
                .args(target().runner())
                .arg(&exe)
                .arg(work)
                .env_remove("LD_LIBRARY_PATH")
                .output()
                .map_err(|e| e.to_string())?;
            succeeded(&out).map(|_| String::new())
        })(),
    );
}

/// What a packager and a static-linking user rely on: the archive has no
/// debug info, `--destdir`/`--libdir` stage the files and keep the final
/// paths in the `.pc` file, `cc -static` links with `pkg-config --static`,
/// and every installed man page renders with `man -l`.
fn packaging_checks(built: &super::Built, prefix: &Path, work: &Path, t: &mut Tally) {
    archive_and_staging_checks(built, work, t);
    static_link_check(prefix, work, t);
    man_checks(prefix, t);
}

/// `libpmem2.a` without debug info; `install-c --destdir --libdir`.
fn archive_and_staging_checks(built: &super::Built, work: &Path, t: &mut Tally) {
    t.record(
        "libpmem2.a has no debug info",
        super::run(
            Command::new("readelf")
                .args(["-S", "-W"])
                .arg(&built.archive),
        )
        .and_then(|sections| {
            let size = fs::metadata(&built.archive).map_or(0, |m| m.len());
            if sections.contains(".debug_") {
                Err(format!("{} has .debug_ sections", built.archive.display()))
            } else {
                Ok(format!("{} MiB", size.div_ceil(1 << 20)))
            }
        }),
    );

    let stage = work.join("stage");
    t.record(
        "install-c --destdir --libdir",
        (|| {
            let layout = Layout::new(
                Path::new("/usr"),
                Some(Path::new("lib/x86_64-linux-gnu")),
                None,
                Some(&stage),
            )?;
            install(built, &layout)?;
            let lib = stage.join("usr/lib/x86_64-linux-gnu");
            for file in [
                lib.join("libpmem2.so.1.0.0"),
                lib.join("libpmem2.a"),
                stage.join("usr/include/libpmem2.h"),
                stage.join("usr/share/man/man3/pmem2_map_new.3"),
                stage.join("usr/share/man/man7/libpmem2.7"),
                stage.join("usr/share/man/man1/pmem2.1"),
            ] {
                if !file.exists() {
                    return Err(format!("{} missing", file.display()));
                }
            }
            let pc =
                fs::read_to_string(lib.join("pkgconfig/libpmem2.pc")).map_err(|e| e.to_string())?;
            if !pc.starts_with("prefix=/usr\nlibdir=${prefix}/lib/x86_64-linux-gnu\n") {
                return Err(format!("staged libpmem2.pc:\n{pc}"));
            }
            Ok(String::new())
        })(),
    );
}

/// `cc -static` with `pkg-config --static`; the trace log from C.
fn static_link_check(prefix: &Path, work: &Path, t: &mut Tally) {
    // ex_log.c: it copies with pmem2_get_memcpy_fn, so the trace has lines.
    let example = root().join("tests/c/ex_log.c");
    t.record(
        "cc -static ex_log.c with pkg-config --static, run with PMEM2_LOG_LEVEL=15",
        (|| {
            let flags = super::run(
                Command::new("pkg-config")
                    .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
                    .args(["--static", "--cflags", "--libs", "libpmem2"]),
            )?;
            let exe = work.join("ex_log.full-static");
            super::run(
                cc().arg("-static")
                    .arg("-o")
                    .arg(&exe)
                    .arg(&example)
                    .args(flags.split_whitespace()),
            )?;
            let file = super::run(Command::new("file").arg(&exe)).unwrap_or_default();
            let out = Command::new("timeout")
                .args(["--kill-after=5", TIMEOUT])
                .args(target().runner())
                .arg(&exe)
                .arg(work)
                .env_remove("LD_LIBRARY_PATH")
                .output()
                .map_err(|e| e.to_string())?;
            succeeded(&out)?;
            let dynamic = super::run(Command::new("readelf").arg("-d").arg(&exe))?;
            if dynamic.contains("NEEDED") {
                return Err(format!("not static: {file}"));
            }
            // The debug log works from C too: with PMEM2_LOG_LEVEL=15 each
            // memory operation names its routine (PMDK's names).
            let log = work.join("ex_log.trace.log");
            let out = Command::new("timeout")
                .args(["--kill-after=5", TIMEOUT])
                .args(target().runner())
                .arg(&exe)
                .arg(work)
                .env("PMEM2_LOG_LEVEL", "15")
                .env("PMEM2_LOG_FILE", &log)
                .output()
                .map_err(|e| e.to_string())?;
            succeeded(&out)?;
            let text = fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let traced = text
                .lines()
                .filter(|l| {
                    l.starts_with("<libpmem2>: <15> [")
                        && ["memmove_", "memset_"]
                            .iter()
                            .any(|p| l.contains(&format!(" {p}")))
                })
                .count();
            if traced == 0 {
                return Err(format!(
                    "PMEM2_LOG_LEVEL=15: no routine in the log:\n{text}"
                ));
            }
            Ok(format!(
                "{}; {traced} memory operations traced",
                flags.trim()
            ))
        })(),
    );
}

/// Every installed man page renders with `man -l`, without warnings.
fn man_checks(prefix: &Path, t: &mut Tally) {
    let mandir = prefix.join("share/man");
    let mut pages: Vec<PathBuf> = ["man1", "man3", "man7"]
        .iter()
        .filter_map(|s| fs::read_dir(mandir.join(s)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    pages.sort();
    t.record(
        "man pages installed (section 1, 3 and 7)",
        if pages.len() >= 50 {
            Ok(format!("{} pages", pages.len()))
        } else {
            Err(format!(
                "only {} pages under {}",
                pages.len(),
                mandir.display()
            ))
        },
    );
    let mut failures = Vec::new();
    for page in &pages {
        // From the man directory, so that `.so man3/PAGE.3` aliases resolve.
        let out = Command::new("man")
            .current_dir(&mandir)
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .args(["--warnings", "-l"])
            .arg(page)
            .stdin(std::process::Stdio::null())
            .output();
        // Sections 3 and 7 must render our page (its footer has our fixed
        // date): a `.so` alias that missed would find the distribution's
        // PMDK page of the same name.
        let ours = |text: &str| {
            text.contains("NAME")
                && (page.extension().is_some_and(|e| e == "1")
                    || text.contains(super::man::FOOTER_DATE))
        };
        match out {
            Ok(out)
                if out.status.success()
                    && out.stderr.is_empty()
                    && ours(&String::from_utf8_lossy(&out.stdout)) => {}
            Ok(out) => failures.push(format!(
                "{}: {} {}",
                page.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => failures.push(format!("man: {e} (apt-get install man-db)")),
        }
    }
    t.record(
        "man -l renders every installed page without warnings",
        if failures.is_empty() {
            Ok(format!("{} pages", pages.len()))
        } else {
            Err(failures.join("\n"))
        },
    );
}

/// A differential program: PMDK-built on PMDK, PMDK-built on ours, ours on ours.
fn differential(h: &Harness, src: &Path, name: &str, known: &BTreeSet<String>, t: &mut Tally) {
    let ours = h.compile(src, false, &[]);
    let ours_ok = t.record(
        &format!("{name}: compile against our header and library"),
        ours.as_ref().map(|_| String::new()).map_err(Clone::clone),
    );
    if !h.system {
        return;
    }
    let pmdk = h.compile(src, true, &[]);
    if !t.record(
        &format!("{name}: compile against PMDK's header and library"),
        pmdk.as_ref().map(|_| String::new()).map_err(Clone::clone),
    ) {
        return;
    }
    let pmdk = pmdk.unwrap();
    let pmdk_built = (!h.cross).then_some(&pmdk);
    for (exe, want, what) in [
        (ours.as_ref().ok(), "LIBPMEM2_2.0", "our build"),
        (pmdk_built, "LIBPMEM2_1.0", "PMDK-built binary"),
    ] {
        let Some(exe) = exe else { continue };
        let versions = symbols::imported_versions(exe);
        if versions.as_ref().is_ok_and(BTreeSet::is_empty) {
            continue; // calls nothing (diff_consts.c)
        }
        let result = versions.and_then(|v| {
            if v.len() == 1 && v.contains(want) {
                Ok(format!("imports pmem2_*@{want}"))
            } else {
                Err(format!("imports pmem2_* at {v:?}, expected only {want}"))
            }
        });
        t.record(&format!("{name}: {what} binds to {want}"), result);
    }
    let reference = match h
        .exec(&pmdk, Lib::System, "pmdk")
        .and_then(|o| succeeded(&o))
    {
        Ok(out) => out,
        Err(e) => {
            t.record(&format!("{name}: run on PMDK's library"), Err(e));
            return;
        }
    };
    let mut runs = Vec::new();
    if !h.cross {
        runs.push((
            "PMDK-built binary on our library",
            h.exec(&pmdk, Lib::Ours, "swap"),
        ));
    }
    if ours_ok {
        runs.push((
            "our build on our library",
            h.exec(ours.as_ref().unwrap(), Lib::Ours, "ours"),
        ));
    }
    for (what, out) in runs {
        let calls = reference.lines().filter(|l| l.contains(" rc=")).count();
        let result = out.and_then(|o| succeeded(&o)).and_then(|out| {
            compare("PMDK", &reference, "ours", &out, known).map(|(n, documented)| {
                format!(
                    "{n} lines ({calls} calls) as on PMDK's library, \
                     {documented} documented difference(s)"
                )
            })
        });
        t.record(&format!("{name}: {what}"), result);
    }
}

/// A self-checking program: exit status 0 on our library.
fn self_checking(h: &Harness, src: &Path, name: &str, t: &mut Tally) {
    let mut builds = vec![(false, "our build")];
    if h.system && !h.cross && name.starts_with("ex_") {
        builds.push((true, "PMDK-built binary"));
    }
    for (system, what) in builds {
        let result = h
            .compile(src, system, &[])
            .and_then(|exe| h.exec(&exe, Lib::Ours, what.split(' ').next().unwrap()))
            .and_then(|o| succeeded(&o))
            .map(|out| out.lines().last().unwrap_or("").to_string());
        t.record(&format!("{name}: {what} on our library"), result);
    }
}
