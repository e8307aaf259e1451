//! The C library: `build-c`, `install-c`, `c-test`.
//!
//! Two libraries: `libpmem2.so.1` (crate `pmem2-ffi`) and `libpmem.so.1`
//! (crate `pmem-ffi`, module [`libpmem`]), built and installed together.
//!
//! `libpmem2.so.1.0.0` is not a cargo cdylib: rustc's own version script
//! would leave every symbol unversioned. Instead the `pmem2-ffi` static
//! library is relinked with `cc -shared` and our version script (the
//! zlib-rs approach): the 49 API symbols at `LIBPMEM2_2.0` (default), the
//! same 49 at `LIBPMEM2_1.0` through `.symver` wrappers in
//! `crates/pmem2-ffi/c/pmem2_compat.c`, everything else local.

pub mod libpmem;
pub mod libpmem_bench;
mod libpmem_test;
mod man;
mod symbols;
mod test;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use symbols::{API_SYMBOLS, EXT_NODE, EXT_SYMBOLS};

/// soname and file names.
const SONAME: &str = "libpmem2.so.1";
const REAL_NAME: &str = "libpmem2.so.1.0.0";
/// The PMDK release whose API and ABI this library provides (pkg-config `Version`).
const API_VERSION: &str = "2.1.1";
/// Libraries the Rust standard library needs (`rustc --print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The machine the C library is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The host.
    Host,
    /// `aarch64-unknown-linux-gnu`, cross-compiled with
    /// `aarch64-linux-gnu-gcc`; its programs run under QEMU's user mode
    /// (`PMEM2_TEST_RUNNER`, else `qemu-aarch64-static -cpu max -L
    /// /usr/aarch64-linux-gnu`).
    Aarch64,
}

/// The target of this run (`--target`), set once when the arguments are read.
static TARGET: std::sync::OnceLock<Target> = std::sync::OnceLock::new();

/// The target of this run.
fn target() -> Target {
    *TARGET.get_or_init(|| Target::Host)
}

impl Target {
    /// The Rust target triple of a cross build.
    fn triple(self) -> Option<&'static str> {
        match self {
            Target::Host => None,
            Target::Aarch64 => Some("aarch64-unknown-linux-gnu"),
        }
    }

    /// The command line that runs one of the target's programs on this
    /// host (empty: run directly).
    fn runner(self) -> Vec<String> {
        match self {
            Target::Host => Vec::new(),
            Target::Aarch64 => std::env::var("PMEM2_TEST_RUNNER")
                .ok()
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "qemu-aarch64-static -cpu max -L /usr/aarch64-linux-gnu".into())
                .split_whitespace()
                .map(String::from)
                .collect(),
        }
    }
}

/// Reads `--target TRIPLE` (or `--target=TRIPLE`) out of `args`.
fn take_target(args: &[String]) -> Result<Vec<String>, String> {
    let mut rest = Vec::new();
    let mut chosen = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "--target" {
            Some(it.next().ok_or("--target needs a triple")?.clone())
        } else {
            a.strip_prefix("--target=").map(String::from)
        };
        match value.as_deref() {
            None => rest.push(a.clone()),
            Some("aarch64-unknown-linux-gnu") => chosen = Some(Target::Aarch64),
            Some(t) if Some(t) == host_triple().as_deref() => chosen = Some(Target::Host),
            Some(t) => {
                return Err(format!(
                    "--target {t}: only aarch64-unknown-linux-gnu (or the host) is supported"
                ))
            }
        }
    }
    if TARGET.set(chosen.unwrap_or(Target::Host)).is_err() {
        return Err("the target was already chosen".into());
    }
    Ok(rest)
}

/// The host's Rust triple (`x86_64-unknown-linux-gnu` on CI).
fn host_triple() -> Option<String> {
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(String::from))
}

