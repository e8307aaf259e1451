//! # pmem2-nvdimm: the Linux sysfs model of NVDIMMs
//!
//! What the kernel tells about persistent memory under sysfs, read directly
//! (no libndctl, no libdaxctl), as PMDK's libpmem2 reads it:
//!
//! * [`nd`]: the NVDIMM bus: regions, namespaces, DIMMs, bad-block lists,
//!   persistence domains, and which region and namespace hold a file or a
//!   device DAX ([`nd::Sysfs::find`]);
//! * [`dax`]: device DAX detection, size and alignment;
//! * [`eadr`]: whether the CPU caches are inside the persistence domain.
//!
//! Every reader takes the sysfs root (normally [`SYSFS_ROOT`]) so tests run
//! them over fake trees; with the `fake` feature, the `fake` module
//! builds such trees. Nothing here writes to sysfs or issues ioctls, and no
//! reader panics on malformed content: failures are an [`Error`] naming the
//! file.
#![deny(unsafe_code)] // one audited exception: `number::strtoull_newline`
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

mod attr;
pub mod dax;
pub mod eadr;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod nd;
mod number;

pub use error::{DaxAttr, DevProblem, Error, Result};

/// The real sysfs mount point.
pub const SYSFS_ROOT: &str = "/sys";
