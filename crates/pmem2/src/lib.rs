#![doc = include_str!("../README.md")]
//!
//! # Memory contract
//!
//! [`Map::new`] is safe, so nothing a safe method of a [`Map`] does may
//! crash the process or be undefined behaviour, whatever other mappings and
//! processes do to the file. What pmem2 promises, and what it leaves to the
//! caller:
//!
//! * **No references to mapped bytes.** The safe methods ([`Map::read`],
//!   [`Map::write`], [`Map::copy_from_slice`], [`Map::fill`],
//!   [`Map::copy_within`], [`Map::flush`], [`Map::persist`]) never create a
//!   `&[u8]` or `&mut [u8]` into the mapping: they copy through raw
//!   pointers, with pmem2's own kernels (function-pointer calls the
//!   compiler can't see through), its assembly read routine or
//!   `ptr::copy_nonoverlapping`, between
//!   compiler fences. The compiler therefore never assumes the mapped bytes
//!   are unchanged between or during calls. Your buffers are ordinary Rust
//!   memory.
//! * **Two maps of one file, other processes writing.** They see each
//!   other's stores as shared memory does. A copy that races with a writer
//!   elsewhere (another map, another process) can return a mix of old and
//!   new bytes, as `pread(2)` racing with `pwrite(2)` can; it never returns
//!   bytes that were never there. Ordering writers is the application's job
//!   (locks, a log with checksums, ...), as with any shared file.
//! * **Truncation is an error, not a crash.** When the pages under a map go
//!   away (the file was shrunk, by this process or another) an access
//!   raises `SIGBUS`. pmem2 turns it into [`Error::Os`] with `EFAULT`, the
//!   errno `read(2)`/`write(2)` give for such a buffer, in one of two ways:
//!   * [`Map::read`] (on x86\_64 and aarch64) copies with a small routine the `SIGBUS`
//!     handler knows by address, as the Linux kernel's `copy_from_user`
//!     does with its exception table: a fault on one of its loads makes the
//!     handler resume it at a fixup label, which returns how many bytes were
//!     not copied. Nothing is registered per call and nothing is mapped:
//!     `buf` holds the file's bytes up to the first missing one and is left
//!     as it was from there on, and the map is untouched (it reads the file
//!     again once the file is long enough).
//!   * Every other safe access (writes, fills, flushes; reads on other
//!     architectures) registers its range in a per-thread slot of a static
//!     table for the call: the faulting page is replaced for the moment by
//!     zeros, the method finishes, the map's file mapping is re-established
//!     over it (so later stores still go to the file, which works again once
//!     it is long enough), and the method returns the error. A read's
//!     buffer then holds zeros for the missing pages; a write's bytes for
//!     them are lost with the file's end. For a private (`MAP_PRIVATE`) map,
//!     private copies of pages past the new end of file inside the faulting
//!     span are dropped.
//!
//!   Those zero chunks are in the map's own address range only, and only
//!   until the repair; a read never returns another call's zero chunk
//!   (nor, with the routine, any zeros the file doesn't hold). Writers hold `&mut self`
//!   and maps never overlap, so the only zeros a read of the same map could
//!   meet are those of a concurrent [`Map::flush`]/[`Map::persist`] fault
//!   (`&self`): every read checks one process-wide word before and after its
//!   copy (one load each) and repeats the copy once such a repair is done.
//!   Maps of anonymous memory can't lose their pages; maps made with the
//!   `unsafe` [`Map::from_existing`] are not guarded (its contract says the
//!   memory stays accessible). Device DAX poison is caught the same way.
//! * **One handler per process.** The guard's `SIGBUS` handler is installed
//!   once, when the first map that needs it is created (or at the first
//!   guarded call, whichever comes first), and never removed;
//!   every `SIGBUS` it doesn't own (outside pmem2's guarded calls and its
//!   read routine, or sent with `kill`) goes to the action installed before
//!   it, or ends the process as the default action would. A handler
//!   installed *after* pmem2's replaces it (and then safe calls on a
//!   truncated file crash again): install yours first, or chain to pmem2's.
//!   A guarded write costs a few stores into a slot of a static per-thread
//!   table, a read two loads (see `docs/benchmarks.md`, "safe access").
//! * **What `unsafe` still leaves to you.** [`Map::as_slice`] and
//!   [`Map::as_mut_slice`] hand out real references: while one lives, the
//!   bytes must not change underneath it (no other map, process or thread
//!   writing the range), and the file must not be truncated (an access would
//!   raise an unguarded `SIGBUS` and end the process). The same holds for
//!   anything done through [`Map::addr`] and the C-style function pointers
//!   of [`persist`] and [`mem`].
//!
//! Side by side with the two usual Rust answers:
//!
//! | | construction | access | truncated file |
//! |---|---|---|---|
//! | memmap2 | `unsafe` (`Mmap::map`): the caller promises nobody changes or truncates the file | `&[u8]` / `&mut [u8]` through `Deref` | `SIGBUS`, the caller's promise broken |
//! | rust-vmm vm-memory | guest memory regions | no references: volatile accesses (`VolatileSlice`), since the guest may change the memory at any time | out of scope (the VMM owns the backing) |
//! | pmem2 | safe (`Map::new`) | safe copies through raw pointers, no references; `unsafe` slices on request | `EFAULT`, mapping repaired |
//!
//! pmem2 takes vm-memory's side (others may change the memory, so no
//! references in safe code) but copies with its SIMD kernels rather than
//! per-element volatile accesses, since bulk copies at memory bandwidth are
//! its purpose; and unlike either, it turns the `SIGBUS` into an error.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![cfg_attr(miri, allow(dead_code, unused_macros, unused_imports))]

