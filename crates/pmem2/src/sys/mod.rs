//! The operating system: every system call, signal, sysfs and ioctl access
//! of the crate, behind small functions and RAII types. Nothing here
//! imports anything of the crate but its error type. Only Linux is
//! supported, as in PMDK 2.x. The NVDIMM model of sysfs (regions,
//! namespaces, DIMMs, device DAX, eADR) is read by the `pmem2_nvdimm`
//! crate; `nvdimm` turns its errors into pmem2's.

#[cfg(test)]
pub(crate) mod emulation;
pub(crate) mod fiemap;
pub(crate) mod file;
pub(crate) mod mm;
pub(crate) mod ndctl;
mod nvdimm;
pub(crate) mod process;
pub(crate) mod sigbus;
pub(crate) mod wrtrack;
// The aarch64 flush choice probes `DC CVAP`; x86_64 tests the guard itself.
#[cfg(all(
    not(miri),
    any(target_arch = "aarch64", all(test, target_arch = "x86_64"))
))]
pub(crate) mod sigill;
pub(crate) mod sysfs;
