//! Write-tracking of a mapping's pages: userfaultfd write-protection in
//! asynchronous mode, read back (and re-armed) with the `PAGEMAP_SCAN`
//! ioctl of `/proc/self/pagemap` (Linux 6.7+).
//!
//! With `UFFD_FEATURE_WP_ASYNC` a write to a write-protected page is not a
//! fault anyone waits on: the kernel lifts the protection itself and the
//! page counts as *written* (`PAGE_IS_WRITTEN`). `PAGEMAP_SCAN` with
//! `PM_SCAN_WP_MATCHING` returns the written pages and protects them again,
//! atomically, so every write after a scan shows in the next one. Works on
//! anonymous memory and, with `UFFD_FEATURE_WP_HUGETLBFS_SHMEM`, on shmem
//! (tmpfs, `/dev/shm`) and hugetlbfs; on Linux 6.18 file mappings of ext4
//! are accepted too (file-backed write-protection with PTE markers). Where
//! the kernel refuses (before 6.7, userfaultfd disabled, DAX mappings),
//! [`WriteTracker::new`] fails and the caller compares everything.
//!
//! The userfaultfd is created with `UFFD_USER_MODE_ONLY`, which needs no
//! privilege even with `vm.unprivileged_userfaultfd = 0` (only faults in
//! user mode are tracked: a `read(2)` into the map by the kernel is not).
//!
//! # References
//! * [`userfaultfd(2)`](https://man7.org/linux/man-pages/man2/userfaultfd.2.html),
//!   Linux `Documentation/admin-guide/mm/userfaultfd.rst` ("Write Protect
//!   Notifications", asynchronous mode)
//! * Linux `Documentation/admin-guide/mm/pagemap.rst` (`PAGEMAP_SCAN`)

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Result};

// Kernel ABI (include/uapi/linux/userfaultfd.h, fs.h).
const UFFD_API: u64 = 0xaa;
const UFFD_USER_MODE_ONLY: u32 = 1;
const UFFD_FEATURE_WP_HUGETLBFS_SHMEM: u64 = 1 << 12;
const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;
const PAGE_IS_WRITTEN: u64 = 1 << 1;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioWriteprotect {
    range: UffdioRange,
    mode: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

use rustix::ioctl::{opcode, Opcode, Updater};

const UFFDIO_API: Opcode = opcode::read_write::<UffdioApi>(0xaa, 0x3f);
const UFFDIO_REGISTER: Opcode = opcode::read_write::<UffdioRegister>(0xaa, 0x00);
const UFFDIO_UNREGISTER: Opcode = opcode::read::<UffdioRange>(0xaa, 0x01);
const UFFDIO_WRITEPROTECT: Opcode = opcode::read_write::<UffdioWriteprotect>(0xaa, 0x06);
const PAGEMAP_SCAN: Opcode = opcode::read_write::<PmScanArg>(b'f', 16);

/// `PAGEMAP_SCAN`, whose result is the number of regions it filled in.
struct Scan<'a>(&'a mut PmScanArg);

// SAFETY: the opcode is PAGEMAP_SCAN, whose argument is the `pm_scan_arg`
// the pointer points at (read and written by the kernel); the result is
// the ioctl's return value.
unsafe impl rustix::ioctl::Ioctl for Scan<'_> {
    type Output = usize;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        PAGEMAP_SCAN
    }

    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        std::ptr::from_mut(self.0).cast()
    }

    unsafe fn output_from_ptr(
        out: rustix::ioctl::IoctlOutput,
        _: *mut std::ffi::c_void,
    ) -> rustix::io::Result<usize> {
        Ok(usize::try_from(out).unwrap_or(0))
    }
}

/// Regions returned per `PAGEMAP_SCAN` call.
const BATCH: usize = 64;

/// Write-tracking of `[start, start + len)` (page-aligned) for as long as
/// the value lives; dropping it stops the tracking.
#[derive(Debug)]
pub(crate) struct WriteTracker {
    uffd: OwnedFd,
    pagemap: File,
    start: usize,
    len: usize,
    /// The process that made the tracker. A forked child inherits both
    /// descriptors, but they act on this process's memory (the
    /// userfaultfd's address space, `/proc/<pid>/pagemap` as opened): a
    /// child using them would re-protect, and hide from this process, the
    /// pages it wrote.
    owner: rustix::process::Pid,
}

