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

pub mod arch;
pub mod badblock;
pub mod config;
pub mod deep_flush;
pub mod env;
pub mod error;
mod guarded;
pub mod map;
pub mod mcsafe;
pub mod mem;
pub mod persist;
pub mod ras;
mod registry;
pub mod reservation;
pub mod source;
pub mod sys;

pub use arch::{flush_kind, FlushKind};
pub use badblock::{BadBlock, BadBlockContext};
pub use config::{Config, Granularity, Protection, Sharing};
pub use error::{Error, Result};
pub use map::{DeleteError, Map};
pub use mem::MemFlags;
pub use reservation::{ReservedMap, VmReservation};
pub use source::{FileType, Source, SourceId};