/// `Libs.private` of the pkg-config file: [`NATIVE_LIBS`] without
/// `-lgcc_s`, the shared unwinder, which `cc -static` can't find (there is
/// no `libgcc_s.a`). The compiler driver adds the unwinder itself: the
/// shared one (as needed) to dynamic links, `libgcc_eh.a` to static ones.
const PC_PRIVATE_LIBS: &[&str] = &["-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"];

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// cargo's target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Where `build-c` puts its outputs (`target/capi`, or
/// `target/capi-<triple>` for a cross build).
fn out_dir() -> PathBuf {
    match target().triple() {
        None => target_dir().join("capi"),
        Some(triple) => target_dir().join(format!("capi-{triple}")),
    }
}

/// Runs a command, failing with its stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The C compiler (`$CC`, else `cc`; `aarch64-linux-gnu-gcc` for aarch64).
fn cc() -> Command {
    match target() {
        Target::Host => Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into())),
        Target::Aarch64 => Command::new("aarch64-linux-gnu-gcc"),
    }
}

/// The built artifacts.
#[derive(Debug, Clone)]
pub struct Built {
    /// `libpmem2.so.1.0.0`.
    pub shared: PathBuf,
    /// `libpmem2.a`.
    pub archive: PathBuf,
    /// The man pages, `man1/`, `man3/` and `man7/` under it.
    pub man: PathBuf,
}

/// The version script: both nodes, every API symbol global at
/// `LIBPMEM2_2.0`, pmem2's extensions at `PMEM2_EXT_1.0`, the rest local. The `LIBPMEM2_1.0` aliases get their
/// node from `.symver` in `pmem2_compat.c`; `local: *` only in the 2.0 node, since
/// in the 1.0 node it would hide the `.symver` aliases.
fn version_script() -> String {
    let mut s = String::from(
        "/* generated by cargo xtask build-c */\n\
         /* PMDK 1.x node: its symbols are bound with .symver in pmem2_compat.c (a\n   \
         `local: *` here would hide them) */\n\
         LIBPMEM2_1.0 {\n};\n\nLIBPMEM2_2.0 {\n\tglobal:\n",
    );
    for name in API_SYMBOLS {
        let _ = writeln!(s, "\t\t{name};");
    }
    s.push_str("\tlocal: *;\n};\n");
    // pmem2's own extensions, in a node of their own: never mistaken for
    // PMDK's ABI.
    let _ = write!(s, "\n{EXT_NODE} {{\n\tglobal:\n");
    for name in EXT_SYMBOLS {
        let _ = writeln!(s, "\t\t{name};");
    }
    s.push_str("};\n");
    s
}

