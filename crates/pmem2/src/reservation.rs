//! Virtual-memory reservations: an address range held inaccessible so that
//! several mappings can be placed at chosen offsets of it.
//!
//! # Lifetimes
//! A [`Map`](crate::Map) created inside a reservation holds a reference
//! count on it, so the reserved range stays reserved as long as any mapping
//! lives in it, whatever happens to the [`VmReservation`] handle. A
//! [`Config`](crate::Config) only refers to it weakly: a config doesn't keep
//! a deleted reservation reserved, and mapping with it afterwards fails.
//! [`VmReservation::delete`] refuses (with
//! [`Error::VmReservationNotEmpty`]) while mappings remain, as PMDK does;
//! dropping the handle releases the range once the last mapping is gone.
//!
//! # Concurrency
//! The mappings of a reservation are the entries of the process-wide
//! registry tagged with its id. A new mapping first *claims* its range there
//! (refused with [`Error::MappingExists`] if it overlaps a mapping of the
//! reservation, with `EEXIST` if it overlaps a foreign registration), then
//! maps over the reserved pages and commits the claim; deleting a mapping
//! refills its range with an inaccessible mapping before releasing the
//! claim. Two threads can therefore never map the same range, and a range
//! is never left unreserved. Lock order: the reservation's, then the
//! registry's.

use std::ptr::NonNull;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::debug_log::{plog, Returned, VERBOSE};
use crate::error::{DeleteError, Errno, Error, Result};
use crate::registry::{self, Entry, Registry};
use crate::sys::mm::{self, page_size, Mapping};

const MEGABYTE: usize = 1 << 20;
const GIGABYTE: usize = 1 << 30;

/// A mapping inside a reservation, as the `find` functions report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedMap {
    /// Offset of the mapping from the start of the reservation.
    pub offset: usize,
    /// Start address of the mapping.
    pub addr: *mut u8,
    /// Length of the address range it occupies (page-rounded).
    pub len: usize,
    /// The word set with [`Map::set_user_data`](crate::Map::set_user_data)
    /// (0 if never set); only with the `c-abi` feature.
    #[cfg(feature = "c-abi")]
    pub user_data: usize,
}

#[derive(Debug)]
struct State {
    /// User-visible start and size.
    addr: usize,
    size: usize,
    /// The whole range pmem2 holds (may extend past the visible one for alignment).
    real_start: usize,
    real_end: usize,
}

#[derive(Debug)]
pub(crate) struct Inner {
    state: RwLock<State>,
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The id the registry tags this reservation's entries with.
    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.real_end > state.real_start {
            // SAFETY: the whole range belongs to this reservation, and no
            // map is inside it any more (each holds an `Arc` to `self`).
            drop(unsafe { Mapping::from_raw(state.real_start, state.real_end - state.real_start) });
        }
    }
}

/// A reserved, inaccessible range of virtual memory (`pmem2_vm_reservation`).
///
/// ```no_run
/// use pmem2::{Config, Granularity, Map, Source, VmReservation};
/// # fn main() -> pmem2::Result<()> {
/// let (a, b) = (Source::open("/mnt/pmem/a")?, Source::open("/mnt/pmem/b")?);
/// // Offsets in a reservation are alignment multiples: round each size up.
/// let (_, len_a) = a.aligned_range(0, a.size()?)?;
/// let (_, len_b) = b.aligned_range(0, b.size()?)?;
/// let rsv = VmReservation::new(None, len_a + len_b)?;
/// let mut config = Config::with_granularity(Granularity::Page);
/// config.set_vm_reservation(Some(&rsv), 0);
/// let first = Map::new(&config, &a)?;
/// config.set_vm_reservation(Some(&rsv), len_a);
/// let second = Map::new(&config, &b)?; // right after the first
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct VmReservation {
    inner: Arc<Inner>,
}

/// A reference to a reservation that doesn't keep it alive (held by configs).
#[derive(Debug, Clone)]
pub(crate) struct WeakReservation(std::sync::Weak<Inner>);

impl WeakReservation {
    /// The reservation, if it still exists.
    pub(crate) fn upgrade(&self) -> Option<VmReservation> {
        self.0.upgrade().map(|inner| VmReservation { inner })
    }
}

/// Reservations are aligned like maps: 2 MiB, or 1 GiB from 2 GiB up.
fn predicted_alignment(size: usize) -> usize {
    let align = if size >= 2 * GIGABYTE {
        GIGABYTE
    } else {
        2 * MEGABYTE
    };
    align.max(page_size())
}

