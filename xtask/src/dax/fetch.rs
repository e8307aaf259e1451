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

/// Guest userspace: busybox, namespace tools, mkfs for ext4 and xfs, and their libraries that a
/// Debian 12 host does not necessarily have (the rest is copied from the host, which is the
/// same distribution).
const GUEST_PACKAGES: &[&str] = &[
    "busybox-static",
    "ndctl",
    "daxctl",
    "libdaxctl1",
    "libndctl6",
    "libcxl1",
    "libiniparser1",
    "libtraceevent1",
    "libtracefs1",
    "libjson-c5",
    "xfsprogs",
    "libinih1",
    "liburcu8",
    "e2fsprogs",
    "libext2fs2",
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

/// Packages `apt-get install qemu-system-x86` would add to this host (QEMU and the libraries
/// and firmware the host lacks).
fn qemu_packages() -> Result<Vec<String>, String> {
    let out = run_ok(
        Command::new("apt-get").args([
            "install",
            "-s",
            "--no-install-recommends",
            "qemu-system-x86",
        ]),
        "apt-get install -s qemu-system-x86",
        APT_TIMEOUT,
    )?;
    let pkgs: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    if pkgs.is_empty() {
        // Already installed on this host: the host's own binary would be used otherwise, but
        // the harness always runs its own copy, so download the package itself.
        return Ok(vec!["qemu-system-x86".into()]);
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
    let mut pkgs = qemu_packages()?;
    pkgs.push(kernel.clone());
    pkgs.extend(GUEST_PACKAGES.iter().map(|p| (*p).to_owned()));
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
