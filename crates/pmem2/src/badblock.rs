//! Bad blocks: the poisoned ranges of a source, and clearing them.
//!
//! A [`BadBlockContext`] lists the bad blocks of a file on fsdax or of a
//! device DAX, in bytes relative to the start of the source, like PMDK's
//! `pmem2_badblock_context_*` / `pmem2_badblock_next`:
//!
//! * fsdax namespace: the block device's `badblocks` (`/sys/block/pmemX/`,
//!   readable without privileges); other namespaces (devdax, raw, sector):
//!   the region's `badblocks`, clipped to the namespace's data area.
//!   Both list 512-byte sectors; results are in bytes.
//! * regular file: those device ranges are intersected with the file's
//!   physical extents (`FS_IOC_FIEMAP`), translated to file offsets and
//!   rounded out to the file system block size (`st_blksize`). A bad range
//!   spanning several extents gives one bad block per extent.
//! * no matching NVDIMM (tmpfs, a disk): the context is created, and
//!   [`BadBlockContext::next`] returns [`Error::NoBadBlockFound`] with
//!   "Cannot find any matching device, no bad blocks found".
//! * anonymous source: [`Error::NotSupported`].
//!
//! The bad-block list is read when the context is created (PMDK's ndctl
//! iterators also read the whole sysfs file on the first call).
//!
//! [`BadBlockContext::clear`] on a regular file deallocates the range and
//! allocates fresh blocks (`fallocate` punch-hole, then `fallocate`), which
//! is how file systems drop poisoned blocks. On a device DAX, clearing needs
//! the NVDIMM bus's "clear error" firmware command, which sysfs doesn't
//! offer: pmem2 issues it on the bus device `/dev/ndctlN` of the region's
//! bus (the `ND_IOCTL_CLEAR_ERROR` command, as PMDK does through
//! libndctl), at the namespace's physical start plus the bad block's
//! offset. That needs root and firmware support (emulated NVDIMMs usually
//! refuse with `ENOTTY`); failures are [`Error::Os`]. When the region's bus
//! can't be found the result is [`Error::NotSupported`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use pmem2_nvdimm::nd::{self, NamespaceMode, SectorRange, Sysfs};

use crate::debug_log::{plog, Returned, DETAIL};
use crate::error::{Error, Result};
use crate::source::{FileType, Source, SourceId};
use crate::sys::fiemap::{self, Extent};
use crate::sys::{file, ndctl};

/// One bad block: `length` bytes at `offset` from the start of the source.
/// Layout-compatible with C's `struct pmem2_badblock` on 64-bit targets.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BadBlock {
    /// Offset in bytes from the start of the source.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
}

#[derive(Debug)]
enum State {
    /// No NVDIMM region/namespace backs the source.
    NoDevice,
    /// The bad blocks, and the index of the next one to return.
    Blocks { list: Vec<BadBlock>, pos: usize },
}

/// Iterates over a source's bad blocks and clears them
/// (`struct pmem2_badblock_context`).
///
/// The context owns a duplicate of the source's file descriptor, so it does
/// not borrow the source.
#[derive(Debug)]
pub struct BadBlockContext {
    /// A duplicate of the source's descriptor, for clearing; `None` when
    /// it could not be duplicated and no NVDIMM backs the source (PMDK
    /// creates such a context without touching the descriptor).
    fd: Option<OwnedFd>,
    file_type: FileType,
    state: State,
    /// Device DAX: the bus device and the physical address of the
    /// namespace's data start, for clearing.
    devdax_clear: Option<(std::path::PathBuf, u64)>,
}

/// Converts sector ranges to byte ranges, skipping empty ones.
fn sectors_to_bytes(ranges: &[SectorRange]) -> Vec<BadBlock> {
    ranges
        .iter()
        .filter(|r| r.count > 0)
        .filter_map(|r| r.to_bytes())
        .map(|(offset, length)| BadBlock { offset, length })
        .collect()
}

