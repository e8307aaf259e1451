//! `pmem_persist`, `pmem_flush`, `pmem_drain`, `pmem_deep_flush`,
//! `pmem_has_hw_drain` and `pmem_has_auto_flush`: pmem2's persist functions
//! of libpmem's granularity (cache line; byte in no-flush mode, i.e. eADR
//! or `PMEM_NO_FLUSH=1`). They work on any mapped memory.

use std::ffi::{c_int, c_void};

use pmem2::libpmem;
use pmem2::persist;
use pmem2::Granularity;

/// `pmem_persist`: flush the range's cache lines, then drain.
///
/// # Safety
/// The range must be mapped (readable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_persist(addr: *const c_void, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { persist::persist_fn(libpmem::granularity())(addr, len) }
}

/// `pmem_flush`: flush the range's cache lines (nothing in no-flush mode).
///
/// # Safety
/// The range must be mapped (readable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_flush(addr: *const c_void, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { persist::flush_fn(libpmem::granularity())(addr, len) }
}

/// `pmem_drain`: wait for earlier flushes (a store fence).
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_drain() {
    // SAFETY: a drain function takes no memory.
    unsafe { persist::drain_fn(libpmem::granularity())() }
}

/// `pmem_deep_flush`: flush the range's cache lines with the CPU's flush
/// instruction even in no-flush mode; no fence.
///
/// # Safety
/// The range must be mapped (readable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_deep_flush(addr: *const c_void, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { persist::flush_fn(Granularity::CacheLine)(addr, len) }
}

/// `pmem_has_hw_drain`: 0, as in PMDK (no platform has it).
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_has_hw_drain() -> c_int {
    0
}

/// `pmem_has_auto_flush`: 1 on an eADR platform (every NVDIMM region's
/// persistence domain is `cpu_cache`), else 0; scans sysfs on each call.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_has_auto_flush() -> c_int {
    c_int::from(libpmem::has_auto_flush())
}
