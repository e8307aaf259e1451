//! One boot of the guest: the QEMU command line (TCG, two NVDIMMs or two virtio-pmem
//! devices backed by host files), its console captured line by line into a log, a deadline
//! to reach `/init` and one for the whole boot. QEMU is killed on every path out of here.
//!
//! x86-64 boots the `pc` machine with `SeaBIOS`; arm64 the `virt` machine under EDK2
//! (`QEMU_EFI.fd`): NVDIMMs reach an arm64 guest only through ACPI (NFIT), and `virt` builds
//! ACPI tables only for firmware, which then starts the `-kernel` QEMU hands it.

use super::arch::Arch;
use super::fetch::Root;
use super::proc::Guard;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A platform the suite runs on.
pub struct Configuration {
    /// Name used on the command line, in logs and as `PMEM2_DAX_PLATFORM` in the guest.
    pub name: &'static str,
    /// What it is.
    pub about: &'static str,
    /// Guest architecture.
    pub arch: Arch,
    /// What the suite and the report expect (`PMEM2_DAX_PLATFORM` in the guest): `default`,
    /// `cpu`, `mem-ctrl` or `virtio`.
    pub platform: &'static str,
    /// `nvdimm-persistence=` of the machine (NFIT platform capabilities), if any.
    persistence: Option<&'static str>,
    /// virtio-pmem devices instead of NVDIMMs.
    virtio: bool,
    /// The write boot also runs the tests that skip under QEMU's user mode
    /// ([`super::emulated`]), for real, on this kernel.
    pub emulated_tests: bool,
}

/// Every configuration, in run order.
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "default",
        arch: Arch::X86_64,
        platform: "default",
        about: "NVDIMMs, no persistence_domain file",
        persistence: None,
        virtio: false,
        emulated_tests: false,
    },
    Configuration {
        name: "cpu",
        arch: Arch::X86_64,
        platform: "cpu",
        about: "NVDIMMs, nvdimm-persistence=cpu (eADR: BYTE granularity)",
        persistence: Some("cpu"),
        virtio: false,
        emulated_tests: false,
    },
    Configuration {
        name: "mem-ctrl",
        arch: Arch::X86_64,
        platform: "mem-ctrl",
        about: "NVDIMMs, nvdimm-persistence=mem-ctrl (ADR)",
        persistence: Some("mem-ctrl"),
        virtio: false,
        emulated_tests: false,
    },
    Configuration {
        name: "virtio",
        arch: Arch::X86_64,
        platform: "virtio",
        about: "virtio-pmem: DAX without MAP_SYNC (PAGE granularity)",
        persistence: None,
        virtio: true,
        emulated_tests: false,
    },
    Configuration {
        name: "aarch64",
        arch: Arch::Aarch64,
        platform: "default",
        about: "arm64 guest: virt machine under UEFI, NVDIMMs (ACPI NFIT), -cpu max (DC CVAP)",
        persistence: None,
        virtio: false,
        emulated_tests: true,
    },
    Configuration {
        name: "aarch64-cpu",
        arch: Arch::Aarch64,
        platform: "cpu",
        about: "arm64 guest as aarch64, nvdimm-persistence=cpu (BYTE granularity)",
        persistence: Some("cpu"),
        virtio: false,
        emulated_tests: false,
    },
];

const MIB: u64 = 1 << 20;
/// Label area of each NVDIMM; the backing file is pmem size + label size, or
/// `ndctl create-namespace` fails with "misaligned".
const LABEL_SIZE: u64 = 128 << 10;

/// Backing files: (file name, size, QEMU device options after `memdev=`).
fn devices(cfg: &Configuration) -> Vec<(&'static str, u64, &'static str)> {
    if cfg.virtio {
        vec![
            ("vpmem0.img", 512 * MIB, "virtio-pmem-pci"),
            ("vpmem1.img", 512 * MIB, "virtio-pmem-pci"),
        ]
    } else {
        vec![
            ("nvdimm0.img", 1024 * MIB + LABEL_SIZE, "nvdimm"),
            ("nvdimm1.img", 256 * MIB + LABEL_SIZE, "nvdimm"),
        ]
    }
}

