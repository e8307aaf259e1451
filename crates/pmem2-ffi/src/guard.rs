//! The C boundary: panics caught, errors turned into codes and messages,
//! raw pointers checked before use.

use std::any::Any;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pmem2::{Errno, Error};

use crate::errormsg::set_message;

/// Records `err` as the thread's message (returned by `func`) and returns
/// its C code.
#[must_use = "the code must be returned to C"]
#[track_caller]
pub fn fail(func: &str, err: &Error) -> c_int {
    set_message(func, &format!("{err:#}"));
    err.code()
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// Runs the body of an `int`-returning entry point: `Ok` → 0, `Err` → the
/// error's code (message set), a panic → `PMEM2_E_UNKNOWN` (message set).
#[track_caller]
pub fn call(func: &'static str, body: impl FnOnce() -> Result<(), Error>) -> c_int {
    pmem2::c_abi::enter(pmem2::c_abi::Library::Pmem2);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(err)) => fail(func, &err),
        Err(payload) => fail(
            func,
            &Error::Unknown(format!("{func}: internal error: {}", panic_text(&*payload)).into()),
        ),
    }
}

/// Runs the body of an entry point that returns a value and has no error
/// code (getters): an error or a panic sets the message and yields
/// `fallback`.
#[track_caller]
pub fn value<T>(func: &'static str, fallback: T, body: impl FnOnce() -> Result<T, Error>) -> T {
    pmem2::c_abi::enter(pmem2::c_abi::Library::Pmem2);
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(err)) => {
            set_message(func, &format!("{err:#}"));
            fallback
        }
        Err(payload) => {
            set_message(
                func,
                &format!("{func}: internal error: {}", panic_text(&*payload)),
            );
            fallback
        }
    }
}

/// The error for a NULL argument where PMDK would dereference it:
/// `-EINVAL`, message `"<func>: <arg> is NULL: Invalid argument"`.
#[must_use]
pub fn null_arg(func: &'static str, arg: &'static str) -> Error {
    Error::Os {
        errno: Errno::INVAL,
        context: format!("{func}: {arg} is NULL").into(),
    }
}

/// `&T` from a handle pointer, or [`null_arg`].
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` not mutated for `'a`.
pub unsafe fn handle<'a, T>(
    ptr: *const T,
    func: &'static str,
    arg: &'static str,
) -> Result<&'a T, Error> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is valid for `'a`.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_arg(func, arg))
}

/// `&mut T` from a handle pointer, or [`null_arg`].
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` not otherwise accessed for `'a`.
pub unsafe fn handle_mut<'a, T>(
    ptr: *mut T,
    func: &'static str,
    arg: &'static str,
) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is valid and unaliased for `'a`.
    unsafe { ptr.as_mut() }.ok_or_else(|| null_arg(func, arg))
}

/// Writes `value` through an output pointer, or returns [`null_arg`].
///
/// # Safety
/// A non-NULL `ptr` must be valid for a write of `T`.
pub unsafe fn write_out<T>(
    ptr: *mut T,
    value: T,
    func: &'static str,
    arg: &'static str,
) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(null_arg(func, arg));
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for writes.
    unsafe { ptr.write(value) };
    Ok(())
}

/// Moves a new handle to C: boxes it and stores the pointer in `*out`.
///
/// # Safety
/// `out` must be valid for a pointer write (checked for NULL by the caller).
pub unsafe fn give<T>(out: *mut *mut T, value: T) {
    // SAFETY: forwarded from the caller.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
}

/// Takes a handle back from C for deletion: NULL-safe on `*slot`, sets
/// `*slot` to NULL. Returns `None` when `*slot` was already NULL.
///
/// # Safety
/// `slot` must be valid for reads and writes (checked for NULL by the
/// caller); a non-NULL `*slot` must come from [`give`] and not be used again.
pub unsafe fn take<T>(slot: *mut *mut T) -> Option<Box<T>> {
    // SAFETY: `slot` is valid for reads and writes (caller's contract).
    let ptr = unsafe { slot.replace(std::ptr::null_mut()) };
    // SAFETY: a non-NULL pointer came from `Box::into_raw` in `give` and the
    // caller gives up its ownership.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::PMEM2_E_UNKNOWN;
    use crate::errormsg::last_message;

    #[test]
    fn call_maps_results_and_panics() {
        assert_eq!(call("f", || Ok(())), 0);
        let code = call("f", || {
            Err(Error::MapRange("mapping larger than file size".into()))
        });
        assert_eq!(code, -100_006);
        assert_eq!(last_message(), "mapping larger than file size");
        let code = call("pmem2_x", || panic!("boom"));
        assert_eq!(code, PMEM2_E_UNKNOWN);
        assert_eq!(last_message(), "pmem2_x: internal error: boom");
        assert_eq!(value("g", 7usize, || Err(null_arg("g", "map"))), 7);
        assert_eq!(last_message(), "g: map is NULL: Invalid argument");
        assert_eq!(value("g", 7usize, || Ok(3)), 3);
    }

    #[test]
    fn give_and_take() {
        let mut slot: *mut u32 = std::ptr::null_mut();
        // SAFETY: `slot` is a live local.
        unsafe { give(&raw mut slot, 5) };
        assert!(!slot.is_null());
        // SAFETY: `slot` holds a pointer from `give`.
        let b = unsafe { take(&raw mut slot) };
        assert_eq!(b.as_deref(), Some(&5));
        assert!(slot.is_null());
        // SAFETY: `slot` is a live local holding NULL.
        assert!(unsafe { take(&raw mut slot) }.is_none());
    }
}
