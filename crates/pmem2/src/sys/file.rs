//! File calls: `open`, `access`, `stat`, `fcntl`, `fstat`, `dup`,
//! `pread`/`pwrite`, `fallocate`, `ftruncate`, `posix_fallocate`, `mkstemp`
//! and `unlink`.
//!
//! # References
//! - [`open(2)`](https://man7.org/linux/man-pages/man2/open.2.html),
//!   [`fcntl(2)`](https://man7.org/linux/man-pages/man2/fcntl.2.html),
//!   [`fstat(2)`](https://man7.org/linux/man-pages/man2/fstat.2.html)
//! - [`pread(2)`](https://man7.org/linux/man-pages/man2/pread.2.html)
//! - [`fallocate(2)`](https://man7.org/linux/man-pages/man2/fallocate.2.html),
//!   [`posix_fallocate(3)`](https://man7.org/linux/man-pages/man3/posix_fallocate.3.html),
//!   [`ftruncate(2)`](https://man7.org/linux/man-pages/man2/ftruncate.2.html)
//! - [`access(2)`](https://man7.org/linux/man-pages/man2/access.2.html),
//!   [`mkstemp(3)`](https://man7.org/linux/man-pages/man3/mkstemp.3.html),
//!   [`unlink(2)`](https://man7.org/linux/man-pages/man2/unlink.2.html)

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

pub(crate) use rustix::fs::Stat;
use rustix::fs::{FallocateFlags, OFlags};

use crate::error::{Errno, Error, Result};

