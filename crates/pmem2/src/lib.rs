//! # pmem2: persistent memory, durable stores, in safe Rust
//!
//! A Rust implementation of PMDK's `libpmem2`: map a file or a device DAX
//! with a *required store granularity*, learn the effective one, and make
//! stores durable as fast as the CPU allows.
//!
//! | granularity | what makes a store durable | where |
//! |---|---|---|
//! | [`Granularity::Page`] | `msync(2)` | page-cache file systems (tmpfs, ext4 without DAX) |
//! | [`Granularity::CacheLine`] | CPU cache flush + fence | fsdax and devdax with `MAP_SYNC` |
//! | [`Granularity::Byte`] | a fence | eADR platforms (caches are persistent) |
//!
//! Behaviour, codes and messages follow PMDK's; see the README for the few
//! places where pmem2 returns an error where PMDK would crash or hang.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![cfg_attr(miri, allow(dead_code, unused_macros, unused_imports))]

// Layers, each using only the ones below it (see docs/architecture.md):
// sys -> arch -> env, registry -> the concepts -> this file.
mod arch;
mod sys;

mod env;
mod flags;
mod registry;

mod badblock;
mod config;
mod deep_flush;
mod error;
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
pub use persist::{flush_kind, page_size};
pub use reservation::{ReservedMap, VmReservation};
pub use source::{FileType, Source, SourceId};
