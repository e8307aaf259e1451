//! RAS checks on real DAX (emulated NVDIMMs in the `cargo xtask dax-test`
//! guest): deep flush, bad blocks (injected), mcsafe I/O, device DAX
//! geometry, NUMA node and unsafe shutdown count. Registered in the DAX
//! suite's `TESTS` table (`tests/dax.rs`).
//!
//! Every case returns `Ok(detail)` or `Err(why)`. `fsdax_bad_block` must run
//! **last** in a boot: an emulated NVDIMM can't clear poison (no firmware
//! clear-error command), so the injected bad sector stays bad until reboot.
#![allow(dead_code)] // each includer uses a subset

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use pmem2::{BadBlock, BadBlockContext, Config, FileType, Granularity, Map, Source};
use pmem2_ffi::codes::{
    PMEM2_E_DEEP_FLUSH_RANGE, PMEM2_E_IO_FAIL, PMEM2_E_LENGTH_OUT_OF_RANGE, PMEM2_E_NOSUPP,
};
use pmem2_nvdimm::nd::{Device, NdMatch, Sysfs};

/// `Ok(detail)` or `Err(why)`.
pub type Outcome = Result<String, String>;

const MIB: usize = 1 << 20;

fn e2s(what: &str) -> impl Fn(pmem2::Error) -> String + '_ {
    move |e| format!("{what}: {} ({e})", e.code_name())
}

fn file_in(dir: &Path, name: &str, size: usize, byte: u8) -> Result<File, String> {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, vec![byte; size])
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", path.display()))?;
    Ok(file)
}

fn open_dev(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))
}

fn expect_code<T>(r: pmem2::Result<T>, code: i32, what: &str) -> Result<(), String> {
    match r {
        Ok(_) => Err(format!("{what}: succeeded, expected {code}")),
        Err(e) if e.code() == code => Ok(()),
        Err(e) => Err(format!("{what}: {} ({e}), expected {code}", e.code_name())),
    }
}

/// The region and namespace holding a source, from `/sys`.
fn nd_match(source: &Source<'_>) -> Result<NdMatch, String> {
    let fd = source.fd().map_err(|e| format!("fd: {e}"))?;
    let owned = fd.try_clone_to_owned().map_err(|e| format!("dup: {e}"))?;
    let stat = File::from(owned)
        .metadata()
        .map_err(|e| format!("fstat: {e}"))?;
    let device = match source.file_type() {
        FileType::DeviceDax => Device::DeviceDax { rdev: stat.rdev() },
        _ => Device::File { dev: stat.dev() },
    };
    Sysfs::default()
        .find(device)
        .map_err(|e| format!("find: {e}"))?
        .ok_or_else(|| "no NVDIMM region or namespace holds the source".to_string())
}

/// The test's own reading of a file's extents (`FS_IOC_FIEMAP`), to place
/// a bad sector under a chosen file offset; independent of pmem2's.
mod fiemap {
    use std::os::fd::BorrowedFd;

    /// `length` bytes at file offset `logical` are at device byte `physical`.
    #[derive(Debug, Clone, Copy)]
    pub struct Extent {
        pub logical: u64,
        pub physical: u64,
        pub length: u64,
    }

    /// `struct fiemap` with room for 32 `struct fiemap_extent`s (56 bytes
    /// each: logical, physical, length, 2 reserved u64, flags, 3 reserved u32).
    #[repr(C)]
    struct Buf {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [[u64; 7]; 32],
    }

    /// `_IOWR('f', 11, struct fiemap)` (the 32-byte header).
    const FS_IOC_FIEMAP: rustix::ioctl::Opcode =
        rustix::ioctl::opcode::read_write::<[u64; 4]>(b'f', 11);

    /// The extents of the first `size` bytes (at most 32).
    pub fn extents(fd: BorrowedFd<'_>, size: u64) -> Result<Vec<Extent>, String> {
        let mut buf = Buf {
            start: 0,
            length: size,
            flags: 0,
            mapped_extents: 0,
            extent_count: 32,
            reserved: 0,
            extents: [[0; 7]; 32],
        };
        // SAFETY: FS_IOC_FIEMAP reads the header and writes at most
        // `extent_count` (32) extents after it, which `Buf` has room for;
        // `buf` lives for the whole call.
        let ioctl = unsafe { rustix::ioctl::Updater::<FS_IOC_FIEMAP, Buf>::new(&mut buf) };
        // SAFETY: the opcode and the buffer type match, as said above.
        unsafe { rustix::ioctl::ioctl(fd, ioctl) }.map_err(|e| format!("FIEMAP: {e}"))?;
        let mapped = (buf.mapped_extents as usize).min(32);
        Ok(buf.extents[..mapped]
            .iter()
            .map(|e| Extent {
                logical: e[0],
                physical: e[1],
                length: e[2],
            })
            .collect())
    }
}

