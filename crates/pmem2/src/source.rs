//! Data sources: what a [`Map`](crate::Map) maps.
//!
//! A source is either a file descriptor (a regular file or a device DAX) or
//! anonymous memory of a given size. File-descriptor sources borrow the
//! descriptor (`Source<'fd>`, e.g. from a `&File`) or own it
//! (`Source<'static>`); like PMDK, a source never duplicates it, and a map
//! doesn't need it once created.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::FileType as StatType;

use crate::debug_log::{plog, Returned, BASIC};
use crate::error::{Errno, Error, Result};
use crate::sys::file::{self, Stat};
use crate::sys::mm::page_size;
use pmem2_nvdimm::{dax, SYSFS_ROOT};

/// What kind of thing a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// A regular file (on any file system; fsdax when mounted with `-o dax`).
    Regular,
    /// A device DAX character device (`/dev/daxX.Y`).
    DeviceDax,
    /// Anonymous memory ([`Source::anonymous`]).
    Anonymous,
}

impl FileType {
    /// The lower-case name used by the CLI: `"regular"`, `"devdax"`, `"anonymous"`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileType::Regular => "regular",
            FileType::DeviceDax => "devdax",
            FileType::Anonymous => "anonymous",
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug)]
enum Descriptor<'fd> {
    Borrowed(BorrowedFd<'fd>),
    Owned(OwnedFd),
}

impl Descriptor<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Descriptor::Borrowed(fd) => *fd,
            Descriptor::Owned(fd) => fd.as_fd(),
        }
    }
}

#[derive(Debug)]
enum Kind<'fd> {
    File {
        fd: Descriptor<'fd>,
        file_type: FileType,
        dev: u64,
        rdev: u64,
    },
    Anonymous {
        size: usize,
    },
}

/// The identity of a source, copied into every map made from it (PMDK copies
/// the source by value with the descriptor dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceId {
    /// Regular, device DAX or anonymous.
    pub(crate) file_type: FileType,
    /// `st_dev` of the file (the file system's device), 0 if anonymous.
    pub(crate) dev: u64,
    /// `st_rdev` of a device DAX, 0 otherwise.
    pub(crate) rdev: u64,
}

impl SourceId {
    /// The device to look for in the NVDIMM model of sysfs; `None` for an
    /// anonymous source, which no NVDIMM backs.
    pub(crate) fn nd_device(&self) -> Option<pmem2_nvdimm::nd::Device> {
        match self.file_type {
            FileType::Regular => Some(pmem2_nvdimm::nd::Device::File { dev: self.dev }),
            FileType::DeviceDax => Some(pmem2_nvdimm::nd::Device::DeviceDax { rdev: self.rdev }),
            FileType::Anonymous => None,
        }
    }
}

/// A data source to map: a file descriptor or anonymous memory.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let file = std::fs::OpenOptions::new().read(true).write(true).open("/mnt/pmem/data")?;
/// let source = pmem2::Source::from_file(&file)?;
/// println!("{} bytes, alignment {}", source.size()?, source.alignment()?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Source<'fd> {
    kind: Kind<'fd>,
}

impl<'fd> Source<'fd> {
    /// A source over a borrowed descriptor, as `pmem2_source_from_fd`.
    ///
    /// # Errors
    /// [`Error::InvalidFileHandle`] for a closed or write-only descriptor,
    /// [`Error::InvalidFileType`] for anything but a regular file or a
    /// device DAX (directories, other character devices, block devices,
    /// pipes, sockets), [`Error::Os`] when sysfs can't tell a character
    /// device's subsystem.
    pub fn from_fd(fd: BorrowedFd<'fd>) -> Result<Self> {
        Self::with_descriptor(Descriptor::Borrowed(fd), Path::new(SYSFS_ROOT))
            .logged("Source::from_fd")
    }

    /// A source over an open file, borrowing its descriptor.
    ///
    /// # Errors
    /// As [`Source::from_fd`].
    pub fn from_file(file: &'fd File) -> Result<Self> {
        Self::with_descriptor(Descriptor::Borrowed(file.as_fd()), Path::new(SYSFS_ROOT))
            .logged("Source::from_file")
    }

