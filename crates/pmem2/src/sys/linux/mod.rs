//! Linux specifics: sysfs readers and ioctls.
//!
//! Every reader takes the sysfs root as a parameter (`/sys` in production,
//! [`SYSFS_ROOT`]), so tests run them over fake trees in a temporary
//! directory.

pub mod dax;
pub mod eadr;
pub mod fiemap;
pub mod nd;
pub mod ndctl;

/// The real sysfs mount point.
pub const SYSFS_ROOT: &str = "/sys";
