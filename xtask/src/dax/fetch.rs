//! Downloads of the Debian 12 packages the VM needs, with `apt-get download` (nothing is
//! installed on the host), unpacked with `dpkg-deb -x` into one tree per purpose. Both steps
//! are cached under `target/dax-vm/cache`: a run only downloads files it does not have and
//! only unpacks again when the set of packages changed.
//!
//! x86-64: one tree, the host's apt (its own lists and architecture): QEMU, the guest's tools
//! and every dependency of theirs the host lacks (the guest runs the host's distribution, so
//! `ldd` finds the rest on the host), and the kernel image.
//!
//! arm64: two trees. The host tree (host apt): `qemu-system-arm` and the UEFI firmware
//! `qemu-efi-aarch64`. The guest tree: arm64 packages from a private apt state
//! (`cache/aarch64/apt`: its own lists with `APT::Architecture=arm64` and an empty dpkg
//! status, so the host's dpkg configuration is left alone), the tools with their whole
//! dependency closure, and the kernel image of bookworm-backports (Debian 12's own arm64 kernel
//! is built without `ZONE_DEVICE`, hence without fsdax and device DAX).

use super::arch::Arch;
use super::proc::{run, run_ok};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The meta package whose dependency names the current kernel.
fn kernel_meta(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "linux-image-amd64",
        Arch::Aarch64 => "linux-image-arm64",
    }
}

/// The guest's userspace: busybox, the namespace tools, mkfs for ext4 and xfs.
const GUEST_PACKAGES: &[&str] = &["busybox-static", "ndctl", "daxctl", "xfsprogs", "e2fsprogs"];

/// Packages of the host tree besides [`GUEST_PACKAGES`] (x86-64, where both share a tree) or
/// alone (arm64).
fn host_packages(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => &["qemu-system-x86"],
        Arch::Aarch64 => &["qemu-system-arm", "qemu-efi-aarch64"],
    }
}

/// Suite the arm64 kernel comes from.
const ARM64_KERNEL_SUITE: &str = "bookworm-backports";

/// Sources of the private arm64 apt state (deb822): Debian 12 and its backports.
const ARM64_SOURCES: &str = "Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

/// The private lists are refreshed when older than this.
const LISTS_MAX_AGE: Duration = Duration::from_hours(24);

const APT_TIMEOUT: Duration = Duration::from_mins(5);

/// The unpacked packages.
pub struct Root {
    /// Guest architecture.
    pub arch: Arch,
    /// Directory the guest's packages (tools, libraries, kernel) were unpacked into.
    pub dir: PathBuf,
    /// Directory QEMU and its firmware were unpacked into (`dir` on x86-64).
    pub host: PathBuf,
    /// Kernel release, e.g. `6.1.0-56-amd64`.
    pub kernel_release: String,
}

