//! Fuzzing of the sysfs readers (`pmem2_nvdimm`) over a fake sysfs tree.
//!
//! The tree (two NVDIMM regions, an fsdax and a devdax namespace, three
//! DIMMs, a device DAX character device) is fixed; its attribute files hold
//! valid content except where a record of the input makes one absent, a
//! directory, or arbitrary bytes. Every public reader runs on it: `eadr::regions`,
//! `eadr::is_eadr`, `dax::is_device_dax`/`device_dax_size`/
//! `device_dax_alignment`, `Sysfs::regions`/`namespaces`/`find` with the
//! region, namespace and DIMM attribute readers, and `nd::read_badblocks`.
//!
//! Checked: nothing panics; every error, converted into `pmem2::Error` as
//! pmem2 converts it, has a message and a negative code that is a
//! `PMEM2_E_*` value or `-errno`; and where the expected value is
//! known independently it matches: numbers (a reference parser of sysfs
//! numbers), bad-block lists, NUMA node, persistence domain, dirty shutdown
//! count, eADR, the region list, and what `find` reports.
#![no_main]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pmem2::Error;
use pmem2_fuzz::Reader;
use pmem2_nvdimm::nd::{self, Device, PersistenceDomain, Region, SectorRange, Sysfs};
use pmem2_nvdimm::{dax, eadr};

/// Converts a reader's error as pmem2 does and checks it with
/// [`pmem2_fuzz::check_error`].
fn checked<T>(what: &str, result: pmem2_nvdimm::Result<T>) -> pmem2::Result<T> {
    pmem2_fuzz::checked(what, result.map_err(Error::from))
}

/// Region 0's directory.
const R0: &str = "bus/nd/devices/region0";
/// Region 1's directory (really under `devices/ndbus0`, linked).
const R1: &str = "bus/nd/devices/region1";
/// The device DAX's sysfs directory.
const DAXDEV: &str = "devices/ndbus0/region1/dax1.0/dax1.0";

/// Every attribute file of the tree, with its valid content.
const ATTRS: &[(&str, &str)] = &[
    ("bus/nd/devices/region0/resource", "0x100000000\n"),
    ("bus/nd/devices/region0/size", "1073741824\n"),
    ("bus/nd/devices/region0/numa_node", "0\n"),
    ("bus/nd/devices/region0/badblocks", "8 16\n1024 1\n"),
    ("bus/nd/devices/region0/deep_flush", "1\n"),
    ("bus/nd/devices/region0/persistence_domain", "cpu_cache\n"),
    ("bus/nd/devices/region0/mappings", "2\n"),
    ("bus/nd/devices/region0/mapping0", "nmem0,0,536870912,0\n"),
    ("bus/nd/devices/region0/mapping1", "nmem1,0,536870912,1\n"),
    ("devices/ndbus0/region1/resource", "0x200000000\n"),
    ("devices/ndbus0/region1/size", "0x40000000\n"),
    ("devices/ndbus0/region1/numa_node", "-1\n"),
    ("devices/ndbus0/region1/badblocks", ""),
    (
        "devices/ndbus0/region1/persistence_domain",
        "memory_controller\n",
    ),
    ("devices/ndbus0/region1/mappings", "1\n"),
    ("devices/ndbus0/region1/mapping0", "nmem2,0,1073741824,0\n"),
    ("bus/nd/devices/namespace0.0/mode", "fsdax\n"),
    ("bus/nd/devices/namespace0.0/holder", "pfn0.0\n"),
    ("bus/nd/devices/namespace0.0/resource", "0x100000000\n"),
    ("bus/nd/devices/namespace0.0/size", "1073741824\n"),
    ("bus/nd/devices/pfn0.0/resource", "0x100200000\n"),
    ("bus/nd/devices/pfn0.0/size", "1071644672\n"),
    ("block/pmem0/dev", "259:0\n"),
    ("block/pmem0/badblocks", "0 8\n"),
    ("bus/nd/devices/namespace1.0/mode", "devdax\n"),
    ("bus/nd/devices/namespace1.0/holder", "dax1.0\n"),
    ("bus/nd/devices/namespace1.0/resource", "0x200000000\n"),
    ("bus/nd/devices/namespace1.0/size", "0x40000000\n"),
    ("bus/nd/devices/dax1.0/resource", "0x200200000\n"),
    ("bus/nd/devices/dax1.0/size", "1071644672\n"),
    ("devices/ndbus0/region1/dax1.0/dax1.0/dev", "252:3\n"),
    ("devices/ndbus0/region1/dax1.0/dax1.0/size", "1071644672\n"),
    ("devices/ndbus0/region1/dax1.0/dax1.0/align", "2097152\n"),
    ("devices/ndbus0/region1/dax1.0/dax_region/align", "200000\n"),
    ("bus/nd/devices/nmem0/nfit/id", "8089-a2-1809-00000107\n"),
    ("bus/nd/devices/nmem0/nfit/dirty_shutdown", "3\n"),
    ("bus/nd/devices/nmem1/papr/id", "IBM-7f5f-0001\n"),
    ("bus/nd/devices/nmem1/papr/dirty_shutdown", "-1\n"),
    ("bus/nd/devices/nmem2/nfit/dirty_shutdown", "0x10\n"),
];