/// Clips region-relative bad byte ranges to a namespace's data area
/// `[ns_offset, ns_offset + ns_size)` and makes them relative to it.
#[must_use]
pub(crate) fn clip_to_namespace(
    region_bad: &[BadBlock],
    ns_offset: u64,
    ns_size: u64,
) -> Vec<BadBlock> {
    let ns_end = ns_offset.saturating_add(ns_size);
    region_bad
        .iter()
        .filter_map(|bb| {
            let beg = bb.offset.max(ns_offset);
            let end = bb.offset.saturating_add(bb.length).min(ns_end);
            (beg < end).then(|| BadBlock {
                offset: beg - ns_offset,
                length: end - beg,
            })
        })
        .collect()
}

/// Translates bad byte ranges of a block device into bad ranges of a file
/// with the given physical extents: each overlap of a bad range with an
/// extent becomes one bad block at the corresponding file offset, its start
/// rounded down and its end rounded up to `block_size` (a `block_size` of 0
/// is treated as 1). Results follow the order of `device_bad`, then of
/// `extents`.
#[must_use]
pub(crate) fn device_to_file(
    device_bad: &[BadBlock],
    extents: &[Extent],
    block_size: u64,
) -> Vec<BadBlock> {
    let bs = block_size.max(1);
    let mut out = Vec::new();
    for bb in device_bad {
        let bb_end = bb.offset.saturating_add(bb.length);
        for ext in extents {
            let ext_end = ext.physical.saturating_add(ext.length);
            let beg = bb.offset.max(ext.physical);
            let end = bb_end.min(ext_end);
            if beg >= end {
                continue;
            }
            let file_beg = ext.logical.saturating_add(beg - ext.physical);
            let file_end = file_beg.saturating_add(end - beg);
            let aligned_beg = file_beg - file_beg % bs;
            let rem = file_end % bs;
            let aligned_end = if rem == 0 {
                file_end
            } else {
                file_end.saturating_add(bs - rem)
            };
            out.push(BadBlock {
                offset: aligned_beg,
                length: aligned_end - aligned_beg,
            });
        }
    }
    out
}

impl BadBlockContext {
    /// Creates a context for a source (`pmem2_badblock_context_new`),
    /// reading `/sys`.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for an anonymous source;
    /// [`Error::InvalidDevFormat`], [`Error::CannotReadBounds`],
    /// [`Error::Unknown`] for malformed sysfs files; [`Error::Os`] for
    /// failing system calls (`dup`, `fstat`, `FS_IOC_FIEMAP`, sysfs reads).
    pub fn new(source: &Source<'_>) -> Result<Self> {
        Self::with_sysfs(&Sysfs::default(), &source.id(), source.file_fd())
            .logged("BadBlockContext::new")
    }