fn os(err: rustix::io::Errno, what: &'static str) -> Error {
    Error::os(err, what)
}

impl WriteTracker {
    /// Write-protects `[start, start + len)` and starts tracking writes to
    /// it. The range must be page-aligned.
    ///
    /// # Errors
    /// [`Error::Os`] when the kernel can't: no asynchronous write-protect
    /// (before Linux 6.7), a mapping of a file system other than
    /// shmem/hugetlbfs, or userfaultfd disabled.
    ///
    /// # Safety
    /// `[start, start + len)` must be a mapping that stays mapped while the
    /// tracker lives (it is unregistered on drop; an unmap before that
    /// ends the tracking, harmlessly).
    pub(crate) unsafe fn new(start: usize, len: usize) -> Result<WriteTracker> {
        // SAFETY: creating a userfaultfd is safe; the descriptor only
        // affects the range registered below, in the asynchronous mode
        // where no thread ever waits on it.
        let uffd = unsafe {
            rustix::mm::userfaultfd(
                rustix::mm::UserfaultfdFlags::CLOEXEC
                    | rustix::mm::UserfaultfdFlags::NONBLOCK
                    | rustix::mm::UserfaultfdFlags::from_bits_retain(UFFD_USER_MODE_ONLY),
            )
        }
        .map_err(|e| os(e, "userfaultfd"))?;
        let mut api = UffdioApi {
            api: UFFD_API,
            features: UFFD_FEATURE_WP_ASYNC
                | UFFD_FEATURE_WP_HUGETLBFS_SHMEM
                | UFFD_FEATURE_WP_UNPOPULATED,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_API reads and writes a `struct uffdio_api`.
        unsafe { rustix::ioctl::ioctl(&uffd, Updater::<UFFDIO_API, _>::new(&mut api)) }
            .map_err(|e| os(e, "ioctl UFFDIO_API"))?;
        let range = UffdioRange {
            start: start as u64,
            len: len as u64,
        };
        let mut register = UffdioRegister {
            range,
            mode: UFFDIO_REGISTER_MODE_WP,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER reads and writes a `struct uffdio_register`.
        unsafe { rustix::ioctl::ioctl(&uffd, Updater::<UFFDIO_REGISTER, _>::new(&mut register)) }
            .map_err(|e| os(e, "ioctl UFFDIO_REGISTER"))?;
        let pagemap = File::open("/proc/self/pagemap").map_err(|e| {
            Error::os(
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO),
                "open /proc/self/pagemap",
            )
        })?;
        let tracker = WriteTracker {
            uffd,
            pagemap,
            start,
            len,
            owner: rustix::process::getpid(),
        };
        let mut wp = UffdioWriteprotect {
            range,
            mode: UFFDIO_WRITEPROTECT_MODE_WP,
        };
        // SAFETY: UFFDIO_WRITEPROTECT reads and writes a
        // `struct uffdio_writeprotect`.
        unsafe {
            rustix::ioctl::ioctl(
                &tracker.uffd,
                Updater::<UFFDIO_WRITEPROTECT, _>::new(&mut wp),
            )
        }
        .map_err(|e| os(e, "ioctl UFFDIO_WRITEPROTECT"))?;
        Ok(tracker)
    }

    /// Appends to `out` the pages (as `[start, end)` address ranges) written
    /// since the tracker was created or last asked, and protects them
    /// again.
    ///
    /// # Errors
    /// [`Error::Os`] if the scan fails (the range is no longer registered);
    /// [`Error::NotSupported`] in a forked child of the process that made
    /// the tracker.
    pub(crate) fn take_written(&mut self, out: &mut Vec<(usize, usize)>) -> Result<()> {
        if rustix::process::getpid() != self.owner {
            return Err(Error::NotSupported(
                "this process is a fork of the one that armed it (its pages are not tracked)"
                    .into(),
            ));
        }
        let end = (self.start + self.len) as u64;
        let mut at = self.start as u64;
        let mut regions = [PageRegion::default(); BATCH];
        while at < end {
            let mut arg = PmScanArg {
                size: std::mem::size_of::<PmScanArg>() as u64,
                flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                start: at,
                end,
                walk_end: 0,
                vec: regions.as_mut_ptr() as u64,
                vec_len: BATCH as u64,
                max_pages: 0,
                category_inverted: 0,
                category_mask: PAGE_IS_WRITTEN,
                category_anyof_mask: 0,
                return_mask: PAGE_IS_WRITTEN,
            };
            // SAFETY: PAGEMAP_SCAN reads and writes a `struct pm_scan_arg`
            // whose `vec` points at `BATCH` writable `struct page_region`s.
            let n = unsafe { rustix::ioctl::ioctl(self.pagemap.as_fd(), Scan(&mut arg)) }
                .map_err(|e| os(e, "ioctl PAGEMAP_SCAN"))?
                .min(BATCH);
            out.extend(
                regions[..n]
                    .iter()
                    .map(|r| (r.start as usize, r.end as usize)),
            );
            if arg.walk_end <= at {
                break;
            }
            at = arg.walk_end;
        }
        Ok(())
    }
}

impl Drop for WriteTracker {
    fn drop(&mut self) {
        if rustix::process::getpid() != self.owner {
            // A forked child: only its copies of the descriptors close.
            return;
        }
        let mut range = UffdioRange {
            start: self.start as u64,
            len: self.len as u64,
        };
        // Unregistering lifts the protection. It fails harmlessly when the
        // range was unmapped first (the registration went with it).
        // SAFETY: UFFDIO_UNREGISTER reads a `struct uffdio_range`.
        let _ = unsafe {
            rustix::ioctl::ioctl(&self.uffd, Updater::<UFFDIO_UNREGISTER, _>::new(&mut range))
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(t: &mut WriteTracker) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        t.take_written(&mut out).unwrap();
        out
    }

    /// Plain stores on shared (a tmpfs file), anonymous memory and a file
    /// of the temporary directory's file system (where the kernel allows
    /// it) are seen, page by page, and each scan re-arms the protection.
    #[test]
    #[cfg_attr(miri, ignore = "userfaultfd and mmap")]
    fn sees_plain_stores() {
        let page = crate::sys::mm::page_size();
        for (shared, dir) in [
            (true, std::path::PathBuf::from("/dev/shm")),
            (false, std::env::temp_dir()),
            (true, std::env::temp_dir()),
        ] {
            let len = 8 * page;
            let file = tempfile::tempfile_in(&dir).unwrap();
            file.set_len(len as u64).unwrap();
            // SAFETY: a fresh mapping, unmapped below after the tracker.
            let addr = unsafe {
                if shared {
                    rustix::mm::mmap(
                        std::ptr::null_mut(),
                        len,
                        rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                        rustix::mm::MapFlags::SHARED,
                        &file,
                        0,
                    )
                } else {
                    rustix::mm::mmap_anonymous(
                        std::ptr::null_mut(),
                        len,
                        rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                        rustix::mm::MapFlags::PRIVATE,
                    )
                }
            }
            .unwrap()
            .cast::<u8>();
            let start = addr as usize;
            // SAFETY: the mapping lives until the munmap below.
            let mut t = match unsafe { WriteTracker::new(start, len) } {
                Ok(t) => t,
                Err(e) => {
                    println!(
                        "SKIPPED sys::wrtrack::sees_plain_stores ({dir:?}, shared {shared}): {e}"
                    );
                    // SAFETY: unmaps the mapping made above.
                    unsafe { rustix::mm::munmap(addr.cast(), len) }.unwrap();
                    continue;
                }
            };
            assert_eq!(written(&mut t), vec![], "{dir:?} shared {shared}");
            // SAFETY: inside the mapping.
            unsafe {
                addr.add(page + 8).write_volatile(1);
                addr.add(5 * page).write_volatile(2);
                addr.add(5 * page + 100).write_volatile(3);
            }
            assert_eq!(
                written(&mut t),
                vec![
                    (start + page, start + 2 * page),
                    (start + 5 * page, start + 6 * page)
                ],
                "{dir:?} shared {shared}"
            );
            // Re-armed: nothing new until the next store, even to a page
            // written before.
            assert_eq!(written(&mut t), vec![], "{dir:?} shared {shared}");
            // SAFETY: inside the mapping.
            unsafe { addr.add(page).write_volatile(4) };
            assert_eq!(
                written(&mut t),
                vec![(start + page, start + 2 * page)],
                "{dir:?} shared {shared}"
            );
            drop(t);
            // SAFETY: unmaps the mapping made above; no reference into it.
            unsafe { rustix::mm::munmap(addr.cast(), len) }.unwrap();
        }
    }
}
