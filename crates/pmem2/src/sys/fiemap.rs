//! A file's physical extents, from the `FS_IOC_FIEMAP` ioctl.

use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};

/// One extent of a file: `length` bytes at file offset `logical` are stored
/// at byte `physical` of the underlying block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Extent {
    /// Offset in the file.
    pub(crate) logical: u64,
    /// Offset on the block device.
    pub(crate) physical: u64,
    /// Length in bytes.
    pub(crate) length: u64,
}

/// `struct fiemap` of `<linux/fiemap.h>` (the fixed header).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_field_names)] // the kernel's field names, kept for grep-ability
struct FiemapHeader {
    fm_start: u64,
    fm_length: u64,
    fm_flags: u32,
    fm_mapped_extents: u32,
    fm_extent_count: u32,
    fm_reserved: u32,
}

/// `struct fiemap_extent` of `<linux/fiemap.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_field_names)] // the kernel's field names, kept for grep-ability
struct FiemapExtent {
    fe_logical: u64,
    fe_physical: u64,
    fe_length: u64,
    fe_reserved64: [u64; 2],
    fe_flags: u32,
    fe_reserved: [u32; 3],
}

/// Extents fetched per ioctl call.
const BATCH: usize = 64;

/// The header followed by room for [`BATCH`] extents, as the ioctl expects.
#[repr(C)]
struct FiemapBuf {
    header: FiemapHeader,
    extents: [FiemapExtent; BATCH],
}

/// `FIEMAP_EXTENT_LAST`: the last extent of the file.
const FIEMAP_EXTENT_LAST: u32 = 0x1;

/// `FS_IOC_FIEMAP` = `_IOWR('f', 11, struct fiemap)`.
const FS_IOC_FIEMAP: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<FiemapHeader>(b'f', 11);

// The layouts the kernel expects.
const _: () = assert!(std::mem::size_of::<FiemapHeader>() == 32);
const _: () = assert!(std::mem::size_of::<FiemapExtent>() == 56);

/// Reads the extents of the first `size` bytes of an open regular file, in
/// file order.
///
/// # Errors
/// [`Error::Os`] (context `"ioctl FS_IOC_FIEMAP"`) if the file system
/// doesn't support FIEMAP or the call fails; [`Error::Unknown`] if the
/// kernel reports an impossible extent count.
pub(crate) fn extents(fd: BorrowedFd<'_>, size: u64) -> Result<Vec<Extent>> {
    let mut out = Vec::new();
    let mut start = 0u64;
    while start < size {
        let mut buf = FiemapBuf {
            header: FiemapHeader {
                fm_start: start,
                fm_length: size - start,
                fm_flags: 0,
                fm_mapped_extents: 0,
                fm_extent_count: BATCH as u32,
                fm_reserved: 0,
            },
            extents: [FiemapExtent::default(); BATCH],
        };
        // SAFETY: `FS_IOC_FIEMAP` reads a `struct fiemap` header and writes
        // at most `fm_extent_count` (= BATCH) `struct fiemap_extent`s after
        // it; `FiemapBuf` is `repr(C)` with exactly that layout and room,
        // and it lives for the whole call.
        let ioctl = unsafe { rustix::ioctl::Updater::<FS_IOC_FIEMAP, FiemapBuf>::new(&mut buf) };
        // SAFETY: the opcode and the buffer type match, as said above.
        unsafe { rustix::ioctl::ioctl(fd, ioctl) }
            .map_err(|e| Error::os(e, "ioctl FS_IOC_FIEMAP"))?;
        let mapped = buf.header.fm_mapped_extents as usize;
        if mapped > BATCH {
            return Err(Error::Unknown(
                format!("FIEMAP reported {mapped} extents for room for {BATCH}").into(),
            ));
        }
        if mapped == 0 {
            break;
        }
        let mut last = false;
        let mut next = start;
        for e in &buf.extents[..mapped] {
            out.push(Extent {
                logical: e.fe_logical,
                physical: e.fe_physical,
                length: e.fe_length,
            });
            next = next.max(e.fe_logical.saturating_add(e.fe_length));
            last |= e.fe_flags & FIEMAP_EXTENT_LAST != 0;
        }
        if last || next <= start {
            break;
        }
        start = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    /// `statfs` magic numbers of the file systems whose answer is known.
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const EXT4_MAGIC: i64 = 0xef53;
    const XFS_MAGIC: i64 = 0x5846_5342;
    const BTRFS_MAGIC: i64 = 0x9123_683e;

    #[test]
    fn extents_of_a_real_file_as_its_file_system_answers() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0xa5u8; 3 * 4096]).unwrap();
        f.sync_all().unwrap();
        let fs_type = rustix::fs::fstatfs(&f).unwrap().f_type as i64;
        let result = extents(f.as_fd(), 3 * 4096);
        let covers_the_data = |exts: &[Extent]| {
            let covered: u64 = exts.iter().map(|e| e.length).sum();
            assert!(covered >= 3 * 4096, "{exts:?}");
            assert!(exts[0].logical == 0, "{exts:?}");
            for w in exts.windows(2) {
                assert!(w[0].logical + w[0].length <= w[1].logical, "{exts:?}");
            }
        };
        match (fs_type, result) {
            // tmpfs has no FIEMAP.
            (TMPFS_MAGIC, Err(e)) => {
                assert_eq!(e.errno(), Some(rustix::io::Errno::OPNOTSUPP), "{e}");
                assert_eq!(
                    e.to_string(),
                    "ioctl FS_IOC_FIEMAP: Operation not supported"
                );
            }
            (EXT4_MAGIC | XFS_MAGIC | BTRFS_MAGIC, Ok(exts)) => covers_the_data(&exts),
            // Elsewhere only the two documented outcomes are acceptable.
            (_, Ok(exts)) if fs_type != TMPFS_MAGIC => covers_the_data(&exts),
            (_, Err(e))
                if !matches!(fs_type, EXT4_MAGIC | XFS_MAGIC | BTRFS_MAGIC | TMPFS_MAGIC) =>
            {
                assert_eq!(e.errno(), Some(rustix::io::Errno::OPNOTSUPP), "{e}");
            }
            (fs_type, result) => panic!("file system {fs_type:#x}: {result:?}"),
        }
    }
}