    /// Creates a context for a source described by its identity and file
    /// descriptor, reading sysfs under `sysfs`.
    ///
    /// `fd` may be `None` only for an anonymous source, which is refused
    /// with [`Error::NotSupported`] before anything else is looked at.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for an anonymous source;
    /// [`Error::FileDescriptorNotSet`] without a descriptor;
    /// [`Error::InvalidDevFormat`], [`Error::CannotReadBounds`],
    /// [`Error::Unknown`] for malformed sysfs files; [`Error::Os`] for
    /// failing system calls (`dup`, `fstat`, `FS_IOC_FIEMAP`, sysfs reads).
    pub(crate) fn with_sysfs(
        sysfs: &Sysfs,
        id: &SourceId,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<Self> {
        let Some(device) = id.nd_device() else {
            return Err(Error::NotSupported(
                "Anonymous source does not support bad blocks".into(),
            ));
        };
        let fd = fd.ok_or_else(|| {
            Error::FileDescriptorNotSet("the source has no file descriptor".into())
        })?;
        let found = sysfs.find(device)?;
        plog!(
            DETAIL,
            "BadBlockContext::new",
            "sysfs: device {device:?} is in {}",
            found.as_ref().map_or_else(
                || "no NVDIMM region".to_owned(),
                |m| m.region.path.display().to_string()
            )
        );
        let Some(m) = found else {
            return Ok(BadBlockContext {
                fd: file::dup(fd).ok(),
                file_type: id.file_type,
                state: State::NoDevice,
                devdax_clear: None,
            });
        };

        let fsdax_bdev = match (m.namespace.kind(), &m.block_device) {
            (NamespaceMode::Fsdax, Some(bdev)) => Some(bdev),
            _ => None,
        };
        let mut devdax_clear = None;
        let device_bad = if let Some(bdev) = fsdax_bdev {
            let path = sysfs.block_device(bdev).join("badblocks");
            sectors_to_bytes(&nd::read_badblocks(&path)?)
        } else {
            let (ns_off, ns_size) = m.namespace.bounds(sysfs, &m.region)?;
            if id.file_type == FileType::DeviceDax {
                if let Some(bus) = m.region.bus_id() {
                    let ns_res = m.region.resource()?.saturating_add(ns_off);
                    devdax_clear = Some((sysfs.bus_device(bus), ns_res));
                }
            }
            clip_to_namespace(&sectors_to_bytes(&m.region.badblocks()?), ns_off, ns_size)
        };

        let fd = file::dup(fd)?;
        let list = if id.file_type == FileType::Regular && !device_bad.is_empty() {
            let (size, block_size) = file::size_and_block_size(fd.as_fd())?;
            let exts = fiemap::extents(fd.as_fd(), size)?;
            device_to_file(&device_bad, &exts, block_size)
        } else {
            device_bad
        };
        Ok(BadBlockContext {
            fd: Some(fd),
            file_type: id.file_type,
            state: State::Blocks { list, pos: 0 },
            devdax_clear,
        })
    }

    /// The next bad block (`pmem2_badblock_next`).
    ///
    /// # Errors
    /// [`Error::NoBadBlockFound`] when there are no more (or when no
    /// NVDIMM backs the source).
    #[allow(clippy::should_implement_trait)] // PMDK's name; the Iterator impl is below
    pub fn next(&mut self) -> Result<BadBlock> {
        let result = (|| -> Result<BadBlock> {
            match &mut self.state {
                State::NoDevice => Err(Error::NoBadBlockFound(
                    "Cannot find any matching device, no bad blocks found".into(),
                )),
                State::Blocks { list, pos } => {
                    let bb = list
                        .get(*pos)
                        .copied()
                        .ok_or_else(|| Error::NoBadBlockFound("no more bad blocks".into()))?;
                    *pos += 1;
                    Ok(bb)
                }
            }
        })();
        result.logged("BadBlockContext::next")
    }

    /// Clears a bad block (`pmem2_badblock_clear`): for a regular file,
    /// punches a hole over the range and allocates it again, so the file
    /// system hands out fresh blocks (the range then reads as zeros); for a
    /// device DAX, sends the bus's clear-error command (see the module docs).
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] / [`Error::LengthOutOfRange`] if the
    /// offset or length exceeds `i64::MAX`; [`Error::Os`] if `fallocate` or
    /// the bus command fails; [`Error::NotSupported`] for a device DAX whose
    /// NVDIMM bus is unknown.
    pub fn clear(&self, bb: &BadBlock) -> Result<()> {
        let result = (|| -> Result<()> {
            if self.file_type == FileType::DeviceDax {
                let Some((bus_dev, ns_res)) = &self.devdax_clear else {
                    return Err(Error::NotSupported(
                        "cannot clear bad blocks of this device DAX: its NVDIMM bus was not found"
                            .into(),
                    ));
                };
                let address = ns_res.checked_add(bb.offset).ok_or_else(|| {
                    Error::OffsetOutOfRange("bad block's offset is out of range".into())
                })?;
                return ndctl::clear_error(bus_dev, address, bb.length);
            }
            if i64::try_from(bb.offset).is_err() {
                return Err(Error::OffsetOutOfRange(
                    "bad block's offset is greater than INT64_MAX".into(),
                ));
            }
            if i64::try_from(bb.length).is_err() {
                return Err(Error::LengthOutOfRange(
                    "bad block's length is greater than INT64_MAX".into(),
                ));
            }
            // Without a descriptor, fail as PMDK's fallocate on a closed one does.
            let fd = self
                .fd
                .as_ref()
                .ok_or_else(|| Error::os(rustix::io::Errno::BADF, "fallocate"))?;
            file::reallocate(fd.as_fd(), bb.offset, bb.length)
        })();
        result.logged("BadBlockContext::clear")
    }
}

