//! File-descriptor calls: `open`, `fcntl`, `fstat`, `dup`, `pread`/`pwrite`
//! and `fallocate`.
//!
//! # References
//! - [`open(2)`](https://man7.org/linux/man-pages/man2/open.2.html),
//!   [`fcntl(2)`](https://man7.org/linux/man-pages/man2/fcntl.2.html),
//!   [`fstat(2)`](https://man7.org/linux/man-pages/man2/fstat.2.html)
//! - [`pread(2)`](https://man7.org/linux/man-pages/man2/pread.2.html)
//! - [`fallocate(2)`](https://man7.org/linux/man-pages/man2/fallocate.2.html)

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