/// At most this many attribute changes per input.
const MAX_RECORDS: usize = 16;

/// What an input makes of one attribute file.
#[derive(Debug, Clone)]
enum Choice {
    /// No file.
    Absent,
    /// A directory where the file should be.
    Directory,
    /// The valid content from [`ATTRS`].
    Valid,
    /// These bytes.
    Bytes(Vec<u8>),
}

/// The content of each attribute: `None` when absent or a directory.
type Contents = HashMap<&'static str, Option<Vec<u8>>>;

/// Builds the tree under `root`, the attributes' content chosen by `r`.
fn build(root: &Path, r: &mut Reader<'_>, region1: bool) -> Contents {
    let mkdir = |rel: &str| fs::create_dir_all(root.join(rel)).expect("mkdir");
    for dir in [
        R0,
        "devices/ndbus0/region1/dax1.0/dax_region",
        DAXDEV,
        "bus/nd/devices/pfn0.0/block/pmem0",
        "bus/nd/devices/dax1.0",
        "bus/nd/devices/nmem0/nfit",
        "bus/nd/devices/nmem1/papr",
        "bus/nd/devices/nmem2/nfit",
        "block/pmem0",
        "class/dax",
        "dev/char",
    ] {
        mkdir(dir);
    }
    if region1 {
        symlink(root.join("devices/ndbus0/region1"), root.join(R1)).expect("link region1");
    }
    symlink(root.join("class/dax"), root.join(DAXDEV).join("subsystem")).expect("link subsystem");
    symlink(root.join(DAXDEV), root.join("dev/char/252:3")).expect("link char dev");
    // Region 1's own devdax link: `bus/nd/devices/dax1.0/dax1.0` is the char device.
    symlink(root.join(DAXDEV), root.join("bus/nd/devices/dax1.0/dax1.0")).expect("link dax");

    // Every attribute is valid unless a record of the input changes it:
    // (attribute index, kind, [length, bytes]); a later record wins.
    let mut chosen: Vec<Option<Choice>> = vec![None; ATTRS.len()];
    for _ in 0..MAX_RECORDS {
        if r.is_empty() {
            break;
        }
        let index = usize::from(r.u8()) % ATTRS.len();
        chosen[index] = Some(match r.u8() % 4 {
            0 => Choice::Absent,
            1 => Choice::Directory,
            2 => Choice::Valid,
            _ => {
                let len = usize::from(r.u8());
                Choice::Bytes(r.bytes(len).to_vec())
            }
        });
    }
    let mut contents = Contents::new();
    for (&(rel, valid), choice) in ATTRS.iter().zip(chosen) {
        let path = root.join(rel);
        let content = match choice.unwrap_or(Choice::Valid) {
            Choice::Absent => None,
            Choice::Directory => {
                fs::create_dir_all(&path).expect("attribute as a directory");
                None
            }
            Choice::Valid => Some(valid.as_bytes().to_vec()),
            Choice::Bytes(bytes) => Some(bytes),
        };
        if let Some(bytes) = &content {
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, bytes).expect("write attribute");
        }
        contents.insert(rel, content);
    }
    contents
}

/// The content of an attribute as text with trailing newlines removed, as
/// the nd readers see it; `None` if absent, a directory or not UTF-8.
fn text(c: &Contents, rel: &str) -> Option<String> {
    let bytes = c.get(rel).expect("known attribute").as_ref()?;
    let mut s = String::from_utf8(bytes.clone()).ok()?;
    while s.ends_with('\n') {
        s.pop();
    }
    Some(s)
}

