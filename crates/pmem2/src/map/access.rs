//! Safe, range-checked access to a map: reads, writes, persist, flush and
//! the memory operations, each through the kernels and persistence
//! functions of the map's granularity, under the SIGBUS guard
//! ([`guarded`](super::guarded)).

use std::ffi::{c_int, c_void};

use bitflags::Flags;

use super::Map;
use crate::config::{Granularity, Protection};
use crate::debug_log::{plog, Returned, VERBOSE};
use crate::deep_flush::{self, DeepFlushTarget};
use crate::error::{Error, Result};
use crate::mem::{self, MemFlags};
use crate::persist;
use crate::{arch, check};

impl Map {
    /// The address of `[offset, offset + len)`, if it lies inside the map.
    pub(crate) fn checked_range(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.addr.as_ptr().wrapping_add(offset)),
            _ => Err(Error::MapRange(
                format!(
                    "range [{offset}, {offset} + {len}) is outside the map of {} bytes",
                    self.size
                )
                .into(),
            )),
        }
    }

    pub(crate) fn require(&self, needed: Protection, what: &str) -> Result<()> {
        if self.protection.contains(needed) {
            Ok(())
        } else {
            Err(Error::NoAccess(
                format!("the map is not {what}able ({:?})", self.protection).into(),
            ))
        }
    }

    /// Copies `data` to `offset` and makes it durable before returning:
    /// [`Map::copy_from_slice`] with no flags (`pmem2_memcpy_fn` with 0).
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map,
    /// [`Error::NoAccess`] when the map isn't writable, [`Error::Os`] when
    /// `msync` fails (PAGE granularity), or with `EFAULT` when the pages
    /// under the range are gone (file truncated): bytes for the pages that
    /// remain were copied, the others are lost with the file's end.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.copy_in("Map::write", offset, data, MemFlags::empty())
            .logged("Map::write")
    }

    /// Copies bytes at `offset` into `buf`.
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map,
    /// [`Error::NoAccess`] when the map isn't readable, [`Error::Os`] with
    /// `EFAULT` when the pages under the range are gone (the file was
    /// truncated). On x86\_64 and aarch64 `buf` then holds the bytes up to the first
    /// missing one and is left as it was from there on; elsewhere it holds
    /// zeros where the pages were (see the crate's memory contract).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        let result: Result<()> = {
            // SAFETY: `buf` is writable for its length and distinct from the map
            // (a `&mut [u8]` can't point into it: the map hands out no
            // references in safe code).
            unsafe { self.read_into(offset, buf.as_mut_ptr(), buf.len(), "Map::read") }
        };
        result.logged("Map::read")
    }

    /// Copies `len` bytes at `offset` to `dst`, under the SIGBUS guard.
    ///
    /// # Safety
    /// `dst..dst + len` is writable memory outside the map.
    // Inlined into each public caller, so that the debug log's check of the
    // result (`Returned::logged`) adds no call layer to the hot path.
    #[inline(always)]
    unsafe fn read_into(&self, offset: usize, dst: *mut u8, len: usize, what: &str) -> Result<()> {
        self.require(Protection::READ, "read")?;
        let src = self.checked_range(offset, len)?;
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if let Some(backing) = self.backing() {
            // SAFETY: `[src, src + len)` is inside this readable map, which
            // installed the SIGBUS handler when it was created; the caller
            // guarantees `dst`, writable for `len` bytes and outside the map.
            return unsafe {
                super::guarded::read_recoverable(what, backing, offset, src, dst, len)
            };
        }
        self.guarded(what, true, || {
            // SAFETY: the range is inside the readable map; the caller
            // guarantees `dst`. Raw pointers only: no reference to the
            // mapped bytes is created (see the crate's memory contract).
            unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        })
    }

    /// Reads a plain-old-data value (any bit pattern valid: integers,
    /// `#[repr(C)]` structs deriving [`bytemuck::AnyBitPattern`] or `Pod`,
    /// arrays of them) from the `size_of::<T>()` bytes at `offset`, which
    /// needs no alignment. The bytes are `T`'s in-memory representation
    /// (native endianness), as [`Map::write_obj`] stores them.
    ///
    /// ```
    /// # fn main() -> pmem2::Result<()> {
    /// let source = pmem2::Source::anonymous(4096)?;
    /// let config = pmem2::Config::with_granularity(pmem2::Granularity::Page);
    /// let mut map = pmem2::Map::new(&config, &source)?;
    /// map.write_obj(3, &0x1122_3344_u32)?;
    /// assert_eq!(map.read_obj::<u32>(3)?, 0x1122_3344);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Map::read`]: [`Error::MapRange`], [`Error::NoAccess`], or
    /// [`Error::Os`] with `EFAULT` on a truncated file (the value then has
    /// zeros for the missing bytes, and is not returned).
    pub fn read_obj<T: bytemuck::AnyBitPattern>(&self, offset: usize) -> Result<T> {
        let result = (|| -> Result<T> {
            let mut value = std::mem::MaybeUninit::<T>::uninit();
            // SAFETY: `value` is writable for `size_of::<T>()` bytes and lives
            // on this stack, outside the map.
            unsafe {
                self.read_into(
                    offset,
                    value.as_mut_ptr().cast::<u8>(),
                    std::mem::size_of::<T>(),
                    "Map::read_obj",
                )?;
            }
            // SAFETY: every byte of `value` was written by the copy (mapped
            // memory is always initialized), and `T: AnyBitPattern` makes any
            // bytes a valid `T`.
            Ok(unsafe { value.assume_init() })
        })();
        result.logged("Map::read_obj")
    }

    /// Writes a plain-old-data value (no padding bytes: integers,
    /// `#[repr(C)]` structs deriving [`bytemuck::NoUninit`] or `Pod`, arrays
    /// of them) at `offset`, which needs no alignment, and makes it durable
    /// before returning, as [`Map::write`] does with its bytes.
    ///
    /// # Errors
    /// As [`Map::write`].
    pub fn write_obj<T: bytemuck::NoUninit>(&mut self, offset: usize, value: &T) -> Result<()> {
        self.copy_in(
            "Map::write_obj",
            offset,
            bytemuck::bytes_of(value),
            MemFlags::empty(),
        )
        .logged("Map::write_obj")
    }

    /// Makes `[offset, offset + len)` durable (flush + drain).
    ///
    /// # Errors
    /// [`Error::MapRange`] when the range is outside the map, [`Error::Os`]
    /// when `msync` fails (PAGE granularity; PMDK's C function aborts), or
    /// with `EFAULT` when a flush instruction hits pages that are gone
    /// (`CACHE_LINE` granularity, file truncated).
    pub fn persist(&self, offset: usize, len: usize) -> Result<()> {
        self.persist_range("Map::persist", offset, len)
            .logged("Map::persist")
    }

    /// Makes the whole map durable: [`Map::persist`] of `[0, size)`.
    ///
    /// # Errors
    /// As [`Map::persist`].
    pub fn persist_all(&self) -> Result<()> {
        self.persist_range("Map::persist_all", 0, self.size())
            .logged("Map::persist_all")
    }

    /// [`Map::persist`] for the public methods (`method` names the caller
    /// in the log and in fault errors).
    fn persist_range(&self, method: &'static str, offset: usize, len: usize) -> Result<()> {
        plog!(
            VERBOSE,
            method,
            "{:p}: offset {offset}, {len} bytes",
            self.addr()
        );
        let ptr = self.flush_range(offset, len)?;
        if self.granularity == Granularity::Page {
            return Self::sync_pages(ptr, len);
        }
        // One call of the persist function (flush + fence), which the
        // crash-consistency checker sees as one event: no stack is kept for
        // lines that are durable when it returns.
        let persist = persist::ops(self.granularity).persist;
        self.guarded(method, true, || {
            // SAFETY: the range is inside this live map.
            unsafe { persist(ptr.cast::<c_void>(), len) };
        })
    }

    /// `msync` of a checked range of a PAGE-granularity map (what its
    /// persist and flush do).
    fn sync_pages(ptr: *mut u8, len: usize) -> Result<()> {
        // Unlike the C function, report msync failures.
        persist::sync_pages(ptr, len)?;
        if check::active() {
            check::on_msync(ptr, len);
        }
        Ok(())
    }

    /// The address of a range to flush, if the map allows flushing it.
    fn flush_range(&self, offset: usize, len: usize) -> Result<*mut u8> {
        // A flush instruction faults on a page that can't be read or written.
        if !self
            .protection
            .intersects(Protection::READ | Protection::WRITE)
        {
            return Err(Error::NoAccess(
                "the map can be neither read nor written: nothing to flush through it".into(),
            ));
        }
        self.checked_range(offset, len)
    }

    /// Starts making `[offset, offset + len)` durable; [`Map::drain`] waits.
    ///
    /// # Errors
    /// As [`Map::persist`].
    pub fn flush(&self, offset: usize, len: usize) -> Result<()> {
        let result = (|| -> Result<()> {
            plog!(
                VERBOSE,
                "Map::flush",
                "{:p}: offset {offset}, {len} bytes",
                self.addr()
            );
            let ptr = self.flush_range(offset, len)?;
            if self.granularity == Granularity::Page {
                return Self::sync_pages(ptr, len);
            }
            let flush = persist::ops(self.granularity).flush;
            // A flush instruction faults on a page with no backing: guarded.
            self.guarded("Map::flush", true, || {
                // SAFETY: the range is inside this live map.
                unsafe { flush(ptr.cast::<c_void>(), len) };
            })
        })();
        result.logged("Map::flush")
    }

    /// Waits for earlier flushes (and non-temporal stores) to complete.
    pub fn drain(&self) {
        // SAFETY: drain functions take no arguments and only fence.
        unsafe { (persist::ops(self.granularity).drain)() };
    }

    /// Copies `data` to `offset` with the memcpy of this map's granularity
    /// and `flags`, as `pmem2_memcpy_fn`.
    ///
    /// Unlike the C function, memory is always fenced on return: with
    /// `NODRAIN` or `NOFLUSH` the kernel choice is the C one (no flush with
    /// `NOFLUSH`), but a fence follows, which Rust requires after
    /// non-temporal stores. With page granularity an `msync` failure is
    /// reported instead of aborting.
    ///
    /// # Errors
    /// [`Error::MapRange`](crate::Error::MapRange) when the range is outside
    /// the map, [`Error::NoAccess`](crate::Error::NoAccess) when the map
    /// isn't writable, [`Error::Os`](crate::Error::Os) when `msync` fails,
    /// or with `EFAULT` when the pages under the range are gone (the file
    /// was truncated; see the crate's memory contract).
    pub fn copy_from_slice(&mut self, offset: usize, data: &[u8], flags: MemFlags) -> Result<()> {
        self.copy_in("Map::copy_from_slice", offset, data, flags)
            .logged("Map::copy_from_slice")
    }

    /// [`Map::copy_from_slice`] for the public methods that copy in;
    /// `what` names the method in a fault's message. Inlined, as
    /// `read_into`.
    #[inline(always)]
    fn copy_in(
        &mut self,
        what: &'static str,
        offset: usize,
        data: &[u8],
        flags: MemFlags,
    ) -> Result<()> {
        self.require(Protection::WRITE, "writ")?;
        let dest = self.checked_range(offset, data.len())?;
        self.store(what, dest, data.len(), flags, |ops, bits| {
            // SAFETY: `dest..dest + len` is inside this writable map (checked
            // above); `data` is readable for its length; the memory functions
            // allow overlap.
            unsafe { (ops.memmove)(dest.cast(), data.as_ptr().cast(), data.len(), bits) };
        })
    }

    /// Fills `[offset, offset + len)` with `byte` using the memset of this
    /// map's granularity and `flags`, as `pmem2_memset_fn`; always fenced on
    /// return, as [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    ///
    /// # Errors
    /// As [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    pub fn fill(&mut self, offset: usize, len: usize, byte: u8, flags: MemFlags) -> Result<()> {
        let result = (|| -> Result<()> {
            self.require(Protection::WRITE, "writ")?;
            let dest = self.checked_range(offset, len)?;
            self.store("Map::fill", dest, len, flags, |ops, bits| {
                // SAFETY: `dest..dest + len` is inside this writable map.
                unsafe { (ops.memset)(dest.cast(), c_int::from(byte), len, bits) };
            })
        })();
        result.logged("Map::fill")
    }

    /// Moves `len` bytes from `src_offset` to `dst_offset` inside the map
    /// (the ranges may overlap), as `pmem2_memmove_fn`; always fenced on
    /// return, as [`Map::copy_from_slice`](crate::Map::copy_from_slice).
    ///
    /// # Errors
    /// As [`Map::copy_from_slice`](crate::Map::copy_from_slice), for either range.
    pub fn copy_within(
        &mut self,
        src_offset: usize,
        dst_offset: usize,
        len: usize,
        flags: MemFlags,
    ) -> Result<()> {
        self.require(Protection::WRITE | Protection::READ, "read and writ")?;
        let src = self.checked_range(src_offset, len)?;
        let dest = self.checked_range(dst_offset, len)?;
        self.store("Map::copy_within", dest, len, flags, |ops, bits| {
            // SAFETY: both ranges are inside this readable and writable map;
            // the memory functions allow overlap.
            unsafe { (ops.memmove)(dest.cast(), src.cast(), len, bits) };
        })
    }

    /// The part the safe memory operations share: `op` runs the memory
    /// function of this map's granularity (cache line's for page maps,
    /// whose `msync` follows in [`finish`]) with `flags | NODRAIN`, under
    /// the SIGBUS guard, then a fence, which Rust requires after
    /// non-temporal stores; `method` names the caller in a fault's error.
    fn store(
        &mut self,
        method: &str,
        dest: *mut u8,
        len: usize,
        flags: MemFlags,
        op: impl Fn(&mem::MemOps, u32),
    ) -> Result<()> {
        let granularity = self.store_granularity();
        let run = if granularity == Granularity::Page {
            Granularity::CacheLine
        } else {
            granularity
        };
        let ops = mem::ops(run);
        let bits = (flags | MemFlags::NODRAIN).bits();
        self.guarded(method, false, || {
            op(ops, bits);
            arch::fence();
        })?;
        if check::active() {
            check::on_fence();
        }
        finish(dest, len, granularity, flags)
    }
}

