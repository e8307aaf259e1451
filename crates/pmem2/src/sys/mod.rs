//! Operating-system specifics. Only Linux is supported, as in PMDK 2.x.
//!
//! Everything here reads the kernel's interfaces (sysfs, ioctls) directly,
//! without libndctl or libdaxctl.

pub mod linux;
pub(crate) mod sigbus;
