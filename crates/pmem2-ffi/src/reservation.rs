//! `pmem2_vm_reservation_*`: reserved virtual address ranges.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::ptr::NonNull;

use pmem2::{Error, ReservedMap, VmReservation};

use crate::guard::{self, call, value};
use crate::map::{handle_of, MapHandle};

/// `struct pmem2_vm_reservation`: opaque to C.
#[derive(Debug)]
pub struct ReservationHandle {
    /// The Rust reservation.
    pub reservation: VmReservation,
}

/// Reserves `size` bytes (a page multiple) at `addr` (page-aligned, must be
/// free) or wherever the kernel chooses (`addr` NULL), and stores the
/// reservation in `*rsv_ptr` (NULL on failure).
///
/// # Safety
/// `rsv_ptr` must be NULL (→ `-EINVAL`) or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_new(
    rsv_ptr: *mut *mut ReservationHandle,
    addr: *mut c_void,
    size: usize,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_new";
    call(F, || {
        // SAFETY: NULL-checked by write_out; valid for writes otherwise.
        unsafe { guard::write_out(rsv_ptr, std::ptr::null_mut(), F, "rsv_ptr") }?;
        let reservation = VmReservation::new(NonNull::new(addr.cast::<u8>()), size)?;
        // SAFETY: `rsv_ptr` was checked above.
        unsafe { guard::give(rsv_ptr, ReservationHandle { reservation }) };
        Ok(())
    })
}

/// Releases the reservation and sets `*rsv_ptr` to NULL; with mappings
/// inside → `PMEM2_E_VM_RESERVATION_NOT_EMPTY` and nothing changes. A NULL
/// `*rsv_ptr` is a no-op returning 0 (PMDK crashes).
///
/// # Safety
/// `rsv_ptr` must be NULL (→ `-EINVAL`) or valid for reads and writes;
/// `*rsv_ptr` NULL or a live reservation, not used after a successful delete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_delete(
    rsv_ptr: *mut *mut ReservationHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_delete";
    call(F, || {
        if rsv_ptr.is_null() {
            return Err(guard::null_arg(F, "rsv_ptr"));
        }
        // SAFETY: valid for reads (caller's contract); NULL or a live reservation.
        let Some(handle) = (unsafe { rsv_ptr.read().as_ref() }) else {
            return Ok(());
        };
        // Deleting a clone checks emptiness without giving up the handle;
        // the range is released when the handle (the last owner) is dropped.
        handle.reservation.clone().delete().map_err(|e| e.error)?;
        // SAFETY: `*rsv_ptr` came from `give`; C gives it up now.
        drop(unsafe { guard::take(rsv_ptr) });
        Ok(())
    })
}

/// The reservation's start address; NULL for a NULL reservation (PMDK crashes).
///
/// # Safety
/// `rsv` must be NULL or a live reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_get_address(
    rsv: *mut ReservationHandle,
) -> *mut c_void {
    const F: &str = "pmem2_vm_reservation_get_address";
    value(F, std::ptr::null_mut(), || {
        // SAFETY: caller's contract: NULL or a live reservation.
        let handle = unsafe { guard::handle(rsv.cast_const(), F, "rsv") }?;
        Ok(handle.reservation.addr().cast())
    })
}

/// The reservation's size; 0 for a NULL reservation (PMDK crashes).
///
/// # Safety
/// `rsv` must be NULL or a live reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_get_size(rsv: *mut ReservationHandle) -> usize {
    const F: &str = "pmem2_vm_reservation_get_size";
    value(F, 0, || {
        // SAFETY: caller's contract: NULL or a live reservation.
        let handle = unsafe { guard::handle(rsv.cast_const(), F, "rsv") }?;
        Ok(handle.reservation.size())
    })
}

/// Grows the reservation by `size` bytes (a page multiple) at its end.
///
/// # Safety
/// `rsv` must be NULL (→ `-EINVAL`) or a live reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_extend(
    rsv: *mut ReservationHandle,
    size: usize,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_extend";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live reservation.
        let handle = unsafe { guard::handle(rsv.cast_const(), F, "rsv") }?;
        handle.reservation.extend(size)
    })
}

/// Releases `[offset, offset + size)` at the start or the end of the
/// reservation; PMDK's checks and codes.
///
/// # Safety
/// `rsv` must be NULL (→ `-EINVAL`) or a live reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_shrink(
    rsv: *mut ReservationHandle,
    offset: usize,
    size: usize,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_shrink";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live reservation.
        let handle = unsafe { guard::handle(rsv.cast_const(), F, "rsv") }?;
        handle.reservation.shrink(offset, size)
    })
}

