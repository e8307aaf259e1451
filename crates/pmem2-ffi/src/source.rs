//! `pmem2_source_*`: what to map.

use std::os::fd::AsRawFd;
use std::os::raw::c_int;

use pmem2::Source;

use crate::guard::{self, call};

/// `struct pmem2_source`: opaque to C. File sources borrow the caller's
/// descriptor, as in PMDK (it is never duplicated or closed).
#[derive(Debug)]
pub struct SourceHandle {
    /// The Rust source.
    pub source: Source<'static>,
}

/// Creates a source over `fd`, which must be open read-only or read-write
/// on a regular file or a device DAX, and stays owned by the caller.
///
/// # Safety
/// `src` must be NULL (→ `-EINVAL`) or valid for a pointer write. The
/// caller must keep `fd` open (and not reuse its number) while the source
/// exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_from_fd(src: *mut *mut SourceHandle, fd: c_int) -> c_int {
    const F: &str = "pmem2_source_from_fd";
    call(F, || {
        // SAFETY: NULL-checked by write_out; valid for writes otherwise.
        unsafe { guard::write_out(src, std::ptr::null_mut(), F, "src") }?;
        // SAFETY: the caller keeps `fd` open for the source's lifetime.
        let source = unsafe { Source::from_raw_fd(fd) }?;
        // SAFETY: `src` was checked above.
        unsafe { guard::give(src, SourceHandle { source }) };
        Ok(())
    })
}

/// Creates an anonymous source of `size` bytes.
///
/// # Safety
/// `src` must be NULL (→ `-EINVAL`) or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_from_anon(src: *mut *mut SourceHandle, size: usize) -> c_int {
    const F: &str = "pmem2_source_from_anon";
    call(F, || {
        // SAFETY: NULL-checked by write_out; valid for writes otherwise.
        unsafe { guard::write_out(src, std::ptr::null_mut(), F, "src") }?;
        let source = Source::anonymous(size)?;
        // SAFETY: `src` was checked above.
        unsafe { guard::give(src, SourceHandle { source }) };
        Ok(())
    })
}

/// Stores the source's descriptor in `*fd`; an anonymous source →
/// `PMEM2_E_FILE_DESCRIPTOR_NOT_SET`.
///
/// # Safety
/// `src` must be NULL or a live source; `fd` NULL or valid for an `int` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_get_fd(src: *const SourceHandle, fd: *mut c_int) -> c_int {
    const F: &str = "pmem2_source_get_fd";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let raw = src.source.fd()?.as_raw_fd();
        // SAFETY: caller's contract: NULL or valid for writes.
        unsafe { guard::write_out(fd, raw, F, "fd") }
    })
}

/// Stores the source's size in `*size`: the file's current size, the
/// device DAX's size, or the anonymous size.
///
/// # Safety
/// `src` must be NULL or a live source; `size` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_size(src: *const SourceHandle, size: *mut usize) -> c_int {
    const F: &str = "pmem2_source_size";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        if size.is_null() {
            return Err(guard::null_arg(F, "size"));
        }
        let value = src.source.size()?;
        // SAFETY: caller's contract: non-NULL and valid for writes.
        unsafe { guard::write_out(size, value, F, "size") }
    })
}

/// Stores the required alignment of offsets and lengths in `*alignment`.
///
/// # Safety
/// `src` must be NULL or a live source; `alignment` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_alignment(
    src: *const SourceHandle,
    alignment: *mut usize,
) -> c_int {
    const F: &str = "pmem2_source_alignment";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        if alignment.is_null() {
            return Err(guard::null_arg(F, "alignment"));
        }
        let value = src.source.alignment()?;
        // SAFETY: caller's contract: non-NULL and valid for writes.
        unsafe { guard::write_out(alignment, value, F, "alignment") }
    })
}

/// Frees `*src` (NULL is fine) and sets `*src` to NULL. The descriptor is
/// not closed.
///
/// # Safety
/// `src` must be NULL (→ `-EINVAL`) or valid for reads and writes; `*src`
/// NULL or a source from this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_delete(src: *mut *mut SourceHandle) -> c_int {
    const F: &str = "pmem2_source_delete";
    call(F, || {
        if src.is_null() {
            return Err(guard::null_arg(F, "src"));
        }
        // SAFETY: `src` is valid; `*src` is ours or NULL (caller's contract).
        drop(unsafe { guard::take(src) });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;
    use std::ptr::null_mut;

    #[test]
    fn anonymous_source() {
        let mut src: *mut SourceHandle = null_mut();
        let (mut size, mut align, mut fd) = (0usize, 0usize, 7);
        // SAFETY: live locals; the handle is deleted at the end.
        unsafe {
            assert_eq!(pmem2_source_from_anon(&raw mut src, 12345), 0);
            assert_eq!(pmem2_source_size(src, &raw mut size), 0);
            assert_eq!(size, 12345);
            assert_eq!(pmem2_source_alignment(src, &raw mut align), 0);
            assert_eq!(align, pmem2::persist::page_size());
            assert_eq!(
                pmem2_source_get_fd(src, &raw mut fd),
                PMEM2_E_FILE_DESCRIPTOR_NOT_SET
            );
            assert_eq!(fd, 7, "output untouched on failure");
            assert_eq!(pmem2_source_size(src, null_mut()), -libc::EINVAL);
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
            assert!(src.is_null());
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
        }
    }

    #[test]
    fn fd_sources() {
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let raw = file.as_raw_fd();
        let mut src: *mut SourceHandle = null_mut();
        let mut fd = -1;
        // SAFETY: `file` outlives the source; live locals.
        unsafe {
            assert_eq!(pmem2_source_from_fd(&raw mut src, raw), 0);
            assert_eq!(pmem2_source_get_fd(src, &raw mut fd), 0);
            assert_eq!(fd, raw);
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
            src = std::ptr::dangling_mut::<SourceHandle>();
            assert_eq!(
                pmem2_source_from_fd(&raw mut src, -1),
                PMEM2_E_INVALID_FILE_HANDLE
            );
            assert!(src.is_null(), "*src is NULL after a failure");
            let dir = std::fs::File::open("/").unwrap();
            assert_eq!(
                pmem2_source_from_fd(&raw mut src, dir.as_raw_fd()),
                PMEM2_E_INVALID_FILE_TYPE
            );
            assert_eq!(pmem2_source_from_fd(null_mut(), raw), -libc::EINVAL);
        }
    }
}
