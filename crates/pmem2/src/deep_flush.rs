//! Deep flush: push a mapping's range past the memory controller's write
//! queues into the persistence domain (`pmem2_deep_flush`).
//!
//! After the range check, behaviour depends on the mapping's effective
//! granularity, as in PMDK:
//!
//! | granularity | what happens |
//! |---|---|
//! | page | nothing more: persisting a page-granularity mapping already ran `msync` |
//! | byte | anonymous source → [`Error::NotSupported`]; otherwise as cache line |
//! | cache line | device DAX: CPU flush + fence of the range (`aarch64` `DC CVADP`, to the point of deep persistence, where the CPU has `FEAT_DPB2`), then the region's `deep_flush` sysfs attribute (written with `"1"` when it reads non-zero); regular file: `msync(MS_SYNC)` of the page-aligned range |
//!
//! Unlike PMDK, failures to read or write `regionN/deep_flush` are
//! reported ([`Error::Os`] naming the file, e.g. `EACCES` when not root),
//! not only logged. A region without the attribute (the kernel hides it
//! when the region has no flush mechanism) needs nothing and succeeds.

use pmem2_nvdimm::nd::{Device, Region, Sysfs};

use crate::config::Granularity;
use crate::debug_log::{plog, DETAIL};
use crate::error::{Error, Result};
use crate::source::{FileType, SourceId};
use crate::sys::sysfs;

/// What a deep flush needs to know about a mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeepFlushTarget {
    /// Start of the mapping.
    pub(crate) addr: *const u8,
    /// Its length in bytes (the content length `pmem2_map_get_size` reports).
    pub(crate) size: usize,
    /// Its effective store granularity.
    pub(crate) granularity: Granularity,
    /// The identity of its source.
    pub(crate) source: SourceId,
    /// Whether the mapping can be read or written (is not `PROT_NONE`). A
    /// flush instruction on an inaccessible page would fault, so the CPU
    /// flush is skipped for it; a read-only mapping is still flushed, since
    /// another mapping of the same memory may have left dirty lines.
    pub(crate) accessible: bool,
}

/// Writes back the CPU cache lines of a range and fences.
///
/// # Safety
/// `[ptr, ptr + len)` must be mapped in this process.
pub(crate) unsafe fn cpu_persist(ptr: *const u8, len: usize) {
    crate::arch::with_flush!(crate::persist::flush_kind(), F => {
        // SAFETY: the caller guarantees the range is mapped.
        unsafe { crate::arch::flush_range::<F>(ptr, len) }
    });
    crate::arch::fence();
}

/// Triggers a region's deep flush through sysfs: reads
/// `regionN/deep_flush`; when it is non-zero, writes `"1"` to it.
///
/// # Errors
/// [`Error::Os`] naming the file if it can't be read or written;
/// [`Error::Unknown`] if its content isn't a number. A missing attribute is
/// not an error.
pub(crate) fn region_deep_flush(region: &Region) -> Result<()> {
    let pending = region.deep_flush()?;
    let path = region.deep_flush_path();
    plog!(DETAIL, "deep_flush", "read {}: {pending:?}", path.display());
    if pending.is_some_and(|pending| pending != 0) {
        sysfs::write_attr(&path, b"1")?;
        plog!(DETAIL, "deep_flush", "wrote 1 to {}", path.display());
    }
    Ok(())
}