impl Root {
    /// The guest kernel image.
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir
            .join("boot")
            .join(format!("vmlinuz-{}", self.kernel_release))
    }

    /// The kernel's module tree.
    pub fn modules(&self) -> PathBuf {
        self.dir.join("lib/modules").join(&self.kernel_release)
    }

    /// Library directories of the guest tree.
    pub fn library_dirs(&self) -> Vec<PathBuf> {
        let m = self.arch.multiarch();
        [format!("usr/lib/{m}"), format!("lib/{m}")]
            .iter()
            .map(|d| self.dir.join(d))
            .collect()
    }

    /// `LD_LIBRARY_PATH` for the unpacked host binaries (QEMU).
    pub fn library_path(&self) -> String {
        ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"]
            .iter()
            .map(|d| self.host.join(d).display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The UEFI firmware (arm64 only).
    pub fn firmware(&self) -> PathBuf {
        self.host.join("usr/share/qemu-efi-aarch64/QEMU_EFI.fd")
    }
}

/// An apt to ask: the host's, or the private arm64 one.
struct Apt {
    /// `-o` options of the private state; empty for the host's apt.
    options: Vec<String>,
}

impl Apt {
    fn host() -> Self {
        Self {
            options: Vec::new(),
        }
    }

    /// The private arm64 state under `dir`, created (and its lists fetched) when missing or
    /// stale.
    fn arm64(dir: &Path, log: &mut dyn FnMut(&str)) -> Result<Self, String> {
        let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        for d in [
            "etc/sources.list.d",
            "etc/preferences.d",
            "lists/partial",
            "archives/partial",
        ] {
            fs::create_dir_all(dir.join(d)).map_err(|e| io(&dir.join(d), e))?;
        }
        let files = [
            ("etc/sources.list", ""),
            ("etc/sources.list.d/debian.sources", ARM64_SOURCES),
            ("status", ""),
        ];
        for (file, text) in files {
            let path = dir.join(file);
            if fs::read_to_string(&path).ok().as_deref() != Some(text) {
                fs::write(&path, text).map_err(|e| io(&path, e))?;
            }
        }
        let d = |p: &str| dir.join(p).display().to_string();
        let options = [
            "APT::Architecture=arm64".to_owned(),
            "APT::Architectures=arm64".to_owned(),
            format!("Dir::Etc::SourceList={}", d("etc/sources.list")),
            format!("Dir::Etc::SourceParts={}", d("etc/sources.list.d")),
            format!("Dir::Etc::Preferences={}", d("etc/preferences")),
            format!("Dir::Etc::PreferencesParts={}", d("etc/preferences.d")),
            format!("Dir::State::Lists={}", d("lists")),
            format!("Dir::State::status={}", d("status")),
            format!("Dir::Cache={}", d("cache")),
            format!("Dir::Cache::archives={}", d("archives")),
            "Acquire::Languages=none".to_owned(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_owned(), o])
        .collect();
        let apt = Self { options };
        let stamp = dir.join("lists.stamp");
        let fresh = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age < LISTS_MAX_AGE);
        if !fresh {
            log("arm64 package lists: apt-get update (private state)");
            run_ok(
                apt.cmd("apt-get").arg("update"),
                "apt-get update (arm64)",
                APT_TIMEOUT,
            )?;
            fs::write(&stamp, "").map_err(|e| io(&stamp, e))?;
        }
        Ok(apt)
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.args(&self.options);
        c
    }
}

fn apt_lists_present() -> bool {
    fs::read_dir("/var/lib/apt/lists").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    })
}

/// `wanted` and the dependencies `apt-get install` would add (to the host, or, with the
/// private state's empty status, the whole closure).
fn with_dependencies(apt: &Apt, wanted: &[&str]) -> Result<Vec<String>, String> {
    let out = run_ok(
        apt.cmd("apt-get")
            .args(["install", "-s", "--no-install-recommends"])
            .args(wanted),
        "apt-get install -s",
        APT_TIMEOUT,
    )?;
    let mut pkgs: Vec<String> = wanted.iter().map(|p| (*p).to_owned()).collect();
    for pkg in out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter_map(|l| l.split_whitespace().next())
    {
        if !pkgs.iter().any(|p| p == pkg) {
            pkgs.push(pkg.to_owned());
        }
    }
    Ok(pkgs)
}

/// The kernel image package `meta` depends on (in `suite` when given).
fn kernel_package(apt: &Apt, meta: &str, suite: Option<&str>) -> Result<String, String> {
    let mut cmd = apt.cmd("apt-cache");
    if let Some(suite) = suite {
        cmd.args(["-t", suite]);
    }
    let out = run_ok(
        cmd.args(["depends", meta]),
        "apt-cache depends",
        APT_TIMEOUT,
    )?;
    out.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no kernel package in `apt-cache depends {meta}`"))
}

/// `(url, file name)` of every package, without downloading.
fn package_files(apt: &Apt, pkgs: &[String]) -> Result<Vec<(String, String)>, String> {
    let out = run_ok(
        apt.cmd("apt-get")
            .args(["download", "--print-uris"])
            .args(pkgs),
        "apt-get download --print-uris",
        APT_TIMEOUT,
    )?;
    let files: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let url = it.next()?.trim_matches('\'').to_owned();
            let file = it.next()?.to_owned();
            Some((url, file))
        })
        .collect();
    if files.len() != pkgs.len() {
        return Err(format!(
            "apt-get resolved {} of {} packages: {}",
            files.len(),
            pkgs.len(),
            out.stderr.trim()
        ));
    }
    Ok(files)
}

