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

mod access;
mod granularity;
mod guarded;
mod placement;

use std::ptr::NonNull;

use crate::check;
use crate::config::{Config, Granularity, Protection, Sharing};
use crate::debug_log::{plog, Returned, BASIC};
use crate::error::{DeleteError, Errno, Error, Result};
use crate::registry::{self, Entry};
use crate::reservation::Placement;
use crate::source::{FileType, Source, SourceId};
use crate::sys::mm::{page_size, Mapping};

pub use granularity::platform_is_eadr;
use granularity::{
    check_granularity, effective_granularity, forced_granularity, granularity_reason,
};
use placement::{map_at, Target};

/// How the memory of a map came to be, which decides how it is released.
#[derive(Debug)]
pub(crate) enum Origin {
    /// pmem2 mapped it and unmaps it on delete.
    Owned(Mapping),
    /// The caller mapped it ([`Map::from_existing`]); never unmapped by pmem2.
    Existing,
    /// Mapped inside a reservation; on delete the range is refilled with an
    /// inaccessible mapping so it stays reserved.
    Reserved(Placement),
}

/// A mapping of a [`Source`].
///
/// See the crate docs' *Memory contract* for what the safe methods
/// promise when other mappings or processes use the same file.
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
    backing: Option<Box<guarded::Backing>>,
}