impl Iterator for BadBlockContext {
    type Item = Result<BadBlock>;

    /// The next bad block; `None` at the end (and when no NVDIMM backs the
    /// source). Errors are never produced after creation, but the item type
    /// keeps room for lazy readers.
    fn next(&mut self) -> Option<Self::Item> {
        match BadBlockContext::next(self) {
            Ok(bb) => Some(Ok(bb)),
            Err(Error::NoBadBlockFound(_)) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use pmem2_nvdimm::fake;
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::fd::AsFd;

    fn file_id(fd: BorrowedFd<'_>) -> SourceId {
        Source::from_fd(fd).unwrap().id()
    }

    fn anon_id() -> SourceId {
        Source::anonymous(4096).unwrap().id()
    }

    fn bb(offset: u64, length: u64) -> BadBlock {
        BadBlock { offset, length }
    }

    fn ext(logical: u64, physical: u64, length: u64) -> Extent {
        Extent {
            logical,
            physical,
            length,
        }
    }

    #[test]
    fn clip_keeps_the_namespace_part_relative_to_it() {
        let region = [bb(0, 512), bb(1024, 2048), bb(10_000, 512), bb(4000, 0)];
        assert_eq!(clip_to_namespace(&region, 2048, 4096), [bb(0, 1024)]);
        assert_eq!(
            clip_to_namespace(&region, 0, 1 << 20),
            [bb(0, 512), bb(1024, 2048), bb(10_000, 512)]
        );
        assert!(clip_to_namespace(&region, 20_000, 100).is_empty());
    }

    #[test]
    fn device_ranges_become_file_offsets_rounded_to_blocks() {
        // file: [0, 8K) at device 1M, [8K, 16K) at device 64K
        let exts = [ext(0, 1 << 20, 8192), ext(8192, 65536, 8192)];
        // one sector inside the second extent, 512 bytes past its start
        let got = device_to_file(&[bb(65536 + 512, 512)], &exts, 4096);
        assert_eq!(got, [bb(8192, 4096)]);
        // a range over the end of the first extent clips to it
        let got = device_to_file(&[bb((1 << 20) + 8000, 1000)], &exts, 4096);
        assert_eq!(got, [bb(4096, 4096)]);
        // a range covering both extents gives one block per extent
        let got = device_to_file(&[bb(0, 2 << 20)], &exts, 4096);
        assert_eq!(got, [bb(0, 8192), bb(8192, 8192)]);
        // outside every extent: nothing
        assert!(device_to_file(&[bb(4 << 20, 4096)], &exts, 4096).is_empty());
        // unaligned start and end are rounded out
        let got = device_to_file(&[bb((1 << 20) + 100, 10)], &exts, 4096);
        assert_eq!(got, [bb(0, 4096)]);
        // zero block size doesn't divide by zero
        let got = device_to_file(&[bb((1 << 20) + 100, 10)], &exts, 0);
        assert_eq!(got, [bb(100, 10)]);
        // huge numbers saturate instead of overflowing
        let got = device_to_file(
            &[bb(u64::MAX - 10, 100)],
            &[ext(u64::MAX - 5, u64::MAX - 20, 100)],
            4096,
        );
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn anonymous_is_not_supported_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let e = BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &anon_id(), None).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
        assert_eq!(
            e.to_string(),
            "Anonymous source does not support bad blocks"
        );
    }

    #[test]
    fn no_matching_device_gives_no_bad_block_found() {
        let dir = tempfile::tempdir().unwrap();
        let f = tempfile::tempfile().unwrap();
        let id = file_id(f.as_fd());
        let mut ctx =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap();
        let e = ctx.next().unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NO_BAD_BLOCK_FOUND);
        assert_eq!(
            e.to_string(),
            "Cannot find any matching device, no bad blocks found"
        );
        assert!(Iterator::next(&mut ctx).is_none());
    }

