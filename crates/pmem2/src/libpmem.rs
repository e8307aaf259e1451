//! PMDK's older low-level library, libpmem (`libpmem.so.1`), on pmem2's
//! core: mapping a file by path (creating and sizing it), PMDK's range
//! tracker behind `pmem_is_pmem`, `pmem_unmap`, `pmem_msync` and the deep
//! operations.
//!
//! Two items are part of the Rust API: [`crate::is_pmem`] and
//! [`Map::create_file`](crate::Map::create_file), which uses the same file
//! rules as [`map_file`]. The rest of this module serves the
//! `pmem-ffi` crate (the C drop-in) and is public only with the
//! `libpmem-abi` cargo feature, which that crate turns on: it hands out raw
//! mappings that C code unmaps with `pmem_unmap`, which a safe Rust API
//! must not do. It has no stability promise.
//!
//! # The tracker
//! A process-wide list of the ranges [`map_file`] mapped with `MAP_SYNC`
//! (or from a device DAX), as PMDK keeps. [`is_pmem`] answers from it
//! (unless `PMEM_IS_PMEM_FORCE` decides), [`unmap`] removes or splits its
//! entries, and [`deep_drain`] tells device DAX ranges from the rest.
//!
//! # References
//! - [`pmem_map_file(3)`](https://pmem.io/pmdk/manpages/linux/v1.12/libpmem/pmem_map_file.3/)
//! - [`pmem_is_pmem(3)`](https://pmem.io/pmdk/manpages/linux/v1.12/libpmem/pmem_is_pmem.3/)
//! - [`pmem_flush(3)`](https://pmem.io/pmdk/manpages/linux/v1.12/libpmem/pmem_flush.3/)

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{OnceLock, RwLock};

use pmem2_nvdimm::nd::{Device, Sysfs};
use pmem2_nvdimm::{dax, eadr, SYSFS_ROOT};
use rustix::fs::FileType as StatType;

use crate::config::Granularity;
use crate::debug_log::{plog, BASIC, DETAIL};
use crate::deep_flush::region_deep_flush;
use crate::env::secure_getenv;
use crate::error::{Errno, Error, Result};
use crate::sys::file;
use crate::sys::mm::{self, FileMapKind, Mapping, ProtFlags};

/// `PMEM_FILE_CREATE`: create the file if missing, then set its size to `len`.
pub const FILE_CREATE: u32 = 1 << 0;
/// `PMEM_FILE_EXCL`: with [`FILE_CREATE`], fail if the file exists.
pub const FILE_EXCL: u32 = 1 << 1;
/// `PMEM_FILE_SPARSE`: with [`FILE_CREATE`], don't allocate the blocks.
pub const FILE_SPARSE: u32 = 1 << 2;
/// `PMEM_FILE_TMPFILE`: with [`FILE_CREATE`], an unnamed file in the directory `path`.
pub const FILE_TMPFILE: u32 = 1 << 3;
const ALL_FILE_FLAGS: u32 = FILE_CREATE | FILE_EXCL | FILE_SPARSE | FILE_TMPFILE;

/// What a tracked range is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A device DAX mapping (`st_rdev` of the device).
    DevDax { rdev: u64 },
    /// A file mapping the kernel accepted with `MAP_SYNC`.
    MapSync,
}

/// The tracker: start → (end, kind), non-overlapping.
type Tracker = BTreeMap<usize, (usize, Kind)>;

fn tracker() -> &'static RwLock<Tracker> {
    static TRACKER: OnceLock<RwLock<Tracker>> = OnceLock::new();
    TRACKER.get_or_init(|| RwLock::new(BTreeMap::new()))
}

/// The tracked pieces overlapping `[start, end)`, in address order.
fn overlapping(t: &Tracker, start: usize, end: usize) -> Vec<(usize, usize, Kind)> {
    let first = t
        .range(..=start)
        .next_back()
        .filter(|(_, (e, _))| *e > start)
        .map_or(start, |(s, _)| *s);
    t.range(first..end)
        .filter(|(_, (e, _))| *e > start)
        .map(|(s, (e, k))| (*s, *e, *k))
        .collect()
}

