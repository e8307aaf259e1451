//! Builders of fake sysfs trees (feature `fake`), for the tests of this
//! crate and of its users. Every builder writes under a root directory the
//! caller owns (e.g. a `tempfile::TempDir`) and panics when it can't: they
//! are test fixtures.
#![allow(clippy::must_use_candidate)] // builders are mostly called for their side effect
#![allow(clippy::missing_panics_doc)] // every builder panics on I/O failure, as said above

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Writes `content` to `root/rel`, creating parent directories.
///
/// # Panics
/// If the file can't be written (test helper).
pub fn write(root: &Path, rel: &str, content: &str) -> PathBuf {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create fake sysfs dir");
    }
    fs::write(&path, content).expect("write fake sysfs file");
    path
}

/// Creates a directory `root/rel`.
///
/// # Panics
/// If the directory can't be created (test helper).
pub fn mkdir(root: &Path, rel: &str) -> PathBuf {
    let path = root.join(rel);
    fs::create_dir_all(&path).expect("create fake sysfs dir");
    path
}

/// Like [`region`], but the region's directory lives under
/// `devices/ndbus<bus>/` and `bus/nd/devices/regionN` links to it, as
/// in the real sysfs.
///
/// # Panics
/// If the link can't be made (test helper).
pub fn region_on_bus(root: &Path, bus: u32, id: u32, resource: u64, size: u64) {
    let real = mkdir(root, &format!("devices/ndbus{bus}/region{id}"));
    mkdir(root, "bus/nd/devices");
    symlink(&real, root.join(format!("bus/nd/devices/region{id}"))).expect("link fake region");
    region(root, id, resource, size, &[]);
}

/// A region `regionN` with `resource`, `size` and the given DIMMs as
/// mappings.
pub fn region(root: &Path, id: u32, resource: u64, size: u64, dimms: &[&str]) {
    let r = format!("bus/nd/devices/region{id}");
    write(root, &format!("{r}/resource"), &format!("{resource:#x}\n"));
    write(root, &format!("{r}/size"), &format!("{size}\n"));
    write(
        root,
        &format!("{r}/mappings"),
        &format!("{}\n", dimms.len()),
    );
    for (k, d) in dimms.iter().enumerate() {
        write(
            root,
            &format!("{r}/mapping{k}"),
            &format!("{d},0,{size},{k}\n"),
        );
    }
}

/// An fsdax namespace `namespaceR.M` claimed by `pfnR.M` exposing block
/// device `bdev` with device number `maj:min`; the pfn data area starts
/// at `resource` and is `size` bytes.
#[allow(clippy::too_many_arguments)] // a test fixture with one argument per attribute
pub fn fsdax_namespace(
    root: &Path,
    region: u32,
    ns: u32,
    bdev: &str,
    maj_min: &str,
    resource: u64,
    size: u64,
) {
    let n = format!("bus/nd/devices/namespace{region}.{ns}");
    let p = format!("bus/nd/devices/pfn{region}.{ns}");
    write(root, &format!("{n}/mode"), "fsdax\n");
    write(root, &format!("{n}/holder"), &format!("pfn{region}.{ns}\n"));
    write(root, &format!("{n}/resource"), &format!("{resource:#x}\n"));
    write(root, &format!("{n}/size"), &format!("{size}\n"));
    write(root, &format!("{p}/resource"), &format!("{resource:#x}\n"));
    write(root, &format!("{p}/size"), &format!("{size}\n"));
    mkdir(root, &format!("{p}/block/{bdev}"));
    write(root, &format!("block/{bdev}/dev"), &format!("{maj_min}\n"));
}

/// A devdax namespace `namespaceR.M` claimed by `daxR.M` exposing char
/// device `daxR.M` with device number `maj:min`; the dax data area
/// starts at `resource` and is `size` bytes.
pub fn devdax_namespace(
    root: &Path,
    region: u32,
    ns: u32,
    maj_min: &str,
    resource: u64,
    size: u64,
) {
    let n = format!("bus/nd/devices/namespace{region}.{ns}");
    let d = format!("bus/nd/devices/dax{region}.{ns}");
    write(root, &format!("{n}/mode"), "devdax\n");
    write(root, &format!("{n}/holder"), &format!("dax{region}.{ns}\n"));
    write(root, &format!("{n}/resource"), &format!("{resource:#x}\n"));
    write(root, &format!("{n}/size"), &format!("{size}\n"));
    write(root, &format!("{d}/resource"), &format!("{resource:#x}\n"));
    write(root, &format!("{d}/size"), &format!("{size}\n"));
    write(
        root,
        &format!("{d}/dax{region}.{ns}/dev"),
        &format!("{maj_min}\n"),
    );
}

/// A DIMM `name` with optional `nfit/id` and `nfit/dirty_shutdown`.
pub fn dimm(root: &Path, name: &str, id: Option<&str>, dirty_shutdown: Option<&str>) {
    let d = format!("bus/nd/devices/{name}");
    mkdir(root, &d);
    if let Some(id) = id {
        write(root, &format!("{d}/nfit/id"), &format!("{id}\n"));
    }
    if let Some(usc) = dirty_shutdown {
        write(
            root,
            &format!("{d}/nfit/dirty_shutdown"),
            &format!("{usc}\n"),
        );
    }
}

/// A device DAX `252:3` (`dax3.0` in region 3) with the given `size` and,
/// when given, its own `align` and its region's `dax_region/align`; and a
/// character device `1:3` of another subsystem (`mem`).
pub fn device_dax(root: &Path, size: &str, own_align: Option<&str>, region_align: Option<&str>) {
    let dax_dev = mkdir(
        root,
        "devices/platform/ACPI0012:00/ndbus0/region3/dax3.0/dax/dax3.0",
    );
    mkdir(root, "class/dax");
    mkdir(root, "class/mem");
    mkdir(root, "dev/char");
    symlink(root.join("class/dax"), dax_dev.join("subsystem")).expect("link subsystem");
    fs::write(dax_dev.join("size"), size).expect("write size");
    if let Some(a) = own_align {
        fs::write(dax_dev.join("align"), a).expect("write align");
    }
    if let Some(a) = region_align {
        write(
            root,
            "devices/platform/ACPI0012:00/ndbus0/region3/dax3.0/dax_region/align",
            a,
        );
    }
    symlink(&dax_dev, root.join("dev/char/252:3")).expect("link 252:3");
    let null = mkdir(root, "devices/virtual/mem/null");
    symlink(root.join("class/mem"), null.join("subsystem")).expect("link subsystem");
    symlink(&null, root.join("dev/char/1:3")).expect("link 1:3");
}