/// Deep-flushes `[flush_addr, flush_addr + len)` of a mapping (the C ABI's
/// `pmem2_deep_flush(map, ptr, size)`), reading sysfs under `sysfs`. The
/// address is a number: it is only compared with the mapping's bounds;
/// memory is accessed through pointers derived from `target.addr`.
///
/// # Errors
/// [`Error::DeepFlushRange`] if the range is not inside the mapping;
/// [`Error::NotSupported`] for an anonymous source at byte granularity;
/// [`Error::DaxRegionNotFound`] if a device DAX has no NVDIMM region;
/// [`Error::Os`] if `msync` or the sysfs access fails.
///
/// # Safety
/// `target` must describe a live mapping of this process: `addr..addr+size`
/// mapped, for the duration of the call.
unsafe fn deep_flush_at(
    sysfs: &Sysfs,
    target: &DeepFlushTarget,
    flush_addr: usize,
    len: usize,
) -> Result<()> {
    let map_addr = target.addr as usize;
    let map_end = map_addr.checked_add(target.size);
    let flush_end = flush_addr.checked_add(len);
    let inside =
        matches!((map_end, flush_end), (Some(me), Some(fe)) if flush_addr >= map_addr && fe <= me);
    if !inside {
        return Err(Error::DeepFlushRange(
            format!(
                "requested deep flush rage ptr {:p} size {len} exceeds map range {:p}",
                flush_addr as *const u8, target.addr
            )
            .into(),
        ));
    }
    // The flushed range, with the mapping's provenance.
    let ptr = target.addr.wrapping_add(flush_addr - map_addr);
    match target.granularity {
        Granularity::Page => return Ok(()),
        Granularity::Byte if target.source.file_type == FileType::Anonymous => {
            return Err(Error::NotSupported(
                "Anonymous source does not support deep flush".into(),
            ))
        }
        Granularity::Byte | Granularity::CacheLine => {}
    }
    match target.source.file_type {
        FileType::Anonymous => Err(Error::NotSupported(
            "Anonymous source does not support deep flush".into(),
        )),
        FileType::Regular => {
            let page = crate::sys::mm::page_size();
            let start = flush_addr & !(page - 1);
            let full = len + (flush_addr - start);
            if full == 0 {
                return Ok(());
            }
            // The range lies inside the live mapping (checked above; the
            // page rounding stays within it, as it is page aligned).
            crate::sys::mm::sync(start, full).map_err(|e| Error::os(e, "msync"))
        }
        FileType::DeviceDax => {
            if target.accessible {
                // SAFETY: the range is inside the live, accessible mapping
                // (checked above).
                unsafe {
                    crate::arch::deep_flush_range(
                        crate::persist::flush_kind(),
                        crate::persist::deep_flush_cvadp(),
                        ptr,
                        len,
                    );
                };
                crate::arch::fence();
            }
            let device = Device::DeviceDax {
                rdev: target.source.rdev,
            };
            let Some(m) = sysfs.find(device)? else {
                return Err(Error::DaxRegionNotFound("unknown region".into()));
            };
            region_deep_flush(&m.region)
        }
    }
}

