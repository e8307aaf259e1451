//! Mappings: creation with PMDK's validation order, placement, `MAP_SYNC`
//! detection and the effective store granularity; safe, range-checked
//! access.
//!
//! # Placement
//! A mapping is placed at an address aligned to 2 MiB (1 GiB when it is
//! 2 GiB or larger), and at least to the source's alignment, so the kernel
//! can use huge pages. pmem2 reserves an inaccessible placeholder larger
//! than needed and maps the source *over* its aligned part with `MAP_FIXED`
//! before trimming the rest, so no other thread can take the range between
//! the two steps.
//!
//! # Granularity
//! Shared file mappings first try `MAP_SHARED_VALIDATE | MAP_SYNC`; the
//! kernel accepts it only on DAX (fsdax, devdax), which makes CPU cache
//! flushes enough for durability. See [`effective_granularity`].

use std::ffi::c_void;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::OnceLock;

use rustix::mm::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};

use crate::config::{Config, Granularity, Protection, Sharing};
use crate::env;
use crate::error::{Errno, Error, Result};
use crate::persist::{self, page_size, PersistOps};
use crate::registry;
use crate::source::{FileType, Source, SourceId};
use crate::sys::linux::{eadr, SYSFS_ROOT};

const MEGABYTE: usize = 1 << 20;
const GIGABYTE: usize = 1 << 30;

/// PMDK's message when `MAP_SYNC` was refused.
pub(crate) const NO_MAP_SYNC_MSG: &str = "requested granularity not available because fd doesn't point to DAX-enabled file or kernel doesn't support MAP_SYNC flag (Linux >= 4.15)";
/// PMDK's message when the platform is not eADR.
pub(crate) const NO_EADR_MSG: &str =
    "requested granularity not available because the platform doesn't support eADR";

/// The finest store granularity a new mapping provides, as PMDK decides it:
/// anonymous and private mappings are [`Byte`](Granularity::Byte) (nothing
/// to make durable); then `PMEM2_FORCE_GRANULARITY` wins; without
/// `MAP_SYNC` only `msync` works ([`Page`](Granularity::Page)); with it,
/// cache flushes suffice ([`CacheLine`](Granularity::CacheLine)), and on
/// an eADR platform not even those ([`Byte`](Granularity::Byte)).
#[must_use]
pub fn effective_granularity(
    anonymous: bool,
    sharing: Sharing,
    forced: Option<Granularity>,
    map_sync: bool,
    eadr: bool,
) -> Granularity {
    if anonymous || sharing == Sharing::Private {
        Granularity::Byte
    } else if let Some(forced) = forced {
        forced
    } else if !map_sync {
        Granularity::Page
    } else if !eadr {
        Granularity::CacheLine
    } else {
        Granularity::Byte
    }
}

/// The refusal when `available` is coarser than `required`, with PMDK's message.
pub(crate) fn check_granularity(required: Granularity, available: Granularity) -> Result<()> {
    if available <= required {
        return Ok(());
    }
    let msg = if available == Granularity::Page {
        NO_MAP_SYNC_MSG
    } else {
        NO_EADR_MSG
    };
    Err(Error::GranularityNotSupported(msg.into()))
}

/// Whether this platform is eADR, read from sysfs once per process (PMDK
/// re-walks sysfs on every map; the answer only changes when NVDIMM regions
/// are reconfigured, which needs a reboot in practice).
#[must_use]
pub fn platform_is_eadr() -> bool {
    static EADR: OnceLock<bool> = OnceLock::new();
    *EADR.get_or_init(|| eadr::is_eadr(Path::new(SYSFS_ROOT)))
}

/// How the memory of a map came to be, which decides how it is released.
#[derive(Debug)]
pub(crate) enum Origin {
    /// pmem2 mapped it and unmaps `reserved` bytes on delete.
    Owned,
    /// The caller mapped it ([`Map::from_existing`]); never unmapped by pmem2.
    Existing,
    /// Mapped inside a reservation; on delete the range is refilled with an
    /// inaccessible mapping so it stays reserved.
    Reserved(crate::reservation::Placement),
}

