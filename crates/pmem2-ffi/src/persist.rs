//! `pmem2_get_{persist,flush,drain}_fn`: the process-wide persistence
//! functions of a map's granularity (identical pointers for maps of equal
//! granularity).

use pmem2::persist::{self, DrainFn, PersistFn};

use crate::guard::{self, value};
use crate::map::MapHandle;

/// The persist function (flush + drain) of the map's granularity; NULL
/// with a message for a NULL map (PMDK crashes).
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_persist_fn(map: *mut MapHandle) -> Option<PersistFn> {
    const F: &str = "pmem2_get_persist_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(persist::persist_fn(handle.map()?.store_granularity())))
    })
}

/// The flush function of the map's granularity; NULL for a NULL map.
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_flush_fn(map: *mut MapHandle) -> Option<PersistFn> {
    const F: &str = "pmem2_get_flush_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(persist::flush_fn(handle.map()?.store_granularity())))
    })
}

/// The drain function of the map's granularity; NULL for a NULL map.
///
/// # Safety
/// `map` must be NULL or a live map.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_get_drain_fn(map: *mut MapHandle) -> Option<DrainFn> {
    const F: &str = "pmem2_get_drain_fn";
    value(F, None, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        Ok(Some(persist::drain_fn(handle.map()?.store_granularity())))
    })
}