    /// A devdax namespace at region offset 2 MiB, 8 MiB long; region bad
    /// sectors before, across the start of, and inside it.
    fn devdax_tree() -> (tempfile::TempDir, SourceId) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake::region(root, 0, 0x1_0000_0000, 16 << 20, &["nmem0"]);
        fake::devdax_namespace(root, 0, 0, "252:0", 0x1_0020_0000, 8 << 20);
        // sectors: [8,16) before the ns; [4094, 4098) across its start
        // (ns starts at sector 4096); [4196, 4197) inside
        fake::write(
            root,
            "bus/nd/devices/region0/badblocks",
            "8 8\n4094 4\n4196 1\n",
        );
        let id = SourceId {
            file_type: FileType::DeviceDax,
            dev: 0,
            rdev: rustix::fs::makedev(252, 0),
        };
        (dir, id)
    }

    #[test]
    fn devdax_region_bad_blocks_are_clipped_to_the_namespace() {
        let (dir, id) = devdax_tree();
        let f = tempfile::tempfile().unwrap();
        let ctx =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap();
        let all: Vec<BadBlock> = ctx.map(Result::unwrap).collect();
        assert_eq!(all, [bb(0, 1024), bb(100 * 512, 512)]);
    }

    #[test]
    fn devdax_clear_without_a_bus_is_not_supported() {
        let (dir, id) = devdax_tree();
        let f = tempfile::tempfile().unwrap();
        let mut ctx =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap();
        let first = ctx.next().unwrap();
        let e = ctx.clear(&first).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
        assert!(e.to_string().contains("NVDIMM bus was not found"), "{e}");
    }

    #[test]
    fn devdax_clear_goes_to_the_regions_bus_device() {
        if crate::sys::emulation::unknown_ioctl_answers_enosys() {
            let why = crate::sys::emulation::IOCTL_WHY;
            return crate::sys::emulation::skip("devdax_clear_goes_to_the_regions_bus_device", why);
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake::region_on_bus(root, 3, 0, 0x1_0000_0000, 16 << 20);
        fake::devdax_namespace(root, 0, 0, "252:0", 0x1_0020_0000, 8 << 20);
        fake::write(root, "bus/nd/devices/region0/badblocks", "4100 1\n");
        // a regular file standing in for /dev/ndctl3: the ioctl is refused
        fake::write(root, "dev/ndctl3", "");
        let sysfs = Sysfs::new(root).with_dev_dir(root.join("dev"));
        assert_eq!(sysfs.region(0).unwrap().bus_id(), Some(3));
        let id = SourceId {
            file_type: FileType::DeviceDax,
            dev: 0,
            rdev: rustix::fs::makedev(252, 0),
        };
        let f = tempfile::tempfile().unwrap();
        let mut ctx = BadBlockContext::with_sysfs(&sysfs, &id, Some(f.as_fd())).unwrap();
        let first = ctx.next().unwrap();
        assert_eq!(first, bb(4 * 512, 512));
        let e = ctx.clear(&first).unwrap_err();
        assert_eq!(e.errno(), Some(rustix::io::Errno::NOTTY), "{e}");
        assert!(e.to_string().starts_with("ioctl ND_IOCTL_ARS_CAP"), "{e}");
    }

    #[test]
    fn devdax_bounds_failures_surface() {
        let (dir, id) = devdax_tree();
        fake::write(dir.path(), "bus/nd/devices/dax0.0/resource", "\n");
        let f = tempfile::tempfile().unwrap();
        let e =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_CANNOT_READ_BOUNDS);
        assert!(
            e.to_string()
                .starts_with("(dax) cannot read offset of the namespace"),
            "{e}"
        );
    }

    #[test]
    fn fsdax_file_without_bad_blocks_on_its_device() {
        let f = tempfile::tempfile().unwrap();
        let id = file_id(f.as_fd());
        let (maj, min) = (rustix::fs::major(id.dev), rustix::fs::minor(id.dev));
        let dir = tempfile::tempdir().unwrap();
        fake::region(dir.path(), 0, 0x1_0000_0000, 16 << 20, &["nmem0"]);
        fake::fsdax_namespace(
            dir.path(),
            0,
            0,
            "pmem0",
            &format!("{maj}:{min}"),
            0x1_0020_0000,
            8 << 20,
        );
        let mut ctx =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap();
        let e = ctx.next().unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NO_BAD_BLOCK_FOUND);
        // a malformed badblocks file is reported, naming it
        fake::write(dir.path(), "block/pmem0/badblocks", "1 x\n");
        let e =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_UNKNOWN);
        assert!(e.to_string().contains("block/pmem0/badblocks"), "{e}");
    }

    #[test]
    fn clear_on_a_regular_file_punches_and_reallocates() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0x5au8; 16384]).unwrap();
        let id = file_id(f.as_fd());
        let dir = tempfile::tempdir().unwrap();
        let ctx =
            BadBlockContext::with_sysfs(&Sysfs::new(dir.path()), &id, Some(f.as_fd())).unwrap();
        // ext4, xfs, btrfs and tmpfs all punch holes.
        ctx.clear(&bb(4096, 4096)).unwrap();
        let mut data = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut data).unwrap();
        assert_eq!(data.len(), 16384);
        assert!(data[..4096].iter().all(|&b| b == 0x5a));
        assert!(data[4096..8192].iter().all(|&b| b == 0));
        assert!(data[8192..].iter().all(|&b| b == 0x5a));
        let e = ctx.clear(&bb(u64::MAX, 1)).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_OFFSET_OUT_OF_RANGE);
        let e = ctx.clear(&bb(0, u64::MAX)).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
    }

    /// A fake fsdax namespace over the block device of a real file's file
    /// system, with a bad sector under the file: the context finds it at
    /// the file offset FIEMAP maps it to, rounded to the block size. Needs
    /// a file system with FIEMAP (ext4, xfs, btrfs; not tmpfs).
    #[test]
    fn fake_bad_sector_meets_the_real_file_extents() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0x11u8; 8 * 4096]).unwrap();
        f.sync_all().unwrap();
        let exts = match fiemap::extents(f.as_fd(), 8 * 4096) {
            Ok(exts) => exts,
            Err(e) if e.errno() == Some(rustix::io::Errno::OPNOTSUPP) => {
                eprintln!("skipped: no FIEMAP on the temporary directory's file system");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        // a 512-byte bad sector 3 blocks + 1000 bytes into the file
        let want = 3 * 4096 + 1000;
        let ext = exts
            .iter()
            .find(|e| e.logical <= want && want < e.logical + e.length)
            .expect("the written data has an extent");
        let sector = (ext.physical + (want - ext.logical)) / 512;
        let id = file_id(f.as_fd());
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let dev = format!(
            "{}:{}",
            rustix::fs::major(id.dev),
            rustix::fs::minor(id.dev)
        );
        fake::region(root, 0, 0x1_0000_0000, 1 << 34, &["nmem0"]);
        fake::fsdax_namespace(root, 0, 0, "pmem7", &dev, 0x1_0020_0000, 1 << 33);
        fake::write(root, "block/pmem7/badblocks", &format!("{sector} 1\n"));
        let ctx = BadBlockContext::with_sysfs(&Sysfs::new(root), &id, Some(f.as_fd())).unwrap();
        let found: Vec<BadBlock> = ctx.map(Result::unwrap).collect();
        let (_, blksize) = file::size_and_block_size(f.as_fd()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let bb = found[0];
        assert_eq!((bb.offset % blksize, bb.length % blksize), (0, 0), "{bb:?}");
        assert!(bb.offset <= want && want < bb.offset + bb.length, "{bb:?}");
    }
}
