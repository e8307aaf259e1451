//! # pmem-ffi: PMDK's libpmem C API on top of the `pmem2` crate
//!
//! Every function of `libpmem.h` (PMDK 1.12.1's 23 and the three
//! `pmem_log_*` of PMDK 2.1), exported by `cargo xtask build-c` as
//! `libpmem.so.1` at the version node `LIBPMEM_1.0`, so programs linked
//! against PMDK's libpmem (fio, QEMU, Ceph, libpmemobj, pmempool, daxio)
//! run on it unchanged. The functions are thin: argument checks and
//! conversion; the behaviour is `pmem2`'s (`pmem2::libpmem`, the memory and
//! persist function tables of [`pmem2::mem`] and [`pmem2::persist`]).
//!
//! ## Conventions (PMDK's)
//! Pointer-returning functions return NULL and set `errno`; `int`
//! functions return -1 and set `errno` (the `pmem_log_*` ones return 1).
//! Each failure records a per-thread message for [`pmem_errormsg`](errormsg::pmem_errormsg).
//! The copy, fill and persist functions work on any memory, not only on
//! mappings made by `pmem_map_file`.
//!
//! ## Panics
//! No panic crosses the C boundary: the entry points that can fail run
//! under `catch_unwind` and report a panic as an error (`EINVAL` or the
//! function's neutral value) with a message. Build with `panic = "unwind"`.
//!
//! # Safety
//! The C contract applies to every exported function: each non-NULL pointer
//! argument must be valid for the access the man page describes.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod errormsg;
pub mod log;
pub mod map;
pub mod mem;
pub mod persist;
