//! Guarded access to a [`Map`]: the safe methods that touch mapped memory
//! run under the process-wide SIGBUS guard (`sys::sigbus`), so a mapping
//! whose pages have gone away (the file was truncated, here or by another
//! process) gives an error instead of killing the process.
//!
//! After a fault the guard has left anonymous zero chunks where the file's
//! pages were; [`Map::guarded`] puts the file mapping back over them
//! (`MAP_FIXED`, same descriptor, offset, protection and flags, `MAP_SYNC`
//! where the map had it), so the map keeps writing to the file once it is
//! long enough again, and then reports `EFAULT`, as `read(2)`/`write(2)`
//! do for a buffer they can't access.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::Map;
use crate::config::{Config, Sharing};
use crate::error::{Errno, Error, Result};
use crate::source::Source;
use crate::sys::mm::{self, FileMapKind, ProtFlags};
use crate::sys::sigbus::{self, Fault};

/// What re-establishing a file mapping needs.
#[derive(Debug)]
pub(crate) struct Backing {
    /// A duplicate of the source's descriptor (the source may be closed).
    pub(crate) fd: OwnedFd,
    /// File offset of the map's first byte.
    pub(crate) offset: u64,
    /// The map's protection.
    pub(crate) prot: ProtFlags,
    /// How it was mapped (shared, with `MAP_SYNC`, or private).
    pub(crate) kind: FileMapKind,
    /// The unit a fault replaces: the page size, or a device DAX's alignment.
    pub(crate) unit: usize,
    /// Set when a repair failed: zero chunks may remain, so every later
    /// access is refused rather than silently writing to anonymous memory.
    pub(crate) broken: AtomicBool,
}

impl Backing {
    /// A duplicate of the source's descriptor, to re-map the file after a
    /// fault (the source may be closed while the map lives); `None` for
    /// anonymous sources, which can't lose their pages.
    pub(crate) fn dup_fd(source: &Source<'_>) -> Result<Option<OwnedFd>> {
        match source.file_fd() {
            Some(fd) => Ok(Some(fd.try_clone_to_owned().map_err(|e| {
                Error::os(Errno::from_io_error(&e).unwrap_or(Errno::MFILE), "dup")
            })?)),
            None => Ok(None),
        }
    }

    /// What re-mapping the file at `offset` as `config` and the kernel's
    /// `MAP_SYNC` answer mapped it takes.
    pub(crate) fn new(
        fd: OwnedFd,
        offset: usize,
        config: &Config,
        map_sync: bool,
        alignment: usize,
    ) -> Self {
        Backing {
            fd,
            offset: offset as u64,
            prot: super::placement::prot_flags(config.protection),
            kind: match (config.sharing, map_sync) {
                (Sharing::Private, _) => FileMapKind::Private,
                (Sharing::Shared, true) => FileMapKind::SharedSync,
                (Sharing::Shared, false) => FileMapKind::Shared,
            },
            unit: alignment.max(mm::page_size()),
            broken: AtomicBool::new(false),
        }
    }
}

impl Map {
    /// Runs `op`, which accesses this map's memory through raw pointers,
    /// under the SIGBUS guard. `method` names the caller in the error.
    ///
    /// `shared`: the caller holds `&self`, so other threads may access the
    /// same map at the same time, and a fault of theirs may put zero chunks
    /// under this access for a moment; the access is then repeated once
    /// their repair is done (see `sigbus::calm`). `op` must be idempotent
    /// for shared callers (reads, flushes). `&mut self` callers can't meet
    /// another thread's zero chunk: maps never overlap.
    ///
    /// # Errors
    /// [`Error::Os`] with `EFAULT` when the pages under the map are gone
    /// (after the mapping was re-established), or when an earlier repair
    /// failed; [`Error::Os`] if the guard can't be installed.
    #[inline]
    pub(crate) fn guarded(&self, method: &str, shared: bool, mut op: impl FnMut()) -> Result<()> {
        let Some(backing) = self.backing() else {
            // Anonymous memory can't lose its pages; memory the caller
            // mapped (`from_existing`) is covered by that function's
            // contract.
            op();
            return Ok(());
        };
        if backing.broken.load(Ordering::Relaxed) {
            return Err(broken(method));
        }
        let start = self.addr() as usize;
        for _ in 0..1000 {
            let calm = if shared { sigbus::calm() } else { None };
            let armed = sigbus::arm(start, self.reserved_len(), backing.unit)?;
            op();
            if let Some(fault) = armed.disarm() {
                return Err(self.repair(backing, method, fault));
            }
            if !shared || calm.is_some_and(sigbus::still_calm) {
                return Ok(());
            }
            sigbus::wait_for_repairs();
        }
        Err(Error::os(
            Errno::FAULT,
            format!("{method}: faults in other threads kept disturbing the access"),
        ))
    }