/// A mapping of a [`Source`].
///
/// Created by [`Map::new`]; unmapped when dropped (or with [`Map::delete`],
/// which reports errors). A map doesn't borrow its source: the descriptor
/// may be closed once the map exists.
///
/// # Access
/// [`write`](Map::write), [`read`](Map::read), [`persist`](Map::persist)
/// and the memory operations are safe and range-checked. Raw access
/// ([`as_slice`](Map::as_slice), [`addr`](Map::addr)) follows memmap2's
/// convention: it is `unsafe` because another process, or another mapping
/// of the same file, can change the memory at any time, and because a file
/// truncated by someone else makes access fault.
///
/// The safe copies go through raw pointers (no reference to the mapped
/// bytes is ever created): like any shared-memory file access they see
/// whatever another process or mapping of the same file stores
/// concurrently. Coordinating writers of one file (two maps in two
/// threads, or two processes) is the application's job, as with
/// `pwrite(2)`. If the file is truncated under the map, they return
/// [`Error::Os`] with `EFAULT` instead of crashing, and the map works again
/// once the file is long enough: see the crate's *Memory contract*.
///
/// ```no_run
/// use pmem2::{Config, Granularity, Map, Source};
/// # fn main() -> pmem2::Result<()> {
/// let source = Source::open("/mnt/pmem/log")?;
/// let mut map = Map::new(&Config::with_granularity(Granularity::Page), &source)?;
/// map.write(0, b"hello, persistent world")?; // durable on return
/// let mut back = [0u8; 5];
/// map.read(0, &mut back)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Map {
    addr: NonNull<u8>,
    /// Bytes of the source mapped (may not be a page multiple).
    size: usize,
    /// Page-rounded length of the address range the map occupies.
    reserved: usize,
    granularity: Granularity,
    /// Whether the kernel accepted `MAP_SYNC`.
    #[allow(clippy::struct_field_names)] // `map_sync` is the kernel flag's name
    map_sync: bool,
    protection: Protection,
    source: SourceId,
    origin: Origin,
    /// Set once the memory has been released, so `Drop` does nothing more.
    released: bool,
    /// Whether the map is in the global registry (a map refused before
    /// registration must not remove another map's entry).
    registered: bool,
    /// How to put the file mapping back after a SIGBUS (file sources only).
    /// (Boxed: it is only read on the guarded path, and keeps `Map` small.)
    backing: Option<Box<crate::guarded::Backing>>,
}

// SAFETY: a `Map` is a handle to process-wide memory; every method that
// writes takes `&mut self`, methods taking `&self` only read or flush, and
// the registry it touches is behind a lock.
unsafe impl Send for Map {}
// SAFETY: as above: shared references allow only reads and cache flushes.
unsafe impl Sync for Map {}

/// A refused `delete`: the object is still valid and is handed back.
///
/// Returned by [`Map::delete`] and
/// [`VmReservation::delete`](crate::VmReservation::delete).
#[derive(Debug)]
pub struct DeleteError<T> {
    /// The object, unchanged and still usable.
    pub handle: T,
    /// Why it could not be deleted.
    pub error: Error,
}

impl<T> std::fmt::Display for DeleteError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: std::fmt::Debug> std::error::Error for DeleteError<T> {}

/// `map.delete()?` in a function returning [`Result`]: the handle is dropped
/// (which retries the release, ignoring errors) and the error kept.
impl<T> From<DeleteError<T>> for Error {
    fn from(refused: DeleteError<T>) -> Self {
        refused.error
    }
}