/// The mappings of reservation `id` overlapping `[start, end)`, in address
/// order, claims included.
fn entries_of(
    registry: &Registry,
    id: usize,
    start: usize,
    end: usize,
) -> impl Iterator<Item = (usize, usize, &Entry)> {
    registry
        .overlapping(start, end)
        .filter(move |(_, _, e)| e.reservation == Some(id))
}

impl VmReservation {
    /// Reserves `size` bytes, at `addr` if given (which must be free), as
    /// `pmem2_vm_reservation_new`.
    ///
    /// Without an address the reservation is aligned to 2 MiB (1 GiB from
    /// 2 GiB up), like maps.
    ///
    /// # Errors
    /// [`Error::AddressUnaligned`] for an address that isn't page-aligned,
    /// [`Error::LengthUnaligned`] for a size that isn't a page multiple,
    /// [`Error::MappingExists`] when the range at `addr` is occupied,
    /// [`Error::Os`] from `mmap`.
    pub fn new(addr: Option<NonNull<u8>>, size: usize) -> Result<Self> {
        let result = (|| -> Result<Self> {
            plog!(
                VERBOSE,
                "VmReservation::new",
                "address hint {addr:?}, {size} bytes"
            );
            let page = page_size();
            let addr = addr.map(|a| a.as_ptr() as usize);
            if let Some(a) = addr {
                if !a.is_multiple_of(page) {
                    return Err(Error::AddressUnaligned(
                        format!("address {a:#x} is not a multiple of {page}").into(),
                    ));
                }
            }
            if !size.is_multiple_of(page) {
                return Err(Error::LengthUnaligned(
                    format!("reservation size {size} is not a multiple of {page}").into(),
                ));
            }
            let translate = |errno: Errno| match errno {
                Errno::EXIST => {
                    Error::MappingExists("the requested address range is already occupied".into())
                }
                other => Error::os(other, "mmap"),
            };
            let state = if let Some(a) = addr {
                // An explicit address is used as is: no alignment padding (PMDK
                // pads past the end, which needlessly fails next to a neighbour).
                a.checked_add(size).ok_or_else(|| {
                    Error::LengthOutOfRange("address + size wraps around the address space".into())
                })?;
                // An empty reservation holds no pages yet; `extend` adds them.
                let start = if size == 0 {
                    a
                } else {
                    Mapping::reserve_at(a, size)
                        .map_err(translate)?
                        .into_raw()
                        .0
                };
                State {
                    addr: start,
                    size,
                    real_start: start,
                    real_end: start + size,
                }
            } else {
                let align = predicted_alignment(size);
                let real_len = size
                    .checked_next_multiple_of(align)
                    .and_then(|l| l.checked_add(align))
                    .ok_or_else(|| Error::os(Errno::NOMEM, "mmap"))?;
                let real = Mapping::reserve(real_len).map_err(translate)?.into_raw().0;
                State {
                    addr: real.next_multiple_of(align),
                    size,
                    real_start: real,
                    real_end: real + real_len,
                }
            };
            Ok(VmReservation {
                inner: Arc::new(Inner {
                    state: RwLock::new(state),
                }),
            })
        })();
        result.logged("VmReservation::new")
    }

    pub(crate) fn downgrade(&self) -> WeakReservation {
        WeakReservation(Arc::downgrade(&self.inner))
    }

    /// Start of the reservation.
    #[must_use]
    pub fn addr(&self) -> *mut u8 {
        self.inner.read().addr as *mut u8
    }

    /// Size of the reservation.
    #[must_use]
    pub fn size(&self) -> usize {
        self.inner.read().size
    }

    /// Number of mappings inside (including ones being created).
    pub(crate) fn map_count(&self) -> usize {
        let state = self.inner.read();
        let registry = registry::read();
        entries_of(&registry, self.inner.id(), state.real_start, state.real_end).count()
    }

    /// Releases the reservation, as `pmem2_vm_reservation_delete`.
    ///
    /// # Errors
    /// [`Error::VmReservationNotEmpty`] while mappings are inside; the
    /// reservation is handed back in [`DeleteError`].
    pub fn delete(self) -> std::result::Result<(), DeleteError<VmReservation>> {
        plog!(
            VERBOSE,
            "VmReservation::delete",
            "{:p}, {} bytes",
            self.addr(),
            self.size()
        );
        if self.map_count() != 0 {
            return Err(DeleteError {
                handle: self,
                error: Error::VmReservationNotEmpty("vm reservation is not empty".into()),
            });
        }
        // Other handles (clones) may still exist; the range is released when
        // the last one goes, which is immediate in the common case.
        drop(self);
        Ok(())
    }