    /// Maps the file back over the chunks a fault replaced; returns the
    /// error to report.
    #[cold]
    fn repair(&self, backing: &Backing, method: &str, fault: Fault) -> Error {
        // `fault` is dropped (uncounted) at the end, after the re-mapping.
        let start = self.addr() as usize;
        let end = (fault.hi + fault.unit).min(start + self.reserved_len());
        let len = end - fault.lo;
        let offset = fault.lo - start;
        // SAFETY: `[fault.lo, end)` lies inside this map's own range, which
        // no Rust reference points into (safe access goes through raw
        // pointers, `as_slice` borrows the map); it is replaced with the
        // same file mapping it held before the fault.
        let remapped = unsafe {
            mm::map_file_fixed(
                fault.lo,
                len,
                backing.prot,
                backing.kind,
                backing.fd.as_fd(),
                backing.offset + offset as u64,
            )
        };
        // The chunks are the file's again: uncount the fault.
        drop(fault);
        let outcome = match remapped {
            Ok(()) => "the file mapping was re-established; the map works again once the file \
                      covers it"
                .to_owned(),
            Err(errno) => {
                backing.broken.store(true, Ordering::Relaxed);
                format!("re-mapping the file failed ({errno}); the map refuses further access")
            }
        };
        Error::os(
            Errno::FAULT,
            format!(
                "{method}: the pages at offset {offset}..{} are gone (file truncated?); {outcome}",
                offset + len
            ),
        )
    }
}

/// The error of any access to a map whose repair failed.
#[cold]
fn broken(method: &str) -> Error {
    Error::os(
        Errno::FAULT,
        format!(
            "{method}: an earlier fault left this map without its file pages and they could \
             not be mapped again; delete the map"
        ),
    )
}

/// [`read_recoverable`] after a fault, a disturbance or a broken
/// map: the whole access again, then the error if any.
///
/// # Safety
/// As [`read_recoverable`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[cold]
#[inline(never)]
unsafe fn read_recoverable_slow(
    method: &str,
    backing: &Backing,
    offset: usize,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) -> Result<()> {
    if backing.broken.load(Ordering::Relaxed) {
        return Err(broken(method));
    }
    for _ in 0..1000 {
        if let Some(calm) = sigbus::calm() {
            // SAFETY: as in `read_recoverable`.
            let left = unsafe { sigbus::copy_recoverable(dst, src, len) };
            if sigbus::still_calm(calm) {
                if left == 0 {
                    return Ok(());
                }
                let gone = offset + (len - left);
                return Err(Error::os(
                    Errno::FAULT,
                    format!(
                        "{method}: the pages at offset {gone}.. are gone (file truncated?); \
                         the bytes before them were read, the map is unchanged and works \
                         again once the file covers it"
                    ),
                ));
            }
        }
        sigbus::wait_for_repairs();
    }
    Err(Error::os(
        Errno::FAULT,
        format!("{method}: faults in other threads kept disturbing the access"),
    ))
}

/// Copies `len` bytes of a guarded map (`backing`) at `src` (map offset `offset`) to
/// `dst` with the fault-recoverable copy: no per-call registration; a
/// load of a page that is gone stops the copy there and gives `EFAULT`.
/// Nothing is mapped over the gone pages, so there is nothing to
/// repair.
///
/// Another thread's guarded `&self` call on the map (a flush) may put
/// a zero chunk under the copy for a moment; one load before and one
/// after (`sigbus::calm`) catch that, and the copy is repeated once the
/// repair is done, so no read returns zeros that were never in the
/// file. (Writers take `&mut self`, and maps never overlap, so no
/// other zero chunk can be under it.)
///
/// # Safety
/// `[src, src + len)` must lie inside the readable map `backing` belongs to;
/// `dst` must be valid for writes of `len` bytes and not overlap it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline]
pub(crate) unsafe fn read_recoverable(
    method: &str,
    backing: &Backing,
    offset: usize,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) -> Result<()> {
    // The common case, kept small: no zero chunk anywhere before, none
    // appeared during, everything copied.
    if let Some(calm) = sigbus::calm() {
        if !backing.broken.load(Ordering::Relaxed) {
            // SAFETY: the map installed the handler when it was
            // created (`Map::new`); the caller vouches for the ranges;
            // the copy goes through raw pointers only.
            let left = unsafe { sigbus::copy_recoverable(dst, src, len) };
            if sigbus::still_calm(calm) && left == 0 {
                return Ok(());
            }
        }
    }
    // SAFETY: as this function's contract.
    unsafe { read_recoverable_slow(method, backing, offset, src, dst, len) }
}
