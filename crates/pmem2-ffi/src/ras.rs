//! RAS: deep flush, device id, unsafe shutdown count, NUMA node, bad
//! blocks, machine-check-safe I/O.
//!
//! As in PMDK, the device queries and `pmem2_badblock_context_new` report
//! `PMEM2_E_NOSUPP` for an anonymous source before looking at their output
//! pointers (PMDK's own tests pass NULL there).

use std::ffi::{c_char, c_void};
use std::os::raw::c_int;
use std::ptr::NonNull;

use pmem2::{BadBlock, BadBlockContext, Error, FileType};

use crate::guard::{self, call};
use crate::map::MapHandle;
use crate::source::SourceHandle;

/// `struct pmem2_badblock`: a bad range in bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CBadBlock {
    /// Offset from the start of the file or device.
    pub offset: usize,
    /// Length.
    pub length: usize,
}

/// `struct pmem2_badblock_context`: opaque to C.
#[derive(Debug)]
pub struct BadBlockHandle {
    /// The Rust iterator.
    pub context: BadBlockContext,
}

/// Makes `[ptr, ptr + size)` of the map durable down to the persistence
/// domain; outside the map → `PMEM2_E_DEEP_FLUSH_RANGE`.
///
/// # Safety
/// `map` must be NULL (→ `-EINVAL`) or a live map. `ptr` is only compared
/// with the map's bounds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_deep_flush(
    map: *mut MapHandle,
    ptr: *mut c_void,
    size: usize,
) -> c_int {
    const F: &str = "pmem2_deep_flush";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live map.
        let handle = unsafe { guard::handle(map.cast_const(), F, "map") }?;
        let map = handle.map()?;
        // The pointer as an offset from the map's start, wrapping: a
        // pointer before the map gives an offset that wraps back to it,
        // which the range check refuses with PMDK's message.
        let offset = (ptr as usize).wrapping_sub(map.addr() as usize);
        map.deep_flush(offset, size)
    })
}

/// The source's device id: with `id` NULL, stores the size needed
/// (NUL included) in `*len`; otherwise writes the NUL-terminated id into
/// `id`, whose capacity is `*len` (`PMEM2_E_BUFFER_TOO_SMALL` if it
/// doesn't fit). Unlike PMDK the buffer needn't start empty.
///
/// # Safety
/// `src` NULL or a live source; `len` NULL or valid for reads and writes;
/// a non-NULL `id` valid for `*len` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_device_id(
    src: *const SourceHandle,
    id: *mut c_char,
    len: *mut usize,
) -> c_int {
    const F: &str = "pmem2_source_device_id";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let device_id = src.source.device_id()?;
        // SAFETY: caller's contract: NULL or valid for reads and writes.
        let len = unsafe { guard::handle_mut(len, F, "len") }?;
        let buf = if id.is_null() {
            None
        } else {
            // A slice can't exceed isize::MAX bytes; no id comes near that.
            let capacity = (*len).min(isize::MAX as usize);
            // SAFETY: the caller provides `*len` writable bytes at `id`.
            Some(unsafe { std::slice::from_raw_parts_mut(id.cast::<u8>(), capacity) })
        };
        device_id_to_c(&device_id, buf, len)
    })
}

/// Implements the C protocol of `pmem2_source_device_id(src, id, len)` for
/// an already computed device id:
///
/// * `buf == None` (C `id == NULL`): sets `*len` to the size needed, the
///   id's length plus 1 for the terminating NUL;
/// * otherwise writes the id and a NUL into the buffer, whose capacity is
///   `min(*len, buf.len())`, leaving `*len` unchanged.
///
/// Unlike PMDK (which appends with `strncat` and so needs an empty buffer),
/// the id is written from the start of the buffer.
///
/// # Errors
/// [`Error::BufferTooSmall`] if the id and its NUL don't fit.
fn device_id_to_c(id: &str, buf: Option<&mut [u8]>, len: &mut usize) -> Result<(), Error> {
    let needed = id.len() + 1;
    let Some(buf) = buf else {
        *len = needed;
        return Ok(());
    };
    let capacity = (*len).min(buf.len());
    if needed > capacity {
        return Err(Error::BufferTooSmall(
            format!("device id needs {needed} bytes, the buffer has {capacity}").into(),
        ));
    }
    buf[..id.len()].copy_from_slice(id.as_bytes());
    buf[id.len()] = 0;
    Ok(())
}

