//! The operating system: every system call, signal, sysfs and ioctl access
//! of the crate, behind small functions and RAII types. Nothing here
//! imports anything of the crate but its error type. Only Linux is
//! supported, as in PMDK 2.x.

pub(crate) mod linux;
pub(crate) mod mm;
pub(crate) mod process;
pub(crate) mod sigbus;
