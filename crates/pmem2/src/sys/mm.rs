//! Virtual memory: `mmap(2)`, `munmap(2)`, `msync(2)` and the page size.
//!
//! [`Mapping`] owns an address range and unmaps it when dropped; every other
//! function here acts on a range its caller owns and says so in its
//! `# Safety` section.
//!
//! # References
//! - [`mmap(2)`](https://man7.org/linux/man-pages/man2/mmap.2.html)
//! - [`msync(2)`](https://man7.org/linux/man-pages/man2/msync.2.html)

use std::ffi::c_void;
use std::os::fd::BorrowedFd;
use std::sync::OnceLock;

pub(crate) use rustix::mm::ProtFlags;
use rustix::mm::{mmap, mmap_anonymous, munmap, MapFlags, MsyncFlags};

use crate::error::Errno;

/// The system page size, read once.
#[must_use]
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(rustix::param::page_size)
}

/// An address range this process mapped and owns; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    /// Reserves `len` bytes of inaccessible address space where the kernel
    /// chooses (`PROT_NONE`, `MAP_NORESERVE`: no memory is committed).
    pub(crate) fn reserve(len: usize) -> Result<Mapping, Errno> {
        // SAFETY: a new anonymous PROT_NONE mapping at a kernel-chosen
        // address changes no existing memory.
        let addr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }? as usize;
        Ok(Mapping { addr, len })
    }

    /// Reserves exactly `[addr, addr + len)`, which must be free: `EEXIST`
    /// when anything is mapped there (`MAP_FIXED_NOREPLACE`; kernels before
    /// 4.17 treat it as a hint, which is detected and refused the same way).
    pub(crate) fn reserve_at(addr: usize, len: usize) -> Result<Mapping, Errno> {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
        let got = unsafe {
            mmap_anonymous(
                addr as *mut c_void,
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE | MapFlags::FIXED_NOREPLACE,
            )
        }? as usize;
        let mapping = Mapping { addr: got, len };
        if got != addr {
            // Dropping unmaps what the old kernel placed elsewhere.
            return Err(Errno::EXIST);
        }
        Ok(mapping)
    }

    /// Takes ownership of `[addr, addr + len)`.
    ///
    /// # Safety
    /// The range must be mapped, and owned by nobody else: dropping the
    /// result unmaps it.
    pub(crate) unsafe fn from_raw(addr: usize, len: usize) -> Mapping {
        Mapping { addr, len }
    }

    /// Start address.
    pub(crate) fn addr(&self) -> usize {
        self.addr
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Gives up ownership without unmapping; returns `(addr, len)`.
    pub(crate) fn into_raw(self) -> (usize, usize) {
        let parts = (self.addr, self.len);
        std::mem::forget(self);
        parts
    }

    /// Unmaps everything outside `[keep, keep + len)` and returns the kept
    /// part, which must lie inside this mapping.
    pub(crate) fn trim_to(self, keep: usize, len: usize) -> Mapping {
        debug_assert!(keep >= self.addr && keep + len <= self.addr + self.len);
        let (base, total) = self.into_raw();
        let head = keep - base;
        let tail_start = keep + len;
        let tail = base + total - tail_start;
        // SAFETY: both ranges are parts of the mapping this value owned,
        // outside the part handed back.
        unsafe {
            if head != 0 {
                unmap(base, head).ok();
            }
            if tail != 0 {
                unmap(tail_start, tail).ok();
            }
        }
        Mapping { addr: keep, len }
    }

    /// Unmaps now, reporting failure (dropping ignores it). On failure the
    /// range is still mapped and owned by the returned value.
    pub(crate) fn unmap(self) -> Result<(), (Mapping, Errno)> {
        let (addr, len) = self.into_raw();
        // SAFETY: this value owned the range.
        unsafe { unmap(addr, len) }.map_err(|errno| (Mapping { addr, len }, errno))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: this value owns the range; nothing refers to it now.
            unsafe { unmap(self.addr, self.len) }.ok();
        }
    }
}

/// How a file is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMapKind {
    /// `MAP_PRIVATE`: copy-on-write.
    Private,
    /// `MAP_SHARED`.
    Shared,
    /// `MAP_SHARED_VALIDATE | MAP_SYNC`: refused (`EINVAL`/`EOPNOTSUPP`)
    /// unless the file is on DAX.
    SharedSync,
}

