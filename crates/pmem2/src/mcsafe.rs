//! Machine-check-safe reads and writes of a source
//! (`pmem2_source_pread_mcsafe` / `pmem2_source_pwrite_mcsafe`).
//!
//! * Regular files: `pread(2)` / `pwrite(2)`. On fsdax the kernel copies
//!   with its machine-check-safe routines and returns `EIO` for poisoned
//!   blocks, reported as [`Error::IoFail`]; any other errno is
//!   [`Error::Os`]. A read that hits the end of file early stops there
//!   (the rest of the buffer is left as it was), as in PMDK.
//! * Device DAX (which has no `read`/`write`): the range is mapped (shared,
//!   aligned to the device alignment) and copied under a **SIGBUS guard**.
//!   Poison is reported by the kernel as `SIGBUS` on the faulting access.
//!
//! ## The SIGBUS guard
//!
//! Rust can't use `sigsetjmp`/`siglongjmp` soundly, so recovery does not
//! jump: the copy runs under the process-wide guard of `sys::sigbus` (one
//! handler per process, installed once, chaining to the previous action
//! for every `SIGBUS` that isn't pmem2's). A poisoned unit of the temporary
//! mapping is replaced by zeros when touched, the copy completes, and the
//! guarded copy reports [`Error::IoFail`]. The temporary mapping is
//! unmapped afterwards, so no stale page survives.
//!
//! Writes reach a device DAX through the CPU cache and are flushed (cache
//! line flush + fence) before the mapping is removed.

use std::os::fd::BorrowedFd;

use crate::debug_log::Returned;
use crate::error::{Errno, Error, Result};
use crate::source::{FileType, Source};
use crate::sys::file;
use crate::sys::mm::{self, ProtFlags};

/// What a machine-check-safe operation needs to know about a source.
#[derive(Debug, Clone, Copy)]
pub struct McsafeTarget<'fd> {
    /// The kind of source.
    pub file_type: FileType,
    /// Its file descriptor (`None` for anonymous sources).
    pub fd: Option<BorrowedFd<'fd>>,
    /// Its size in bytes (`pmem2_source_size`).
    pub size: u64,
    /// Its mapping alignment (`pmem2_source_alignment`): the page size for
    /// regular files, the device alignment for a device DAX.
    pub alignment: u64,
}

impl Source<'_> {
    /// The [`McsafeTarget`] describing this source: its type, descriptor,
    /// current size and alignment (not read for an anonymous source).
    ///
    /// # Errors
    /// As [`Source::size`] and [`Source::alignment`].
    pub(crate) fn mcsafe_target(&self) -> Result<McsafeTarget<'_>> {
        if self.file_type() == FileType::Anonymous {
            return Ok(McsafeTarget {
                file_type: FileType::Anonymous,
                fd: None,
                size: 0,
                alignment: 0,
            });
        }
        Ok(McsafeTarget {
            file_type: self.file_type(),
            fd: self.file_fd(),
            size: self.size_in(std::path::Path::new(pmem2_nvdimm::SYSFS_ROOT))? as u64,
            alignment: self.alignment_in(std::path::Path::new(pmem2_nvdimm::SYSFS_ROOT))? as u64,
        })
    }

    /// Reads `buf.len()` bytes at `offset` (`pmem2_source_pread_mcsafe`),
    /// reporting poisoned ranges as errors instead of crashing: `pread(2)`
    /// for a regular file (the kernel copies machine-check-safely on
    /// fsdax), a copy under the SIGBUS guard for a device DAX. A read that
    /// hits the end of file early stops there.
    ///
    /// # Errors
    /// [`Error::SourceTypeNotSupported`] for an anonymous source (checked
    /// first); [`Error::LengthOutOfRange`] if `offset + buf.len()` exceeds
    /// the size; [`Error::IoFail`] for a poisoned range (`EIO`, or `SIGBUS`
    /// on a device DAX); [`Error::Os`] for other failures, and as
    /// [`Source::size`] and [`Source::alignment`].
    pub fn pread_mcsafe(&self, buf: &mut [u8], offset: usize) -> Result<()> {
        let result = (|| -> Result<()> { pread(&self.mcsafe_target()?, buf, offset as u64) })();
        result.logged("Source::pread_mcsafe")
    }

    /// Writes `buf` at `offset` (`pmem2_source_pwrite_mcsafe`), as
    /// [`Source::pread_mcsafe`] reads; on a device DAX the written lines are
    /// flushed before the temporary mapping goes.
    ///
    /// # Errors
    /// As [`Source::pread_mcsafe`].
    pub fn pwrite_mcsafe(&self, buf: &[u8], offset: usize) -> Result<()> {
        let result = (|| -> Result<()> { pwrite(&self.mcsafe_target()?, buf, offset as u64) })();
        result.logged("Source::pwrite_mcsafe")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

fn check<'fd>(
    target: &McsafeTarget<'fd>,
    len: usize,
    offset: u64,
    op: Op,
) -> Result<BorrowedFd<'fd>> {
    let fd = match (target.file_type, target.fd) {
        (FileType::Anonymous, _) | (_, None) => {
            return Err(Error::SourceTypeNotSupported(
                "operation doesn't support provided source type, only sources created from \
                 file descriptor or file handle are supported"
                    .into(),
            ))
        }
        (_, Some(fd)) => fd,
    };
    let fits = offset <= target.size && (len as u64) <= target.size - offset;
    if !fits {
        let what = if op == Op::Read { "read" } else { "write" };
        return Err(Error::LengthOutOfRange(
            format!(
                "size of {what} {len} from offset {offset} goes beyond the file length {}",
                target.size
            )
            .into(),
        ));
    }
    Ok(fd)
}