// SAFETY: a `Map` is a handle to process-wide memory; every method that
// writes takes `&mut self`, methods taking `&self` only read or flush, and
// the registry it touches is behind a lock.
unsafe impl Send for Map {}
// SAFETY: as above: shared references allow only reads and cache flushes.
unsafe impl Sync for Map {}

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
        Self::create(config, source).logged("Map::new")
    }

    /// [`Map::new`] without the log.
    fn create(config: &Config, source: &Source<'_>) -> Result<Map> {
        let Some(required) = config.granularity else {
            return Err(Error::GranularityNotSet(
                "please define the max granularity requested for the mapping".into(),
            ));
        };
        let alignment = source.alignment_in(std::path::Path::new(pmem2_nvdimm::SYSFS_ROOT))?;
        let source_size = source.size_in(std::path::Path::new(pmem2_nvdimm::SYSFS_ROOT))?;
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

        let backing_fd = guarded::Backing::dup_fd(source)?;
        if backing_fd.is_some() {
            // Guarded maps need the SIGBUS handler; installed now, so that
            // reads (`sigbus::copy_recoverable`) need no check per call.
            crate::sys::sigbus::install()?;
        }

        let target = Target::for_config(config, reserved, size, alignment)?;

        let mapped = map_at(&target, size, config, source, effective_offset);
        // On failure, dropping the target unmaps the placeholder, or mends
        // and frees the reservation range.
        let map_sync = mapped?;
        let addr = target.address();
        let origin = match target {
            Target::Placeholder { placeholder, .. } => {
                Origin::Owned(placeholder.trim_to(addr, reserved))
            }
            Target::InReservation(p) => Origin::Reserved(p),
        };

        let forced = forced_granularity();
        let eadr = platform_is_eadr();
        let available = effective_granularity(anonymous, config.sharing, forced, map_sync, eadr);
        let backing = backing_fd
            .map(|fd| guarded::Backing::new(fd, effective_offset, config, map_sync, alignment))
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
        // The file's name, for the checker's store log only.
        let file = if check::logging() {
            source
                .fd()
                .ok()
                .and_then(|fd| crate::sys::process::fd_path(fd))
        } else {
            None
        };
        if let Err(err) = map.register(file.as_deref()) {
            map.release_memory().ok();
            return Err(err);
        }
        plog!(
            BASIC,
            "Map::new",
            "mapped {} bytes at {:p} (offset {effective_offset}, {:?}, {:?}), granularity {:?} (required {required:?}): {}",
            map.size,
            map.addr.as_ptr(),
            config.sharing,
            config.protection,
            map.granularity,
            granularity_reason(anonymous, config.sharing, forced, map_sync, eadr)
        );
        Ok(map)
    }

    /// Opens, or creates and sizes, the file at `path` and maps all of it,
    /// with the rules of PMDK's `pmem_map_file`. `flags` are PMDK's
    /// `PMEM_FILE_*` bits:
    ///
    /// | bit | PMDK name | meaning |
    /// |---|---|---|
    /// | `1` | `PMEM_FILE_CREATE` | create the file if missing (with `mode`, less the umask), then set its size to `len` (an existing file is truncated or extended) and allocate its blocks |
    /// | `2` | `PMEM_FILE_EXCL` | with create: fail if the file exists (`EEXIST`); a file created by this call is removed if a later step fails |
    /// | `4` | `PMEM_FILE_SPARSE` | with create: don't allocate the blocks |
    /// | `8` | `PMEM_FILE_TMPFILE` | with create: `path` is a directory; map an unnamed file (mode 0600) created there |
    ///
    /// Without create, `len` must be 0 and the whole file (or device DAX)
    /// is mapped; with create it must be non-zero. A device DAX takes only
    /// create and sparse (both ignored) and `len` 0 or its size. The map has
    /// the best granularity the file gives (at least
    /// [`Granularity::Page`]); the descriptor is closed.
    ///
    /// ```no_run
    /// # fn main() -> pmem2::Result<()> {
    /// let mut map = pmem2::Map::create_file("/mnt/pmem/pool", 1 << 20, 1, 0o600)?;
    /// map.write(0, b"hello")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// With PMDK's messages: [`Error::InvalidProtFlag`] for unknown or
    /// conflicting flags, [`Error::LengthOutOfRange`] for a `len` the rules
    /// refuse, [`Error::InvalidFileType`] for anything but a regular file,
    /// a directory (with `PMEM_FILE_TMPFILE`) or a device DAX;
    /// [`Error::Os`] for a failed `open` (`ENOENT`, `EEXIST`, `EISDIR`,
    /// ...), `ftruncate`, `posix_fallocate` or `mkstemp`; then the errors
    /// of [`Map::new`] (an empty file: [`Error::SourceEmpty`]).
    ///
    /// # References
    /// - [`pmem_map_file(3)`](https://pmem.io/pmdk/manpages/linux/v1.12/libpmem/pmem_map_file.3/)
    pub fn create_file(
        path: impl AsRef<std::path::Path>,
        len: usize,
        flags: u32,
        mode: u32,
    ) -> Result<Map> {
        let result = (|| -> Result<Map> {
            let path = path.as_ref();
            let opened = crate::libpmem::open_for_map(path, len, flags, mode)?;
            let created_here = flags & crate::libpmem::FILE_CREATE != 0
                && flags & crate::libpmem::FILE_EXCL != 0
                && flags & crate::libpmem::FILE_TMPFILE == 0
                && opened.devdax.is_none();
            let result = Source::owning(opened.fd).and_then(|source| {
                Self::create(&Config::with_granularity(Granularity::Page), &source)
            });
            if result.is_err() && created_here {
                crate::sys::file::remove(path).ok();
            }
            result
        })();
        result.logged("Map::create_file")
    }

    fn register(&mut self, file: Option<&std::path::Path>) -> Result<()> {
        if let Origin::Reserved(p) = &mut self.origin {
            // The claim is already in the registry: it becomes the map.
            p.commit();
        } else {
            let start = self.addr.as_ptr() as usize;
            registry::write()
                .insert(start, start + self.reserved, Entry::map(self.size))
                .map_err(|_| Error::MapExists("the range overlaps an existing mapping".into()))?;
        }
        self.registered = true;
        check::on_map(
            self.addr.as_ptr() as usize,
            self.size,
            self.granularity,
            self.protection.contains(Protection::READ),
            file,
        );
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
    /// A zero-length map occupies nothing, as in PMDK: it doesn't block a
    /// later map at its address, and [`Map::delete`] reports
    /// [`Error::MappingNotFound`] for it, as `pmem2_map_delete` does
    /// (dropping it is all it needs).
    ///
    /// # Errors
    /// [`Error::MapExists`] when the range overlaps a registered mapping (a
    /// zero-length range: when its address is inside one).
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
        let mut registry = registry::write();
        // A zero-length map occupies nothing, as in PMDK: it is refused
        // only inside a live mapping and is not registered, so it blocks
        // no later map (and, as in PMDK, `delete` can't find it).
        let taken = if len == 0 {
            registry.first_overlap(start, end).is_some()
        } else {
            registry.insert(start, end, Entry::map(len)).is_err()
        };
        drop(registry);
        if taken {
            map.released = true;
            return Err(Error::MapExists(
                "the range overlaps an existing mapping".into(),
            ));
        }
        map.registered = len != 0;
        if map.registered {
            check::on_map(start, len, granularity, true, None);
        }
        Ok(map)
    }

    /// Unmaps explicitly, reporting errors (dropping a map unmaps it too,
    /// ignoring them).
    ///
    /// # Errors
    /// On failure the map is handed back in [`DeleteError`], still valid.
    #[allow(clippy::result_large_err)] // the rare failure hands the map back by value
    pub fn delete(mut self) -> std::result::Result<(), DeleteError<Map>> {
        if !self.registered {
            return Err(DeleteError {
                error: Error::MappingNotFound("mapping not found".into()),
                handle: self,
            });
        }
        match self.release_memory() {
            Ok(()) => Ok(()),
            // Still mapped and registered: usable, as in PMDK.
            Err(error) => Err(DeleteError {
                handle: self,
                error,
            }),
        }
    }

    /// Releases the memory according to the origin and leaves the registry;
    /// idempotent. On failure the map stays mapped and registered.
    ///
    /// The order keeps other threads from placing a map over memory still
    /// in use: a reservation range is made inaccessible before its registry
    /// entry goes (the placement does both); an owned range leaves the
    /// registry before `munmap` (the kernel can't hand its addresses out
    /// until then) and comes back if `munmap` fails.
    fn release_memory(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        let start = self.addr.as_ptr() as usize;
        // A crash point: what is not durable now is lost with the map.
        if self.registered && !check::on_unmap(start) {
            return Err(Error::NotSupported(
                "Map::delete: the crash-state checker running on this thread is reading this \
                 map; unmap it after the checker returns"
                    .into(),
            ));
        }
        match std::mem::replace(&mut self.origin, Origin::Existing) {
            Origin::Existing => {
                if self.registered {
                    registry::write().remove(start);
                }
            }
            Origin::Reserved(mut p) => {
                let released = p.release();
                self.origin = Origin::Reserved(p);
                released?;
            }
            Origin::Owned(mapping) => {
                let entry = if self.registered {
                    registry::write().remove(start)
                } else {
                    None
                };
                if let Err((kept, errno)) = mapping.unmap() {
                    self.origin = Origin::Owned(kept);
                    if let Some((end, entry)) = entry {
                        registry::write().insert(start, end, entry).ok();
                    }
                    return Err(Error::os(errno, "munmap"));
                }
            }
        }
        self.registered = false;
        self.released = true;
        plog!(
            BASIC,
            "Map::delete",
            "unmapped {} bytes at {:p}",
            self.size,
            self.addr.as_ptr()
        );
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
    pub(crate) fn source_id(&self) -> SourceId {
        self.source
    }

    /// Page-rounded length of the address range the map occupies.
    pub(crate) fn reserved_len(&self) -> usize {
        self.reserved
    }

    /// The descriptor and flags to re-map the file with, for file maps.
    pub(crate) fn backing(&self) -> Option<&guarded::Backing> {
        self.backing.as_deref()
    }

    /// Stores a word with this map in the process-wide registry, returned
    /// as [`ReservedMap::user_data`](crate::ReservedMap::user_data) by the
    /// reservation `find` functions (e.g. a pointer to the structure that
    /// owns the map). Public only with the `c-abi` feature, for the C ABI's
    /// `pmem2_map` handles.
    #[cfg(feature = "c-abi")]
    pub fn set_user_data(&self, data: usize) {
        if let Some(entry) = registry::write().get_mut(self.addr.as_ptr() as usize) {
            entry.user_data = data;
        }
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
}

impl Drop for Map {
    fn drop(&mut self) {
        // Errors can't be reported from drop; `delete` reports them.
        match self.release_memory() {
            Ok(()) => {}
            // Dropped inside a crash-state checker that reads it: it stays
            // mapped, and registered, until the process ends (the owned
            // mapping, or the reservation holding it, is leaked).
            Err(Error::NotSupported(_)) => {
                std::mem::forget(std::mem::replace(&mut self.origin, Origin::Existing));
            }
            // A map that can't be released leaves the registry anyway:
            // nothing can use it after this.
            Err(_) => {
                if self.registered {
                    registry::write().remove(self.addr.as_ptr() as usize);
                }
            }
        }
    }
}