/// Adds a range; refused (PMDK's `ENOMEM` and message) when it overlaps.
fn track(start: usize, end: usize, kind: Kind) -> Result<()> {
    let mut t = tracker()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !overlapping(&t, start, end).is_empty() {
        return Err(Error::MapExists(
            format!(
                "duplicated persistent memory range; presumably unmapped with munmap() \
                 instead of pmem_unmap(): addr {start:#x} len {}",
                end - start
            )
            .into(),
        ));
    }
    t.insert(start, (end, kind));
    Ok(())
}

/// Removes `[start, end)` from the tracker, splitting ranges that stick out.
fn untrack(start: usize, end: usize) {
    let mut t = tracker()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (s, e, kind) in overlapping(&t, start, end) {
        t.remove(&s);
        if s < start {
            t.insert(s, (start, kind));
        }
        if e > end {
            t.insert(end, (e, kind));
        }
    }
}

/// The errno the C library sets for an error of this module:
/// [`Error::MapExists`] (a duplicated range) is `ENOMEM`, an
/// [`Error::Os`] its errno, any other `EINVAL`.
#[must_use]
pub fn errno_of(err: &Error) -> Errno {
    match err {
        Error::MapExists(_) => Errno::NOMEM,
        other => other.errno().unwrap_or(Errno::INVAL),
    }
}

/// A file opened (and created, sized) for mapping by [`open_for_map`].
#[derive(Debug)]
pub(crate) struct Opened {
    /// The descriptor.
    pub(crate) fd: OwnedFd,
    /// Bytes to map: `len` when creating, else the file's (device's) size.
    pub(crate) len: usize,
    /// `st_rdev` when the path is a device DAX.
    pub(crate) devdax: Option<u64>,
}

/// PMDK's `pmem_map_file` rules up to the mapping: classify `path`, check
/// `flags` and `len`, open or create it (`mode` applies to a created file),
/// size it. On an error after an exclusive creation the file is removed.
///
/// # Errors
/// `EINVAL`-class errors with PMDK's messages for bad flags and lengths and
/// unsupported file types; [`Error::Os`] (`open <path>`, `mkstemp`,
/// `ftruncate`, `posix_fallocate`, `stat`) for failed system calls.
pub(crate) fn open_for_map(path: &Path, len: usize, flags: u32, mode: u32) -> Result<Opened> {
    let mut flags = flags;
    let mut len = len;
    let devdax = classify(path)?;
    if flags & !ALL_FILE_FLAGS != 0 {
        return Err(Error::InvalidProtFlag(
            format!("invalid flag specified {flags:x}").into(),
        ));
    }
    if let Some(rdev) = devdax {
        if flags & !(FILE_CREATE | FILE_SPARSE) != 0 {
            return Err(Error::InvalidProtFlag(
                format!("flag unsupported for Device DAX {flags:x}").into(),
            ));
        }
        let size = dax::device_dax_size(
            Path::new(SYSFS_ROOT),
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev),
        )
        .map_err(|_| Error::InvalidSizeFormat("unable to read Device DAX size".into()))?;
        if len != 0 && len != size {
            return Err(Error::LengthOutOfRange(
                format!(
                    "Device DAX length must be either 0 or the exact size of the device: {size}"
                )
                .into(),
            ));
        }
        flags = 0;
        len = 0;
    }
    let create = flags & FILE_CREATE != 0;
    if create && i64::try_from(len).is_err() {
        return Err(Error::LengthOutOfRange(
            format!("invalid file length {len}").into(),
        ));
    }
    if len != 0 && !create {
        return Err(Error::LengthOutOfRange(
            "non-zero 'len' not allowed without PMEM_FILE_CREATE".into(),
        ));
    }
    if len == 0 && create {
        return Err(Error::LengthOutOfRange(
            "zero 'len' not allowed with PMEM_FILE_CREATE".into(),
        ));
    }
    let tmpfile = flags & FILE_TMPFILE != 0;
    if tmpfile && !create {
        return Err(Error::InvalidProtFlag(
            "PMEM_FILE_TMPFILE not allowed without PMEM_FILE_CREATE".into(),
        ));
    }
    let fd = if tmpfile {
        file::unnamed_temp_file(path).map_err(|e| Error::os(e, "mkstemp"))?
    } else {
        file::open_rw_create(path, create, flags & FILE_EXCL != 0, mode)
            .map_err(|e| Error::os(e, format!("open {}", path.display())))?
    };
    // Only a file this call created exclusively is removed on failure.
    let created_here = create && flags & FILE_EXCL != 0 && !tmpfile;
    let sized = size_file(&fd, create, flags & FILE_SPARSE != 0, len, devdax, path);
    match sized {
        Ok(len) => Ok(Opened { fd, len, devdax }),
        Err(err) => {
            drop(fd);
            if created_here {
                file::remove(path).ok();
            }
            Err(err)
        }
    }
}

