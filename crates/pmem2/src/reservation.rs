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
//! Each reservation keeps its mappings in an interval map behind a lock. A
//! new mapping first *claims* its range there (refused with
//! [`Error::MappingExists`] if it overlaps anything, claimed or mapped),
//! then maps over the reserved pages and commits the claim; deleting a
//! mapping refills its range with an inaccessible mapping before releasing
//! the claim. Two threads can therefore never map the same range, and a
//! range is never left unreserved.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustix::mm::{mmap_anonymous, munmap, MapFlags, ProtFlags};

use crate::error::{Errno, Error, Result};
use crate::map::DeleteError;
use crate::persist::page_size;
use crate::registry::IntervalMap;

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Claimed by a `Map::new` in progress: occupied, but not findable.
    Claimed,
    /// A live mapping; its content (`pmem2_map_get_size`) ends at this
    /// address, which may be before the end of its page-rounded range.
    Mapped { content_end: usize },
}

#[derive(Debug)]
struct State {
    /// User-visible start and size.
    addr: usize,
    size: usize,
    /// The whole range pmem2 holds (may extend past the visible one for alignment).
    real_start: usize,
    real_end: usize,
    maps: IntervalMap<SlotState>,
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
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.real_end > state.real_start {
            // SAFETY: the whole range belongs to this reservation, and no
            // map is inside it any more (each holds an `Arc` to `self`).
            unsafe {
                munmap(
                    state.real_start as *mut c_void,
                    state.real_end - state.real_start,
                )
            }
            .ok();
        }
    }
}

/// A reserved, inaccessible range of virtual memory (`pmem2_vm_reservation`).
///
/// ```no_run
/// use pmem2::{Config, Granularity, Map, Source, VmReservation};
/// # fn main() -> pmem2::Result<()> {
/// let (a, b) = (Source::open("/mnt/pmem/a")?, Source::open("/mnt/pmem/b")?);
/// let (len_a, len_b) = (a.size()?, b.size()?);
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

fn reserve(addr: Option<usize>, len: usize) -> std::result::Result<usize, Errno> {
    let mut flags = MapFlags::PRIVATE | MapFlags::NORESERVE;
    if addr.is_some() {
        flags |= MapFlags::FIXED_NOREPLACE;
    }
    let hint = addr.unwrap_or(0) as *mut c_void;
    // SAFETY: a PROT_NONE anonymous mapping at a free address (the kernel's
    // choice, or a hint that MAP_FIXED_NOREPLACE refuses to clobber) affects
    // no existing memory.
    let got = unsafe { mmap_anonymous(hint, len, ProtFlags::empty(), flags) }? as usize;
    if let Some(wanted) = addr {
        if got != wanted {
            // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the
            // address as a hint: the range was taken.
            // SAFETY: `got` is the mapping just created, owned by nobody else.
            unsafe { munmap(got as *mut c_void, len) }.ok();
            return Err(Errno::EXIST);
        }
    }
    Ok(got)
}