/// Builds the shared and static libraries into `target/capi/lib`.
///
/// The link uses `--no-undefined`: every function the `LIBPMEM2_1.0`
/// wrappers call must exist in Rust. (An undefined one would otherwise be
/// bound at run time to the wrapper itself, an endless loop.) With
/// `allow_unwired` (development only) missing functions are left undefined
/// and reported.
pub fn build(allow_unwired: bool) -> Result<Built, String> {
    let root = root();
    let out = out_dir();
    let obj = out.join("obj");
    let lib_dir = out.join("lib");
    for d in [&obj, &lib_dir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cargo = Command::new(cargo);
    cargo
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", "pmem2-ffi"]);
    let mut release = target_dir();
    if let Some(triple) = target().triple() {
        cargo.args(["--target", triple]);
        release.push(triple);
    }
    run(&mut cargo)?;
    let rust_archive = release.join("release").join("libpmem2_ffi.a");

    // The LIBPMEM2_1.0 aliases (shared library only; pmem2_perror itself
    // is bundled into the Rust archive by the crate's build.rs).
    let compat = obj.join("pmem2_compat.o");
    run(cc()
        .args([
            "-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", "-c",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("crates/pmem2-ffi/c/pmem2_compat.c"))
        .arg("-o")
        .arg(&compat))?;

    let map = obj.join("libpmem2.map");
    fs::write(&map, version_script()).map_err(|e| format!("{}: {e}", map.display()))?;

    let shared = lib_dir.join(REAL_NAME);
    let strict: &[&str] = if allow_unwired {
        &[]
    } else {
        &["-Wl,--no-undefined"]
    };
    run(cc()
        .arg("-shared")
        .args(strict)
        .arg("-o")
        .arg(&shared)
        .arg(format!("-Wl,-soname,{SONAME}"))
        .arg(format!("-Wl,--version-script={}", map.display()))
        // Like a distribution's library: no debug info (the release profile
        // keeps it for the Rust binaries), unused sections dropped.
        .args(["-Wl,--gc-sections", "-Wl,-z,relro", "-Wl,--strip-debug"])
        .arg(&compat)
        .arg("-Wl,--whole-archive")
        .arg(&rust_archive)
        .arg("-Wl,--no-whole-archive")
        .args(NATIVE_LIBS))?;

    let unwired = symbols::undefined_api(&shared)?;
    if !unwired.is_empty() {
        eprintln!(
            "build-c: WARNING: not implemented yet (calls loop or fail): {}",
            unwired.join(", ")
        );
    }

    // The static library is Rust's archive (pmem2_perror included; symbol
    // versions mean nothing in static links) without its debug info, like
    // the shared library: the release profile keeps debug info for the Rust
    // binaries, which made the archive 30 MB.
    let archive = lib_dir.join("libpmem2.a");
    let _ = fs::remove_file(&archive);
    let objcopy = match target() {
        Target::Host => "objcopy",
        Target::Aarch64 => "aarch64-linux-gnu-objcopy",
    };
    run(Command::new(objcopy)
        .arg("--strip-debug")
        .arg(&rust_archive)
        .arg(&archive))?;

    so_links(&lib_dir, REAL_NAME, SONAME, "libpmem2.so")?;

    // The man pages; section 1 comes from the pmem2 tool itself.
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args(["build", "--quiet", "--release", "-p", "pmem2-cli"]),
    )?;
    let man = out.join("man");
    man::build(&man, &target_dir().join("release/pmem2"))?;
    Ok(Built {
        shared,
        archive,
        man,
    })
}

/// Where `install` puts things: GNU-style directories, and `destdir`, a
/// staging root prepended to every path written (not to the paths inside
/// the pkg-config file), as packagers' `DESTDIR`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub destdir: Option<PathBuf>,
    pub prefix: PathBuf,
    pub libdir: PathBuf,
    pub includedir: PathBuf,
    pub mandir: PathBuf,
}

impl Layout {
    /// `prefix` made absolute (against the current directory); `libdir`
    /// and `mandir` default to `PREFIX/lib` and `PREFIX/share/man`, and are
    /// taken relative to the prefix when relative.
    pub fn new(
        prefix: &Path,
        libdir: Option<&Path>,
        mandir: Option<&Path>,
        destdir: Option<&Path>,
    ) -> Result<Layout, String> {
        let prefix = if prefix.is_absolute() {
            prefix.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| e.to_string())?
                .join(prefix)
        };
        let under = |dir: Option<&Path>, default: &str| {
            prefix.join(dir.unwrap_or_else(|| Path::new(default)))
        };
        Ok(Layout {
            libdir: under(libdir, "lib"),
            includedir: prefix.join("include"),
            mandir: under(mandir, "share/man"),
            prefix,
            destdir: destdir.map(Path::to_path_buf),
        })
    }

    /// Where `path` (one of the layout's directories) is written.
    fn staged(&self, path: &Path) -> PathBuf {
        match &self.destdir {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }
}