/// Deep-flushes `len` bytes at `offset` of the mapping `target` describes
/// (`pmem2_deep_flush`, see [`Map::deep_flush`](crate::Map::deep_flush)).
///
/// # Safety
/// `target` must describe a mapping that stays mapped during the call.
pub(crate) unsafe fn deep_flush(target: &DeepFlushTarget, offset: usize, len: usize) -> Result<()> {
    let flush_addr = (target.addr as usize).wrapping_add(offset);
    // SAFETY: forwarded from the caller.
    unsafe { deep_flush_at(&Sysfs::default(), target, flush_addr, len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use crate::Source;
    use pmem2_nvdimm::fake;
    use std::os::fd::AsFd;

    /// [`deep_flush_at`] with a pointer.
    ///
    /// # Safety
    /// As [`deep_flush_at`].
    unsafe fn deep_flush_range(
        sysfs: &Sysfs,
        target: &DeepFlushTarget,
        ptr: *const u8,
        len: usize,
    ) -> Result<()> {
        // SAFETY: forwarded from the caller.
        unsafe { deep_flush_at(sysfs, target, ptr as usize, len) }
    }

    fn file_id(f: &std::fs::File) -> SourceId {
        Source::from_file(f).unwrap().id()
    }

    fn region_tree() -> (tempfile::TempDir, Sysfs) {
        let dir = tempfile::tempdir().unwrap();
        fake::region(dir.path(), 0, 0x1_0000_0000, 1 << 30, &[]);
        fake::devdax_namespace(dir.path(), 0, 0, "252:7", 0x1_0000_0000, 1 << 30);
        let sysfs = Sysfs::new(dir.path());
        (dir, sysfs)
    }

    #[test]
    fn region_deep_flush_writes_one_when_non_zero() {
        let (d, s) = region_tree();
        let region = s.region(0).unwrap();
        // no attribute: nothing to do
        region_deep_flush(&region).unwrap();
        let p = fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "0\n");
        region_deep_flush(&region).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0\n");
        fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "7\n");
        region_deep_flush(&region).unwrap();
        // the fake file now holds what was written over its first byte
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1\n");
        fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "yes\n");
        let e = region_deep_flush(&region).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_UNKNOWN);
        assert!(e.to_string().contains("region0/deep_flush"), "{e}");
    }

    #[test]
    fn region_deep_flush_reports_write_failures() {
        use std::os::unix::fs::PermissionsExt;
        let (d, s) = region_tree();
        let p = fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "1\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        let region = s.region(0).unwrap();
        match region_deep_flush(&region) {
            // root ignores permissions
            Ok(()) => assert!(rustix::process::geteuid().is_root()),
            Err(e) => {
                assert_eq!(e.errno(), Some(rustix::io::Errno::ACCESS), "{e}");
                assert!(e.to_string().starts_with("open \""), "{e}");
            }
        }
    }

    fn mapping(len: usize) -> (std::fs::File, *mut u8) {
        let f = tempfile::tempfile().unwrap();
        f.set_len(len as u64).unwrap();
        // SAFETY: a fresh shared mapping of the file; unmapped by the test.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                f.as_fd(),
                0,
            )
        }
        .unwrap();
        (f, p.cast())
    }

    fn unmap(p: *mut u8, len: usize) {
        // SAFETY: unmaps a mapping created by `mapping`.
        unsafe { rustix::mm::munmap(p.cast(), len) }.unwrap();
    }

    #[test]
    fn range_check_uses_pmdk_message() {
        let (f, p) = mapping(8192);
        let target = DeepFlushTarget {
            addr: p,
            size: 8192,
            granularity: Granularity::CacheLine,
            source: file_id(&f),
            accessible: true,
        };
        let sysfs = Sysfs::new("/nonexistent");
        // SAFETY: `target` describes the live mapping above.
        unsafe {
            deep_flush_range(&sysfs, &target, p.wrapping_add(100), 8000).unwrap();
            let e = deep_flush_range(&sysfs, &target, p.wrapping_add(100), 8100).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            assert!(
                e.to_string()
                    .starts_with("requested deep flush rage ptr 0x"),
                "{e}"
            );
            assert!(e.to_string().contains("size 8100 exceeds map range"), "{e}");
            let e = deep_flush_range(&sysfs, &target, p.wrapping_sub(1), 1).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            let e = deep_flush_range(&sysfs, &target, p, usize::MAX).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            deep_flush_range(&sysfs, &target, p, 0).unwrap();
        }
        unmap(p, 8192);
    }

    #[test]
    fn per_granularity_behaviour() {
        let (f, p) = mapping(4096);
        let sysfs = Sysfs::new("/nonexistent");
        let mut target = DeepFlushTarget {
            addr: p,
            size: 4096,
            granularity: Granularity::Page,
            source: file_id(&f),
            accessible: true,
        };
        // SAFETY: `target` describes the live mapping above (or an anonymous
        // source refused before any access).
        unsafe {
            deep_flush_range(&sysfs, &target, p, 4096).unwrap();
            target.granularity = Granularity::Byte;
            deep_flush_range(&sysfs, &target, p.wrapping_add(10), 10).unwrap();
            target.source = Source::anonymous(4096).unwrap().id();
            let e = deep_flush_range(&sysfs, &target, p, 1).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_NOSUPP);
            assert_eq!(
                e.to_string(),
                "Anonymous source does not support deep flush"
            );
            target.granularity = Granularity::Page;
            deep_flush_range(&sysfs, &target, p, 1).unwrap();
        }
        unmap(p, 4096);
    }

    #[test]
    fn devdax_deep_flush_goes_through_the_region() {
        let (d, sysfs) = region_tree();
        let (_f, p) = mapping(4096);
        let mut target = DeepFlushTarget {
            addr: p,
            size: 4096,
            granularity: Granularity::CacheLine,
            source: SourceId {
                file_type: FileType::DeviceDax,
                dev: 0,
                rdev: rustix::fs::makedev(252, 7),
            },
            accessible: true,
        };
        let flag = fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "2\n");
        // SAFETY: `target` describes the live mapping above.
        unsafe {
            deep_flush_range(&sysfs, &target, p, 64).unwrap();
            assert_eq!(std::fs::read_to_string(&flag).unwrap(), "1\n");
            target.source.rdev = rustix::fs::makedev(252, 8);
            let e = deep_flush_range(&sysfs, &target, p, 64).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DAX_REGION_NOT_FOUND);
        }
        unmap(p, 4096);
    }
}