/// Downloads `pkgs` into `cache/<debs>` (what is not there yet; files no longer needed are
/// deleted) and unpacks them into `cache/<tree>` when the set changed (`cache/<tree>.stamp`).
fn sync(
    apt: &Apt,
    pkgs: &[String],
    cache: &Path,
    (debs, tree): (&str, &str),
    log: &mut dyn FnMut(&str),
) -> Result<PathBuf, String> {
    let files = package_files(apt, pkgs)?;
    let debs = cache.join(debs);
    fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    // A file is named `<package>_<version>_<arch>.deb`.
    let missing: Vec<&str> = files
        .iter()
        .filter(|(_, file)| !debs.join(file).is_file())
        .filter_map(|(_, file)| file.split('_').next())
        .collect();
    if missing.is_empty() {
        log(&format!(
            "{} packages cached in {}",
            files.len(),
            debs.display()
        ));
    } else {
        log(&format!("downloading {} packages", missing.len()));
        let out = run(
            apt.cmd("apt-get")
                .arg("download")
                .args(&missing)
                .current_dir(&debs),
            "apt-get download",
            APT_TIMEOUT,
        )?;
        if !out.status.success() {
            return Err(format!("apt-get download failed:\n{}", out.stderr.trim()));
        }
        for (_, file) in &files {
            if !debs.join(file).is_file() {
                return Err(format!("apt-get download did not produce {file}"));
            }
        }
    }

    // drop what earlier runs downloaded and this one no longer needs (older kernels, ...)
    if let Ok(entries) = fs::read_dir(&debs) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !files.iter().any(|(_, f)| *f == name) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    let dir = cache.join(tree);
    let stamp = cache.join(format!("{tree}.stamp"));
    let mut want = String::new();
    for (_, file) in &files {
        let _ = writeln!(want, "{file}");
    }
    if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        log(&format!("unpacking {} packages (dpkg-deb -x)", files.len()));
        let _ = fs::remove_file(&stamp);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (_, file) in &files {
            run_ok(
                Command::new("dpkg-deb")
                    .arg("-x")
                    .arg(debs.join(file))
                    .arg(&dir),
                &format!("dpkg-deb -x {file}"),
                Duration::from_mins(2),
            )?;
        }
        fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(dir)
}

fn release_of(kernel: &str) -> String {
    kernel
        .strip_prefix("linux-image-")
        .unwrap_or(kernel)
        .to_owned()
}

/// Resolves, downloads (what is not cached yet) and unpacks everything `arch` needs.
pub fn fetch(cache: &Path, arch: Arch, log: &mut dyn FnMut(&str)) -> Result<Root, String> {
    if !apt_lists_present() {
        log("apt lists are empty: apt-get update");
        run_ok(
            Command::new("apt-get").arg("update"),
            "apt-get update",
            APT_TIMEOUT,
        )?;
    }
    let host_apt = Apt::host();
    let root = match arch {
        Arch::X86_64 => {
            let kernel = kernel_package(&host_apt, kernel_meta(arch), None)?;
            let wanted: Vec<&str> = host_packages(arch)
                .iter()
                .chain(GUEST_PACKAGES)
                .copied()
                .collect();
            let mut pkgs = with_dependencies(&host_apt, &wanted)?;
            // the image alone: its dependencies (initramfs-tools, kmod, ...) are of no use here
            pkgs.push(kernel.clone());
            let dir = sync(&host_apt, &pkgs, cache, ("debs", "root"), log)?;
            Root {
                arch,
                host: dir.clone(),
                dir,
                kernel_release: release_of(&kernel),
            }
        }
        Arch::Aarch64 => {
            let cache = cache.join("aarch64");
            // qemu-user(-static), 600 MB unpacked, come along only as upgrades of the host's
            // copies (same source package as qemu-system-common); nothing here runs them
            let pkgs: Vec<String> = with_dependencies(&host_apt, host_packages(arch))?
                .into_iter()
                .filter(|p| !p.starts_with("qemu-user"))
                .collect();
            let host = sync(&host_apt, &pkgs, &cache, ("host-debs", "host"), log)?;
            let apt = Apt::arm64(&cache.join("apt"), log)?;
            let kernel = kernel_package(&apt, kernel_meta(arch), Some(ARM64_KERNEL_SUITE))?;
            let mut pkgs = with_dependencies(&apt, GUEST_PACKAGES)?;
            pkgs.push(kernel.clone());
            let dir = sync(&apt, &pkgs, &cache, ("guest-debs", "guest"), log)?;
            Root {
                arch,
                dir,
                host,
                kernel_release: release_of(&kernel),
            }
        }
    };
    let mut needed = vec![
        root.vmlinuz(),
        root.modules(),
        root.host.join("usr/bin").join(arch.qemu()),
        root.dir.join("bin/busybox"),
    ];
    if arch == Arch::Aarch64 {
        needed.push(root.firmware());
    }
    for needed in needed {
        if !needed.exists() {
            return Err(format!("{} missing after unpacking", needed.display()));
        }
    }
    Ok(root)
}