/// Opens `path` for reading and writing (close-on-exec).
pub(crate) fn open_rw(path: &Path) -> std::result::Result<OwnedFd, Errno> {
    rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// Whether the descriptor was opened write-only (`fcntl(F_GETFL)`).
pub(crate) fn is_write_only(fd: BorrowedFd<'_>) -> std::result::Result<bool, Errno> {
    Ok(rustix::fs::fcntl_getfl(fd)? & OFlags::ACCMODE == OFlags::WRONLY)
}

/// `fstat(2)`.
pub(crate) fn stat(fd: BorrowedFd<'_>) -> std::result::Result<Stat, Errno> {
    rustix::fs::fstat(fd)
}

/// Reads at `offset` until `buf` is full or the file ends; returns the
/// bytes read. `EINTR` is retried.
pub(crate) fn pread_full(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    offset: u64,
) -> std::result::Result<usize, Errno> {
    let mut done = 0usize;
    while done < buf.len() {
        match rustix::io::pread(fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes all of `buf` at `offset`; `EINTR` is retried, a write of nothing
/// is `EIO`.
pub(crate) fn pwrite_all(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    offset: u64,
) -> std::result::Result<(), Errno> {
    let mut done = 0usize;
    while done < buf.len() {
        match rustix::io::pwrite(fd, &buf[done..], offset + done as u64) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A duplicate of a descriptor (close-on-exec), owned by the caller.
///
/// # Errors
/// [`Error::Os`] (`"dup"`) if `fcntl(F_DUPFD_CLOEXEC)` fails.
pub(crate) fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| Error::os(e, "dup"))
}

/// A file's size and preferred I/O block size (`st_size`, `st_blksize`).
///
/// # Errors
/// [`Error::Os`] (`"fstat"`) if `fstat` fails.
pub(crate) fn size_and_block_size(fd: BorrowedFd<'_>) -> Result<(u64, u64)> {
    let st = rustix::fs::fstat(fd).map_err(|e| Error::os(e, "fstat"))?;
    Ok((st.st_size.max(0) as u64, st.st_blksize.max(0) as u64))
}

/// Replaces `[offset, offset + len)` of a file with freshly allocated
/// blocks: punches a hole over the range (the file system frees its blocks)
/// and allocates it again, keeping the file's size. The range then reads
/// as zeros.
///
/// # Errors
/// [`Error::Os`] (`"fallocate"`) if either call fails, e.g. `EOPNOTSUPP`
/// on a file system without hole punching.
pub(crate) fn reallocate(fd: BorrowedFd<'_>, offset: u64, len: u64) -> Result<()> {
    rustix::fs::fallocate(
        fd,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    )
    .map_err(|e| Error::os(e, "fallocate"))?;
    rustix::fs::fallocate(fd, FallocateFlags::KEEP_SIZE, offset, len)
        .map_err(|e| Error::os(e, "fallocate"))
}

/// `access(path, F_OK)`: `Ok(false)` when the path doesn't exist
/// (`ENOENT`), another errno when it can't be checked.
pub(crate) fn exists(path: &Path) -> std::result::Result<bool, Errno> {
    match rustix::fs::access(path, rustix::fs::Access::EXISTS) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(errno) => Err(errno),
    }
}

/// `stat(2)` of a path (symbolic links followed).
pub(crate) fn stat_path(path: &Path) -> std::result::Result<Stat, Errno> {
    rustix::fs::stat(path)
}

/// Opens `path` read-write, creating it with `mode` (less the umask) when
/// `create`, failing when it exists if `create && exclusive` (close-on-exec).
pub(crate) fn open_rw_create(
    path: &Path,
    create: bool,
    exclusive: bool,
    mode: u32,
) -> std::result::Result<OwnedFd, Errno> {
    let mut flags = OFlags::RDWR | OFlags::CLOEXEC;
    if create {
        flags |= OFlags::CREATE;
    }
    if exclusive {
        flags |= OFlags::EXCL;
    }
    rustix::fs::open(path, flags, rustix::fs::Mode::from_raw_mode(mode))
}

/// Creates an unnamed temporary file (mode 0600) in the directory `dir`:
/// `mkstemp(3)` of `<dir>/pmem.XXXXXX`, then `unlink(2)` of the name, as
/// PMDK's libpmem does.
pub(crate) fn unnamed_temp_file(dir: &Path) -> std::result::Result<OwnedFd, Errno> {
    use std::os::unix::ffi::OsStrExt;
    let mut template = dir.as_os_str().as_bytes().to_vec();
    template.extend_from_slice(b"/pmem.XXXXXX\0");
    // SAFETY: `template` is a writable NUL-terminated buffer ending in
    // "XXXXXX", which mkstemp rewrites in place.
    let fd = unsafe { libc::mkstemp(template.as_mut_ptr().cast()) };
    if fd < 0 {
        return Err(Errno::from_raw_os_error(last_errno()));
    }
    // SAFETY: mkstemp returned a new descriptor that nothing else owns.
    let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    template.pop(); // the NUL
    let name = std::ffi::OsStr::from_bytes(&template);
    rustix::fs::unlink(name)?;
    Ok(owned)
}

/// `unlink(2)`.
pub(crate) fn remove(path: &Path) -> std::result::Result<(), Errno> {
    rustix::fs::unlink(path)
}

/// The calling thread's `errno`.
fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Sets the file's size: libc's `ftruncate(3)` (not the raw system call,
/// so that programs interposing on `ftruncate` see it, as with PMDK).
pub(crate) fn set_size(fd: BorrowedFd<'_>, len: u64) -> std::result::Result<(), Errno> {
    let len = libc::off_t::try_from(len).map_err(|_| Errno::INVAL)?;
    // SAFETY: plain system call on a borrowed, open descriptor.
    if unsafe { libc::ftruncate(std::os::fd::AsRawFd::as_raw_fd(&fd), len) } == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(last_errno()))
    }
}

/// Allocates blocks for `[0, len)`: libc's `posix_fallocate(3)` (which
/// returns the error instead of setting `errno`).
pub(crate) fn allocate(fd: BorrowedFd<'_>, len: u64) -> std::result::Result<(), Errno> {
    let len = libc::off_t::try_from(len).map_err(|_| Errno::INVAL)?;
    // SAFETY: plain library call on a borrowed, open descriptor.
    match unsafe { libc::posix_fallocate(std::os::fd::AsRawFd::as_raw_fd(&fd), 0, len) } {
        0 => Ok(()),
        err => Err(Errno::from_raw_os_error(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::fd::AsFd;

    #[test]
    fn reallocated_range_reads_as_zeros() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0x5au8; 16384]).unwrap();
        assert_eq!(size_and_block_size(f.as_fd()).unwrap().0, 16384);
        // ext4, xfs, btrfs and tmpfs all punch holes.
        reallocate(f.as_fd(), 4096, 4096).unwrap();
        let mut data = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut data).unwrap();
        assert_eq!(data.len(), 16384);
        assert!(data[..4096].iter().all(|&b| b == 0x5a));
        assert!(data[4096..8192].iter().all(|&b| b == 0));
        assert!(data[8192..].iter().all(|&b| b == 0x5a));
    }
}