    fn with_descriptor(fd: Descriptor<'fd>, sysfs: &Path) -> Result<Self> {
        let raw = fd.as_fd();
        let write_only = file::is_write_only(raw).map_err(|errno| match errno {
            Errno::BADF => Error::InvalidFileHandle("fcntl: Bad file descriptor".into()),
            other => Error::os(other, "fcntl"),
        })?;
        if write_only {
            return Err(Error::InvalidFileHandle(
                "fd must be open with O_RDONLY or O_RDWR".into(),
            ));
        }
        let st = stat_fd(raw)?;
        let file_type = classify(&st, sysfs)?;
        plog!(
            BASIC,
            "Source::from_fd",
            "fd {}: {file_type:?}, device {}:{}",
            std::os::fd::AsRawFd::as_raw_fd(&raw),
            st.st_dev,
            st.st_rdev
        );
        Ok(Source {
            kind: Kind::File {
                fd,
                file_type,
                dev: st.st_dev,
                rdev: st.st_rdev,
            },
        })
    }

    /// The kind of source.
    #[must_use]
    pub fn file_type(&self) -> FileType {
        match &self.kind {
            Kind::File { file_type, .. } => *file_type,
            Kind::Anonymous { .. } => FileType::Anonymous,
        }
    }

    /// The descriptor, as `pmem2_source_get_fd`.
    ///
    /// # Errors
    /// [`Error::FileDescriptorNotSet`] for an anonymous source.
    pub fn fd(&self) -> Result<BorrowedFd<'_>> {
        self.file_fd()
            .ok_or_else(|| {
                Error::FileDescriptorNotSet(
                    "the source is anonymous and has no file descriptor".into(),
                )
            })
            .logged("Source::fd")
    }

    /// The descriptor, `None` for an anonymous source (for the crate: not
    /// an error the debug log should see).
    pub(crate) fn file_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            Kind::File { fd, .. } => Some(fd.as_fd()),
            Kind::Anonymous { .. } => None,
        }
    }

    /// The source's identity (type, `st_dev`, `st_rdev`).
    #[must_use]
    pub(crate) fn id(&self) -> SourceId {
        match &self.kind {
            Kind::File {
                file_type,
                dev,
                rdev,
                ..
            } => SourceId {
                file_type: *file_type,
                dev: *dev,
                rdev: *rdev,
            },
            Kind::Anonymous { .. } => SourceId {
                file_type: FileType::Anonymous,
                dev: 0,
                rdev: 0,
            },
        }
    }

    /// Size in bytes: the file's current size (re-read each call, as PMDK
    /// does), the device DAX's size from sysfs, or the anonymous size.
    ///
    /// # Errors
    /// [`Error::InvalidFileHandle`] when the descriptor was closed;
    /// [`Error::Os`] or [`Error::InvalidSizeFormat`] when sysfs can't be read.
    pub fn size(&self) -> Result<usize> {
        self.size_in(Path::new(SYSFS_ROOT)).logged("Source::size")
    }

    pub(crate) fn size_in(&self, sysfs: &Path) -> Result<usize> {
        match &self.kind {
            Kind::Anonymous { size } => Ok(*size),
            Kind::File { fd, .. } => {
                // Re-read every call: the file may have grown or shrunk.
                let st = stat_fd(fd.as_fd())?;
                size_from(&st, self.file_type(), sysfs)
            }
        }
    }

    /// Required alignment of offsets and lengths: the page size for files and
    /// anonymous memory, the device's alignment for a device DAX.
    ///
    /// Like PMDK, this answers from the type recorded when the source was
    /// made; it doesn't look at the descriptor again.
    ///
    /// # Errors
    /// [`Error::Os`] or [`Error::InvalidAlignmentFormat`] when a device
    /// DAX's sysfs can't be read; [`Error::InvalidAlignmentValue`] when the
    /// alignment is not a power of two.
    pub fn alignment(&self) -> Result<usize> {
        self.alignment_in(Path::new(SYSFS_ROOT))
            .logged("Source::alignment")
    }

    /// The smallest aligned `(offset, length)` pair whose range covers
    /// `[offset, offset + len)`: the offset rounded down and the end rounded
    /// up to [`Source::alignment`], ready for [`Config::set_offset`] and
    /// [`Config::set_length`](crate::Config::set_length), or as the size of a
    /// [`VmReservation`](crate::VmReservation) that must hold the whole file.
    /// The bytes asked for start `offset - aligned_offset` bytes into the map.
    ///
    /// ```
    /// # fn main() -> pmem2::Result<()> {
    /// let file = tempfile::tempfile()?;
    /// file.set_len(10_000)?;
    /// let source = pmem2::Source::from_file(&file)?;
    /// let page = source.alignment()?;
    /// let (offset, len) = source.aligned_range(page + 100, 10)?;
    /// assert_eq!((offset, len), (page, page));
    /// let (_, whole) = source.aligned_range(0, source.size()?)?;
    /// assert_eq!(whole, 10_000usize.next_multiple_of(page));
    /// # Ok(()) }
    /// ```
    ///
    /// [`Config::set_offset`]: crate::Config::set_offset
    ///
    /// # Errors
    /// As [`Source::alignment`]; [`Error::LengthOutOfRange`] when the
    /// rounded end does not fit in a `usize`.
    pub fn aligned_range(&self, offset: usize, len: usize) -> Result<(usize, usize)> {
        let result = (|| -> Result<(usize, usize)> {
            let alignment = self.alignment_in(Path::new(SYSFS_ROOT))?;
            covering_range(offset, len, alignment).ok_or_else(|| {
                Error::LengthOutOfRange(
                    format!(
                        "Source::aligned_range: offset {offset} + length {len} rounded up \
                             to the alignment ({alignment}) overflows"
                    )
                    .into(),
                )
            })
        })();
        result.logged("Source::aligned_range")
    }

    pub(crate) fn alignment_in(&self, sysfs: &Path) -> Result<usize> {
        let id = self.id();
        let alignment = if id.file_type == FileType::DeviceDax {
            let (major, minor) = dev_numbers(id.rdev);
            dax::device_dax_alignment(sysfs, major, minor)?
        } else {
            page_size()
        };
        if !alignment.is_power_of_two() {
            return Err(Error::InvalidAlignmentValue(
                format!("alignment ({alignment}) has to be a power of two").into(),
            ));
        }
        Ok(alignment)
    }
}