/// Creates fresh (sparse, zeroed) backing files for `cfg` in `dir`.
pub fn fresh_images(cfg: &Configuration, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (file, size, _) in devices(cfg) {
        let path = dir.join(file);
        let _ = fs::remove_file(&path);
        let f = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        f.set_len(size)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Removes the backing files of `cfg`.
pub fn remove_images(cfg: &Configuration, dir: &Path) {
    for (file, _, _) in devices(cfg) {
        let _ = fs::remove_file(dir.join(file));
    }
}

/// Everything needed to boot.
#[derive(Clone, Copy)]
pub struct Boot<'a> {
    /// The unpacked packages (QEMU, firmware, kernel).
    pub root: &'a Root,
    /// The initramfs.
    pub initramfs: &'a Path,
    /// Directory of the backing files.
    pub images: &'a Path,
    /// Time allowed to reach `/init`.
    pub init_timeout: Duration,
    /// Time allowed for the whole boot.
    pub total_timeout: Duration,
    /// Copy the console to stdout as it comes.
    pub echo: bool,
    /// Directory of our `libpmem.so.1`, put first in QEMU's library path:
    /// the NVDIMM backends are `pmem=on`, so QEMU persists label writes
    /// with `pmem_memcpy_persist` from it.
    pub libpmem: &'a Path,
}

/// The console of one finished (or killed) boot.
pub struct Console {
    /// Every line, as captured.
    pub lines: Vec<String>,
    /// Why the boot did not end normally, if it did not.
    pub problem: Option<String>,
    /// Seconds it took.
    pub seconds: f64,
}

/// QEMU's `LD_LIBRARY_PATH`: our libpmem first, then the unpacked packages.
pub fn qemu_library_path(b: &Boot) -> String {
    format!("{}:{}", b.libpmem.display(), b.root.library_path())
}

/// The QEMU binary.
pub fn qemu_binary(root: &Root) -> PathBuf {
    root.host.join("usr/bin").join(root.arch.qemu())
}

fn qemu_command(b: &Boot, cfg: &Configuration, phase: &str) -> Command {
    let r = &b.root.host;
    let mut cmd = Command::new(qemu_binary(b.root));
    cmd.env("LD_LIBRARY_PATH", qemu_library_path(b));
    let mut machine = match cfg.arch {
        Arch::X86_64 => {
            cmd.arg("-L")
                .arg(r.join("usr/share/seabios"))
                .arg("-L")
                .arg(r.join("usr/share/qemu"));
            String::from("pc")
        }
        Arch::Aarch64 => {
            cmd.arg("-L")
                .arg(r.join("usr/share/qemu"))
                .arg("-bios")
                .arg(b.root.firmware());
            // GICv3, as on current arm64 servers (virt defaults to GICv2)
            String::from("virt,gic-version=3")
        }
    };
    if !cfg.virtio {
        machine.push_str(",nvdimm=on");
    }
    if let Some(p) = cfg.persistence {
        machine.push_str(",nvdimm-persistence=");
        machine.push_str(p);
    }
    let cpu = match cfg.arch {
        Arch::X86_64 => "max",
        // pointer authentication with QEMU's own hash instead of QARMA5, slow under TCG;
        // the kernel signs return addresses in every function
        Arch::Aarch64 => "max,pauth-impdef=on",
    };
    cmd.args(["-machine", &machine])
        .args(["-accel", "tcg,thread=multi", "-cpu", cpu, "-smp", "2"])
        .args(["-m", "1G,slots=4,maxmem=8G"]);
    for (i, (file, size, device)) in devices(cfg).into_iter().enumerate() {
        let path = b.images.join(file);
        // pmem=on (NVDIMMs only: QEMU refuses it for virtio-pmem's
        // backend): QEMU maps with MAP_SYNC where the host allows and calls
        // libpmem (ours) for label writes and RAM writeback.
        let pmem = if device == "nvdimm" { ",pmem=on" } else { "" };
        cmd.arg("-object").arg(format!(
            "memory-backend-file,id=mem{i},share=on,mem-path={},size={size}{pmem}",
            path.display()
        ));
        let label = if device == "nvdimm" {
            format!(",label-size={LABEL_SIZE}")
        } else {
            String::new()
        };
        cmd.arg("-device")
            .arg(format!("{device},id=pm{i},memdev=mem{i}{label}"));
    }
    cmd.arg("-kernel")
        .arg(b.root.vmlinuz())
        .arg("-initrd")
        .arg(b.initramfs)
        .arg("-append")
        .arg(format!(
            "console={} panic=-1 quiet loglevel=3 daxconfig={} daxplatform={} \
             daxphase={phase} daxsuitetimeout={} daxemutests={}",
            cfg.arch.console(),
            cfg.name,
            cfg.platform,
            // the guest kills a hung suite itself and still reports, well before QEMU is killed
            (b.total_timeout.as_secs() * 2 / 3).max(30),
            u8::from(cfg.emulated_tests)
        ))
        .args([
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-nodefaults",
            "-no-reboot",
            "-net",
            "none",
        ]);
    cmd
}

fn forward<R: Read + Send + 'static>(
    pipe: Option<R>,
    prefix: &'static str,
    tx: mpsc::Sender<String>,
) {
    let Some(pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']);
                    if tx.send(format!("{prefix}{line}")).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Boots `cfg` once in `phase` (`write` or `verify`), writing the console to `log`.
pub fn boot(b: &Boot, cfg: &Configuration, phase: &str, log: &Path) -> Result<Console, String> {
    let mut logf = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = qemu_command(b, cfg, phase);
    let _ = writeln!(logf, "# {cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut qemu = Guard::spawn(&mut cmd, cfg.arch.qemu())?;
    let (tx, rx) = mpsc::channel();
    forward(qemu.child().stdout.take(), "", tx.clone());
    forward(qemu.child().stderr.take(), "qemu: ", tx);

    let mut lines = Vec::new();
    let mut booted = false;
    let mut problem = None;
    loop {
        let limit = if booted {
            b.total_timeout
        } else {
            b.init_timeout
        };
        let Some(left) = limit.checked_sub(start.elapsed()) else {
            problem = Some(if booted {
                format!("no power-off within {}s: QEMU killed", limit.as_secs())
            } else {
                format!("/init not reached within {}s: QEMU killed", limit.as_secs())
            });
            break;
        };
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                let _ = writeln!(logf, "{line}");
                if b.echo {
                    println!("  | {line}");
                }
                booted |= line.contains("DAX-LOG");
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // both pipes closed: QEMU is exiting
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if problem.is_none() {
        // the console closed: QEMU is exiting, give it a moment to do so by itself
        match qemu.wait_until(Instant::now() + Duration::from_secs(10)) {
            Ok(status) if !status.success() => {
                problem = Some(format!("QEMU exited with {status}"));
            }
            Ok(_) => {}
            Err(e) => problem = Some(e),
        }
    }
    qemu.kill();
    if let Some(p) = &problem {
        let _ = writeln!(logf, "# {p}");
    }
    Ok(Console {
        lines,
        problem,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Directory of `cfg`'s backing files under `base`.
pub fn image_dir(base: &Path, cfg: &Configuration) -> PathBuf {
    base.join(cfg.name)
}
