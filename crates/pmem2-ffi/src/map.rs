//! `pmem2_map_*`: mappings.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::ptr::NonNull;

use pmem2::{Error, Granularity, Map};

use crate::config::ConfigHandle;
use crate::guard::{self, call, value};
use crate::source::SourceHandle;

/// Boxes a new map, stores the box's address with the map in pmem2's
/// registry (so that the reservation `find` functions return the very
/// pointer C holds, see [`handle_of`]) and the pointer in `*out`.
///
/// # Safety
/// `out` must be valid for a pointer write.
unsafe fn give_map(out: *mut *mut MapHandle, map: Map) {
    let ptr = Box::into_raw(Box::new(MapHandle::new(map)));
    // SAFETY: `ptr` is the box just made; nothing else refers to it yet.
    if let Some(map) = unsafe { &(*ptr).map } {
        map.set_user_data(ptr as usize);
    }
    // SAFETY: forwarded from the caller.
    unsafe { out.write(ptr) };
}

/// The C handle of a map found in a reservation (stored with the map when
/// C created it).
#[must_use]
pub fn handle_of(found: &pmem2::ReservedMap) -> *mut MapHandle {
    found.user_data as *mut MapHandle
}

/// `struct pmem2_map`: opaque to C.
///
/// The map sits in an `Option` so that a failed `pmem2_map_delete` can hand
/// it back into the same allocation: the pointer C holds never changes.
#[derive(Debug)]
pub struct MapHandle {
    map: Option<Map>,
}

impl MapHandle {
    /// Wraps a map for C.
    #[must_use]
    pub fn new(map: Map) -> Self {
        MapHandle { map: Some(map) }
    }

    /// The map (an error only if an earlier delete panicked half-way).
    pub fn map(&self) -> Result<&Map, Error> {
        self.map
            .as_ref()
            .ok_or_else(|| Error::MappingNotFound("the map was already deleted".into()))
    }
}

/// Maps `src` as `cfg` says and stores the new map in `*map_ptr` (NULL on
/// failure). Codes and their order are PMDK's (see `docs/c-abi.md`).
///
/// # Safety
/// `map_ptr` must be NULL (→ `-EINVAL`) or valid for a pointer write; `cfg`
/// and `src` NULL (→ `-EINVAL`) or live objects of this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_new(
    map_ptr: *mut *mut MapHandle,
    cfg: *const ConfigHandle,
    src: *const SourceHandle,
) -> c_int {
    const F: &str = "pmem2_map_new";
    call(F, || {
        // SAFETY: NULL-checked by write_out; valid for writes otherwise.
        unsafe { guard::write_out(map_ptr, std::ptr::null_mut(), F, "map_ptr") }?;
        // SAFETY: caller's contract: NULL or live objects.
        let cfg = unsafe { guard::handle(cfg, F, "cfg") }?;
        // SAFETY: as above.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let map = Map::new(&cfg.config, &src.source)?;
        // SAFETY: `map_ptr` was checked above.
        unsafe { give_map(map_ptr, map) };
        Ok(())
    })
}

/// Wraps memory the caller mapped (`[addr, addr + len)`, a mapping of
/// `src`) in a map with granularity `gran`; pmem2 never unmaps it.
/// Overlapping a registered map → `PMEM2_E_MAP_EXISTS`.
///
/// Where PMDK crashes or misbehaves, this returns errors: NULL pointers
/// (`-EINVAL`), a NULL `addr` (`PMEM2_E_ADDRESS_NULL`), a granularity
/// outside 0..=2 (`PMEM2_E_GRANULARITY_NOT_SUPPORTED`), and
/// `addr + len` wrapping around (`PMEM2_E_LENGTH_OUT_OF_RANGE`).
///
/// # Safety
/// `map` must be NULL or valid for a pointer write; `src` NULL or a live
/// source; the range must stay mapped while the map exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_from_existing(
    map: *mut *mut MapHandle,
    src: *const SourceHandle,
    addr: *mut c_void,
    len: usize,
    gran: c_int,
) -> c_int {
    const F: &str = "pmem2_map_from_existing";
    call(F, || {
        // SAFETY: NULL-checked by write_out; valid for writes otherwise.
        unsafe { guard::write_out(map, std::ptr::null_mut(), F, "map") }?;
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let granularity = Granularity::try_from(gran)?;
        let addr = NonNull::new(addr.cast::<u8>()).ok_or_else(|| {
            Error::AddressNull(format!("{F}: the address of the mapping is NULL").into())
        })?;
        // SAFETY: the caller keeps the range mapped while the map exists.
        let wrapped = unsafe { Map::from_existing(&src.source, addr, len, granularity) }?;
        // SAFETY: `map` was checked above.
        unsafe { give_map(map, wrapped) };
        Ok(())
    })
}