/// The unsafe shutdown count of the source's DIMMs → `*usc`.
///
/// # Safety
/// `src` NULL or a live source; `usc` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_device_usc(src: *const SourceHandle, usc: *mut u64) -> c_int {
    const F: &str = "pmem2_source_device_usc";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let count = src.source.device_usc()?;
        // SAFETY: caller's contract: NULL or valid for writes.
        unsafe { guard::write_out(usc, count, F, "usc") }
    })
}

/// The NUMA node of the source's NVDIMM region → `*numa_node`.
///
/// # Safety
/// `src` NULL or a live source; `numa_node` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_numa_node(
    src: *const SourceHandle,
    numa_node: *mut c_int,
) -> c_int {
    const F: &str = "pmem2_source_numa_node";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let node = src.source.numa_node()?;
        // SAFETY: caller's contract: NULL or valid for writes.
        unsafe { guard::write_out(numa_node, node, F, "numa_node") }
    })
}

/// Creates an iterator over the source's bad blocks → `*bbctx` (NULL on
/// failure).
///
/// # Safety
/// `bbctx` NULL or valid for a pointer write; `src` NULL or a live source.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_badblock_context_new(
    bbctx: *mut *mut BadBlockHandle,
    src: *const SourceHandle,
) -> c_int {
    const F: &str = "pmem2_badblock_context_new";
    call(F, || {
        if !bbctx.is_null() {
            // SAFETY: non-NULL and valid for writes (caller's contract).
            unsafe { bbctx.write(std::ptr::null_mut()) };
        }
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src, F, "src") }?;
        let context = BadBlockContext::new(&src.source)?;
        if bbctx.is_null() {
            return Err(guard::null_arg(F, "bbctx"));
        }
        // SAFETY: checked above.
        unsafe { guard::give(bbctx, BadBlockHandle { context }) };
        Ok(())
    })
}

/// The next bad block → `*bb`; none left → `PMEM2_E_NO_BAD_BLOCK_FOUND`.
///
/// # Safety
/// `bbctx` NULL or a live context; `bb` NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_badblock_next(
    bbctx: *mut BadBlockHandle,
    bb: *mut CBadBlock,
) -> c_int {
    const F: &str = "pmem2_badblock_next";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased context.
        let ctx = unsafe { guard::handle_mut(bbctx, F, "bbctx") }?;
        if bb.is_null() {
            return Err(guard::null_arg(F, "bb"));
        }
        let next = ctx.context.next()?;
        let out = CBadBlock {
            offset: usize::try_from(next.offset)
                .map_err(|_| Error::OffsetOutOfRange("bad block offset out of range".into()))?,
            length: usize::try_from(next.length)
                .map_err(|_| Error::LengthOutOfRange("bad block length out of range".into()))?,
        };
        // SAFETY: checked non-NULL; valid for writes by the caller's contract.
        unsafe { guard::write_out(bb, out, F, "bb") }
    })
}

/// Clears a bad block returned by [`pmem2_badblock_next`].
///
/// # Safety
/// `bbctx` NULL or a live context; `bb` NULL or valid for reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_badblock_clear(
    bbctx: *mut BadBlockHandle,
    bb: *const CBadBlock,
) -> c_int {
    const F: &str = "pmem2_badblock_clear";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live context.
        let ctx = unsafe { guard::handle(bbctx.cast_const(), F, "bbctx") }?;
        // SAFETY: caller's contract: NULL or valid for reads.
        let bb = unsafe { guard::handle(bb, F, "bb") }?;
        ctx.context.clear(&BadBlock {
            offset: bb.offset as u64,
            length: bb.length as u64,
        })
    })
}