/// PMDK's classification of a path: `Ok(None)` for a missing path, a
/// regular file or a directory, `Ok(Some(st_rdev))` for a device DAX.
fn classify(path: &Path) -> Result<Option<u64>> {
    let mut devdax = None;
    match file::exists(path) {
        Err(errno) => {
            return Err(Error::os(
                errno,
                format!("os_access \"{}\"", path.display()),
            ))
        }
        Ok(false) => {}
        Ok(true) => {
            let st = file::stat_path(path).map_err(|e| Error::os(e, "stat"))?;
            match StatType::from_raw_mode(st.st_mode) {
                StatType::RegularFile | StatType::Directory => {}
                StatType::CharacterDevice => {
                    let (major, minor) =
                        (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
                    if dax::is_device_dax(Path::new(SYSFS_ROOT), major, minor).unwrap_or(false) {
                        devdax = Some(st.st_rdev);
                    } else {
                        return Err(Error::InvalidFileType(
                            format!(
                                "{}: character device {major}:{minor} is not a device DAX",
                                path.display()
                            )
                            .into(),
                        ));
                    }
                }
                _ => {
                    return Err(Error::InvalidFileType(
                        format!(
                            "file type 0{:o} not supported",
                            st.st_mode & rustix::fs::RawMode::from(libc::S_IFMT)
                        )
                        .into(),
                    ))
                }
            }
        }
    }
    Ok(devdax)
}

/// Sets the size of a created file (and allocates it unless sparse), or
/// reads the size of an existing one.
fn size_file(
    fd: &OwnedFd,
    create: bool,
    sparse: bool,
    len: usize,
    devdax: Option<u64>,
    path: &Path,
) -> Result<usize> {
    if create {
        file::set_size(fd.as_fd(), len as u64).map_err(|e| Error::os(e, "ftruncate"))?;
        if !sparse {
            file::allocate(fd.as_fd(), len as u64).map_err(|e| Error::os(e, "posix_fallocate"))?;
        }
        return Ok(len);
    }
    if let Some(rdev) = devdax {
        return dax::device_dax_size(
            Path::new(SYSFS_ROOT),
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev),
        )
        .map_err(|_| Error::InvalidSizeFormat("unable to read Device DAX size".into()));
    }
    let negative =
        || Error::InvalidFileHandle(format!("stat {}: negative size", path.display()).into());
    let st = file::stat(fd.as_fd()).map_err(|_| negative())?;
    usize::try_from(st.st_size)
        .ok()
        .filter(|&s| i64::try_from(s).is_ok_and(|s| s < i64::MAX))
        .ok_or_else(negative)
}

/// A file mapped by [`map_file`]. The memory is the caller's: nothing
/// unmaps it but [`unmap`].
#[derive(Debug, Clone, Copy)]
pub struct MappedFile {
    /// Start of the mapping.
    pub addr: *mut u8,
    /// Its length (the file's size, or `len` when created; not page-rounded).
    pub len: usize,
    /// Whether it is tracked as persistent memory (`MAP_SYNC` or device DAX).
    pub tracked: bool,
}