/// Unmaps (unless the map came from `pmem2_map_from_existing`), frees the
/// map and sets `*map_ptr` to NULL. On failure the map stays valid and
/// `*map_ptr` unchanged. A NULL `*map_ptr` is a no-op returning 0 (PMDK
/// crashes).
///
/// # Safety
/// `map_ptr` must be NULL (→ `-EINVAL`) or valid for reads and writes;
/// `*map_ptr` NULL or a live map, not used after a successful delete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_delete(map_ptr: *mut *mut MapHandle) -> c_int {
    const F: &str = "pmem2_map_delete";
    call(F, || {
        if map_ptr.is_null() {
            return Err(guard::null_arg(F, "map_ptr"));
        }
        // SAFETY: valid for reads (caller's contract).
        let ptr = unsafe { map_ptr.read() };
        // SAFETY: NULL or a live map owned by C, not aliased during the call.
        let Some(handle) = (unsafe { ptr.as_mut() }) else {
            return Ok(());
        };
        let Some(map) = handle.map.take() else {
            return Err(Error::MappingNotFound("the map was already deleted".into()));
        };
        match map.delete() {
            Ok(()) => {
                // SAFETY: `*map_ptr` is ours (from `give_map`); C gives it up now.
                drop(unsafe { guard::take(map_ptr) });
                Ok(())
            }
            Err(failed) => {
                // Still mapped and registered, with its handle.
                handle.map = Some(failed.handle);
                Err(failed.error)
            }
        }
    })
}

/// The map's start address; NULL for a NULL map (PMDK crashes).
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_get_address(map: *mut MapHandle) -> *mut c_void {
    const F: &str = "pmem2_map_get_address";
    value(F, std::ptr::null_mut(), || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(handle.map()?.addr().cast())
    })
}

/// The map's size in bytes; 0 for a NULL map (PMDK crashes).
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_get_size(map: *mut MapHandle) -> usize {
    const F: &str = "pmem2_map_get_size";
    value(F, 0, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(handle.map()?.size())
    })
}

