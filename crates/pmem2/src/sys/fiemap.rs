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

    const TMPFS_MAGIC: i64 = 0x0102_1994;

    fn fs_type(f: &std::fs::File) -> i64 {
        #[allow(clippy::unnecessary_cast)] // the field's type differs between libcs
        let t = rustix::fs::fstatfs(f).unwrap().f_type as i64;
        t
    }

    /// tmpfs has no FIEMAP: the kernel says `EOPNOTSUPP`.
    #[test]
    fn tmpfs_has_no_extents() {
        let mut f = tempfile::tempfile_in("/dev/shm").unwrap();
        assert_eq!(fs_type(&f), TMPFS_MAGIC, "/dev/shm is not tmpfs here");
        f.write_all(&[0xa5u8; 4096]).unwrap();
        let e = extents(f.as_fd(), 4096).unwrap_err();
        assert_eq!(e.errno(), Some(rustix::io::Errno::OPNOTSUPP), "{e}");
    }

    /// On the disk file system the build runs on, the extents cover the
    /// data, in order.
    #[test]
    fn extents_of_a_disk_file_cover_its_data() {
        let exe = std::env::current_exe().unwrap();
        let mut f = tempfile::tempfile_in(exe.parent().unwrap()).unwrap();
        assert_ne!(fs_type(&f), TMPFS_MAGIC, "the build directory is on tmpfs");
        f.write_all(&vec![0xa5u8; 3 * 4096]).unwrap();
        f.sync_all().unwrap();
        let exts = extents(f.as_fd(), 3 * 4096).unwrap();
        let covered: u64 = exts.iter().map(|e| e.length).sum();
        assert!(covered >= 3 * 4096, "{exts:?}");
        assert_eq!(exts[0].logical, 0, "{exts:?}");
        for w in exts.windows(2) {
            assert!(w[0].logical < w[1].logical, "{exts:?}");
        }
    }
}