/// `pmem_map_file`: `open_for_map`, then a shared read-write mapping at a
/// 2 MiB-aligned address (1 GiB from 2 GiB on), `MAP_SYNC` tried first;
/// a device DAX or `MAP_SYNC` mapping is tracked. The descriptor is closed.
///
/// # Errors
/// As `open_for_map` (PMDK's file rules); [`Error::Os`] (`mmap <len> bytes`,
/// `mmap MAP_ANONYMOUS`) when mapping fails (an empty file: `EINVAL`); a
/// duplicated tracked range ([`errno_of`] gives `ENOMEM`).
pub fn map_file(path: &Path, len: usize, flags: u32, mode: u32) -> Result<MappedFile> {
    let opened = open_for_map(path, len, flags, mode)?;
    let created_here =
        flags & FILE_CREATE != 0 && flags & FILE_EXCL != 0 && flags & FILE_TMPFILE == 0;
    let result = map_opened(&opened);
    match &result {
        Err(_) if created_here && opened.devdax.is_none() => drop(file::remove(path)),
        Err(_) => {}
        Ok(m) => plog!(
            BASIC,
            "pmem_map_file",
            "{}: mapped {} bytes at {:p}, {}",
            path.display(),
            m.len,
            m.addr,
            if m.tracked {
                "MAP_SYNC accepted (pmem)"
            } else {
                "MAP_SYNC refused (not pmem)"
            }
        ),
    }
    result
}

fn map_opened(opened: &Opened) -> Result<MappedFile> {
    let len = opened.len;
    let mmap_err = |errno| Error::os(errno, format!("mmap {len} bytes"));
    if len == 0 {
        return Err(mmap_err(Errno::INVAL));
    }
    let page = mm::page_size();
    let align = if len >= 2 << 30 { 1 << 30 } else { 2 << 20 };
    let reserved = len
        .checked_next_multiple_of(page)
        .ok_or_else(|| mmap_err(Errno::NOMEM))?;
    let total = reserved
        .checked_add(align)
        .ok_or_else(|| Error::os(Errno::NOMEM, "mmap MAP_ANONYMOUS"))?;
    let (placeholder, addr) = if let Some(at) = hinted(reserved, align) {
        let addr = at.addr();
        (at, addr)
    } else {
        let p = Mapping::reserve(total).map_err(|e| Error::os(e, "mmap MAP_ANONYMOUS"))?;
        let addr = p.addr().next_multiple_of(align);
        (p, addr)
    };
    let prot = ProtFlags::READ | ProtFlags::WRITE;
    let fd = opened.fd.as_fd();
    // SAFETY: `[addr, addr + reserved)` lies inside the placeholder this
    // function owns; nothing refers to it.
    let map_sync =
        match unsafe { mm::map_file_fixed(addr, len, prot, FileMapKind::SharedSync, fd, 0) } {
            Ok(()) => true,
            Err(Errno::INVAL | Errno::NOTSUP) => {
                // SAFETY: as above.
                unsafe { mm::map_file_fixed(addr, len, prot, FileMapKind::Shared, fd, 0) }
                    .map_err(mmap_err)?;
                false
            }
            Err(errno) => return Err(mmap_err(errno)),
        };
    let mapping = placeholder.trim_to(addr, reserved);
    let kind = match opened.devdax {
        Some(rdev) => Some(Kind::DevDax { rdev }),
        None if map_sync => Some(Kind::MapSync),
        None => None,
    };
    if let Some(kind) = kind {
        // Dropping `mapping` on failure unmaps it.
        track(addr, addr + reserved, kind)?;
    }
    let (addr, _) = mapping.into_raw();
    Ok(MappedFile {
        addr: addr as *mut u8,
        len,
        tracked: kind.is_some(),
    })
}

/// `PMEM_MMAP_HINT`, read once: a hexadecimal address (`0x` allowed), as
/// C's `strtoull(value, _, 16)` reads it; `None` when unset or without a
/// hex digit.
fn mmap_hint() -> Option<usize> {
    static HINT: OnceLock<Option<usize>> = OnceLock::new();
    *HINT.get_or_init(|| {
        let value = secure_getenv("PMEM_MMAP_HINT")?;
        let hint = parse_hint(&value);
        plog!(
            DETAIL,
            "pmem_map_file",
            "PMEM_MMAP_HINT={value}: {}",
            hint.map_or_else(|| "invalid, ignored".to_owned(), |h| format!("{h:#x}"))
        );
        hint
    })
}

fn parse_hint(value: &str) -> Option<usize> {
    let s = value.trim_start();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_hexdigit).collect();
    usize::from_str_radix(&digits, 16).ok()
}