impl Map {
    /// Maps `source` as `config` says, as `pmem2_map_new`.
    ///
    /// Checks, in PMDK's order: granularity set; the source's alignment and
    /// size; offset alignment; device DAX with private sharing; length
    /// (empty source, alignment, overflow, range); reservation placement.
    ///
    /// # Errors
    /// [`Error::GranularityNotSet`], the source's errors,
    /// [`Error::OffsetUnaligned`], [`Error::SrcDevdaxPrivate`],
    /// [`Error::SourceEmpty`], [`Error::LengthUnaligned`],
    /// [`Error::MapRange`], reservation errors, [`Error::NoAccess`] (e.g.
    /// a read-only descriptor with write protection), [`Error::Os`] from
    /// `mmap`, and [`Error::GranularityNotSupported`] when the platform
    /// can't give the required granularity.
    pub fn new(config: &Config, source: &Source<'_>) -> Result<Map> {
        let Some(required) = config.granularity else {
            return Err(Error::GranularityNotSet(
                "please define the max granularity requested for the mapping".into(),
            ));
        };
        let alignment = source.alignment()?;
        let source_size = source.size()?;
        if !config.offset.is_multiple_of(alignment) {
            return Err(Error::OffsetUnaligned(
                format!("offset is not a multiple of {alignment}").into(),
            ));
        }
        let id = source.id();
        let anonymous = id.file_type == FileType::Anonymous;
        // Anonymous memory has no offset: it is validated, then ignored.
        let effective_offset = if anonymous { 0 } else { config.offset };
        if config.sharing == Sharing::Private && id.file_type == FileType::DeviceDax {
            return Err(Error::SrcDevdaxPrivate(
                "device DAX does not support mapping with MAP_PRIVATE".into(),
            ));
        }
        config.validate_length(source_size, alignment)?;
        let size = if config.length != 0 {
            config.length
        } else {
            source_size - effective_offset
        };
        if size == 0 {
            // offset == size with length 0: PMDK's mmap fails with EINVAL.
            return Err(Error::os(Errno::INVAL, "mmap"));
        }
        let Some(reserved) = size.checked_next_multiple_of(page_size()) else {
            return Err(Error::os(Errno::NOMEM, "mmap"));
        };

        // A duplicate of the descriptor, to re-map the file after a fault
        // (the source may be closed while the map lives).
        let backing_fd = crate::guarded::dup_fd(source)?;

        let target = match &config.reservation {
            Some((weak, offset)) => {
                let rsv = weak.upgrade().ok_or_else(|| {
                    Error::os(
                        Errno::INVAL,
                        "the vm reservation set in the config was deleted",
                    )
                })?;
                Target::InReservation(rsv.claim(*offset, reserved, alignment)?)
            }
            None => {
                Target::Placeholder(Placeholder::new(reserved, map_alignment(size, alignment))?)
            }
        };

        let mapped = map_at(&target, size, config, source, effective_offset);
        let map_sync = match mapped {
            Ok(map_sync) => map_sync,
            Err(err) => {
                // Dropping a reservation placement mends and frees its range.
                if let Target::Placeholder(p) = target {
                    p.release_all();
                }
                return Err(err);
            }
        };
        let addr = target.address();
        let origin = match target {
            Target::Placeholder(p) => {
                p.trim_to(addr, reserved);
                Origin::Owned
            }
            Target::InReservation(p) => Origin::Reserved(p),
        };

        let available = effective_granularity(
            anonymous,
            config.sharing,
            env::forced_granularity(),
            map_sync,
            platform_is_eadr(),
        );
        let unit = alignment.max(page_size());
        let backing = backing_fd
            .map(|fd| crate::guarded::Backing::new(fd, effective_offset, config, map_sync, unit))
            .map(Box::new);
        let mut map = Map {
            // SAFETY: `addr` came from a successful mmap, which never returns 0
            // for a non-fixed request and equals a non-null hint for a fixed one.
            addr: unsafe { NonNull::new_unchecked(addr as *mut u8) },
            size,
            reserved,
            granularity: available,
            map_sync,
            protection: config.protection,
            source: id,
            origin,
            released: false,
            registered: false,
            backing,
        };
        if let Err(err) = check_granularity(required, available) {
            // Dropping releases the memory (or refills the reservation range).
            drop(map);
            return Err(err);
        }
        if let Err(err) = map.register() {
            map.release_memory().ok();
            return Err(err);
        }
        Ok(map)
    }