/// The pkg-config file of `lib` (`-l{lib}`, package `name`) in an
/// installation.
fn pc_file(layout: &Layout, name: &str, description: &str, lib: &str) -> String {
    let under_prefix = |dir: &Path| match dir.strip_prefix(&layout.prefix) {
        Ok(rest) if rest.as_os_str().is_empty() => "${prefix}".to_string(),
        Ok(rest) => format!("${{prefix}}/{}", rest.display()),
        Err(_) => dir.display().to_string(),
    };
    format!(
        "prefix={prefix}\nlibdir={libdir}\nincludedir={includedir}\n\n\
         Name: {name}\n\
         Description: {description} (API {API_VERSION})\n\
         Version: {API_VERSION}\n\
         Libs: -L${{libdir}} -l{lib}\n\
         Libs.private: {private}\n\
         Cflags: -I${{includedir}}\n",
        prefix = layout.prefix.display(),
        libdir = under_prefix(&layout.libdir),
        includedir = under_prefix(&layout.includedir),
        private = PC_PRIVATE_LIBS.join(" "),
    )
}

/// `libpmem2.pc`'s description.
const PC_DESCRIPTION: &str = "pmem2, a Rust implementation of PMDK's libpmem2";

/// The development symlinks of a shared library in `dir`: `soname ->
/// real` and `dev -> soname`.
fn so_links(dir: &Path, real: &str, soname: &str, dev: &str) -> Result<(), String> {
    for (link, target) in [(soname, real), (dev, soname)] {
        let p = dir.join(link);
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Copies a file, creating its directory.
fn install_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let _ = fs::remove_file(to);
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
}

/// Installs the built libraries, headers, `.pc` file and man pages.
pub fn install(built: &Built, layout: &Layout) -> Result<(), String> {
    let lib = layout.staged(&layout.libdir);
    install_file(&built.shared, &lib.join(REAL_NAME))?;
    install_file(&built.archive, &lib.join("libpmem2.a"))?;
    so_links(&lib, REAL_NAME, SONAME, "libpmem2.so")?;
    let include = root().join("include");
    let includedir = layout.staged(&layout.includedir);
    install_file(&include.join("libpmem2.h"), &includedir.join("libpmem2.h"))?;
    for header in ["libpmem2/base.h", "libpmem2/check.h"] {
        install_file(&include.join(header), &includedir.join(header))?;
    }
    let pc = lib.join("pkgconfig/libpmem2.pc");
    fs::create_dir_all(lib.join("pkgconfig")).map_err(|e| e.to_string())?;
    fs::write(&pc, pc_file(layout, "libpmem2", PC_DESCRIPTION, "pmem2"))
        .map_err(|e| format!("{}: {e}", pc.display()))?;
    let mandir = layout.staged(&layout.mandir);
    for section in ["man1", "man3", "man7"] {
        let from = built.man.join(section);
        for entry in fs::read_dir(&from).map_err(|e| format!("{}: {e}", from.display()))? {
            let page = entry.map_err(|e| e.to_string())?.path();
            install_file(&page, &mandir.join(section).join(page.file_name().unwrap()))?;
        }
    }
    Ok(())
}

/// Parses the optional `--allow-unwired` flag; other arguments are returned.
fn allow_unwired(args: &[String]) -> (bool, Vec<String>) {
    let rest: Vec<String> = args
        .iter()
        .filter(|a| *a != "--allow-unwired")
        .cloned()
        .collect();
    (rest.len() != args.len(), rest)
}

/// `cargo xtask build-c [--target aarch64-unknown-linux-gnu] [--allow-unwired]`.
pub fn build_c(args: &[String]) -> Result<(), String> {
    let (allow, args) = allow_unwired(&take_target(args)?);
    if let Some(a) = args.first() {
        return Err(format!("unexpected argument '{a}'"));
    }
    let built = build(allow)?;
    let libpmem = libpmem::build()?;
    for p in [
        &built.shared,
        &built.archive,
        &libpmem.shared,
        &libpmem.archive,
    ] {
        println!("{}", p.display());
    }
    Ok(())
}

/// `cargo xtask install-c --prefix DIR [--libdir DIR] [--mandir DIR]
/// [--destdir DIR] [--allow-unwired]`.
pub fn install_c(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: cargo xtask install-c --prefix DIR [--libdir DIR] \
                         [--mandir DIR] [--destdir DIR] [--allow-unwired]";
    let (allow, args) = allow_unwired(&take_target(args)?);
    let mut options: [(&str, Option<PathBuf>); 4] = [
        ("--prefix", None),
        ("--libdir", None),
        ("--mandir", None),
        ("--destdir", None),
    ];
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let slot = options
            .iter_mut()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("unexpected argument '{arg}'\n{USAGE}"))?;
        let value = match value {
            Some(v) => v,
            None => rest
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?
                .clone(),
        };
        slot.1 = Some(PathBuf::from(value));
    }
    let [(_, prefix), (_, libdir), (_, mandir), (_, destdir)] = options;
    let prefix = prefix.ok_or(USAGE)?;
    let layout = Layout::new(
        &prefix,
        libdir.as_deref(),
        mandir.as_deref(),
        destdir.as_deref(),
    )?;
    let built = build(allow)?;
    install(&built, &layout)?;
    let libpmem = libpmem::build()?;
    libpmem::install(&libpmem, &layout)?;
    match &layout.destdir {
        Some(root) => println!(
            "installed libpmem2 and libpmem for {} into {}",
            layout.prefix.display(),
            root.display()
        ),
        None => println!(
            "installed libpmem2 and libpmem into {}",
            layout.prefix.display()
        ),
    }
    Ok(())
}