/// With `PMEM_MMAP_HINT=H`: the first gap of `/proc/self/maps` at or
/// above `H` (the page size for 0), aligned to `align` and at least `len`
/// long, reserved. `None` (normal placement) without a hint, when
/// `/proc/self/maps` can't be read, when no gap is found or when the gap
/// was taken meanwhile.
fn hinted(len: usize, align: usize) -> Option<Mapping> {
    let hint = mmap_hint()?;
    let ranges = mm::mapped_ranges().ok()?;
    let mut at = hint.max(mm::page_size()).checked_next_multiple_of(align)?;
    for (start, end) in ranges {
        if end <= at {
            continue;
        }
        if start >= at.checked_add(len)? {
            break;
        }
        at = end.checked_next_multiple_of(align)?;
    }
    at.checked_add(len)?;
    Mapping::reserve_at(at, len).ok()
}

/// `pmem_unmap`: forgets the tracked ranges in `[addr, addr + len)` (`len`
/// rounded up to pages; nothing is forgotten for an unaligned range) and
/// unmaps it.
///
/// # Errors
/// [`Error::Os`] (`munmap`) from `munmap(2)`, e.g. `EINVAL` for an
/// unaligned address or a zero length.
///
/// # Safety
/// Nothing may use the memory afterwards; it must not belong to a Rust
/// object that unmaps it itself (a [`Map`](crate::Map)).
pub unsafe fn unmap(addr: *mut u8, len: usize) -> Result<()> {
    let start = addr as usize;
    let page = mm::page_size();
    if start.is_multiple_of(page) && len != 0 {
        if let Some(end) = len
            .checked_next_multiple_of(page)
            .and_then(|l| start.checked_add(l))
        {
            untrack(start, end);
        }
    }
    plog!(BASIC, "pmem_unmap", "unmapping {len} bytes at {addr:p}");
    // SAFETY: forwarded from the caller.
    unsafe { mm::unmap(start, len) }.map_err(|e| Error::os(e, "munmap"))
}

/// `PMEM_IS_PMEM_FORCE`, read at the first call: `Some(false)` for a value
/// C's `atoi` reads as 0, `Some(true)` for 1, `None` (detect) otherwise or
/// when unset.
fn forced() -> Option<bool> {
    static FORCED: OnceLock<Option<bool>> = OnceLock::new();
    *FORCED.get_or_init(|| {
        let value = secure_getenv("PMEM_IS_PMEM_FORCE")?;
        let forced = parse_force(&value);
        plog!(
            DETAIL,
            "pmem_is_pmem",
            "PMEM_IS_PMEM_FORCE={value}: {}",
            match forced {
                Some(true) => "always pmem",
                Some(false) => "never pmem",
                None => "detect",
            }
        );
        forced
    })
}

