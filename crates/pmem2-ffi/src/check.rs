//! `pmem2_check_point`: pmem2's extension for crash-consistency checking,
//! not in PMDK (`docs/c-abi.md`, `docs/check.md`). It is exported at its
//! own version node, `PMEM2_EXT_1.0`, and declared in `libpmem2/check.h`.

use std::ffi::{c_char, CStr};

use crate::guard;

/// Marks a named crash point, or a region boundary when `name` ends in
/// `.BEGIN` or `.END` (PMDK's marker names, for pmreorder's `-x` and
/// `pmem2 check --markers`): `pmem2::check::point`. Does nothing when
/// checking is off or `name` is NULL.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_check_point(name: *const c_char) {
    if name.is_null() {
        return;
    }
    // SAFETY: a non-NULL `name` is a NUL-terminated string (the contract).
    let name = unsafe { CStr::from_ptr(name) };
    guard::value("pmem2_check_point", (), || {
        pmem2::check::point(&name.to_string_lossy());
        Ok(())
    });
}