    fn register(&mut self) -> Result<()> {
        let start = self.addr.as_ptr() as usize;
        registry::write()
            .insert(start, start + self.reserved, ())
            .map_err(|_| Error::MapExists("the range overlaps an existing mapping".into()))?;
        self.registered = true;
        if let Origin::Reserved(p) = &mut self.origin {
            p.commit();
        }
        Ok(())
    }

    /// Wraps memory the caller mapped, as `pmem2_map_from_existing`. pmem2
    /// never unmaps it.
    ///
    /// # Safety
    /// `[addr, addr + len)` must be mapped readable and writable (the map
    /// assumes `READ | WRITE` protection, as PMDK does) for as long as the
    /// returned map exists (if it maps a file, the file must not be
    /// truncated under it: the safe methods of a map made this way are not
    /// guarded against `SIGBUS`, since pmem2 could not re-establish a
    /// mapping it didn't make), and nothing else may access it in ways that
    /// conflict with the map's `&mut self` methods.
    ///
    /// # Errors
    /// [`Error::MapExists`] when the range overlaps a registered mapping.
    pub unsafe fn from_existing(
        source: &Source<'_>,
        addr: NonNull<u8>,
        len: usize,
        granularity: Granularity,
    ) -> Result<Map> {
        let start = addr.as_ptr() as usize;
        let Some(end) = start.checked_add(len) else {
            return Err(Error::LengthOutOfRange(
                "address + length wraps around the address space".into(),
            ));
        };
        let mut map = Map {
            addr,
            size: len,
            reserved: end - start,
            granularity,
            map_sync: false,
            protection: Protection::READ | Protection::WRITE,
            source: source.id(),
            origin: Origin::Existing,
            released: false,
            registered: false,
            backing: None,
        };
        if registry::write().insert(start, end, ()).is_err() {
            map.released = true;
            return Err(Error::MapExists(
                "the range overlaps an existing mapping".into(),
            ));
        }
        map.registered = true;
        Ok(map)
    }

    /// Unmaps explicitly, reporting errors (dropping a map unmaps it too,
    /// ignoring them).
    ///
    /// # Errors
    /// On failure the map is handed back in [`DeleteError`], still valid.
    #[allow(clippy::result_large_err)] // the rare failure hands the map back by value
    pub fn delete(mut self) -> std::result::Result<(), DeleteError<Map>> {
        let start = self.addr.as_ptr() as usize;
        let Some((end, ())) = registry::write().remove(start) else {
            return Err(DeleteError {
                error: Error::MappingNotFound("mapping not found".into()),
                handle: self,
            });
        };
        match self.release_memory() {
            Ok(()) => {
                self.registered = false;
                Ok(())
            }
            Err(error) => {
                // Keep the map usable, as PMDK does: register it again.
                registry::write().insert(start, end, ()).ok();
                Err(DeleteError {
                    handle: self,
                    error,
                })
            }
        }
    }

    /// Releases the memory according to the origin; idempotent.
    fn release_memory(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        match &mut self.origin {
            Origin::Existing => {}
            Origin::Reserved(p) => p.release()?,
            Origin::Owned => {
                // SAFETY: pmem2 mapped exactly `[addr, addr + reserved)` for
                // this map and nothing else refers to it once released.
                unsafe { munmap(self.addr.as_ptr().cast(), self.reserved) }
                    .map_err(|errno| Error::os(errno, "munmap"))?;
            }
        }
        self.released = true;
        Ok(())
    }

    /// Start address. Dereferencing it is `unsafe` (see the type's docs).
    #[must_use]
    pub fn addr(&self) -> *mut u8 {
        self.addr.as_ptr()
    }

    /// Size in bytes (`pmem2_map_get_size`): the mapped part of the source,
    /// which need not be a page multiple.
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The effective store granularity (`pmem2_map_get_store_granularity`).
    #[must_use]
    pub fn store_granularity(&self) -> Granularity {
        self.granularity
    }

    /// Whether the kernel accepted `MAP_SYNC` for this mapping.
    #[must_use]
    pub fn map_sync(&self) -> bool {
        self.map_sync
    }

    /// The protection the map was created with.
    #[must_use]
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// The identity of the source this map was made from.
    #[must_use]
    pub fn source_id(&self) -> SourceId {
        self.source
    }