/// Makes `[addr, addr + len)` inaccessible again, replacing whatever a map
/// left there, so the range stays reserved.
pub(crate) fn mend(addr: usize, len: usize) -> Result<()> {
    // SAFETY: the range belongs to a reservation and held a mapping pmem2
    // made there, which is being released; MAP_FIXED replaces it atomically.
    unsafe {
        mmap_anonymous(
            addr as *mut c_void,
            len,
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::NORESERVE | MapFlags::FIXED,
        )
    }
    .map(|_| ())
    .map_err(|errno| Error::os(errno, "mmap"))
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
                reserve(Some(a), size).map_err(translate)?
            };
            State {
                addr: start,
                size,
                real_start: start,
                real_end: start + size,
                maps: IntervalMap::default(),
            }
        } else {
            let align = predicted_alignment(size);
            let real_len = size
                .checked_next_multiple_of(align)
                .and_then(|l| l.checked_add(align))
                .ok_or_else(|| Error::os(Errno::NOMEM, "mmap"))?;
            let real = reserve(None, real_len).map_err(translate)?;
            let start = real.next_multiple_of(align);
            State {
                addr: start,
                size,
                real_start: real,
                real_end: real + real_len,
                maps: IntervalMap::default(),
            }
        };
        Ok(VmReservation {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
            }),
        })
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

    /// Number of mappings inside.
    #[must_use]
    pub fn map_count(&self) -> usize {
        self.inner.read().maps.len()
    }

    /// Releases the reservation, as `pmem2_vm_reservation_delete`.
    ///
    /// # Errors
    /// [`Error::VmReservationNotEmpty`] while mappings are inside; the
    /// reservation is handed back in [`DeleteError`].
    pub fn delete(self) -> std::result::Result<(), DeleteError<VmReservation>> {
        if !self.inner.read().maps.is_empty() {
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
            reserve(Some(from), new_end - from).map_err(|errno| match errno {
                Errno::EXIST => {
                    Error::MappingExists("the range after the reservation is occupied".into())
                }
                other => Error::os(other, "mmap"),
            })?;
            state.real_end = new_end;
        }
        state.size += size;
        Ok(())
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
        let page = page_size();
        if !offset.is_multiple_of(page) {
            return Err(Error::OffsetUnaligned(
                format!("reservation shrink offset {offset} is not a multiple of {page}").into(),
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
        if state.maps.first_overlap(from, state.addr + end).is_some() {
            return Err(Error::VmReservationNotEmpty(
                "reservation range to shrink is occupied by a mapping".into(),
            ));
        }
        if offset == 0 {
            let new_addr = state.addr + size;
            // SAFETY: `[real_start, new_addr)` is reserved by this object and
            // holds no mapping (checked above).
            unsafe { munmap(state.real_start as *mut c_void, new_addr - state.real_start) }
                .map_err(|errno| Error::os(errno, "munmap"))?;
            state.real_start = new_addr;
            state.addr = new_addr;
        } else {
            // SAFETY: `[from, real_end)` is reserved by this object and holds
            // no mapping (checked above).
            unsafe { munmap(from as *mut c_void, state.real_end - from) }
                .map_err(|errno| Error::os(errno, "munmap"))?;
            state.real_end = from;
        }
        state.size -= size;
        Ok(())
    }

    fn describe(state: &State, start: usize, end: usize) -> ReservedMap {
        ReservedMap {
            offset: start - state.addr,
            addr: start as *mut u8,
            len: end - start,
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
        let state = self.inner.read();
        let start = state.addr.saturating_add(offset);
        let end = start.saturating_add(len);
        // As PMDK: a map covers its content, not the page-rounding pad
        // after it. An empty query finds the map containing its address.
        let found = state
            .maps
            .overlapping(start, end)
            .find(|(s, _, slot)| match **slot {
                SlotState::Mapped { content_end } => {
                    start < content_end && (*s < end || end == start)
                }
                SlotState::Claimed => false,
            })
            .map(|(s, e, _)| Self::describe(&state, s, e));
        found.ok_or_else(Self::not_found)
    }

    /// The mapping before `map` in address order
    /// (`pmem2_vm_reservation_map_find_prev`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when `map` is the first (or not inside).
    pub fn map_find_prev(&self, map: &crate::Map) -> Result<ReservedMap> {
        self.neighbour(map.addr() as usize, true)
    }

    /// The mapping after `map` in address order
    /// (`pmem2_vm_reservation_map_find_next`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when `map` is the last (or not inside).
    pub fn map_find_next(&self, map: &crate::Map) -> Result<ReservedMap> {
        self.neighbour(map.addr() as usize, false)
    }

    /// The neighbour of the mapping starting at `addr` (C ABI entry point).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`].
    pub fn neighbour(&self, addr: usize, before: bool) -> Result<ReservedMap> {
        let state = self.inner.read();
        if state.maps.get(addr).is_none() {
            return Err(Self::not_found());
        }
        let from = if before {
            state.maps.prev(addr)
        } else {
            state.maps.next(addr)
        };
        Self::first_mapped(&state, from, !before)
    }

    /// The lowest mapping (`pmem2_vm_reservation_map_find_first`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when empty.
    pub fn map_find_first(&self) -> Result<ReservedMap> {
        let state = self.inner.read();
        Self::first_mapped(&state, state.maps.first(), true)
    }

    /// The highest mapping (`pmem2_vm_reservation_map_find_last`).
    ///
    /// # Errors
    /// [`Error::MappingNotFound`] when empty.
    pub fn map_find_last(&self) -> Result<ReservedMap> {
        let state = self.inner.read();
        Self::first_mapped(&state, state.maps.last(), false)
    }

    /// Walks from `cursor` in address order (upwards when `forward`) to the
    /// first committed mapping, skipping ranges claimed by maps in creation.
    fn first_mapped<'a>(
        state: &'a State,
        mut cursor: Option<(usize, usize, &'a SlotState)>,
        forward: bool,
    ) -> Result<ReservedMap> {
        while let Some((start, end, slot)) = cursor {
            if matches!(slot, SlotState::Mapped { .. }) {
                return Ok(Self::describe(state, start, end));
            }
            cursor = if forward {
                state.maps.next(start)
            } else {
                state.maps.prev(start)
            };
        }
        Err(Self::not_found())
    }

    /// Claims `[offset, offset + len)` for a new map, checking it as
    /// `pmem2_map_new` does (step 9 of its validation).
    pub(crate) fn claim(&self, offset: usize, len: usize, alignment: usize) -> Result<Placement> {
        let page = page_size();
        let mut state = self.inner.write();
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
        state
            .maps
            .insert(start, start + len, SlotState::Claimed)
            .map_err(|_| {
                Error::MappingExists("the reservation range is occupied by another mapping".into())
            })?;
        // The reservation's own maps are also in the global registry, so
        // only a foreign registration (a map made from existing memory over
        // the reservation's pages) can overlap now; PMDK's registry refuses
        // it with EEXIST.
        if crate::registry::read()
            .first_overlap(start, start + len)
            .is_some()
        {
            state.maps.remove(start);
            return Err(Error::os(
                Errno::EXIST,
                "the range is registered to another mapping",
            ));
        }
        Ok(Placement {
            reservation: self.inner.clone(),
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
    reservation: Arc<Inner>,
    addr: usize,
    len: usize,
    committed: bool,
}

impl Placement {
    pub(crate) fn address(&self) -> usize {
        self.addr
    }

    /// Marks the claimed range as a live mapping whose content is
    /// `content_len` bytes long.
    pub(crate) fn commit(&mut self, content_len: usize) {
        let mut state = self.reservation.write();
        state.maps.remove(self.addr);
        let content_end = self.addr + content_len.min(self.len);
        state
            .maps
            .insert(
                self.addr,
                self.addr + self.len,
                SlotState::Mapped { content_end },
            )
            .expect("a claimed range is reserved for its claimant");
        self.committed = true;
    }

    /// Refills the range with an inaccessible mapping and releases the
    /// claim, so the range stays reserved and can be mapped again.
    pub(crate) fn release(&mut self) -> Result<()> {
        mend(self.addr, self.len)?;
        self.reservation.write().maps.remove(self.addr);
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
    }
}