/// Frees `*bbctx` and sets it to NULL; NULL at either level is fine.
///
/// # Safety
/// `bbctx` NULL or valid for reads and writes; `*bbctx` NULL or a live
/// context, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_badblock_context_delete(bbctx: *mut *mut BadBlockHandle) {
    const F: &str = "pmem2_badblock_context_delete";
    let _ = call(F, || {
        if !bbctx.is_null() {
            // SAFETY: valid for reads and writes; `*bbctx` is ours or NULL.
            drop(unsafe { guard::take(bbctx) });
        }
        Ok(())
    });
}

/// Checks a C buffer for the mcsafe functions and gives the pointer and
/// length to build a slice from: NULL is allowed only for an empty transfer,
/// or for an anonymous source (which the Rust side refuses with
/// `PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED`, as PMDK does); both then give an
/// empty buffer.
///
/// A NULL buffer with a non-zero size on a file source is `-EFAULT`, what
/// PMDK's `pread`/`pwrite` return, after the range check PMDK makes first
/// (a range past the end is `PMEM2_E_LENGTH_OUT_OF_RANGE`, as with a
/// buffer). PMDK crashes on device DAX instead.
fn io_buffer(
    f: &'static str,
    src: &SourceHandle,
    buf: *mut c_void,
    size: usize,
    offset: usize,
    what: &str,
) -> Result<(NonNull<u8>, usize), Error> {
    match NonNull::new(buf.cast::<u8>()) {
        Some(p) => Ok((p, size)),
        None if size == 0 || src.source.file_type() == FileType::Anonymous => {
            Ok((NonNull::dangling(), 0))
        }
        None => {
            let total = src.source.size()?;
            if offset > total || size > total - offset {
                return Err(Error::LengthOutOfRange(
                    format!(
                        "size of {what} {size} from offset {offset} goes beyond the file length {total}"
                    )
                    .into(),
                ));
            }
            Err(Error::Os {
                errno: pmem2::Errno::FAULT,
                context: format!("{f}: buf is NULL").into(),
            })
        }
    }
}

/// Reads `size` bytes at `offset` of the source into `buf`; a poisoned
/// range → `PMEM2_E_IO_FAIL` instead of a crash.
///
/// # Safety
/// `src` NULL or a live source; `buf` NULL or valid for `size` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_pread_mcsafe(
    src: *mut SourceHandle,
    buf: *mut c_void,
    size: usize,
    offset: usize,
) -> c_int {
    const F: &str = "pmem2_source_pread_mcsafe";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src.cast_const(), F, "src") }?;
        let (buf, len) = io_buffer(F, src, buf, size, offset, "read")?;
        // SAFETY: caller's contract: `buf` is valid for `len` bytes of
        // writes (or dangling with `len` 0).
        let buf = unsafe { std::slice::from_raw_parts_mut(buf.as_ptr(), len) };
        src.source.pread_mcsafe(buf, offset)
    })
}