/// Deep flush through a map of `[offset, offset + 4 MiB)` of `source`.
fn deep_flush_common(source: &Source<'_>, offset: usize) -> Outcome {
    let mut config = Config::with_granularity(Granularity::Page);
    config
        .set_offset(offset)
        .map_err(e2s("set_offset"))?
        .set_length(4 * MIB);
    let mut map = Map::new(&config, source).map_err(e2s("Map::new"))?;
    let len = map.size().min(4 * MIB);
    map.write(0, &vec![0x5a; 4096]).map_err(e2s("write"))?;
    map.deep_flush(0, len).map_err(e2s("deep_flush"))?;
    map.deep_flush(100, 10)
        .map_err(e2s("deep_flush unaligned"))?;
    expect_code(
        map.deep_flush(1, map.size()),
        PMEM2_E_DEEP_FLUSH_RANGE,
        "deep_flush past the end",
    )?;
    Ok(format!("{:?}", map.store_granularity()))
}

/// Deep flush of an fsdax file mapping: `msync` for cache-line granularity.
pub fn fsdax_deep_flush(dir: &Path) -> Outcome {
    let file = file_in(dir, "pmem2-ras-deep-flush", 4 * MIB, 0)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    deep_flush_common(&source, 0)
}

/// Deep flush of a device DAX mapping: CPU flush and `regionN/deep_flush`.
pub fn devdax_deep_flush(dev: &Path) -> Outcome {
    let file = open_dev(dev)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    // Far from the start of the device, where the persistence test keeps
    // the data it checks after the power cut.
    let detail = deep_flush_common(&source, 64 * MIB)?;
    let m = nd_match(&source)?;
    let df = std::fs::read_to_string(m.region.deep_flush_path()).unwrap_or_default();
    Ok(format!(
        "{detail}, region{} deep_flush={:?}",
        m.region.id,
        df.trim()
    ))
}

fn identity(source: &Source<'_>) -> Outcome {
    let numa = source.numa_node().map_err(e2s("numa_node"))?;
    if numa < -1 {
        return Err(format!("numa_node {numa}"));
    }
    let usc = match source.device_usc() {
        Ok(n) => n.to_string(),
        Err(e) if e.code() == PMEM2_E_NOSUPP => "NOSUPP".into(),
        Err(e) => return Err(format!("device_usc: {} ({e})", e.code_name())),
    };
    let id = match source.device_id() {
        Ok(id) => id,
        Err(e) if e.code() == PMEM2_E_NOSUPP => "NOSUPP".into(),
        Err(e) => return Err(format!("device_id: {} ({e})", e.code_name())),
    };
    Ok(format!("numa={numa} usc={usc} id={id}"))
}

/// NUMA node, unsafe shutdown count (NOSUPP on emulated NVDIMMs) and device
/// id of an fsdax file.
pub fn fsdax_identity(dir: &Path) -> Outcome {
    let file = file_in(dir, "pmem2-ras-identity", MIB, 0)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    identity(&source)
}

/// Device DAX size, alignment and NUMA node agree with sysfs.
pub fn devdax_geometry(dev: &Path) -> Outcome {
    let file = open_dev(dev)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    let size = source.size().map_err(e2s("size"))?;
    let align = source.alignment().map_err(e2s("alignment"))?;
    if !align.is_power_of_two() || size % align != 0 {
        return Err(format!("size {size} alignment {align}"));
    }
    let m = nd_match(&source)?;
    let (ns_off, ns_size) = m
        .namespace
        .bounds(&Sysfs::default(), &m.region)
        .map_err(|e| format!("bounds: {e}"))?;
    if size as u64 > ns_size {
        return Err(format!("size {size} > namespace data size {ns_size}"));
    }
    let numa = source.numa_node().map_err(e2s("numa_node"))?;
    let region_numa = m
        .region
        .numa_node()
        .map_err(|e| format!("region numa_node: {e}"))?;
    if numa != region_numa {
        return Err(format!("numa {numa} != region's {region_numa}"));
    }
    Ok(format!(
        "size={size} align={align} numa={numa} region{} ns_off={ns_off:#x}",
        m.region.id
    ))
}