impl Source<'static> {
    /// A source that owns its descriptor (closed when the source is dropped).
    ///
    /// # Errors
    /// As [`Source::from_fd`].
    pub fn from_owned_fd(fd: OwnedFd) -> Result<Self> {
        Self::owning(fd).logged("Source::from_owned_fd")
    }

    /// [`Source::from_owned_fd`] for the crate (its errors are logged by
    /// the public method that returns them).
    pub(crate) fn owning(fd: OwnedFd) -> Result<Self> {
        Self::with_descriptor(Descriptor::Owned(fd), Path::new(SYSFS_ROOT))
    }

    /// Opens `path` read-write and makes a source that owns the descriptor.
    ///
    /// # Errors
    /// [`Error::Os`] when the file can't be opened; then as [`Source::from_fd`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let result = (|| -> Result<Self> {
            let path = path.as_ref();
            let fd = file::open_rw(path)
                .map_err(|errno| Error::os(errno, format!("open \"{}\"", path.display())))?;
            Self::owning(fd)
        })();
        result.logged("Source::open")
    }

    /// A source over a raw descriptor that the caller keeps open, as the C
    /// ABI's `pmem2_source_from_fd` (public only with the `c-abi` feature:
    /// Rust programs use [`Source::from_fd`]).
    ///
    /// # Safety
    /// The descriptor must not be closed and reused for another file while
    /// the source exists (a closed descriptor is reported as
    /// [`Error::InvalidFileHandle`], but a reused number would be followed
    /// to the wrong file).
    ///
    /// # Errors
    /// [`Error::InvalidFileHandle`] for a negative descriptor; then as
    /// [`Source::from_fd`].
    #[cfg(feature = "c-abi")]
    pub unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Result<Self> {
        // SAFETY: forwarded; the caller upholds `raw_fd`'s contract.
        unsafe { Self::raw_fd(fd) }
    }

    /// [`Source::from_raw_fd`] for the crate and its tests.
    ///
    /// # Safety
    /// As [`Source::from_raw_fd`].
    #[cfg(any(feature = "c-abi", test))]
    pub(crate) unsafe fn raw_fd(fd: std::os::fd::RawFd) -> Result<Self> {
        let result = (|| -> Result<Self> {
            if fd < 0 {
                return Err(Error::InvalidFileHandle(
                    format!("invalid file descriptor {fd}").into(),
                ));
            }
            // SAFETY: the caller keeps `fd` open for the source's lifetime; a
            // non-negative number is all `borrow_raw` requires to be well formed.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            Self::with_descriptor(Descriptor::Borrowed(fd), Path::new(SYSFS_ROOT))
        })();
        result.logged("Source::from_raw_fd")
    }

    /// Anonymous memory of `size` bytes: maps are zero-filled and backed by
    /// no file. Their store granularity is always [`Byte`](crate::Granularity::Byte).
    ///
    /// # Errors
    /// None today; `Result` keeps the signature of `pmem2_source_from_anon`.
    pub fn anonymous(size: usize) -> Result<Self> {
        plog!(BASIC, "Source::anonymous", "anonymous, {size} bytes");
        Ok(Source {
            kind: Kind::Anonymous { size },
        })
    }
}