/// Reads `buf.len()` bytes at `offset` of the source, reporting poisoned
/// ranges as errors instead of crashing.
///
/// # Errors
/// [`Error::SourceTypeNotSupported`] for an anonymous source (checked
/// first); [`Error::LengthOutOfRange`] if `offset + buf.len()` exceeds the
/// size (an `offset` past the end included); [`Error::IoFail`] for a
/// poisoned range (`EIO`, or `SIGBUS` on a device DAX); [`Error::Os`] for
/// other failures.
pub fn pread(target: &McsafeTarget<'_>, buf: &mut [u8], offset: u64) -> Result<()> {
    let fd = check(target, buf.len(), offset, Op::Read)?;
    match target.file_type {
        FileType::DeviceDax => guarded_copy(fd, target.alignment, offset, Dir::FromMap(buf)),
        _ => file_pread(fd, buf, offset),
    }
}

/// Writes `buf` at `offset` of the source, reporting poisoned ranges as
/// errors instead of crashing.
///
/// # Errors
/// As [`pread`].
pub fn pwrite(target: &McsafeTarget<'_>, buf: &[u8], offset: u64) -> Result<()> {
    let fd = check(target, buf.len(), offset, Op::Write)?;
    match target.file_type {
        FileType::DeviceDax => guarded_copy(fd, target.alignment, offset, Dir::ToMap(buf)),
        _ => file_pwrite(fd, buf, offset),
    }
}

fn file_pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> Result<()> {
    // A read that hits the end of file early stops there, as in PMDK.
    match file::pread_full(fd, buf, offset) {
        Ok(_) => Ok(()),
        Err(Errno::IO) => Err(Error::IoFail(
            "physical I/O error occurred on read operation, possible bad block".into(),
        )),
        Err(e) => Err(Error::os(e, "pread")),
    }
}