    /// Page-rounded length of the address range the map occupies.
    pub(crate) fn reserved_len(&self) -> usize {
        self.reserved
    }

    /// The descriptor and flags to re-map the file with, for file maps.
    pub(crate) fn backing(&self) -> Option<&crate::guarded::Backing> {
        self.backing.as_deref()
    }

    /// The persistence functions of this map's granularity.
    #[must_use]
    pub fn persist_ops(&self) -> &'static PersistOps {
        persist::ops(self.granularity)
    }

    /// The whole map as bytes.
    ///
    /// # Safety
    /// Another process or mapping can change the memory while the slice
    /// exists, and accessing it faults if the file was truncated; the map
    /// must be readable.
    #[must_use]
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the range is mapped for the map's lifetime; the caller
        // accepts the aliasing caveats above.
        unsafe { std::slice::from_raw_parts(self.addr.as_ptr(), self.size) }
    }

    /// The whole map as mutable bytes.
    ///
    /// # Safety
    /// As [`Map::as_slice`]; the map must be writable.
    #[must_use]
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` excludes other access
        // through this map.
        unsafe { std::slice::from_raw_parts_mut(self.addr.as_ptr(), self.size) }
    }

    /// The address of `[offset, offset + len)`, if it lies inside the map.
    pub(crate) fn checked_range(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.addr.as_ptr().wrapping_add(offset)),
            _ => Err(Error::MapRange(
                format!(
                    "range [{offset}, {offset} + {len}) is outside the map of {} bytes",
                    self.size
                )
                .into(),
            )),
        }
    }

    pub(crate) fn require(&self, needed: Protection, what: &str) -> Result<()> {
        if self.protection.contains(needed) {
            Ok(())
        } else {
            Err(Error::NoAccess(
                format!("the map is not {what}able ({:?})", self.protection).into(),
            ))
        }
    }

    /// Copies `data` to `offset` and makes it durable before returning:
    /// [`Map::copy_from_slice`] with no flags (`pmem2_memcpy_fn` with 0).
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map,
    /// [`Error::NoAccess`] when the map isn't writable, [`Error::Os`] when
    /// `msync` fails (PAGE granularity), or with `EFAULT` when the pages
    /// under the range are gone (file truncated): bytes for the pages that
    /// remain were copied, the others are lost with the file's end.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.copy_from_slice(offset, data, crate::MemFlags::empty())
            .map_err(|err| match err {
                // Name this method in the fault's message.
                Error::Os { errno, context } if context.starts_with("Map::copy_from_slice:") => {
                    let rest = &context["Map::copy_from_slice".len()..];
                    Error::os(errno, format!("Map::write{rest}"))
                }
                other => other,
            })
    }

    /// Copies bytes at `offset` into `buf`.
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map,
    /// [`Error::NoAccess`] when the map isn't readable, [`Error::Os`] with
    /// `EFAULT` when the pages under the range are gone (the file was
    /// truncated); `buf` then holds zeros where they were.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.require(Protection::READ, "read")?;
        let src = self.checked_range(offset, buf.len())?;
        let (dst, len) = (buf.as_mut_ptr(), buf.len());
        self.guarded("Map::read", true, || {
            // SAFETY: the range is inside the readable map; `buf` is a
            // distinct Rust buffer. Raw pointers only: no reference to the
            // mapped bytes is created (see the crate's memory contract).
            unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        })
    }

    /// Makes `[offset, offset + len)` durable (flush + drain).
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map, [`Error::Os`]
    /// when `msync` fails (PAGE granularity; PMDK's C function aborts), or
    /// with `EFAULT` when a flush instruction hits pages that are gone
    /// (`CACHE_LINE` granularity, file truncated).
    pub fn persist(&self, offset: usize, len: usize) -> Result<()> {
        self.flush(offset, len)?;
        self.drain();
        Ok(())
    }

    /// Starts making `[offset, offset + len)` durable; [`Map::drain`] waits.
    ///
    /// # Errors
    /// As [`Map::persist`].
    pub fn flush(&self, offset: usize, len: usize) -> Result<()> {
        // A flush instruction faults on a page that can't be read or written.
        if !self
            .protection
            .intersects(Protection::READ | Protection::WRITE)
        {
            return Err(Error::NoAccess(
                "the map can be neither read nor written: nothing to flush through it".into(),
            ));
        }
        let ptr = self.checked_range(offset, len)?;
        if self.granularity == Granularity::Page {
            // Unlike the C function, report msync failures.
            return persist::sync_pages(ptr, len);
        }
        let flush = self.persist_ops().flush;
        // A flush instruction faults on a page with no backing: guarded.
        self.guarded("Map::flush", true, || {
            // SAFETY: the range is inside this live map.
            unsafe { flush(ptr.cast::<c_void>(), len) };
        })
    }

    /// Waits for earlier flushes (and non-temporal stores) to complete.
    pub fn drain(&self) {
        // SAFETY: drain functions take no arguments and only fence.
        unsafe { (self.persist_ops().drain)() };
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if self.registered {
            registry::write().remove(self.addr.as_ptr() as usize);
        }
        if self.released {
            return;
        }
        // Errors can't be reported from drop; `delete` reports them.
        self.release_memory().ok();
    }
}

/// Mapping alignment: 2 MiB, 1 GiB for 2 GiB and more, at least the source's.
fn map_alignment(len: usize, source_alignment: usize) -> usize {
    let preferred = if len >= 2 * GIGABYTE {
        GIGABYTE
    } else {
        2 * MEGABYTE
    };
    preferred.max(source_alignment)
}

/// Where the real mapping goes.
enum Target {
    Placeholder(Placeholder),
    InReservation(crate::reservation::Placement),
}

impl Target {
    fn address(&self) -> usize {
        match self {
            Target::Placeholder(p) => p.aligned,
            Target::InReservation(p) => p.address(),
        }
    }
}

/// An inaccessible anonymous mapping big enough to hold an aligned range.
struct Placeholder {
    base: usize,
    len: usize,
    aligned: usize,
}

impl Placeholder {
    fn new(len: usize, alignment: usize) -> Result<Self> {
        let total = len
            .checked_add(alignment)
            .ok_or_else(|| Error::os(Errno::NOMEM, "mmap MAP_ANONYMOUS"))?;
        // SAFETY: a fresh anonymous PROT_NONE mapping at a kernel-chosen
        // address affects no existing memory.
        let base = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                total,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(|errno| Error::os(errno, "mmap MAP_ANONYMOUS"))? as usize;
        Ok(Placeholder {
            base,
            len: total,
            aligned: base.next_multiple_of(alignment),
        })
    }

    /// Unmaps the parts of the placeholder outside `[keep, keep + len)`.
    fn trim_to(self, keep: usize, len: usize) {
        let head = keep - self.base;
        let tail_start = keep + len;
        let tail = self.base + self.len - tail_start;
        // SAFETY: both ranges are parts of the placeholder this value owns,
        // outside the range now holding the real mapping.
        unsafe {
            if head != 0 {
                munmap(self.base as *mut c_void, head).ok();
            }
            if tail != 0 {
                munmap(tail_start as *mut c_void, tail).ok();
            }
        }
    }

    fn release_all(self) {
        // SAFETY: the placeholder is owned by this value and unused.
        unsafe { munmap(self.base as *mut c_void, self.len) }.ok();
    }
}

/// `mmap` the source at the target with `MAP_FIXED`; returns whether
/// `MAP_SYNC` was accepted.
fn map_at(
    target: &Target,
    size: usize,
    config: &Config,
    source: &Source<'_>,
    offset: usize,
) -> Result<bool> {
    let addr = target.address() as *mut c_void;
    let prot = prot_flags(config.protection);
    let translate = |errno: Errno| match errno {
        Errno::ACCESS => Error::NoAccess("mmap: Permission denied".into()),
        Errno::NOTSUP => Error::NotSupported("mmap: Operation not supported".into()),
        Errno::EXIST => Error::MappingExists("mmap: File exists".into()),
        other => Error::os(other, "mmap"),
    };
    let Ok(fd) = source.fd() else {
        let flags = match config.sharing {
            Sharing::Shared => MapFlags::SHARED,
            Sharing::Private => MapFlags::PRIVATE,
        } | MapFlags::FIXED;
        // SAFETY: the target range is owned by pmem2 (a placeholder or a
        // reservation slot checked to be free) and is replaced atomically.
        unsafe { mmap_anonymous(addr, size, prot, flags) }.map_err(translate)?;
        return Ok(false);
    };
    let offset = offset as u64;
    if config.sharing == Sharing::Private {
        // SAFETY: as above; the descriptor is valid while `source` lives.
        unsafe {
            mmap(
                addr,
                size,
                prot,
                MapFlags::PRIVATE | MapFlags::FIXED,
                fd,
                offset,
            )
        }
        .map_err(translate)?;
        return Ok(false);
    }
    let sync = MapFlags::SHARED_VALIDATE | MapFlags::SYNC | MapFlags::FIXED;
    // SAFETY: as above.
    match unsafe { mmap(addr, size, prot, sync, fd, offset) } {
        Ok(_) => Ok(true),
        Err(Errno::INVAL | Errno::NOTSUP) => {
            // SAFETY: as above.
            unsafe {
                mmap(
                    addr,
                    size,
                    prot,
                    MapFlags::SHARED | MapFlags::FIXED,
                    fd,
                    offset,
                )
            }
            .map_err(translate)?;
            Ok(false)
        }
        Err(errno) => Err(translate(errno)),
    }
}

pub(crate) fn prot_flags(protection: Protection) -> ProtFlags {
    let mut prot = ProtFlags::empty();
    if protection.contains(Protection::READ) {
        prot |= ProtFlags::READ;
    }
    if protection.contains(Protection::WRITE) {
        prot |= ProtFlags::WRITE;
    }
    if protection.contains(Protection::EXEC) {
        prot |= ProtFlags::EXEC;
    }
    prot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_decision_over_all_inputs() {
        use Granularity::{Byte, CacheLine, Page};
        for anonymous in [false, true] {
            for sharing in [Sharing::Shared, Sharing::Private] {
                for forced in [None, Some(Byte), Some(CacheLine), Some(Page)] {
                    for map_sync in [false, true] {
                        for eadr in [false, true] {
                            let got =
                                effective_granularity(anonymous, sharing, forced, map_sync, eadr);
                            let expected = if anonymous || sharing == Sharing::Private {
                                Byte
                            } else if let Some(f) = forced {
                                f
                            } else {
                                match (map_sync, eadr) {
                                    (false, _) => Page,
                                    (true, false) => CacheLine,
                                    (true, true) => Byte,
                                }
                            };
                            assert_eq!(
                                got, expected,
                                "anon={anonymous} {sharing:?} {forced:?} sync={map_sync} eadr={eadr}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refusal_messages_are_pmdks() {
        use Granularity::{Byte, CacheLine, Page};
        for required in [Byte, CacheLine, Page] {
            for available in [Byte, CacheLine, Page] {
                let result = check_granularity(required, available);
                if available <= required {
                    assert!(result.is_ok());
                    continue;
                }
                let err = result.unwrap_err();
                assert_eq!(
                    err.code(),
                    crate::error::codes::PMEM2_E_GRANULARITY_NOT_SUPPORTED
                );
                let expected = if available == Page {
                    NO_MAP_SYNC_MSG
                } else {
                    NO_EADR_MSG
                };
                assert_eq!(err.to_string(), expected);
            }
        }
    }

    #[test]
    fn alignment_choice() {
        assert_eq!(map_alignment(4096, 4096), 2 * MEGABYTE);
        assert_eq!(map_alignment(2 * GIGABYTE - 1, 4096), 2 * MEGABYTE);
        assert_eq!(map_alignment(2 * GIGABYTE, 4096), GIGABYTE);
        assert_eq!(map_alignment(4096, 4 * MEGABYTE), 4 * MEGABYTE);
    }
}