/// Reference parser of a sysfs unsigned number: decimal or `0x` hex,
/// surrounding whitespace ignored, no sign, no overflow.
fn ref_u64(s: &str) -> Option<u64> {
    let t = s.trim();
    let (radix, digits) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (16, hex),
        None => (10, t),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Reference parser of a signed decimal (NUMA node, dirty shutdown count).
fn ref_i64(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(u64::MAX) {
            return None;
        }
    }
    i64::try_from(if neg { -v } else { v }).ok()
}

/// Reference parser of a bad-block list; `None` when malformed.
fn ref_badblocks(s: &str) -> Option<Vec<SectorRange>> {
    let mut out = Vec::new();
    for line in s.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [] => {}
            [sector, count] => {
                let (sector, count) = (ref_u64(sector)?, ref_u64(count)?);
                sector.checked_mul(512)?;
                count.checked_mul(512)?;
                sector.checked_add(count)?;
                out.push(SectorRange { sector, count });
            }
            _ => return None,
        }
    }
    Some(out)
}

/// C's `strtoull(text, &end, base)` followed by PMDK's checks: something
/// was converted, `*end == '\n'`, no `ERANGE` overflow. Returns the value
/// and the index of that newline.
fn c_strtoull_newline(bytes: &[u8], base: i32) -> Option<(u64, usize)> {
    let text = std::ffi::CString::new(bytes).ok()?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `__errno_location` returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: `text` is NUL-terminated and outlives the call; `end` is a
    // valid place for the end pointer.
    let value = unsafe { libc::strtoull(text.as_ptr(), &raw mut end, base) };
    // SAFETY: as above.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: strtoull sets `end` to a position within `text` (or its start),
    // one allocation.
    let index = usize::try_from(unsafe { end.offset_from(text.as_ptr()) }).ok()?;
    if index == 0 || bytes.get(index) != Some(&b'\n') {
        return None;
    }
    if value == u64::MAX && errno == libc::ERANGE {
        return None;
    }
    Some((value, index))
}

/// What PMDK parses of an attribute: at most 64 bytes, up to a NUL.
fn pmdk_read(bytes: &[u8]) -> &[u8] {
    let bytes = &bytes[..bytes.len().min(64)];
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |nul| &bytes[..nul])
}

/// PMDK's reading of a device alignment: base 10, and base 16 when the
/// decimal value isn't a power of two.
fn c_alignment(bytes: &[u8]) -> Option<u64> {
    let read = pmdk_read(bytes);
    c_strtoull_newline(read, 10).and_then(|(v, _)| {
        if v.is_power_of_two() {
            Some(v)
        } else {
            c_strtoull_newline(read, 16).map(|(v, _)| v)
        }
    })
}

/// Compares a number read by pmem2 with the reference reading of `rel`.
fn check_number(what: &str, c: &Contents, rel: &str, got: &Result<u64, Error>) {
    let want = text(c, rel).and_then(|s| ref_u64(&s));
    match (got, want) {
        (Ok(v), Some(w)) => assert_eq!(*v, w, "{what}: {rel}"),
        (Err(_), None) => {}
        (got, want) => panic!("{what}: {rel} = {:?}: got {got:?}, want {want:?}", c[rel]),
    }
}

/// Checks `eadr::regions` and `eadr::is_eadr`.
fn check_regions_eadr(root: &Path, c: &Contents, region1: bool) {
    let mut want = vec![("region0", "bus/nd/devices/region0/persistence_domain")];
    if region1 {
        want.push(("region1", "devices/ndbus0/region1/persistence_domain"));
    }
    let got = eadr::regions(root);
    assert_eq!(got.len(), want.len(), "eadr::regions: {got:?}");
    for (g, (name, rel)) in got.iter().zip(&want) {
        assert_eq!(g.name, *name);
        // At most 32 bytes of text ending in one newline, which is dropped.
        let domain = c[rel]
            .as_ref()
            .filter(|b| b.len() <= 32)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.strip_suffix('\n'))
            .map(str::to_owned);
        assert_eq!(g.persistence_domain, domain, "eadr::regions: {rel}");
    }
    let eadr = want
        .iter()
        .all(|(_, rel)| c[rel].as_deref() == Some(b"cpu_cache\n".as_slice()));
    assert_eq!(eadr::is_eadr(root), eadr, "eadr::is_eadr");
}