/// The map's effective store granularity; `PMEM2_GRANULARITY_PAGE` (the
/// most conservative) with a message for a NULL map (PMDK crashes).
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_map_get_store_granularity(map: *mut MapHandle) -> c_int {
    const F: &str = "pmem2_map_get_store_granularity";
    value(F, Granularity::Page as c_int, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(handle.map()?.store_granularity() as c_int)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;
    use crate::config::*;
    use crate::source::*;
    use std::ptr::null_mut;

    #[test]
    fn anonymous_map_lifecycle() {
        let (mut cfg, mut src, mut map) = (null_mut(), null_mut(), null_mut());
        // SAFETY: live locals; handles deleted at the end.
        unsafe {
            assert_eq!(pmem2_config_new(&raw mut cfg), 0);
            assert_eq!(pmem2_source_from_anon(&raw mut src, 1 << 20), 0);
            assert_eq!(
                pmem2_map_new(&raw mut map, cfg, src),
                PMEM2_E_GRANULARITY_NOT_SET
            );
            assert!(map.is_null());
            assert_eq!(pmem2_config_set_required_store_granularity(cfg, 2), 0);
            assert_eq!(pmem2_map_new(&raw mut map, cfg, src), 0);
            assert_eq!(pmem2_map_get_size(map), 1 << 20);
            assert_eq!(pmem2_map_get_store_granularity(map), 0, "anonymous → BYTE");
            let addr = pmem2_map_get_address(map);
            assert!(!addr.is_null());

            let mut existing = null_mut();
            assert_eq!(
                pmem2_map_from_existing(&raw mut existing, src, addr, 4096, 1),
                PMEM2_E_MAP_EXISTS
            );
            assert_eq!(
                pmem2_map_from_existing(&raw mut existing, src, addr, 4096, 7),
                PMEM2_E_GRANULARITY_NOT_SUPPORTED
            );
            assert_eq!(
                pmem2_map_from_existing(&raw mut existing, src, null_mut(), 4096, 1),
                PMEM2_E_ADDRESS_NULL
            );

            assert_eq!(pmem2_map_delete(&raw mut map), 0);
            assert!(map.is_null());
            assert_eq!(pmem2_map_delete(&raw mut map), 0, "NULL-safe");
            assert_eq!(pmem2_map_delete(null_mut()), -libc::EINVAL);
            assert_eq!(pmem2_map_new(null_mut(), cfg, src), -libc::EINVAL);
            assert_eq!(pmem2_map_new(&raw mut map, null_mut(), src), -libc::EINVAL);
            assert_eq!(pmem2_map_new(&raw mut map, cfg, null_mut()), -libc::EINVAL);
            assert!(pmem2_map_get_address(null_mut()).is_null());
            assert_eq!(pmem2_map_get_size(null_mut()), 0);
            assert_eq!(pmem2_map_get_store_granularity(null_mut()), 2);
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
            assert_eq!(pmem2_config_delete(&raw mut cfg), 0);
        }
    }

    #[test]
    fn reservation_find_returns_the_callers_handles() {
        use crate::reservation::*;
        let page = pmem2::page_size();
        let (mut cfg, mut src, mut rsv) = (null_mut(), null_mut(), null_mut());
        let (mut a, mut b, mut found) = (null_mut(), null_mut(), null_mut());
        // SAFETY: live locals; every handle is deleted at the end.
        unsafe {
            assert_eq!(pmem2_config_new(&raw mut cfg), 0);
            assert_eq!(pmem2_config_set_required_store_granularity(cfg, 2), 0);
            assert_eq!(pmem2_source_from_anon(&raw mut src, page), 0);
            assert_eq!(
                pmem2_vm_reservation_new(&raw mut rsv, null_mut(), 4 * page),
                0
            );
            assert_eq!(pmem2_config_set_vm_reservation(cfg, rsv, page), 0);
            assert_eq!(pmem2_map_new(&raw mut a, cfg, src), 0);
            assert_eq!(pmem2_config_set_vm_reservation(cfg, rsv, 3 * page), 0);
            assert_eq!(pmem2_map_new(&raw mut b, cfg, src), 0);
            assert_eq!(pmem2_vm_reservation_map_find_first(rsv, &raw mut found), 0);
            assert_eq!(found, a);
            assert_eq!(
                pmem2_vm_reservation_map_find_next(rsv, a, &raw mut found),
                0
            );
            assert_eq!(found, b);
            assert_eq!(
                pmem2_vm_reservation_map_find(rsv, 0, page, &raw mut found),
                PMEM2_E_MAPPING_NOT_FOUND
            );
            assert!(found.is_null());
            assert_eq!(
                pmem2_vm_reservation_delete(&raw mut rsv),
                PMEM2_E_VM_RESERVATION_NOT_EMPTY
            );
            assert!(!rsv.is_null(), "a refused delete keeps the handle");
            assert_eq!(pmem2_map_delete(&raw mut a), 0);
            assert_eq!(pmem2_vm_reservation_map_find_last(rsv, &raw mut found), 0);
            assert_eq!(found, b);
            assert_eq!(pmem2_map_delete(&raw mut b), 0);
            assert_eq!(pmem2_config_set_vm_reservation(cfg, null_mut(), 0), 0);
            assert_eq!(pmem2_vm_reservation_delete(&raw mut rsv), 0);
            assert!(rsv.is_null());
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
            assert_eq!(pmem2_config_delete(&raw mut cfg), 0);
        }
    }
}