fn file_pwrite(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> Result<()> {
    file::pwrite_all(fd, buf, offset).map_err(|e| match e {
        Errno::IO => Error::IoFail(
            "physical I/O error occurred on write operation, possible bad block".into(),
        ),
        e => Error::os(e, "pwrite"),
    })
}

/// The direction of a guarded copy, with the user's buffer.
enum Dir<'a> {
    /// Mapping → buffer.
    FromMap(&'a mut [u8]),
    /// Buffer → mapping.
    ToMap(&'a [u8]),
}

impl Dir<'_> {
    fn len(&self) -> usize {
        match self {
            Dir::FromMap(b) => b.len(),
            Dir::ToMap(b) => b.len(),
        }
    }
}

/// Maps `[offset, offset + len)` of `fd` (rounded out to `alignment`) and
/// copies under the SIGBUS guard. Tests use it on a truncated regular file,
/// whose pages past the end raise `SIGBUS` like poisoned device DAX pages.
fn guarded_copy(fd: BorrowedFd<'_>, alignment: u64, offset: u64, dir: Dir<'_>) -> Result<()> {
    let len = dir.len();
    if len == 0 {
        return Ok(());
    }
    let page = mm::page_size() as u64;
    let align = if alignment.is_power_of_two() {
        alignment.max(page)
    } else {
        page
    };
    let map_off = offset - offset % align;
    let end = offset
        .checked_add(len as u64)
        .and_then(|e| e.checked_next_multiple_of(align))
        .ok_or_else(|| Error::LengthOutOfRange("range overflows".into()))?;
    let map_len = usize::try_from(end - map_off)
        .map_err(|_| Error::LengthOutOfRange("range too large to map".into()))?;
    let prot = match dir {
        Dir::FromMap(_) => ProtFlags::READ,
        Dir::ToMap(_) => ProtFlags::READ | ProtFlags::WRITE,
    };
    let mapping =
        mm::map_file_shared(map_len, prot, fd, map_off).map_err(|e| Error::os(e, "mmap"))?;
    let base = mapping.addr() as *mut u8;
    let delta = (offset - map_off) as usize;

    let faulted =
        crate::sys::sigbus::arm(mapping.addr(), mapping.len(), align as usize).map(|armed| {
            // SAFETY: `base + delta .. + len` lies inside the mapping just
            // created (map_len covers offset - map_off + len); the user's
            // buffer is a distinct Rust slice of `len` bytes. A poisoned
            // access raises SIGBUS, which the guard turns into a retry on a
            // zero-filled anonymous chunk at the same address, so the copy
            // always completes with valid memory on both sides.
            unsafe {
                let p = base.add(delta);
                match dir {
                    Dir::FromMap(buf) => {
                        std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), len);
                    }
                    Dir::ToMap(buf) => {
                        std::ptr::copy_nonoverlapping(buf.as_ptr(), p, len);
                        crate::deep_flush::cpu_persist(p, len);
                    }
                }
            }
            armed.disarm().is_some()
        });
    // Unmaps the whole range, including any anonymous chunks the handler
    // placed inside it; nothing refers to it any more.
    let unmapped = mapping.unmap();
    let faulted = faulted?;
    unmapped.map_err(|(_, e)| Error::os(e, "munmap"))?;
    if faulted {
        return Err(Error::IoFail(
            "physical I/O error occurred, possible bad block".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::sync::Mutex;

    /// Serialises the tests that touch the process-wide SIGBUS action.
    static SIGNAL_TESTS: Mutex<()> = Mutex::new(());

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn target(f: &std::fs::File, file_type: FileType) -> McsafeTarget<'_> {
        McsafeTarget {
            file_type,
            fd: Some(f.as_fd()),
            size: f.metadata().unwrap().len(),
            alignment: mm::page_size() as u64,
        }
    }

    #[test]
    fn regular_file_read_and_write() {
        let data: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        let f = file_with(&data);
        let t = target(&f, FileType::Regular);
        let mut buf = vec![0u8; 100];
        pread(&t, &mut buf, 4000).unwrap();
        assert_eq!(buf, data[4000..4100]);
        pwrite(&t, &[7u8; 10], 8182).unwrap();
        pread(&t, &mut buf[..10], 8182).unwrap();
        assert_eq!(&buf[..10], &[7u8; 10]);
        // empty reads at the very end are in range
        pread(&t, &mut [], 8192).unwrap();
    }

    #[test]
    fn ranges_past_the_end_are_length_out_of_range() {
        let f = file_with(&[1u8; 4096]);
        let t = target(&f, FileType::Regular);
        let mut buf = [0u8; 2];
        let e = pread(&t, &mut buf, 4095).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        assert_eq!(
            e.to_string(),
            "size of read 2 from offset 4095 goes beyond the file length 4096"
        );
        // an offset past the end doesn't wrap around (PMDK's unsigned bug)
        let e = pread(&t, &mut [], 5000).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        let e = pwrite(&t, &[0u8; 1], u64::MAX).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        assert!(e.to_string().starts_with("size of write 1"));
    }

    #[test]
    fn anonymous_and_fdless_sources_are_refused_first() {
        let t = McsafeTarget {
            file_type: FileType::Anonymous,
            fd: None,
            size: 0,
            alignment: 4096,
        };
        let e = pread(&t, &mut [0u8; 8], 1 << 40).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
        let e = pwrite(&t, &[0u8; 8], 0).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
    }

    #[test]
    fn os_failures_carry_the_errno() {
        // a read-only descriptor can't be written: EBADF, not IO_FAIL
        let f = file_with(&[0u8; 64]);
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        let ro = std::fs::File::open(path).unwrap();
        let t = target(&ro, FileType::Regular);
        let e = pwrite(&t, &[1u8; 4], 0).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::BADF), "{e}");
        assert!(e.to_string().starts_with("pwrite: "));
    }

    #[test]
    fn guarded_copy_reads_a_mapping() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let data: Vec<u8> = (0..3 * page).map(|i| (i % 251) as u8).collect();
        let f = file_with(&data);
        let mut buf = vec![0u8; page + 10];
        guarded_copy(f.as_fd(), page as u64, 100, Dir::FromMap(&mut buf)).unwrap();
        assert_eq!(buf, data[100..100 + page + 10]);
        guarded_copy(f.as_fd(), page as u64, 5, Dir::ToMap(&[9u8; 3])).unwrap();
        let mut back = [0u8; 3];
        file_pread(f.as_fd(), &mut back, 5).unwrap();
        assert_eq!(back, [9u8; 3]);
    }

    #[test]
    fn sigbus_becomes_io_fail_and_the_handler_stays_installed() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let data = vec![0x11u8; 3 * page];
        let f = file_with(&data);
        // pages past the end of file raise SIGBUS when touched
        f.set_len(page as u64).unwrap();

        let mut buf = vec![0xffu8; 3 * page];
        let e = guarded_copy(f.as_fd(), page as u64, 0, Dir::FromMap(&mut buf)).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_IO_FAIL);
        assert_eq!(
            e.to_string(),
            "physical I/O error occurred, possible bad block"
        );
        // the readable page was copied; the poisoned ones read as zeros
        assert!(buf[..page].iter().all(|&b| b == 0x11));
        assert!(buf[page..].iter().all(|&b| b == 0));
        let e = guarded_copy(
            f.as_fd(),
            page as u64,
            page as u64 * 2,
            Dir::ToMap(&[1u8; 8]),
        )
        .unwrap_err();
        assert_eq!(e.code(), PMEM2_E_IO_FAIL);
        // SAFETY: querying the current action only.
        let after = unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &raw mut a);
            a.sa_sigaction
        };
        // one handler per process, never restored
        assert_eq!(after, crate::sys::sigbus::handler_address());
        // the good page still works afterwards
        let mut one = [0u8; 4];
        guarded_copy(f.as_fd(), page as u64, 8, Dir::FromMap(&mut one)).unwrap();
        assert_eq!(one, [0x11; 4]);
    }

    #[test]
    fn concurrent_guarded_copies_only_fail_where_they_fault() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let good = file_with(&vec![0x22u8; 2 * page]);
        let bad = file_with(&vec![0x33u8; 2 * page]);
        bad.set_len(0).unwrap();
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for i in 0..4 {
                let (good, bad) = (&good, &bad);
                handles.push(s.spawn(move || {
                    let mut ok = 0;
                    let mut failed = 0;
                    for _ in 0..50 {
                        let mut buf = vec![0u8; 2 * page];
                        let f = if i % 2 == 0 { good } else { bad };
                        match guarded_copy(f.as_fd(), page as u64, 0, Dir::FromMap(&mut buf)) {
                            Ok(()) => {
                                assert!(buf.iter().all(|&b| b == 0x22));
                                ok += 1;
                            }
                            Err(e) => {
                                assert_eq!(e.code(), PMEM2_E_IO_FAIL);
                                failed += 1;
                            }
                        }
                    }
                    (i, ok, failed)
                }));
            }
            for h in handles {
                let (i, ok, failed) = h.join().unwrap();
                if i % 2 == 0 {
                    assert_eq!((ok, failed), (50, 0));
                } else {
                    assert_eq!((ok, failed), (0, 50));
                }
            }
        });
    }
}
