//! The guest's root file system: an uncompressed `newc` cpio archive (the kernel unpacks it
//! without a decompressor, which matters under software emulation) holding busybox, the
//! namespace and mkfs tools with their libraries, the kernel modules for NVDIMM, DAX, ext4,
//! xfs and virtio-pmem (loaded with `insmod` in dependency order listed in
//! `/etc/dax-modules`), the `/init` script and the test binaries.
//!
//! The x86-64 guest runs the host's distribution: its tools' libraries are what `ldd` finds.
//! The arm64 guest's can't be run on the host: they are what the ELF files ask for
//! (`DT_NEEDED`, recursively, and the `PT_INTERP` loader), found in the arm64 tree. Its
//! kernel's modules are xz-compressed: they are decompressed here, as busybox's `insmod`
//! passes the file to `init_module` as it is.

use super::arch::Arch;
use super::fetch::Root;
use super::proc::run_ok;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The guest's `/init`.
const INIT: &str = include_str!("init.sh");

/// Dynamically linked tools copied from the unpacked packages: (path in the tree, name in the
/// guest's `/usr/sbin`).
const TOOLS: &[(&str, &str)] = &[
    ("usr/bin/ndctl", "ndctl"),
    ("usr/bin/daxctl", "daxctl"),
    ("sbin/mke2fs", "mkfs.ext4"),
    ("sbin/mkfs.xfs", "mkfs.xfs"),
];

enum Body {
    Dir,
    File(Vec<u8>, u32),
    Symlink(String),
}

/// An archive being assembled: guest path -> content. Parents are created implicitly.
#[derive(Default)]
pub struct Archive {
    entries: BTreeMap<String, Body>,
}

impl Archive {
    fn dir(&mut self, path: &str) {
        let mut cur = String::new();
        for part in path.trim_matches('/').split('/') {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(part);
            self.entries.entry(cur.clone()).or_insert(Body::Dir);
        }
    }

    fn parent(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
    }

    /// Adds a file with the given content and permission bits.
    pub fn file(&mut self, path: &str, data: Vec<u8>, perm: u32) {
        let path = path.trim_start_matches('/');
        self.parent(path);
        self.entries.insert(path.to_owned(), Body::File(data, perm));
    }

    /// Copies a host file (following symlinks).
    pub fn copy(&mut self, path: &str, host: &Path, perm: u32) -> Result<(), String> {
        let data = fs::read(host).map_err(|e| format!("{}: {e}", host.display()))?;
        self.file(path, data, perm);
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &str) {
        let path = path.trim_start_matches('/');
        self.parent(path);
        self.entries
            .entry(path.to_owned())
            .or_insert_with(|| Body::Symlink(target.to_owned()));
    }