/// Stores the C handle of a found mapping in `*out` (NULL when not found).
///
/// # Safety
/// `out` must be valid for a pointer write (checked for NULL by the caller).
unsafe fn store_found(
    out: *mut *mut MapHandle,
    found: Result<ReservedMap, Error>,
) -> Result<(), Error> {
    // SAFETY: forwarded from the caller.
    unsafe { out.write(std::ptr::null_mut()) };
    let found = found?;
    let handle = handle_of(&found);
    if handle.is_null() {
        return Err(Error::MappingNotFound(
            "the mapping found has no pmem2_map handle".into(),
        ));
    }
    // SAFETY: forwarded from the caller.
    unsafe { out.write(handle) };
    Ok(())
}

/// Looks up the reservation and the output pointer of a find function.
///
/// # Safety
/// `rsv` NULL or a live reservation; `out` NULL or valid for writes.
unsafe fn find_args<'a>(
    f: &'static str,
    rsv: *mut ReservationHandle,
    out: *mut *mut MapHandle,
) -> Result<&'a VmReservation, Error> {
    // SAFETY: caller's contract: NULL or a live reservation.
    let handle = unsafe { guard::handle(rsv.cast_const(), f, "rsv") }?;
    if out.is_null() {
        return Err(guard::null_arg(f, "map"));
    }
    Ok(&handle.reservation)
}

/// The lowest mapping overlapping `[reserv_offset, reserv_offset + len)` of
/// the reservation → `*map`; none → `PMEM2_E_MAPPING_NOT_FOUND`, `*map` NULL.
///
/// # Safety
/// `rsv` NULL or a live reservation; `map` NULL or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_map_find(
    rsv: *mut ReservationHandle,
    reserv_offset: usize,
    len: usize,
    map: *mut *mut MapHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_map_find";
    call(F, || {
        // SAFETY: forwarded contracts.
        let rsv = unsafe { find_args(F, rsv, map) }?;
        // SAFETY: `map` checked by find_args.
        unsafe { store_found(map, rsv.map_find(reserv_offset, len)) }
    })
}

/// The mapping before `map` in the reservation → `*prev_map`.
///
/// # Safety
/// `rsv` NULL or a live reservation; `map` NULL or a live map; `prev_map`
/// NULL or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_map_find_prev(
    rsv: *mut ReservationHandle,
    map: *mut MapHandle,
    prev_map: *mut *mut MapHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_map_find_prev";
    call(F, || {
        // SAFETY: forwarded contracts.
        let rsv = unsafe { find_args(F, rsv, prev_map) }?;
        // SAFETY: caller's contract: NULL or a live map.
        let map = unsafe { guard::handle(map.cast_const(), F, "map") }?.map()?;
        // SAFETY: `prev_map` checked by find_args.
        unsafe { store_found(prev_map, rsv.map_find_prev(map.addr())) }
    })
}

/// The mapping after `map` in the reservation → `*next_map`.
///
/// # Safety
/// `rsv` NULL or a live reservation; `map` NULL or a live map; `next_map`
/// NULL or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_map_find_next(
    rsv: *mut ReservationHandle,
    map: *mut MapHandle,
    next_map: *mut *mut MapHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_map_find_next";
    call(F, || {
        // SAFETY: forwarded contracts.
        let rsv = unsafe { find_args(F, rsv, next_map) }?;
        // SAFETY: caller's contract: NULL or a live map.
        let map = unsafe { guard::handle(map.cast_const(), F, "map") }?.map()?;
        // SAFETY: `next_map` checked by find_args.
        unsafe { store_found(next_map, rsv.map_find_next(map.addr())) }
    })
}

/// The lowest mapping of the reservation → `*map`.
///
/// # Safety
/// `rsv` NULL or a live reservation; `map` NULL or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_map_find_first(
    rsv: *mut ReservationHandle,
    map: *mut *mut MapHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_map_find_first";
    call(F, || {
        // SAFETY: forwarded contracts.
        let rsv = unsafe { find_args(F, rsv, map) }?;
        // SAFETY: `map` checked by find_args.
        unsafe { store_found(map, rsv.map_find_first()) }
    })
}

/// The highest mapping of the reservation → `*map`.
///
/// # Safety
/// `rsv` NULL or a live reservation; `map` NULL or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_vm_reservation_map_find_last(
    rsv: *mut ReservationHandle,
    map: *mut *mut MapHandle,
) -> c_int {
    const F: &str = "pmem2_vm_reservation_map_find_last";
    call(F, || {
        // SAFETY: forwarded contracts.
        let rsv = unsafe { find_args(F, rsv, map) }?;
        // SAFETY: `map` checked by find_args.
        unsafe { store_found(map, rsv.map_find_last()) }
    })
}