/// Writes `size` bytes of `buf` at `offset` of the source; a poisoned
/// range → `PMEM2_E_IO_FAIL` instead of a crash.
///
/// # Safety
/// `src` NULL or a live source; `buf` NULL or valid for `size` bytes of reads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_source_pwrite_mcsafe(
    src: *mut SourceHandle,
    buf: *mut c_void,
    size: usize,
    offset: usize,
) -> c_int {
    const F: &str = "pmem2_source_pwrite_mcsafe";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live source.
        let src = unsafe { guard::handle(src.cast_const(), F, "src") }?;
        let (buf, len) = io_buffer(F, src, buf, size, offset, "write")?;
        // SAFETY: caller's contract: `buf` is valid for `len` bytes of reads
        // (or dangling with `len` 0); only read, so a read-only buffer is fine.
        let buf = unsafe { std::slice::from_raw_parts(buf.as_ptr(), len) };
        src.source.pwrite_mcsafe(buf, offset)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;
    use crate::source::{pmem2_source_delete, pmem2_source_from_anon};

    use std::ptr::null_mut;

    #[test]
    fn anonymous_sources_are_refused_before_outputs() {
        let mut src: *mut SourceHandle = null_mut();
        let mut ctx: *mut BadBlockHandle = null_mut();
        // SAFETY: live locals; NULL outputs are accepted.
        unsafe {
            assert_eq!(pmem2_source_from_anon(&raw mut src, 4096), 0);
            assert_eq!(
                pmem2_source_device_id(src, null_mut(), null_mut()),
                PMEM2_E_NOSUPP
            );
            assert_eq!(pmem2_source_device_usc(src, null_mut()), PMEM2_E_NOSUPP);
            assert_eq!(pmem2_source_numa_node(src, null_mut()), PMEM2_E_NOSUPP);
            assert_eq!(pmem2_badblock_context_new(null_mut(), src), PMEM2_E_NOSUPP);
            assert_eq!(
                pmem2_badblock_context_new(&raw mut ctx, src),
                PMEM2_E_NOSUPP
            );
            assert!(ctx.is_null());
            assert_eq!(
                pmem2_source_pread_mcsafe(src, null_mut(), 16, 0),
                PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED
            );
            pmem2_badblock_context_delete(null_mut());
            pmem2_badblock_context_delete(&raw mut ctx);
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
        }
    }

    /// PMDK's `pread`/`pwrite` fail with `EFAULT` on a NULL buffer, after
    /// its range check.
    #[test]
    fn null_buffer_is_efault_after_the_range_check() {
        use crate::source::pmem2_source_from_fd;
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        let size = usize::try_from(file.metadata().unwrap().len()).unwrap();
        let mut src: *mut SourceHandle = null_mut();
        // SAFETY: `file` outlives the source; live locals; NULL buffers are
        // what is tested.
        unsafe {
            assert_eq!(pmem2_source_from_fd(&raw mut src, file.as_raw_fd()), 0);
            assert_eq!(
                pmem2_source_pread_mcsafe(src, null_mut(), 16, 0),
                -libc::EFAULT
            );
            assert_eq!(
                pmem2_source_pwrite_mcsafe(src, null_mut(), 16, 0),
                -libc::EFAULT
            );
            assert_eq!(pmem2_source_pread_mcsafe(src, null_mut(), 0, 0), 0);
            assert_eq!(
                pmem2_source_pread_mcsafe(src, null_mut(), 16, size),
                PMEM2_E_LENGTH_OUT_OF_RANGE
            );
            assert_eq!(pmem2_source_delete(&raw mut src), 0);
        }
    }

    #[test]
    fn c_protocol_of_device_id() {
        let id = "abc-1";
        let mut len = 0usize;
        device_id_to_c(id, None, &mut len).unwrap();
        assert_eq!(len, 6);
        let mut buf = [0xffu8; 6];
        device_id_to_c(id, Some(&mut buf), &mut len).unwrap();
        assert_eq!(&buf, b"abc-1\0");
        assert_eq!(len, 6);
        let mut small = [0u8; 5];
        let mut len5 = 5usize;
        let e = device_id_to_c(id, Some(&mut small), &mut len5).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_BUFFER_TOO_SMALL);
        assert_eq!(e.to_string(), "device id needs 6 bytes, the buffer has 5");
        // *len smaller than the slice limits the capacity
        let mut big = [0u8; 64];
        let mut len3 = 3usize;
        let e = device_id_to_c(id, Some(&mut big), &mut len3).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_BUFFER_TOO_SMALL);
        // empty id: just the NUL
        let mut l = 0;
        device_id_to_c("", None, &mut l).unwrap();
        assert_eq!(l, 1);
    }

    #[test]
    fn badblock_layout_is_pmdks() {
        assert_eq!(
            std::mem::size_of::<CBadBlock>(),
            2 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::offset_of!(CBadBlock, length),
            std::mem::size_of::<usize>()
        );
    }
}