    /// Grows the reservation by `size` bytes at its end, as
    /// `pmem2_vm_reservation_extend`. Mappings inside stay where they are.
    ///
    /// # Errors
    /// [`Error::LengthUnaligned`] for a size that isn't a page multiple,
    /// [`Error::MappingExists`] when the range after the reservation is
    /// occupied, [`Error::LengthOutOfRange`] when it would wrap.
    pub fn extend(&self, size: usize) -> Result<()> {
        let result = (|| -> Result<()> {
            plog!(
                VERBOSE,
                "VmReservation::extend",
                "{:p}: by {size} bytes",
                self.addr()
            );
            let page = page_size();
            if !size.is_multiple_of(page) {
                return Err(Error::LengthUnaligned(
                    format!("reservation extension size {size} is not a multiple of {page}").into(),
                ));
            }
            let mut state = self.inner.write();
            let new_end = state
                .addr
                .checked_add(state.size)
                .and_then(|e| e.checked_add(size))
                .ok_or_else(|| {
                    Error::LengthOutOfRange("extended reservation wraps the address space".into())
                })?;
            if new_end > state.real_end {
                let from = state.real_end;
                let added =
                    Mapping::reserve_at(from, new_end - from).map_err(|errno| match errno {
                        Errno::EXIST => Error::MappingExists(
                            "the range after the reservation is occupied".into(),
                        ),
                        other => Error::os(other, "mmap"),
                    })?;
                // Adjacent to the reservation's range, which now owns it.
                added.into_raw();
                state.real_end = new_end;
            }
            state.size += size;
            Ok(())
        })();
        result.logged("VmReservation::extend")
    }

    /// Shrinks the reservation by `[offset, offset + size)`, which must be
    /// at its start or at its end, as `pmem2_vm_reservation_shrink`.
    ///
    /// # Errors
    /// In PMDK's order: [`Error::OffsetUnaligned`],
    /// [`Error::LengthUnaligned`], [`Error::OffsetOutOfRange`] (offset at or
    /// past the end), [`Error::LengthOutOfRange`] (zero size or past the
    /// end), [`Error::NotSupported`] (a middle interval or the whole
    /// reservation), [`Error::VmReservationNotEmpty`] (a mapping in the
    /// interval).
    pub fn shrink(&self, offset: usize, size: usize) -> Result<()> {
        let result = (|| -> Result<()> {
            plog!(
                VERBOSE,
                "VmReservation::shrink",
                "{:p}: offset {offset}, {size} bytes",
                self.addr()
            );
            let page = page_size();
            if !offset.is_multiple_of(page) {
                return Err(Error::OffsetUnaligned(
                    format!("reservation shrink offset {offset} is not a multiple of {page}")
                        .into(),
                ));
            }
            if !size.is_multiple_of(page) {
                return Err(Error::LengthUnaligned(
                    format!("reservation shrink size {size} is not a multiple of {page}").into(),
                ));
            }
            let mut state = self.inner.write();
            if offset >= state.size {
                return Err(Error::OffsetOutOfRange(
                    "reservation shrink offset is out of reservation range".into(),
                ));
            }
            if size == 0 {
                return Err(Error::LengthOutOfRange(
                    "reservation shrink size cannot be zero".into(),
                ));
            }
            let end = match offset.checked_add(size) {
                Some(end) if end <= state.size => end,
                _ => {
                    return Err(Error::LengthOutOfRange(
                        "reservation shrink size is out of reservation range".into(),
                    ))
                }
            };
            if offset != 0 && end != state.size {
                return Err(Error::NotSupported(
                    "shrinking reservation from the middle is not supported".into(),
                ));
            }
            if offset == 0 && end == state.size {
                return Err(Error::NotSupported(
                    "shrinking the whole reservation is not supported".into(),
                ));
            }
            let from = state.addr + offset;
            let to = state.addr + end;
            if entries_of(&registry::read(), self.inner.id(), from, to)
                .next()
                .is_some()
            {
                return Err(Error::VmReservationNotEmpty(
                    "reservation range to shrink is occupied by a mapping".into(),
                ));
            }
            let (cut_start, cut_len) = if offset == 0 {
                (state.real_start, to - state.real_start)
            } else {
                (from, state.real_end - from)
            };
            // SAFETY: the cut range is reserved by this object and holds no
            // mapping (checked above under the reservation's lock, which every
            // claim takes first).
            let cut = unsafe { Mapping::from_raw(cut_start, cut_len) };
            cut.unmap().map_err(|(kept, errno)| {
                kept.into_raw();
                Error::os(errno, "munmap")
            })?;
            if offset == 0 {
                state.real_start = to;
                state.addr = to;
            } else {
                state.real_end = from;
            }
            state.size -= size;
            Ok(())
        })();
        result.logged("VmReservation::shrink")
    }

