//! Operating-system specifics.
//!
//! Only Linux is supported; everything here reads the kernel's interfaces
//! (sysfs, ioctls) directly, without libndctl or libdaxctl.

pub mod linux;