fn size_from(st: &Stat, file_type: FileType, sysfs: &Path) -> Result<usize> {
    if file_type == FileType::DeviceDax {
        let (major, minor) = dev_numbers(st.st_rdev);
        return Ok(dax::device_dax_size(sysfs, major, minor)?);
    }
    usize::try_from(st.st_size).map_err(|_| {
        Error::InvalidFileHandle(
            format!(
                "kernel says size of regular file is negative ({})",
                st.st_size
            )
            .into(),
        )
    })
}

fn stat_fd(fd: BorrowedFd<'_>) -> Result<Stat> {
    file::stat(fd).map_err(|errno| match errno {
        Errno::BADF => Error::InvalidFileHandle("fstat: Bad file descriptor".into()),
        other => Error::os(other, "fstat"),
    })
}

/// The major and minor numbers of a device number.
pub(crate) fn dev_numbers(dev: u64) -> (u32, u32) {
    (rustix::fs::major(dev), rustix::fs::minor(dev))
}

/// Classifies a file as PMDK's `pmem2_get_type_from_stat` does.
fn classify(st: &Stat, sysfs: &Path) -> Result<FileType> {
    match StatType::from_raw_mode(st.st_mode) {
        StatType::RegularFile => Ok(FileType::Regular),
        StatType::Directory => Err(Error::InvalidFileType(
            "cannot set fd to directory in pmem2_source_from_fd".into(),
        )),
        StatType::CharacterDevice => {
            let (major, minor) = dev_numbers(st.st_rdev);
            if dax::is_device_dax(sysfs, major, minor)? {
                Ok(FileType::DeviceDax)
            } else {
                Err(Error::InvalidFileType(
                    format!("character device {major}:{minor} is not a device DAX").into(),
                ))
            }
        }
        _ => Err(Error::InvalidFileType(
            format!(
                "file type 0{:o} not supported",
                st.st_mode & rustix::fs::RawMode::from(libc::S_IFMT)
            )
            .into(),
        )),
    }
}

