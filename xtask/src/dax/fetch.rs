//! Downloads of the Debian 12 packages the VM needs, with `apt-get download` (nothing is
//! installed on the host), unpacked with `dpkg-deb -x` into one tree. Both steps are cached
//! under `target/dax-vm/cache`: a run only downloads files it does not have and only unpacks
//! again when the set of packages changed.

use super::proc::{run, run_ok};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The meta package whose dependency names the current Debian 12 amd64 kernel.
const KERNEL_META: &str = "linux-image-amd64";

/// Packages whose files the harness uses: QEMU, and the guest's userspace (busybox, the
/// namespace tools, mkfs for ext4 and xfs). They are always downloaded, with every package
/// they depend on that this host lacks (`apt-get install -s`), so `ldd` finds each library
/// either in the unpacked tree or on the host (the guest is the same distribution).
const PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "busybox-static",
    "ndctl",
    "daxctl",
    "xfsprogs",
    "e2fsprogs",
];

const APT_TIMEOUT: Duration = Duration::from_mins(5);

/// The unpacked packages.
pub struct Root {
    /// Directory every package was unpacked into.
    pub dir: PathBuf,
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

    /// `LD_LIBRARY_PATH` for the unpacked binaries.
    pub fn library_path(&self) -> String {
        ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"]
            .iter()
            .map(|d| self.dir.join(d).display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

fn apt_lists_present() -> bool {
    fs::read_dir("/var/lib/apt/lists").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    })
}

/// [`PACKAGES`] and the dependencies `apt-get install` would add to this host.
fn packages() -> Result<Vec<String>, String> {
    let out = run_ok(
        Command::new("apt-get")
            .args(["install", "-s", "--no-install-recommends"])
            .args(PACKAGES),
        "apt-get install -s",
        APT_TIMEOUT,
    )?;
    let mut pkgs: Vec<String> = PACKAGES.iter().map(|p| (*p).to_owned()).collect();
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

fn kernel_package() -> Result<String, String> {
    let out = run_ok(
        Command::new("apt-cache").args(["depends", KERNEL_META]),
        "apt-cache depends",
        APT_TIMEOUT,
    )?;
    out.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no kernel package in `apt-cache depends {KERNEL_META}`"))
}

/// `(url, file name)` of every package, without downloading.
fn package_files(pkgs: &[String]) -> Result<Vec<(String, String)>, String> {
    let out = run_ok(
        Command::new("apt-get")
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

/// Resolves, downloads (what is not cached yet) and unpacks everything.
pub fn fetch(cache: &Path, log: &mut dyn FnMut(&str)) -> Result<Root, String> {
    if !apt_lists_present() {
        log("apt lists are empty: apt-get update");
        run_ok(
            Command::new("apt-get").arg("update"),
            "apt-get update",
            APT_TIMEOUT,
        )?;
    }
    let kernel = kernel_package()?;
    let mut pkgs = packages()?;
    // the image alone: its dependencies (initramfs-tools, kmod, ...) are of no use here
    pkgs.push(kernel.clone());
    let files = package_files(&pkgs)?;

    let debs = cache.join("debs");
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
            Command::new("apt-get")
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

    let dir = cache.join("root");
    let stamp = cache.join("root.stamp");
    let mut want = String::new();
    for (_, file) in &files {
        let _ = writeln!(want, "{file}");
    }
    if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        log("unpacking packages (dpkg-deb -x)");
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
    let kernel_release = kernel
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel)
        .to_owned();
    let root = Root {
        dir,
        kernel_release,
    };
    for needed in [
        root.vmlinuz(),
        root.modules(),
        root.dir.join("usr/bin/qemu-system-x86_64"),
        root.dir.join("bin/busybox"),
    ] {
        if !needed.exists() {
            return Err(format!("{} missing after unpacking", needed.display()));
        }
    }
    Ok(root)
}
