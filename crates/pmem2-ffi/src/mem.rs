//! `pmem2_get_{memmove,memcpy,memset}_fn`: the process-wide memory
//! functions of a map's granularity (identical pointers for maps of equal
//! granularity, so one call may span adjacent maps).

use pmem2::mem::{self, MemmoveFn, MemsetFn};

use crate::guard::{self, value};
use crate::map::MapHandle;

/// The memmove function of the map's granularity; NULL with a message for
/// a NULL map (PMDK crashes).
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_memmove_fn(map: *mut MapHandle) -> Option<MemmoveFn> {
    const F: &str = "pmem2_get_memmove_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(mem::memmove_fn(handle.map()?.store_granularity())))
    })
}

/// The memcpy function of the map's granularity (PMDK's memcpy is its
/// memmove); NULL for a NULL map.
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_memcpy_fn(map: *mut MapHandle) -> Option<MemmoveFn> {
    const F: &str = "pmem2_get_memcpy_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(mem::memcpy_fn(handle.map()?.store_granularity())))
    })
}

/// The memset function of the map's granularity; NULL for a NULL map.
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_memset_fn(map: *mut MapHandle) -> Option<MemsetFn> {
    const F: &str = "pmem2_get_memset_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(mem::memset_fn(handle.map()?.store_granularity())))
    })
}