/// `[offset, offset + len)` widened to `alignment` (a power of two) at both
/// ends, as `(start, length)`; `None` when the end overflows.
fn covering_range(offset: usize, len: usize, alignment: usize) -> Option<(usize, usize)> {
    let start = offset & !(alignment - 1);
    let end = offset
        .checked_add(len)?
        .checked_next_multiple_of(alignment)?;
    Some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;

    #[test]
    fn covering_range_widens_both_ends_to_the_alignment() {
        const TWO_MIB: usize = 2 << 20;
        for (offset, len, alignment, want) in [
            (0, 10_000, 4096, Some((0, 12_288))),
            (0, 8192, 4096, Some((0, 8192))),
            (4096 + 100, 10, 4096, Some((4096, 4096))),
            (4095, 2, 4096, Some((0, 8192))),
            (0, 0, 4096, Some((0, 0))),
            (TWO_MIB + 1, TWO_MIB, TWO_MIB, Some((TWO_MIB, 2 * TWO_MIB))),
            (usize::MAX - 10, 5, 4096, None),
            (10, usize::MAX, 4096, None),
        ] {
            assert_eq!(
                covering_range(offset, len, alignment),
                want,
                "{offset} {len} {alignment}"
            );
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "opens a file")]
    fn aligned_range_uses_the_source_alignment() {
        let (f, _path) = temp_file(10_000);
        let s = Source::from_file(&f).unwrap();
        let page = page_size();
        assert_eq!(
            s.aligned_range(0, 10_000).unwrap(),
            (0, 10_000usize.next_multiple_of(page))
        );
        let err = s.aligned_range(usize::MAX, 1).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        assert!(err.to_string().contains("Source::aligned_range"), "{err}");
    }

    fn fake_sysfs(
        size: &str,
        own_align: Option<&str>,
        region_align: Option<&str>,
    ) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        pmem2_nvdimm::fake::device_dax(t.path(), size, own_align, region_align);
        t
    }

    /// A read-write temporary file of `len` bytes, removed when the
    /// returned handle is dropped.
    fn temp_file(len: u64) -> (File, tempfile::TempPath) {
        let (f, path) = tempfile::NamedTempFile::new().unwrap().into_parts();
        f.set_len(len).unwrap();
        (f, path)
    }

    #[test]
    fn regular_file() {
        let (f, path) = temp_file(12345);
        let s = Source::from_file(&f).unwrap();
        assert_eq!(s.file_type(), FileType::Regular);
        assert_eq!(s.size().unwrap(), 12345);
        assert_eq!(s.alignment().unwrap(), page_size());
        assert!(s.fd().is_ok());
        f.set_len(100).unwrap();
        assert_eq!(s.size().unwrap(), 100, "size is re-read");
        let owned = Source::open(&path).unwrap();
        assert_eq!(owned.size().unwrap(), 100);
    }

    #[test]
    fn refused_descriptors() {
        let dir = File::open(std::env::temp_dir()).unwrap();
        let err = Source::from_file(&dir).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_INVALID_FILE_TYPE);

        let (_, path) = temp_file(10);
        let wronly = File::options().write(true).open(&path).unwrap();
        let err = Source::from_file(&wronly).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_INVALID_FILE_HANDLE);
        assert_eq!(err.to_string(), "fd must be open with O_RDONLY or O_RDWR");

        let (r, w) = std::io::pipe().unwrap();
        assert_eq!(
            Source::from_fd(r.as_fd()).unwrap_err().code(),
            PMEM2_E_INVALID_FILE_TYPE
        );
        drop(w);

        let null = File::open("/dev/null").unwrap();
        assert_eq!(
            Source::from_file(&null).unwrap_err().code(),
            PMEM2_E_INVALID_FILE_TYPE
        );

        let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
        assert_eq!(
            Source::from_fd(sock.as_fd()).unwrap_err().code(),
            PMEM2_E_INVALID_FILE_TYPE
        );

        // SAFETY: -1 is never a valid descriptor; nothing is borrowed.
        let err = unsafe { Source::raw_fd(-1) }.unwrap_err();
        assert_eq!(err.code(), PMEM2_E_INVALID_FILE_HANDLE);
    }

    #[test]
    fn closed_descriptor_is_invalid_handle() {
        let (f, _path) = temp_file(4096);
        // A high number: parallel tests opening files get the lowest free
        // ones, so none can reuse it between the close and the checks.
        let high = rustix::io::fcntl_dupfd_cloexec(&f, 900).unwrap();
        drop(f);
        let raw = std::os::fd::IntoRawFd::into_raw_fd(high);
        // SAFETY: `raw` is open here; it is closed below only after the
        // source has been checked, and nothing reuses the number meanwhile
        // in a way this test observes.
        let s = unsafe { Source::raw_fd(raw) }.unwrap();
        // SAFETY: we own `raw` (from into_raw_fd) and close it once.
        drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
        assert_eq!(s.size().unwrap_err().code(), PMEM2_E_INVALID_FILE_HANDLE);
        // As PMDK: the alignment comes from the type recorded at creation.
        assert_eq!(s.alignment().unwrap(), page_size());
        // SAFETY: as above; the number is closed, which is what is tested.
        let err = unsafe { Source::raw_fd(raw) }.unwrap_err();
        assert_eq!(err.code(), PMEM2_E_INVALID_FILE_HANDLE);
    }

    #[test]
    fn anonymous() {
        let s = Source::anonymous(1 << 20).unwrap();
        assert_eq!(s.file_type(), FileType::Anonymous);
        assert_eq!(s.size().unwrap(), 1 << 20);
        assert_eq!(s.alignment().unwrap(), page_size());
        assert_eq!(s.fd().unwrap_err().code(), PMEM2_E_FILE_DESCRIPTOR_NOT_SET);
        assert_eq!(s.id().file_type, FileType::Anonymous);
    }

    #[test]
    fn device_dax_size_and_alignment_through_a_source() {
        // /dev/null is character device 1:3; a fake sysfs that calls 1:3 a
        // device DAX exercises the real open/fstat/sysfs path.
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        let dev = p.join("devices/platform/ndbus0/region0/dax0.0/dax/dax0.0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(p.join("class/dax")).unwrap();
        std::fs::create_dir_all(p.join("dev/char")).unwrap();
        std::os::unix::fs::symlink(p.join("class/dax"), dev.join("subsystem")).unwrap();
        std::fs::write(dev.join("size"), "16777216\n").unwrap();
        std::fs::write(dev.join("align"), "2097152\n").unwrap();
        std::os::unix::fs::symlink(&dev, p.join("dev/char/1:3")).unwrap();

        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        let s = Source::with_descriptor(Descriptor::Borrowed(null.as_fd()), p).unwrap();
        assert_eq!(s.file_type(), FileType::DeviceDax);
        assert_eq!(s.size_in(p).unwrap(), 16 << 20);
        assert_eq!(s.alignment_in(p).unwrap(), 2 << 20);
        std::fs::write(dev.join("align"), "1000\n").unwrap();
        // Not a power of two in decimal, so read as hex (old kernels): 0x1000.
        assert_eq!(s.alignment_in(p).unwrap(), 0x1000);
        std::fs::write(dev.join("align"), "3\n").unwrap();
        let err = s.alignment_in(p).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_INVALID_ALIGNMENT_VALUE);
        assert_eq!(err.to_string(), "alignment (3) has to be a power of two");
        std::fs::write(dev.join("size"), "lots\n").unwrap();
        assert_eq!(
            s.size_in(p).unwrap_err().code(),
            PMEM2_E_INVALID_SIZE_FORMAT
        );
    }

    #[test]
    fn classify_char_devices_through_sysfs() {
        let t = fake_sysfs("4194304\n", Some("2097152\n"), None);
        let mut st: Stat = rustix::fs::fstat(File::open("/dev/null").unwrap()).unwrap();
        st.st_rdev = rustix::fs::makedev(252, 3);
        assert_eq!(classify(&st, t.path()).unwrap(), FileType::DeviceDax);
        st.st_rdev = rustix::fs::makedev(1, 3);
        assert_eq!(
            classify(&st, t.path()).unwrap_err().code(),
            PMEM2_E_INVALID_FILE_TYPE
        );
        st.st_rdev = rustix::fs::makedev(7, 7);
        assert_eq!(
            classify(&st, t.path()).unwrap_err().errno(),
            Some(Errno::NOENT)
        );
    }
}