// Layers, each using only the ones below it (see docs/architecture.md):
// sys -> arch -> env, registry -> the concepts -> this file.
mod arch;
mod sys;

mod debug_log;
mod env;
mod flags;
mod registry;

mod badblock;
// The debug log's hooks for the C libraries, public only with the `c-abi`
// feature (both C crates enable it), as `libpmem` below.
#[cfg(feature = "c-abi")]
pub mod c_abi;
pub mod check;
mod config;
mod deep_flush;
mod error;
// The raw mappings of the libpmem C library (`crates/pmem-ffi`) are public
// only with the `libpmem-abi` feature, which that crate enables; Rust
// programs get `Map::create_file` and `is_pmem` from it.
#[cfg(feature = "libpmem-abi")]
pub mod libpmem;
#[cfg(not(feature = "libpmem-abi"))]
#[allow(dead_code, unreachable_pub)] // the C library's part is unused here
mod libpmem;
mod map;
mod mcsafe;
pub mod mem;
pub mod persist;
mod ras;
mod reservation;
mod source;

pub use arch::FlushKind;
pub use badblock::{BadBlock, BadBlockContext};
pub use config::{Config, Granularity, Protection, Sharing};
pub use error::{DeleteError, Errno, Error, Result};
pub use map::{platform_is_eadr, Map};
pub use mem::MemFlags;
pub use persist::page_size;
pub use reservation::{ReservedMap, VmReservation};
pub use source::{FileType, Source};

/// The marker traits of [`Map::read_obj`] and [`Map::write_obj`] come from
/// this version of `bytemuck`.
pub use bytemuck;

/// Whether `[addr, addr + len)` is persistent memory, decided as PMDK's
/// `pmem_is_pmem` decides: `false` for `len == 0`; with
/// `PMEM_IS_PMEM_FORCE=1` (read once, at the first call) `true` for any
/// other range, with `PMEM_IS_PMEM_FORCE=0` always `false`; otherwise `true`
/// only when the whole range is covered, without a gap, by mappings that
/// libpmem's `pmem_map_file` (the C library built on pmem2) made with
/// `MAP_SYNC` or from a device DAX. For a [`Map`], ask
/// [`Map::store_granularity`] instead: this
/// function doesn't know about maps.
///
/// The address is only compared, never dereferenced.
///
/// # References
/// - [`pmem_is_pmem(3)`](https://pmem.io/pmdk/manpages/linux/v1.12/libpmem/pmem_is_pmem.3/)
#[must_use]
pub fn is_pmem(addr: *const u8, len: usize) -> bool {
    libpmem::is_pmem(addr, len)
}