    /// Writes the `newc` archive.
    pub fn write(&self, out: &Path) -> Result<u64, String> {
        let f = fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut w = BufWriter::new(f);
        let io = |e: std::io::Error| format!("{}: {e}", out.display());
        for (ino, (path, body)) in (1..).zip(&self.entries) {
            let (mode, data): (u32, &[u8]) = match body {
                Body::Dir => (0o040_755, &[]),
                Body::File(data, perm) => (0o100_000 | perm, data),
                Body::Symlink(target) => (0o120_777, target.as_bytes()),
            };
            write_entry(&mut w, ino, mode, path, data).map_err(io)?;
        }
        write_entry(&mut w, 0, 0, "TRAILER!!!", &[]).map_err(io)?;
        w.flush().map_err(io)?;
        Ok(fs::metadata(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .len())
    }
}

fn pad4(w: &mut impl Write, len: usize) -> std::io::Result<()> {
    w.write_all(&[0; 3][..(4 - len % 4) % 4])
}

fn write_entry(
    w: &mut impl Write,
    ino: u32,
    mode: u32,
    name: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let nlink = if mode & 0o170_000 == 0o040_000 { 2 } else { 1 };
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
    // rdevminor, namesize (with the NUL), check
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    w.write_all(header.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    pad4(w, header.len() + name.len() + 1)?;
    w.write_all(data)?;
    pad4(w, data.len())
}

/// Adds busybox and a link per applet in `/bin`. The arm64 busybox can't run on the host to
/// list its applets: the guest gets `/bin/sh` only, and `/init` installs the other links.
fn add_busybox(ar: &mut Archive, root: &Root) -> Result<(), String> {
    let bb = root.dir.join("bin/busybox");
    ar.copy("bin/busybox", &bb, 0o755)?;
    if root.arch != Arch::X86_64 {
        ar.symlink("bin/sh", "busybox");
        return Ok(());
    }
    let list = run_ok(
        Command::new(&bb).arg("--list"),
        "busybox --list",
        Duration::from_secs(30),
    )?;
    for applet in list.stdout.split_whitespace() {
        ar.symlink(&format!("bin/{applet}"), "busybox");
    }
    Ok(())
}

/// Adds a dynamically linked tool and the libraries it needs.
fn add_tool(ar: &mut Archive, root: &Root, src: &str, name: &str) -> Result<(), String> {
    let bin = root.dir.join(src);
    ar.copy(&format!("usr/sbin/{name}"), &bin, 0o755)?;
    match root.arch {
        Arch::X86_64 => add_libraries_ldd(ar, root, src, &bin),
        Arch::Aarch64 => add_libraries_elf(ar, root, src, &bin),
    }
}

/// Adds every library `ldd` resolves for `bin` (from the unpacked packages first, else from
/// the host, which runs the same distribution).
fn add_libraries_ldd(ar: &mut Archive, root: &Root, src: &str, bin: &Path) -> Result<(), String> {
    let ldd = run_ok(
        Command::new("ldd").arg(bin).env(
            "LD_LIBRARY_PATH",
            root.library_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        ),
        &format!("ldd {src}"),
        Duration::from_secs(30),
    )?;
    for line in ldd.stdout.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else {
            if line.contains("not found") {
                return Err(format!("{src}: library {}", line.trim()));
            }
            continue;
        };
        let host = Path::new(path);
        let file = host.file_name().unwrap_or_default().to_string_lossy();
        let dest = if path.starts_with("/lib64/") {
            format!("lib64/{file}")
        } else {
            format!("lib/x86_64-linux-gnu/{file}")
        };
        ar.copy(&dest, host, 0o755)?;
    }
    Ok(())
}

/// What an ELF file asks the loader for: its `PT_INTERP` and its `DT_NEEDED` names.
fn elf_needs(data: &[u8]) -> Result<(Option<String>, Vec<String>), String> {
    use object::elf::{FileHeader64, DT_NEEDED};
    use object::read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _};
    let e = |e: object::read::Error| e.to_string();
    let header = FileHeader64::<object::Endianness>::parse(data).map_err(e)?;
    let endian = header.endian().map_err(e)?;
    let interp = header
        .program_headers(endian, data)
        .map_err(e)?
        .iter()
        .find_map(|ph| ph.interpreter(endian, data).ok().flatten())
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let sections = header.sections(endian, data).map_err(e)?;
    let mut needed = Vec::new();
    if let Some((dyns, link)) = sections.dynamic(endian, data).map_err(e)? {
        let strings = sections.strings(endian, data, link).map_err(e)?;
        for d in dyns {
            if d.tag32(endian) == Some(DT_NEEDED) {
                let name = d.string(endian, strings).map_err(e)?;
                needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Ok((interp, needed))
}

/// Adds the loader and every library `bin` needs (recursively), found by name in the arm64
/// tree's library directories.
fn add_libraries_elf(ar: &mut Archive, root: &Root, src: &str, bin: &Path) -> Result<(), String> {
    let find = |name: &str| -> Result<PathBuf, String> {
        root.library_dirs()
            .iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{src}: library {name} is in no unpacked package"))
    };
    let lib_dir = format!("lib/{}", root.arch.multiarch());
    let data = fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let (interp, mut todo) = elf_needs(&data).map_err(|e| format!("{src}: {e}"))?;
    let interp = interp.ok_or_else(|| format!("{src}: no PT_INTERP (not dynamic?)"))?;
    let loader = interp.rsplit('/').next().unwrap_or(&interp);
    ar.copy(&interp, &find(loader)?, 0o755)?;
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) || name == loader {
            continue;
        }
        let path = find(&name)?;
        let data = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (_, needed) = elf_needs(&data).map_err(|e| format!("{name}: {e}"))?;
        todo.extend(needed);
        ar.file(&format!("{lib_dir}/{name}"), data, 0o755);
    }
    Ok(())
}

/// A module file's content, decompressed when it is `.ko.xz`.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|x| x == "xz") {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut bytes.as_slice(), &mut out)
            .map_err(|e| format!("{}: xz: {e}", path.display()))?;
        return Ok(out);
    }
    Ok(bytes)
}

