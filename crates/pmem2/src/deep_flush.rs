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
//! | cache line | device DAX: CPU flush + fence of the range, then the region's `deep_flush` sysfs attribute (written with `"1"` when it reads non-zero); regular file: `msync(MS_SYNC)` of the page-aligned range |
//!
//! Unlike PMDK, failures to read or write `regionN/deep_flush` are
//! reported ([`Error::Os`] naming the file, e.g. `EACCES` when not root),
//! not only logged. A region without the attribute (the kernel hides it
//! when the region has no flush mechanism) needs nothing and succeeds.

use std::io::Write;

use crate::config::Granularity;
use crate::error::{Error, Result};
use crate::sys::linux::nd::{self, Region, SourceId, SourceKind, Sysfs};

/// What a deep flush needs to know about a mapping.
#[derive(Debug, Clone, Copy)]
pub struct DeepFlushTarget {
    /// Start of the mapping.
    pub addr: *const u8,
    /// Its length in bytes (the content length `pmem2_map_get_size` reports).
    pub size: usize,
    /// Its effective store granularity.
    pub granularity: Granularity,
    /// The identity of its source.
    pub source: SourceId,
}

/// Writes back the CPU cache lines of a range and fences.
///
/// # Safety
/// `[ptr, ptr + len)` must be mapped in this process.
pub(crate) unsafe fn cpu_persist(ptr: *const u8, len: usize) {
    crate::arch::with_flush!(crate::arch::flush_kind(), F => {
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
pub fn region_deep_flush(region: &Region) -> Result<()> {
    let path = region.deep_flush_path();
    let content = match std::fs::read(&path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&e, "read", &path)),
    };
    let text = String::from_utf8_lossy(&content);
    let value = nd::parse_u64(&text).ok_or_else(|| {
        Error::Unknown(
            format!(
                "{}: cannot parse a number from {:?}",
                path.display(),
                text.trim_end()
            )
            .into(),
        )
    })?;
    if value == 0 {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| io_err(&e, "open", &path))?;
    file.write_all(b"1").map_err(|e| io_err(&e, "write", &path))
}

fn io_err(e: &std::io::Error, what: &str, path: &std::path::Path) -> Error {
    let errno = e
        .raw_os_error()
        .map_or(rustix::io::Errno::IO, rustix::io::Errno::from_raw_os_error);
    Error::os(errno, format!("{what} \"{}\"", path.display()))
}

/// Deep-flushes `[ptr, ptr + len)` of a mapping (the C ABI's
/// `pmem2_deep_flush(map, ptr, size)`), reading sysfs under `sysfs`.
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
pub unsafe fn deep_flush_range(
    sysfs: &Sysfs,
    target: &DeepFlushTarget,
    ptr: *const u8,
    len: usize,
) -> Result<()> {
    let map_addr = target.addr as usize;
    let map_end = map_addr.checked_add(target.size);
    let flush_addr = ptr as usize;
    let flush_end = flush_addr.checked_add(len);
    let inside = matches!((map_end, flush_end), (Some(me), Some(fe)) if flush_addr >= map_addr && fe <= me);
    if !inside {
        return Err(Error::DeepFlushRange(
            format!(
                "requested deep flush rage ptr {ptr:p} size {len} exceeds map range {:p}",
                target.addr
            )
            .into(),
        ));
    }
    match target.granularity {
        Granularity::Page => return Ok(()),
        Granularity::Byte if target.source.kind == SourceKind::Anonymous => {
            return Err(Error::NotSupported(
                "Anonymous source does not support deep flush".into(),
            ))
        }
        Granularity::Byte | Granularity::CacheLine => {}
    }
    match target.source.kind {
        SourceKind::Anonymous => Err(Error::NotSupported(
            "Anonymous source does not support deep flush".into(),
        )),
        SourceKind::Regular => {
            let page = rustix::param::page_size();
            let start = flush_addr & !(page - 1);
            let full = len + (flush_addr - start);
            if full == 0 {
                return Ok(());
            }
            // SAFETY: the range lies inside the live mapping (checked
            // above; the page rounding stays within the mapping, which is
            // page aligned); msync doesn't touch memory contents.
            unsafe {
                rustix::mm::msync(
                    start as *mut std::ffi::c_void,
                    full,
                    rustix::mm::MsyncFlags::SYNC,
                )
            }
            .map_err(|e| Error::os(e, "msync"))
        }
        SourceKind::DeviceDax => {
            // SAFETY: the range is inside the live mapping (checked above).
            unsafe { cpu_persist(ptr, len) };
            let Some(m) = sysfs.find(&target.source)? else {
                return Err(Error::DaxRegionNotFound("unknown region".into()));
            };
            region_deep_flush(&m.region)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use crate::sys::linux::nd::fake;
    use std::os::fd::AsFd;

    fn region_tree() -> (tempfile::TempDir, Sysfs) {
        let dir = tempfile::tempdir().unwrap();
        fake::region(dir.path(), 0, 0x1_0000_0000, 1 << 30, &[]);
        fake::devdax_namespace(dir.path(), 0, 0, "252:7", 0x1_0000_0000, 1 << 30);
        let s = Sysfs::new(dir.path());
        (dir, s)
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
        fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "1\n");
        region_deep_flush(&region).unwrap();
        // the fake file now holds what was written
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1");
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
        let t = DeepFlushTarget {
            addr: p,
            size: 8192,
            granularity: Granularity::CacheLine,
            source: SourceId::from_fd(f.as_fd()).unwrap(),
        };
        let s = Sysfs::new("/nonexistent");
        // SAFETY: `t` describes the live mapping above.
        unsafe {
            deep_flush_range(&s, &t, p.wrapping_add(100), 8000).unwrap();
            let e = deep_flush_range(&s, &t, p.wrapping_add(100), 8100).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            assert!(e.to_string().starts_with("requested deep flush rage ptr 0x"), "{e}");
            assert!(e.to_string().contains("size 8100 exceeds map range"), "{e}");
            let e = deep_flush_range(&s, &t, p.wrapping_sub(1), 1).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            let e = deep_flush_range(&s, &t, p, usize::MAX).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
            deep_flush_range(&s, &t, p, 0).unwrap();
        }
        unmap(p, 8192);
    }

    #[test]
    fn per_granularity_behaviour() {
        let (f, p) = mapping(4096);
        let s = Sysfs::new("/nonexistent");
        let mut t = DeepFlushTarget {
            addr: p,
            size: 4096,
            granularity: Granularity::Page,
            source: SourceId::from_fd(f.as_fd()).unwrap(),
        };
        // SAFETY: `t` describes the live mapping above (or an anonymous
        // source refused before any access).
        unsafe {
            deep_flush_range(&s, &t, p, 4096).unwrap();
            t.granularity = Granularity::Byte;
            deep_flush_range(&s, &t, p.wrapping_add(10), 10).unwrap();
            t.source = SourceId::anonymous();
            let e = deep_flush_range(&s, &t, p, 1).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_NOSUPP);
            assert_eq!(e.to_string(), "Anonymous source does not support deep flush");
            t.granularity = Granularity::Page;
            deep_flush_range(&s, &t, p, 1).unwrap();
        }
        unmap(p, 4096);
    }

    #[test]
    fn devdax_deep_flush_goes_through_the_region() {
        let (d, s) = region_tree();
        let (_f, p) = mapping(4096);
        let mut t = DeepFlushTarget {
            addr: p,
            size: 4096,
            granularity: Granularity::CacheLine,
            source: SourceId {
                kind: SourceKind::DeviceDax,
                st_dev: 0,
                st_rdev: rustix::fs::makedev(252, 7),
            },
        };
        let flag = fake::write(d.path(), "bus/nd/devices/region0/deep_flush", "1\n");
        // SAFETY: `t` describes the live mapping above.
        unsafe {
            deep_flush_range(&s, &t, p, 64).unwrap();
            assert_eq!(std::fs::read_to_string(&flag).unwrap(), "1");
            t.source.st_rdev = rustix::fs::makedev(252, 8);
            let e = deep_flush_range(&s, &t, p, 64).unwrap_err();
            assert_eq!(e.code(), PMEM2_E_DAX_REGION_NOT_FOUND);
        }
        unmap(p, 4096);
    }
}