/// The end of a safe memory operation, after the guarded copy and its
/// fence (always, see [`Map::copy_from_slice`](crate::Map::copy_from_slice)):
/// for page granularity the `msync` unless `NOFLUSH`, with its error reported.
fn finish(dest: *mut u8, len: usize, granularity: Granularity, flags: MemFlags) -> Result<()> {
    if granularity == Granularity::Page && !flags.contains(MemFlags::NOFLUSH) && len > 0 {
        persist::sync_pages(dest, len)?;
        if check::active() {
            check::on_msync(dest, len);
        }
    }
    Ok(())
}

impl Map {
    /// The [`DeepFlushTarget`] describing this map.
    #[must_use]
    pub(crate) fn deep_flush_target(&self) -> DeepFlushTarget {
        DeepFlushTarget {
            addr: self.addr(),
            size: self.size(),
            granularity: self.store_granularity(),
            source: self.source_id(),
            accessible: self
                .protection()
                .intersects(Protection::READ | Protection::WRITE),
        }
    }

    /// Deep-flushes `len` bytes at `offset` of the map (`pmem2_deep_flush`):
    /// Nothing more at page granularity (persisting already ran `msync`);
    /// otherwise `msync` of the range for a regular file, and for a device
    /// DAX a CPU flush of the range (skipped for an inaccessible map) and a
    /// write to its region's `deep_flush` attribute; an anonymous source is
    /// [`Error::NotSupported`]. The range start is the map's address plus `offset`,
    /// wrapping around the address space (so the C ABI can pass
    /// `ptr - addr` for any `ptr`); it must lie inside the map.
    ///
    /// # Errors
    /// [`Error::DeepFlushRange`] if the range is not inside the map;
    /// [`Error::NotSupported`] for an anonymous source at byte granularity;
    /// [`Error::DaxRegionNotFound`] if a device DAX has no NVDIMM region;
    /// [`Error::Os`] if `msync` or the sysfs access fails.
    pub fn deep_flush(&self, offset: usize, len: usize) -> Result<()> {
        let result = (|| -> Result<()> {
            plog!(
                VERBOSE,
                "Map::deep_flush",
                "{:p}: offset {offset}, {len} bytes",
                self.addr()
            );
            // SAFETY: the target describes this map, which stays mapped while
            // `self` is borrowed (unmapping consumes the map).
            unsafe { deep_flush::deep_flush(&self.deep_flush_target(), offset, len) }?;
            if check::active() && self.granularity != Granularity::Page {
                // Flushed and fenced, or msync'd: durable. (At page granularity
                // a deep flush adds nothing to the msync a persist already did.)
                check::on_deep_flush(self.addr().wrapping_add(offset), len);
            }
            Ok(())
        })();
        result.logged("Map::deep_flush")
    }
}