/// Machine-check-safe write and read back near the end of a device DAX;
/// past the end is `LENGTH_OUT_OF_RANGE`.
pub fn devdax_mcsafe(dev: &Path) -> Outcome {
    let file = open_dev(dev)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    let size = source.size().map_err(e2s("size"))?;
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
    let off = size - 1000;
    // The persistence test checks the device's last page after the power
    // cut: keep what is there and put it back.
    let mut saved = vec![0u8; data.len()];
    source
        .pread_mcsafe(&mut saved, off)
        .map_err(e2s("pread_mcsafe"))?;
    source
        .pwrite_mcsafe(&data, off)
        .map_err(e2s("pwrite_mcsafe"))?;
    let mut back = vec![0u8; data.len()];
    source
        .pread_mcsafe(&mut back, off)
        .map_err(e2s("pread_mcsafe"))?;
    source
        .pwrite_mcsafe(&saved, off)
        .map_err(e2s("pwrite_mcsafe (restore)"))?;
    if back != data {
        return Err("read back differs".into());
    }
    expect_code(
        source.pread_mcsafe(&mut back, size - 10),
        PMEM2_E_LENGTH_OUT_OF_RANGE,
        "pread past the end",
    )?;
    Ok(format!("300 bytes at {off}"))
}

/// The bad-block iterator works on a device DAX; emulated NVDIMMs have no
/// unsafe shutdown count. (Bad blocks can't be injected into a device DAX
/// without firmware error injection, so clearing is not exercised here.)
pub fn devdax_bad_blocks_and_usc(dev: &Path) -> Outcome {
    let file = open_dev(dev)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    let ctx = BadBlockContext::new(&source).map_err(e2s("BadBlockContext::new"))?;
    let bbs: Vec<BadBlock> = ctx
        .collect::<pmem2::Result<_>>()
        .map_err(e2s("bad block"))?;
    let detail = identity(&source)?;
    Ok(format!("{} bad blocks, {detail}", bbs.len()))
}

/// Injects a bad sector under a file (`/sys/block/pmemX/badblocks`), then:
/// the context reports it at the right file offset, `pread_mcsafe` over it
/// fails with `IO_FAIL`, and after `clear` the range reads (as zeros).
/// Writing after the clear is reported in the detail: it succeeds when the
/// file system allocated a fresh block, and fails when it reused the
/// poisoned one (emulated NVDIMMs can't clear poison).
pub fn fsdax_bad_block(dir: &Path) -> Outcome {
    const SIZE: usize = 2 * MIB;
    let file = file_in(dir, "pmem2-ras-badblock", SIZE, 0xc3)?;
    let source = Source::from_file(&file).map_err(e2s("Source"))?;
    let m = nd_match(&source)?;
    let bdev = m.block_device.ok_or("no block device for the namespace")?;
    let exts = fiemap::extents(file.as_fd(), SIZE as u64)?;
    let want = MIB as u64 + 512;
    let ext = exts
        .iter()
        .find(|e| e.logical <= want && want < e.logical + e.length)
        .ok_or_else(|| format!("no extent holds offset {want}: {exts:?}"))?;
    let sector = (ext.physical + (want - ext.logical)) / 512;
    let bb_file = Path::new("/sys/block").join(&bdev).join("badblocks");
    std::fs::write(&bb_file, format!("{sector} 1\n"))
        .map_err(|e| format!("write {}: {e}", bb_file.display()))?;

    let mut ctx = BadBlockContext::new(&source).map_err(e2s("BadBlockContext::new"))?;
    let bb = ctx.next().map_err(e2s("next"))?;
    if !(bb.offset <= want && want < bb.offset + bb.length) {
        return Err(format!("bad block {bb:?} doesn't cover offset {want}"));
    }
    let blksize = rustix::fs::fstat(&file)
        .map_err(|e| e.to_string())?
        .st_blksize as u64;
    if bb.offset % blksize != 0 || bb.length % blksize != 0 {
        return Err(format!("bad block {bb:?} not rounded to {blksize}"));
    }
    let mut buf = vec![0u8; 4096];
    expect_code(
        source.pread_mcsafe(&mut buf, MIB),
        PMEM2_E_IO_FAIL,
        "pread_mcsafe over the bad block",
    )?;
    // the good data before it still reads
    source
        .pread_mcsafe(&mut buf, 0)
        .map_err(e2s("pread_mcsafe before the bad block"))?;
    if buf.iter().any(|&b| b != 0xc3) {
        return Err("good data changed".into());
    }

    ctx.clear(&bb).map_err(e2s("clear"))?;
    source
        .pread_mcsafe(&mut buf, MIB)
        .map_err(e2s("pread_mcsafe after clear"))?;
    if buf.iter().any(|&b| b != 0) {
        return Err("cleared range doesn't read as zeros".into());
    }
    let write = match source.pwrite_mcsafe(&[0x77; 4096], MIB) {
        Ok(()) => "write after clear ok".to_string(),
        Err(e) if e.code() == PMEM2_E_IO_FAIL => {
            "write after clear IO_FAIL (poisoned block reused)".to_string()
        }
        Err(e) => {
            return Err(format!(
                "pwrite_mcsafe after clear: {} ({e})",
                e.code_name()
            ))
        }
    };
    // keep the file: its blocks may still hold the poisoned sector
    Ok(format!(
        "{bdev} sector {sector} -> file {}+{}; {write}",
        bb.offset, bb.length
    ))
}
