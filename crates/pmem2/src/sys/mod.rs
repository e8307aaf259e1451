//! Operating-system access. Only Linux is supported, as in PMDK 2.x.
//!
//! Each module wraps one kernel interface in a small function or RAII type
//! and imports nothing from the crate but the error type. The NVDIMM model
//! of sysfs (regions, namespaces, DIMMs, device DAX, eADR) is read by the
//! `pmem2_nvdimm` crate; `nvdimm` turns its errors into pmem2's.

pub(crate) mod fiemap;
pub(crate) mod file;
pub(crate) mod ndctl;
mod nvdimm;
pub(crate) mod sysfs;