/// Maps `len` bytes of `fd` at `offset` over `[addr, addr + len)`
/// (`MAP_FIXED`), replacing what was there in one step.
///
/// # Safety
/// The caller must own `[addr, addr + len)` (a reservation or placeholder
/// it made, or a mapping it is repairing) and nothing may hold references
/// into it that the replacement would invalidate.
pub(crate) unsafe fn map_file_fixed(
    addr: usize,
    len: usize,
    prot: ProtFlags,
    kind: FileMapKind,
    fd: BorrowedFd<'_>,
    offset: u64,
) -> Result<(), Errno> {
    let flags = MapFlags::FIXED
        | match kind {
            FileMapKind::Private => MapFlags::PRIVATE,
            FileMapKind::Shared => MapFlags::SHARED,
            FileMapKind::SharedSync => MapFlags::SHARED_VALIDATE | MapFlags::SYNC,
        };
    // SAFETY: forwarded from the caller: the range is the caller's.
    unsafe { mmap(addr as *mut c_void, len, prot, flags, fd, offset) }.map(|_| ())
}

/// Maps zero-filled anonymous memory over `[addr, addr + len)` (`MAP_FIXED`).
///
/// # Safety
/// As [`map_file_fixed`].
pub(crate) unsafe fn map_anonymous_fixed(
    addr: usize,
    len: usize,
    prot: ProtFlags,
    shared: bool,
) -> Result<(), Errno> {
    let sharing = if shared {
        MapFlags::SHARED
    } else {
        MapFlags::PRIVATE
    };
    // SAFETY: forwarded from the caller.
    unsafe { mmap_anonymous(addr as *mut c_void, len, prot, sharing | MapFlags::FIXED) }.map(|_| ())
}

/// Makes `[addr, addr + len)` inaccessible again (`PROT_NONE`,
/// `MAP_NORESERVE`, `MAP_FIXED`), dropping what was mapped there, so that
/// the range stays reserved.
///
/// # Safety
/// As [`map_file_fixed`].
pub(crate) unsafe fn make_inaccessible(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: forwarded from the caller.
    unsafe {
        mmap_anonymous(
            addr as *mut c_void,
            len,
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::NORESERVE | MapFlags::FIXED,
        )
    }
    .map(|_| ())
}

/// Unmaps `[addr, addr + len)`.
///
/// # Safety
/// The caller must own the range and nothing may use it afterwards.
pub(crate) unsafe fn unmap(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: forwarded from the caller.
    unsafe { munmap(addr as *mut c_void, len) }
}

/// Maps `len` bytes of `fd` at `offset` (shared) where the kernel chooses.
pub(crate) fn map_file_shared(
    len: usize,
    prot: ProtFlags,
    fd: BorrowedFd<'_>,
    offset: u64,
) -> Result<Mapping, Errno> {
    // SAFETY: a new mapping at a kernel-chosen address changes no existing
    // memory.
    let addr = unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            prot,
            MapFlags::SHARED,
            fd,
            offset,
        )
    }? as usize;
    Ok(Mapping { addr, len })
}

/// `msync(MS_SYNC)` of a page-aligned range, retrying on `EINTR`.
///
/// Safe: `msync` only writes pages back; on an unmapped address it fails
/// with `ENOMEM` and changes nothing.
pub(crate) fn sync(addr: usize, len: usize) -> Result<(), Errno> {
    loop {
        // SAFETY: see above: msync never changes memory contents or mappings.
        match unsafe { rustix::mm::msync(addr as *mut c_void, len, MsyncFlags::SYNC) } {
            Err(Errno::INTR) => {}
            other => return other,
        }
    }
}

/// The address ranges mapped in this process, from `/proc/self/maps`, in
/// address order.
///
/// # References
/// - [`proc_pid_maps(5)`](https://man7.org/linux/man-pages/man5/proc_pid_maps.5.html)
pub(crate) fn mapped_ranges() -> std::io::Result<Vec<(usize, usize)>> {
    let text = std::fs::read_to_string("/proc/self/maps")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (range, _) = line.split_once(' ')?;
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        miri,
        ignore = "real mmap: Miri supports only read/write anonymous maps"
    )]
    fn reserve_trim_and_drop() {
        let page = page_size();
        let m = Mapping::reserve(8 * page).unwrap();
        let base = m.addr();
        let kept = m.trim_to(base + 2 * page, 3 * page);
        assert_eq!((kept.addr(), kept.len()), (base + 2 * page, 3 * page));
        // The trimmed head is free again: reserving it exactly succeeds.
        let head = Mapping::reserve_at(base, 2 * page).unwrap();
        // The kept part is still ours: reserving over it is refused.
        assert_eq!(
            Mapping::reserve_at(base + 2 * page, page).unwrap_err(),
            Errno::EXIST
        );
        drop(kept);
        let again = Mapping::reserve_at(base + 2 * page, 3 * page).unwrap();
        drop((head, again));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "real mmap: Miri supports only read/write anonymous maps"
    )]
    fn sync_of_unmapped_memory_fails_cleanly() {
        // The first page above 0 is below `vm.mmap_min_addr` (64 KiB by
        // default): nothing maps it, not even another test running
        // meanwhile, as could happen to a range unmapped here.
        let page = page_size();
        assert_eq!(sync(page, page), Err(Errno::NOMEM));
    }
}
