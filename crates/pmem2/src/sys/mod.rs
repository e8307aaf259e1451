//! The operating system: every system call, signal, sysfs and ioctl access
//! of the crate, behind small functions and RAII types. Nothing here
//! imports anything of the crate but its error type. Only Linux is
//! supported, as in PMDK 2.x. The NVDIMM model of sysfs (regions,
//! namespaces, DIMMs, device DAX, eADR) is read by the `pmem2_nvdimm`
//! crate; `nvdimm` turns its errors into pmem2's.

pub(crate) mod fiemap;
pub(crate) mod file;
pub(crate) mod mm;
pub(crate) mod ndctl;
mod nvdimm;
pub(crate) mod process;
pub(crate) mod sigbus;
pub(crate) mod sysfs;