/// PMDK's reading of `PMEM_IS_PMEM_FORCE` (`atoi`): 0 → never, 1 → always.
fn parse_force(value: &str) -> Option<bool> {
    let s = value.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n: i64 = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .take(12)
        .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
    match if neg { -n } else { n } {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// [`crate::is_pmem`].
#[must_use]
pub fn is_pmem(addr: *const u8, len: usize) -> bool {
    if len == 0 {
        return false;
    }
    if let Some(forced) = forced() {
        return forced;
    }
    let start = addr as usize;
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    let t = tracker()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut at = start;
    for (s, e, _) in overlapping(&t, start, end) {
        if s > at {
            return false;
        }
        at = at.max(e);
        if at >= end {
            return true;
        }
    }
    false
}

/// `pmem_msync`: `msync(MS_SYNC)` of the pages holding `[addr, addr + len)`.
///
/// # Errors
/// [`Error::Os`] (`msync`), e.g. `ENOMEM` for unmapped memory.
pub fn msync(addr: *const u8, len: usize) -> Result<()> {
    let page = mm::page_size();
    let start = addr as usize & !(page - 1);
    let full = len
        .checked_add(addr as usize - start)
        .ok_or_else(|| Error::os(Errno::NOMEM, "msync"))?;
    mm::sync(start, full).map_err(|e| Error::os(e, "msync"))
}

/// `pmem_deep_drain`: `msync` of every part of the range not tracked as a
/// device DAX (untracked and `MAP_SYNC` parts alike); for device DAX parts a
/// fence and the region's `deep_flush` (whose failures, as in PMDK, don't
/// fail the call). `len == 0` does nothing.
///
/// # Errors
/// The first failing `msync`.
pub fn deep_drain(addr: *const u8, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    let start = addr as usize;
    let end = start.saturating_add(len);
    let pieces = {
        let t = tracker()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        overlapping(&t, start, end)
    };
    let mut at = start;
    for (s, e, kind) in pieces {
        let (s, e) = (s.max(start), e.min(end));
        if s > at {
            msync(at as *const u8, s - at)?;
        }
        match kind {
            Kind::MapSync => msync(s as *const u8, e - s)?,
            Kind::DevDax { rdev } => {
                crate::arch::fence();
                if let Ok(Some(m)) = Sysfs::default().find(Device::DeviceDax { rdev }) {
                    region_deep_flush(&m.region).ok();
                }
            }
        }
        at = e;
    }
    if at < end {
        msync(at as *const u8, end - at)?;
    }
    Ok(())
}

/// Whether libpmem runs in "no flush" mode: `PMEM_NO_FLUSH=1`, or, unless
/// `PMEM_NO_FLUSH=0`, an eADR platform (CPU caches in the persistence
/// domain). Decided once.
fn no_flush() -> bool {
    static NO_FLUSH: OnceLock<bool> = OnceLock::new();
    *NO_FLUSH.get_or_init(|| {
        // Only the C library asks (for its memory and persist functions,
        // which may come first): the log is libpmem's from here on.
        crate::debug_log::set_identity(&crate::debug_log::LIBPMEM);
        no_flush_from_env()
    })
}

fn no_flush_from_env() -> bool {
    let value = secure_getenv("PMEM_NO_FLUSH");
    let no_flush = match value.as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => has_auto_flush(),
    };
    plog!(
        DETAIL,
        "pmem_has_auto_flush",
        "PMEM_NO_FLUSH={}: {}",
        value.as_deref().unwrap_or("(unset)"),
        if no_flush {
            "no cache flushes (byte granularity)"
        } else {
            "cache flushes (cache-line granularity)"
        }
    );
    no_flush
}

/// The granularity whose persist and memory functions are libpmem's: byte
/// in no-flush mode (`PMEM_NO_FLUSH=1`, or eADR), cache line otherwise.
/// (libpmem never msyncs in these functions: page granularity is not used.)
#[must_use]
pub fn granularity() -> Granularity {
    if no_flush() {
        Granularity::Byte
    } else {
        Granularity::CacheLine
    }
}

/// `pmem_has_auto_flush`: whether every NVDIMM region reports `cpu_cache`
/// as its persistence domain (eADR); scans sysfs on every call, as PMDK.
#[must_use]
pub fn has_auto_flush() -> bool {
    eadr::is_eadr(Path::new(SYSFS_ROOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_parsing_is_strtoull_16() {
        assert_eq!(parse_hint("0x10000000000"), Some(0x100_0000_0000));
        assert_eq!(parse_hint("10000000000"), Some(0x100_0000_0000));
        assert_eq!(parse_hint(" 7f00zz"), Some(0x7f00));
        assert_eq!(parse_hint("zz"), None);
        assert_eq!(parse_hint(""), None);
        assert_eq!(parse_hint("0x"), None);
    }

    #[test]
    fn force_parsing_is_atoi() {
        assert_eq!(parse_force("1"), Some(true));
        assert_eq!(parse_force(" 1"), Some(true));
        assert_eq!(parse_force("1x"), Some(true));
        assert_eq!(parse_force("0"), Some(false));
        assert_eq!(parse_force("abc"), Some(false));
        assert_eq!(parse_force(""), Some(false));
        assert_eq!(parse_force("2"), None);
        assert_eq!(parse_force("-1"), None);
    }

    /// PMDK's `pmem_is_pmem_posix` coverage rules, on synthetic addresses.
    #[test]
    fn coverage_and_splits() {
        let base = 0x7fff_0000_0000usize;
        track(base, base + 0x1000, Kind::MapSync).unwrap();
        track(base + 0x1000, base + 0x5000, Kind::DevDax { rdev: 0 }).unwrap();
        let covered = |off: usize, len: usize| {
            let t = tracker().read().unwrap();
            let (start, end) = (base + off, base + off + len);
            let mut at = start;
            for (s, e, _) in overlapping(&t, start, end) {
                if s > at {
                    return false;
                }
                at = at.max(e);
            }
            at >= end
        };
        assert!(covered(0, 0x5000), "adjacent ranges of both kinds combine");
        assert!(covered(0xff0, 0x20), "straddling");
        assert!(!covered(0, 0x5001), "past the end");
        assert!(track(base + 0x4000, base + 0x6000, Kind::MapSync).is_err());
        untrack(base + 0x2000, base + 0x3000);
        assert!(!covered(0, 0x5000), "a hole in the middle");
        assert!(covered(0x3000, 0x2000));
        assert!(covered(0x1000, 0x1000));
        untrack(base, base + 0x5000);
        assert!(!covered(0, 1));
        assert_eq!(errno_of(&Error::MapExists("x".into())), Errno::NOMEM);
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps files, which Miri can't")]
    fn create_map_unmap_and_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let e = map_file(&path, 0, FILE_CREATE, 0o600).unwrap_err();
        assert_eq!(
            e.to_string(),
            "zero 'len' not allowed with PMEM_FILE_CREATE"
        );
        let e = map_file(&path, 10, 0, 0o600).unwrap_err();
        assert_eq!(
            e.to_string(),
            "non-zero 'len' not allowed without PMEM_FILE_CREATE"
        );
        let e = map_file(&path, 10, 0x10, 0o600).unwrap_err();
        assert_eq!(e.to_string(), "invalid flag specified 10");
        let e = map_file(&path, 0, 0, 0o600).unwrap_err();
        assert_eq!(errno_of(&e), Errno::NOENT);
        let m = map_file(&path, 3000, FILE_CREATE, 0o600).unwrap();
        assert_eq!(m.len, 3000);
        assert_eq!(m.addr as usize % (2 << 20), 0);
        if crate::sys::emulation::map_sync_accepted_without_dax() {
            let why = crate::sys::emulation::MAP_SYNC_WHY;
            crate::sys::emulation::skip("create_map_unmap_and_rules (its MAP_SYNC check)", why);
        } else {
            assert!(!m.tracked, "tmpfs/ext4 refuse MAP_SYNC");
        }
        // SAFETY: the mapping is live and 3000 bytes long.
        unsafe { m.addr.write(7) };
        msync(m.addr, 1).unwrap();
        // SAFETY: nothing uses the mapping afterwards.
        unsafe { unmap(m.addr, m.len) }.unwrap();
        assert_eq!(std::fs::read(&path).unwrap()[0], 7);
        let e = map_file(&path, 10, FILE_CREATE | FILE_EXCL, 0o600).unwrap_err();
        assert_eq!(errno_of(&e), Errno::EXIST);
        let m = map_file(dir.path(), 8192, FILE_CREATE | FILE_TMPFILE, 0).unwrap();
        // SAFETY: as above.
        unsafe { unmap(m.addr, m.len) }.unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let e = map_file(&dir.path().join("empty"), 0, 0, 0).unwrap_err();
        assert_eq!(e.to_string(), "mmap 0 bytes: Invalid argument");
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps files, which Miri can't")]
    fn map_create_file_is_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let mut map = crate::Map::create_file(&path, 10_000, FILE_CREATE, 0o640).unwrap();
        assert_eq!(map.size(), 10_000);
        map.write(9_990, b"0123456789").unwrap();
        drop(map);
        assert_eq!(&std::fs::read(&path).unwrap()[9_990..], b"0123456789");
        let map = crate::Map::create_file(&path, 0, 0, 0).unwrap();
        assert_eq!(map.size(), 10_000);
        let e = crate::Map::create_file(&path, 1, FILE_CREATE | FILE_EXCL, 0).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::EXIST));
        let e = crate::Map::create_file(dir.path(), 0, 0, 0).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ISDIR));
        if std::env::var_os("PMEM_IS_PMEM_FORCE").is_none() {
            assert!(!is_pmem(map.addr(), 1), "maps are not in libpmem's tracker");
        }
        assert!(!is_pmem(map.addr(), 0));
    }
}