    #[cfg_attr(not(feature = "c-abi"), allow(unused_variables))] // `entry` holds only user data
    fn describe(state: &State, start: usize, end: usize, entry: &Entry) -> ReservedMap {
        ReservedMap {
            offset: start - state.addr,
            addr: start as *mut u8,
            len: end - start,
            #[cfg(feature = "c-abi")]
            user_data: entry.user_data,
        }
    }

    fn not_found() -> Error {
        Error::MappingNotFound("no mapping found in the reservation".into())
    }

    /// The lowest mapping overlapping `[offset, offset + len)` of the
    /// reservation, as `pmem2_vm_reservation_map_find`.
    ///
    /// # Errors
    /// [`Error::MappingNotFound`].
    pub fn map_find(&self, offset: usize, len: usize) -> Result<ReservedMap> {
        let result: Result<ReservedMap> = {
            let state = self.inner.read();
            let start = state.addr.saturating_add(offset);
            let end = start.saturating_add(len);
            let registry = registry::read();
            // As PMDK: a map covers its content, not the page-rounding pad
            // after it. An empty query finds the map containing its address.
            let found = entries_of(&registry, self.inner.id(), start, end)
                .find(|(s, _, e)| !e.claimed && start < s + e.size && (*s < end || end == start))
                .map(|(s, e, entry)| Self::describe(&state, s, e, entry));
            found.ok_or_else(Self::not_found)
        };
        result.logged("VmReservation::map_find")
    }

    /// The mapping before the one starting at `addr` in address order
    /// (`pmem2_vm_reservation_map_find_prev`); `addr` is a mapping's start,
    /// e.g. [`Map::addr`](crate::Map::addr) or [`ReservedMap::addr`].
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when it is the first, or no mapping of
    /// this reservation starts at `addr`.
    pub fn map_find_prev(&self, addr: *const u8) -> Result<ReservedMap> {
        self.neighbour(addr as usize, true)
            .logged("VmReservation::map_find_prev")
    }

    /// The mapping after the one starting at `addr` in address order
    /// (`pmem2_vm_reservation_map_find_next`); with
    /// [`map_find_first`](Self::map_find_first), this walks the mappings:
    ///
    /// ```no_run
    /// # fn walk(rsv: &pmem2::VmReservation) {
    /// let mut found = rsv.map_find_first();
    /// while let Ok(m) = found {
    ///     println!("{} bytes at offset {}", m.len, m.offset);
    ///     found = rsv.map_find_next(m.addr);
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when it is the last, or no mapping of
    /// this reservation starts at `addr`.
    pub fn map_find_next(&self, addr: *const u8) -> Result<ReservedMap> {
        self.neighbour(addr as usize, false)
            .logged("VmReservation::map_find_next")
    }

    fn neighbour(&self, addr: usize, before: bool) -> Result<ReservedMap> {
        let state = self.inner.read();
        let registry = registry::read();
        let id = self.inner.id();
        match registry.get(addr) {
            Some((_, e)) if e.reservation == Some(id) && !e.claimed => {}
            _ => return Err(Self::not_found()),
        }
        let mut cursor = if before {
            registry.prev(addr)
        } else {
            registry.next(addr)
        };
        while let Some((start, end, entry)) = cursor {
            let inside = start >= state.real_start && start < state.real_end;
            if !inside {
                break;
            }
            if entry.reservation == Some(id) && !entry.claimed {
                return Ok(Self::describe(&state, start, end, entry));
            }
            cursor = if before {
                registry.prev(start)
            } else {
                registry.next(start)
            };
        }
        Err(Self::not_found())
    }