/// Checks the device DAX readers.
fn check_dax(root: &Path, c: &Contents) {
    assert!(checked("is_device_dax", dax::is_device_dax(root, 252, 3)).expect("resolvable"));
    let missing = checked("is_device_dax(1:3)", dax::is_device_dax(root, 1, 3));
    assert!(missing.is_err(), "a missing char device");

    let size_rel = "devices/ndbus0/region1/dax1.0/dax1.0/size";
    let size = checked("device_dax_size", dax::device_dax_size(root, 252, 3));
    // Differential against C: PMDK reads up to 64 bytes of the size (a C
    // string: a NUL ends it) with strtoull(base 0) and requires a newline
    // right after the number. pmem2 must agree on every input.
    if let Some(bytes) = c[size_rel].as_deref() {
        let want = c_strtoull_newline(pmdk_read(bytes), 0).map(|(v, _)| v);
        match (&size, want) {
            (Ok(got), Some(v)) => assert_eq!(*got as u64, v, "device_dax_size of {bytes:?}"),
            (Err(_), None) => {}
            (got, want) => panic!("device_dax_size of {bytes:?}: got {got:?}, C reads {want:?}"),
        }
    }
    let own = "devices/ndbus0/region1/dax1.0/dax1.0/align";
    let region = "devices/ndbus0/region1/dax1.0/dax_region/align";
    match checked(
        "device_dax_alignment",
        dax::device_dax_alignment(root, 252, 3),
    ) {
        Ok(align) => {
            assert!(
                c[own].is_some() || c[region].is_some(),
                "alignment {align} without an attribute"
            );
            if c[own].as_deref() == Some(b"2097152\n".as_slice())
                || (c[own].is_none() && c[region].as_deref() == Some(b"200000\n".as_slice()))
            {
                assert_eq!(align, 2_097_152);
            }
            // Differential against C when the device's own attribute was
            // read: strtoull base 10, and base 16 if that isn't a power of two.
            if let Some(bytes) = c[own].as_deref() {
                assert_eq!(
                    Some(align as u64),
                    c_alignment(bytes),
                    "device_dax_alignment of {bytes:?}"
                );
            }
        }
        Err(e) => {
            if let Some(bytes) = c[own].as_deref() {
                assert_eq!(
                    c_alignment(bytes),
                    None,
                    "own alignment {bytes:?} refused: {e}"
                );
            }
        }
    }
}