/// `cargo xtask libpmem-test`.
pub fn libpmem_test(args: &[String]) -> Result<(), String> {
    libpmem_test::run_all(args)
}

/// `cargo xtask c-test [--target aarch64-unknown-linux-gnu] [--allow-unwired]`.
pub fn c_test(args: &[String]) -> Result<(), String> {
    let (allow, args) = allow_unwired(&take_target(args)?);
    test::run_all(&args, allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_script_lists_every_symbol_once() {
        let s = version_script();
        for name in API_SYMBOLS {
            assert_eq!(s.matches(&format!("\t{name};")).count(), 1, "{name}");
        }
        assert!(s.contains("LIBPMEM2_1.0 {") && s.contains("LIBPMEM2_2.0 {"));
        assert!(s.contains("PMEM2_EXT_1.0 {\n\tglobal:\n\t\tpmem2_check_point;\n};"));
    }

    #[test]
    fn pc_file_points_at_prefix() {
        let layout = Layout::new(Path::new("/opt/p"), None, None, None).unwrap();
        let pc = pc_file(&layout, "libpmem2", PC_DESCRIPTION, "pmem2");
        assert!(pc.starts_with("prefix=/opt/p\nlibdir=${prefix}/lib\n"));
        assert!(pc.contains("includedir=${prefix}/include\n"));
        assert!(pc.contains("Libs: -L${libdir} -lpmem2\n"));
        assert!(pc.contains("Cflags: -I${includedir}\n"));
        // `cc -static` has no libgcc_s.a.
        assert!(!pc.contains("gcc_s"));
    }

    #[test]
    fn layout_libdir_and_destdir() {
        let layout = Layout::new(
            Path::new("/usr"),
            Some(Path::new("lib/x86_64-linux-gnu")),
            None,
            Some(Path::new("/tmp/stage")),
        )
        .unwrap();
        assert_eq!(layout.libdir, Path::new("/usr/lib/x86_64-linux-gnu"));
        assert_eq!(layout.mandir, Path::new("/usr/share/man"));
        assert_eq!(
            layout.staged(&layout.libdir),
            Path::new("/tmp/stage/usr/lib/x86_64-linux-gnu")
        );
        // The .pc file names the final paths, never the staging root.
        let pc = pc_file(&layout, "libpmem2", PC_DESCRIPTION, "pmem2");
        assert!(
            pc.contains("libdir=${prefix}/lib/x86_64-linux-gnu\n"),
            "{pc}"
        );
        assert!(!pc.contains("stage"));
        let outside =
            Layout::new(Path::new("/usr"), Some(Path::new("/lib64")), None, None).unwrap();
        assert!(pc_file(&outside, "libpmem2", PC_DESCRIPTION, "pmem2").contains("libdir=/lib64\n"));
    }
}