    /// The lowest mapping (`pmem2_vm_reservation_map_find_first`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when empty.
    pub fn map_find_first(&self) -> Result<ReservedMap> {
        let result: Result<ReservedMap> = {
            let state = self.inner.read();
            let registry = registry::read();
            let first = entries_of(&registry, self.inner.id(), state.real_start, state.real_end)
                .find(|(_, _, e)| !e.claimed)
                .map(|(s, e, entry)| Self::describe(&state, s, e, entry));
            first.ok_or_else(Self::not_found)
        };
        result.logged("VmReservation::map_find_first")
    }

    /// The highest mapping (`pmem2_vm_reservation_map_find_last`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when empty.
    pub fn map_find_last(&self) -> Result<ReservedMap> {
        let result: Result<ReservedMap> = {
            let state = self.inner.read();
            let registry = registry::read();
            let last = entries_of(&registry, self.inner.id(), state.real_start, state.real_end)
                .filter(|(_, _, e)| !e.claimed)
                .last()
                .map(|(s, e, entry)| Self::describe(&state, s, e, entry));
            last.ok_or_else(Self::not_found)
        };
        result.logged("VmReservation::map_find_last")
    }

    /// Claims `[offset, offset + len)` for a new map of `size` bytes,
    /// checking it as `pmem2_map_new` does (step 9 of its validation).
    pub(crate) fn claim(
        &self,
        offset: usize,
        len: usize,
        size: usize,
        alignment: usize,
    ) -> Result<Placement> {
        let page = page_size();
        let state = self.inner.write();
        if !offset.is_multiple_of(page) {
            return Err(Error::OffsetUnaligned(
                format!("reservation offset {offset} is not a multiple of {page}").into(),
            ));
        }
        match offset.checked_add(len) {
            Some(end) if end <= state.size => {}
            _ => {
                return Err(Error::LengthOutOfRange(
                    "reservation offset + mapping length exceeds the reservation size".into(),
                ))
            }
        }
        let start = state.addr + offset;
        if !start.is_multiple_of(alignment) {
            return Err(Error::AddressUnaligned(
                format!(
                    "reservation address {:#x} + offset {offset} is not a multiple of the source alignment {alignment}",
                    state.addr
                )
                .into(),
            ));
        }
        let id = self.inner.id();
        let mut registry = registry::write();
        if let Some((_, _, entry)) = registry.overlapping(start, start + len).next() {
            // PMDK: a mapping of the reservation is MAPPING_EXISTS; a foreign
            // registration (a map made from existing memory over the
            // reservation's pages) is refused by its registry with EEXIST.
            return Err(if entry.reservation == Some(id) {
                Error::MappingExists("the reservation range is occupied by another mapping".into())
            } else {
                Error::os(Errno::EXIST, "the range is registered to another mapping")
            });
        }
        let entry = Entry {
            size,
            claimed: true,
            reservation: Some(id),
            #[cfg(feature = "c-abi")]
            user_data: 0,
        };
        registry.insert(start, start + len, entry).map_err(|_| {
            Error::MappingExists("the reservation range is occupied by another mapping".into())
        })?;
        Ok(Placement {
            _reservation: self.inner.clone(),
            addr: start,
            len,
            committed: false,
        })
    }
}

/// A range of a reservation that a map occupies (or is about to).
///
/// Dropping an uncommitted placement (a failed `Map::new`) refills and
/// releases its range.
#[derive(Debug)]
pub(crate) struct Placement {
    /// Keeps the reservation's range reserved while the map lives.
    _reservation: Arc<Inner>,
    addr: usize,
    len: usize,
    committed: bool,
}

impl Placement {
    pub(crate) fn address(&self) -> usize {
        self.addr
    }

    /// Turns the claim into a live mapping in the registry.
    pub(crate) fn commit(&mut self) {
        if let Some(entry) = registry::write().get_mut(self.addr) {
            entry.claimed = false;
        }
        self.committed = true;
    }

