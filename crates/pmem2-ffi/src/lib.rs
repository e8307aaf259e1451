//! # pmem2-ffi: PMDK's libpmem2 C API on top of the `pmem2` crate
//!
//! Every function of PMDK 2.x's `libpmem2.h` with PMDK's C semantics: the
//! same return codes, output pointers set to NULL on failure, a per-thread
//! message for [`pmem2_errormsg`](errormsg::pmem2_errormsg) on every error, NULL-safe deletes. The
//! functions are thin: argument checks and conversion; the logic lives in
//! `pmem2`.
//!
//! `pmem2_perror` is variadic, which stable Rust can't define: it is the
//! small C file `c/pmem2_perror.c`, compiled by `build.rs` and bundled into
//! this crate's static library. `cargo xtask build-c` relinks that library
//! into `libpmem2.so.1` with a version script (every symbol at
//! `LIBPMEM2_2.0`) plus `c/pmem2_compat.c`, which binds the same functions
//! at `LIBPMEM2_1.0` with `.symver` for binaries built against PMDK 1.x.
//!
//! ## Panics
//! No panic crosses the C boundary: every entry point runs its body through
//! [`guard`]'s `catch_unwind` wrappers, which turn a panic into
//! `PMEM2_E_UNKNOWN` (or the function's neutral value) with a message. The
//! library must therefore be built with `panic = "unwind"` (the default);
//! a `panic = "abort"` build would abort the host process instead.
//!
//! ## Where PMDK crashes
//! PMDK dereferences NULL handles and output pointers; these functions
//! return `-EINVAL` with a message instead (listed in `docs/c-abi.md`).
//!
//! # Safety
//! The C contract applies to every exported function: each non-NULL pointer
//! argument must be valid for the access the C documentation describes, and
//! each handle (`struct pmem2_config *`, ...) must come from this library's
//! constructor and not have been deleted. NULL is always accepted and
//! reported as an error.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod check;
pub mod codes;
pub mod config;
pub mod errormsg;
pub mod guard;
pub mod map;
pub mod mem;
pub mod persist;
pub mod ras;
pub mod reservation;
pub mod source;
