//! Linux: sysfs readers and ioctls.
//!
//! Every sysfs reader takes the sysfs root as a parameter (see
//! [`nd::Sysfs`], `/sys` by default), so tests run them on fake trees built
//! in a temporary directory.

pub mod fiemap;
pub mod nd;