/// The value of `key` in a module's `.modinfo` strings (`key=value\0`).
fn modinfo(data: &[u8], key: &str) -> Option<String> {
    let needle = format!("{key}=");
    data.split(|b| *b == 0)
        .find_map(|s| s.strip_prefix(needle.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Adds module `name` (after its dependencies) to `done`, unless built in.
fn visit(
    name: &str,
    index: &BTreeMap<String, PathBuf>,
    builtin: &BTreeSet<String>,
    done: &mut Vec<String>,
    data: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let name = name.replace('-', "_");
    if done.contains(&name) || builtin.contains(&name) {
        return Ok(());
    }
    let path = index
        .get(&name)
        .ok_or_else(|| format!("kernel module {name} not found"))?;
    let bytes = read_module(path)?;
    for dep in modinfo(&bytes, "depends")
        .unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
    {
        visit(dep, index, builtin, done, data)?;
    }
    data.insert(name.clone(), bytes);
    done.push(name);
    Ok(())
}

/// Adds the wanted modules and their dependencies; returns the load order.
fn add_modules(ar: &mut Archive, root: &Root) -> Result<Vec<String>, String> {
    let tree = root.modules();
    let mut index: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut stack = vec![tree.join("kernel")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                if let Some(stem) = name
                    .strip_suffix(".ko")
                    .or_else(|| name.strip_suffix(".ko.xz"))
                {
                    index.insert(stem.replace('-', "_"), path.clone());
                }
            }
        }
    }
    let builtin = fs::read_to_string(tree.join("modules.builtin")).unwrap_or_default();
    let builtin: BTreeSet<String> = builtin
        .lines()
        .filter_map(|l| l.rsplit('/').next()?.strip_suffix(".ko"))
        .map(|m| m.replace('-', "_"))
        .collect();

    let mut order = Vec::new();
    let mut data = BTreeMap::new();
    for m in root.arch.modules() {
        visit(m, &index, &builtin, &mut order, &mut data)?;
    }
    for (name, bytes) in data {
        ar.file(&format!("lib/modules/{name}.ko"), bytes, 0o644);
    }
    Ok(order)
}

/// Assembles the initramfs: `payload` is `(guest path, host file)` of the test binaries,
/// `texts` `(guest path, contents)` of small files for `/init`.
pub fn build(
    root: &Root,
    payload: &[(&str, &Path)],
    texts: &[(&str, String)],
    out: &Path,
) -> Result<u64, String> {
    let mut ar = Archive::default();
    for d in [
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "mnt/ext4",
        "mnt/xfs",
        "etc/ndctl.conf.d",
        "etc/ndctl",
        "usr/bin",
        "sbin",
    ] {
        ar.dir(d);
    }
    ar.file("etc/mtab", Vec::new(), 0o644);
    add_busybox(&mut ar, root)?;
    for (src, name) in TOOLS {
        add_tool(&mut ar, root, src, name)?;
    }
    let order = add_modules(&mut ar, root)?;
    ar.file(
        "etc/dax-modules",
        (order.join("\n") + "\n").into_bytes(),
        0o644,
    );
    ar.file("init", INIT.as_bytes().to_vec(), 0o755);
    for (dest, host) in payload {
        ar.copy(dest, host, 0o755)?;
    }
    for (dest, text) in texts {
        ar.file(dest, text.clone().into_bytes(), 0o644);
    }
    ar.write(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a `newc` archive back: (name, mode, data) per entry.
    fn entries(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let field = |at: usize, i: usize| {
            let s = std::str::from_utf8(&bytes[at + 6 + 8 * i..at + 14 + 8 * i]).unwrap();
            usize::from_str_radix(s, 16).unwrap()
        };
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            assert_eq!(&bytes[at..at + 6], b"070701", "magic at {at}");
            let (mode, size, namesize) = (field(at, 1) as u32, field(at, 6), field(at, 11));
            let name = &bytes[at + 110..at + 110 + namesize - 1];
            assert_eq!(bytes[at + 110 + namesize - 1], 0);
            let data_at = (at + 110 + namesize).next_multiple_of(4);
            out.push((
                String::from_utf8(name.to_vec()).unwrap(),
                mode,
                bytes[data_at..data_at + size].to_vec(),
            ));
            at = (data_at + size).next_multiple_of(4);
        }
        out
    }

    #[test]
    fn newc_archive_round_trips() {
        let mut ar = Archive::default();
        ar.file("/usr/sbin/tool", b"hello".to_vec(), 0o755);
        ar.symlink("bin/sh", "busybox");
        ar.dir("mnt/ext4");
        let out = std::env::temp_dir().join(format!("dax-cpio-test-{}", std::process::id()));
        let len = ar.write(&out).unwrap();
        let bytes = fs::read(&out).unwrap();
        let _ = fs::remove_file(&out);
        assert_eq!(len as usize, bytes.len());
        let got = entries(&bytes);
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/sh",
                "mnt",
                "mnt/ext4",
                "usr",
                "usr/sbin",
                "usr/sbin/tool",
                "TRAILER!!!"
            ]
        );
        assert_eq!(got[1].1, 0o120_777);
        assert_eq!(got[1].2, b"busybox");
        assert_eq!(got[3].1, 0o040_755);
        assert_eq!(got[6].1, 0o100_755);
        assert_eq!(got[6].2, b"hello");
    }

    #[test]
    fn elf_needs_reads_the_loader_and_the_libraries() {
        // this test program: dynamically linked against glibc
        let data = fs::read("/proc/self/exe").unwrap();
        let (interp, needed) = elf_needs(&data).unwrap();
        let interp = interp.expect("a PT_INTERP");
        assert!(
            interp.starts_with('/') && interp.contains("ld-linux"),
            "{interp}"
        );
        assert!(needed.iter().any(|n| n == "libc.so.6"), "{needed:?}");
        assert!(elf_needs(b"not an ELF file").is_err());
    }

    #[test]
    fn xz_modules_are_decompressed() {
        let module = b"\x7fELF...\0depends=libnvdimm\0".repeat(100);
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut module.as_slice(), &mut xz).unwrap();
        let dir = std::env::temp_dir().join(format!("dax-xz-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("m.ko.xz"), &xz).unwrap();
        fs::write(dir.join("m.ko"), &module).unwrap();
        fs::write(dir.join("bad.ko.xz"), b"not xz").unwrap();
        let got = (
            read_module(&dir.join("m.ko.xz")),
            read_module(&dir.join("m.ko")),
            read_module(&dir.join("bad.ko.xz")),
        );
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(got.0.unwrap(), module);
        assert_eq!(got.1.unwrap(), module);
        assert!(got.2.unwrap_err().contains("xz"));
    }

    #[test]
    fn modinfo_reads_one_key() {
        let data = b"\x7fELF...\0license=GPL\0depends=libnvdimm,dax\0name=nd_pmem\0";
        assert_eq!(modinfo(data, "depends").as_deref(), Some("libnvdimm,dax"));
        assert_eq!(modinfo(data, "name").as_deref(), Some("nd_pmem"));
        assert_eq!(modinfo(data, "alias"), None);
    }
}