    /// Refills the range with an inaccessible mapping and releases the
    /// registry entry, so the range stays reserved and can be mapped again.
    pub(crate) fn release(&mut self) -> Result<()> {
        // SAFETY: the range is this placement's part of the reservation; the
        // map that occupied it is being released.
        unsafe { mm::make_inaccessible(self.addr, self.len) }
            .map_err(|errno| Error::os(errno, "mmap"))?;
        registry::write().remove(self.addr);
        self.committed = false;
        self.len = 0;
        Ok(())
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        if self.len != 0 && !self.committed {
            // A failed map creation: mend in case a failed MAP_FIXED left
            // the range unmapped, then free the claim.
            self.release().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;

    #[test]
    fn alignment_prediction() {
        assert_eq!(predicted_alignment(4096), 2 * MEGABYTE);
        assert_eq!(predicted_alignment(2 * GIGABYTE), GIGABYTE);
    }

    #[test]
    fn new_checks_arguments() {
        let page = page_size();
        let err = VmReservation::new(NonNull::new(std::ptr::without_provenance_mut(1)), page)
            .unwrap_err();
        assert_eq!(err.code(), PMEM2_E_ADDRESS_UNALIGNED);
        assert_eq!(
            VmReservation::new(None, page + 1).unwrap_err().code(),
            PMEM2_E_LENGTH_UNALIGNED
        );
        let rsv = VmReservation::new(None, 16 * page).unwrap();
        assert_eq!(rsv.size(), 16 * page);
        assert_eq!(rsv.addr() as usize % (2 * MEGABYTE), 0);
        // The same range again is occupied.
        let err = VmReservation::new(NonNull::new(rsv.addr()), page).unwrap_err();
        assert_eq!(err.code(), PMEM2_E_MAPPING_EXISTS);
        // At a free fixed address.
        let addr = rsv.addr();
        rsv.delete().unwrap();
        let again = VmReservation::new(NonNull::new(addr), 4 * page).unwrap();
        assert_eq!(again.addr(), addr);
        // Wrapping ranges are refused instead of crashing.
        let top = NonNull::new((usize::MAX - page + 1) as *mut u8);
        assert_eq!(
            VmReservation::new(top, 2 * page).unwrap_err().code(),
            PMEM2_E_LENGTH_OUT_OF_RANGE
        );
    }

    #[test]
    fn extend_and_shrink_checks() {
        let page = page_size();
        let rsv = VmReservation::new(None, 8 * page).unwrap();
        assert_eq!(
            rsv.extend(page + 1).unwrap_err().code(),
            PMEM2_E_LENGTH_UNALIGNED
        );
        rsv.extend(4 * page).unwrap();
        assert_eq!(rsv.size(), 12 * page);
        assert_eq!(
            rsv.shrink(1, page).unwrap_err().code(),
            PMEM2_E_OFFSET_UNALIGNED
        );
        assert_eq!(
            rsv.shrink(0, 1).unwrap_err().code(),
            PMEM2_E_LENGTH_UNALIGNED
        );
        assert_eq!(
            rsv.shrink(12 * page, page).unwrap_err().code(),
            PMEM2_E_OFFSET_OUT_OF_RANGE
        );
        assert_eq!(
            rsv.shrink(0, 0).unwrap_err().code(),
            PMEM2_E_LENGTH_OUT_OF_RANGE
        );
        assert_eq!(
            rsv.shrink(page, 12 * page).unwrap_err().code(),
            PMEM2_E_LENGTH_OUT_OF_RANGE
        );
        assert_eq!(
            rsv.shrink(page, usize::MAX & !(page - 1))
                .unwrap_err()
                .code(),
            PMEM2_E_LENGTH_OUT_OF_RANGE
        );
        assert_eq!(rsv.shrink(page, page).unwrap_err().code(), PMEM2_E_NOSUPP);
        assert_eq!(rsv.shrink(0, 12 * page).unwrap_err().code(), PMEM2_E_NOSUPP);
        let before = rsv.addr() as usize;
        rsv.shrink(0, 2 * page).unwrap();
        assert_eq!(rsv.addr() as usize, before + 2 * page);
        rsv.shrink(8 * page, 2 * page).unwrap();
        assert_eq!(rsv.size(), 8 * page);
    }

    #[test]
    fn find_on_empty_reservation() {
        let rsv = VmReservation::new(None, 4 * page_size()).unwrap();
        assert_eq!(
            rsv.map_find(0, 4096).unwrap_err().code(),
            PMEM2_E_MAPPING_NOT_FOUND
        );
        assert_eq!(
            rsv.map_find_first().unwrap_err().code(),
            PMEM2_E_MAPPING_NOT_FOUND
        );
        assert_eq!(
            rsv.map_find_last().unwrap_err().code(),
            PMEM2_E_MAPPING_NOT_FOUND
        );
        assert_eq!(
            rsv.neighbour(rsv.addr() as usize, true).unwrap_err().code(),
            PMEM2_E_MAPPING_NOT_FOUND
        );
        assert_eq!(rsv.map_count(), 0);
    }
}