/// Checks every attribute reader of one region, its DIMMs and namespaces.
fn check_region(root: &Path, c: &Contents, sysfs: &Sysfs, region: &Region) {
    let base = if region.id == 0 {
        "bus/nd/devices/region0"
    } else {
        "devices/ndbus0/region1"
    };
    let attr = |name: &str| -> &'static str {
        let rel = format!("{base}/{name}");
        ATTRS
            .iter()
            .find(|(p, _)| *p == rel)
            .map(|(p, _)| *p)
            .expect("attribute in the table")
    };
    check_number(
        "Region::resource",
        c,
        attr("resource"),
        &checked("resource", region.resource()),
    );
    check_number(
        "Region::size",
        c,
        attr("size"),
        &checked("size", region.size()),
    );

    let numa = checked("Region::numa_node", region.numa_node());
    if c[attr("numa_node")].is_some() {
        let want = text(c, attr("numa_node"))
            .and_then(|s| ref_i64(&s))
            .and_then(|n| i32::try_from(n).ok());
        assert_eq!(numa.as_ref().ok().copied(), want, "numa_node");
    }
    if !root.join(attr("numa_node")).exists() {
        assert_eq!(numa.ok(), Some(-1), "absent numa_node");
    }

    let bb = checked("Region::badblocks", region.badblocks());
    if let Some(s) = text(c, attr("badblocks")) {
        assert_eq!(bb.ok(), ref_badblocks(&s), "badblocks {s:?}");
    } else if !root.join(attr("badblocks")).exists() {
        assert_eq!(bb.ok(), Some(vec![]), "absent badblocks");
    }

    let pd = checked("Region::persistence_domain", region.persistence_domain());
    if let Some(s) = text(c, attr("persistence_domain")) {
        let want = match s.trim() {
            "cpu_cache" => Some(Some(PersistenceDomain::CpuCache)),
            "memory_controller" => Some(Some(PersistenceDomain::MemoryController)),
            "" => Some(Some(PersistenceDomain::None)),
            _ => None,
        };
        assert_eq!(pd.ok(), want, "persistence_domain {s:?}");
    }
    let _ = region.bus_id();

    if let Ok(dimms) = checked("Region::dimms", region.dimms(sysfs)) {
        let count = text(c, attr("mappings")).and_then(|s| ref_u64(&s));
        assert_eq!(Some(dimms.len() as u64), count, "dimm count");
        for dimm in &dimms {
            assert!(dimm.name.starts_with("nmem"));
            let _ = checked("Dimm::unique_id", dimm.unique_id());
            let dsc = checked("Dimm::dirty_shutdown", dimm.dirty_shutdown());
            if let Ok(Some(n)) = dsc {
                let file = ["nfit", "papr"]
                    .iter()
                    .map(|bus| format!("bus/nd/devices/{}/{bus}/dirty_shutdown", dimm.name))
                    .find_map(|rel| ATTRS.iter().find(|(p, _)| *p == rel).map(|(p, _)| *p))
                    .expect("a dirty_shutdown was read from a known file");
                let s = text(c, file).expect("readable");
                let want = ref_i64(&s)
                    .filter(|&v| v >= 0)
                    .map(|v| v as u64)
                    .or_else(|| ref_u64(&s));
                assert_eq!(Some(n), want, "dirty_shutdown {s:?}");
            }
        }
    }

    if let Ok(namespaces) = checked("Sysfs::namespaces", sysfs.namespaces(region)) {
        for ns in &namespaces {
            assert!(ns.name.starts_with(&format!("namespace{}.", region.id)));
            let _ = ns.kind();
            let _ = checked("Namespace::bounds", ns.bounds(sysfs, region));
            let _ = checked("namespace_block_device", sysfs.namespace_block_device(ns));
            let _ = checked("namespace_dax_devices", sysfs.namespace_dax_devices(ns));
        }
    }
}

/// Checks the nd model: regions, bad blocks, `find`.
fn check_nd(root: &Path, c: &Contents, region1: bool, fuzzed: u64) {
    let sysfs = Sysfs::new(root);
    let found = checked("Sysfs::regions", sysfs.regions()).expect("listable");
    let ids: Vec<u32> = found.iter().map(|r| r.id).collect();
    assert_eq!(ids, if region1 { vec![0, 1] } else { vec![0] });

    for region in &found {
        check_region(root, c, &sysfs, region);
    }

    let bb = checked(
        "nd::read_badblocks",
        nd::read_badblocks(&root.join("block/pmem0/badblocks")),
    );
    if let Some(s) = text(c, "block/pmem0/badblocks") {
        assert_eq!(bb.ok(), ref_badblocks(&s), "block badblocks {s:?}");
    }

    for device in [
        Device::File {
            dev: libc::makedev(259, 0),
        },
        Device::DeviceDax {
            rdev: libc::makedev(252, 3),
        },
        Device::File { dev: fuzzed },
        Device::DeviceDax { rdev: fuzzed },
    ] {
        if let Ok(Some(m)) = checked("Sysfs::find", sysfs.find(device)) {
            match device {
                Device::File { dev } => {
                    let want = format!("{}:{}", libc::major(dev), libc::minor(dev));
                    let bdev = m.block_device.expect("a block device");
                    let found = fs::read_to_string(root.join("block").join(&bdev).join("dev"))
                        .expect("the matched dev file");
                    assert_eq!(found, format!("{want}\n"), "find matched {bdev}");
                }
                Device::DeviceDax { .. } => assert!(m.dax_device.is_some(), "a dax device"),
            }
            assert!(ids.contains(&m.region.id));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // tmpfs when there is one: the tree is rebuilt for every input.
    let dir = tempfile::Builder::new()
        .prefix("pmem2-fuzz-sysfs")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary directory");
    let root = dir.path();
    let mut r = Reader::new(data);
    let region1 = r.u8() & 1 == 0;
    let fuzzed = libc::makedev(u32::from(r.u16()), u32::from(r.u16()));
    let contents = build(root, &mut r, region1);
    check_regions_eadr(root, &contents, region1);
    check_dax(root, &contents);
    check_nd(root, &contents, region1, fuzzed);
});
