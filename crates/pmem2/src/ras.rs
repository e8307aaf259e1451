//! Device identity and health of a source: the DIMMs' unique ids, the
//! unsafe shutdown count, and the NUMA node of the backing region.
//!
//! All three find the NVDIMM region behind the source in sysfs
//! (`pmem2_nvdimm::nd::Sysfs::find`) and read its DIMMs (`regionN/mappingK`) or its own
//! attributes, as PMDK's `pmem2_source_device_id`, `_device_usc` and
//! `_numa_node` do through libndctl. An anonymous source is refused with
//! [`Error::NotSupported`] before anything is read.

use pmem2_nvdimm::nd::{NdMatch, Sysfs};

use crate::debug_log::{plog, Returned, DETAIL};
use crate::error::{Error, Result};
use crate::source::{Source, SourceId};

/// Where an NVDIMM backs a source; `Err(anonymous)` for an anonymous
/// source, before anything is read.
fn region_of(sysfs: &Sysfs, id: &SourceId, anonymous: &'static str) -> Result<Option<NdMatch>> {
    let device = id
        .nd_device()
        .ok_or(Error::NotSupported(anonymous.into()))?;
    let found = sysfs.find(device)?;
    plog!(
        DETAIL,
        "Source",
        "sysfs: device {device:?} is in {}",
        found.as_ref().map_or_else(
            || "no NVDIMM region".to_owned(),
            |m| m.region.path.display().to_string()
        )
    );
    Ok(found)
}

/// The device id of a source: the unique ids of the DIMMs of its region,
/// concatenated in mapping order (what PMDK's `pmem2_source_device_id`
/// writes).
///
/// # Errors
/// [`Error::NotSupported`] for an anonymous source, when no region backs the
/// source, or when a DIMM has no unique id; sysfs errors as
/// `Sysfs::find` and `Region::dimms` report them.
pub(crate) fn device_id(sysfs: &Sysfs, id: &SourceId) -> Result<String> {
    let Some(m) = region_of(sysfs, id, "Anonymous source does not have device id")? else {
        return Err(Error::NotSupported(
            "Cannot find the NVDIMM region of the source, device id is not supported".into(),
        ));
    };
    let mut out = String::new();
    for dimm in m.region.dimms(sysfs)? {
        let Some(uid) = dimm.unique_id()? else {
            return Err(Error::NotSupported(
                format!("{} has no unique id, device id is not supported", dimm.name).into(),
            ));
        };
        out.push_str(&uid);
    }
    Ok(out)
}

/// The unsafe shutdown count of a source: the sum of the `dirty_shutdown`
/// counters of its region's DIMMs (`pmem2_source_device_usc`).
///
/// # Errors
/// [`Error::NotSupported`] for an anonymous source, when no region backs the
/// source, or when a DIMM has no counter (emulated NVDIMMs have none);
/// [`Error::Unknown`] if the sum overflows or a counter is malformed.
pub(crate) fn device_usc(sysfs: &Sysfs, id: &SourceId) -> Result<u64> {
    const NOSUPP: &str = "Unsafe shutdown count is not supported for this source";
    let anonymous = "Anonymous source does not support unsafe shutdown count";
    let Some(m) = region_of(sysfs, id, anonymous)? else {
        return Err(Error::NotSupported(NOSUPP.into()));
    };
    let mut total = 0u64;
    for dimm in m.region.dimms(sysfs)? {
        let Some(count) = dimm.dirty_shutdown()? else {
            return Err(Error::NotSupported(NOSUPP.into()));
        };
        plog!(
            DETAIL,
            "Source::device_usc",
            "sysfs: a DIMM of {} reports dirty_shutdown {count}",
            m.region.path.display()
        );
        total = total.checked_add(count).ok_or_else(|| {
            Error::Unknown("the sum of the DIMMs' unsafe shutdown counts overflows".into())
        })?;
    }
    Ok(total)
}

/// The NUMA node of the region backing a source (`pmem2_source_numa_node`);
/// `-1` when the kernel doesn't say.
///
/// # Errors
/// [`Error::NotSupported`] for an anonymous source;
/// [`Error::DaxRegionNotFound`] when no region backs the source;
/// [`Error::Unknown`] if `numa_node` is malformed.
pub(crate) fn numa_node(sysfs: &Sysfs, id: &SourceId) -> Result<i32> {
    let anonymous = "Anonymous sources are not bound to numa nodes.";
    let Some(m) = region_of(sysfs, id, anonymous)? else {
        return Err(Error::DaxRegionNotFound("unknown region".into()));
    };
    Ok(m.region.numa_node()?)
}

impl Source<'_> {
    /// The device id (`pmem2_source_device_id`): the unique ids of the
    /// DIMMs of the source's NVDIMM region, concatenated in mapping order.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for an anonymous source, when no region backs
    /// the source, or when a DIMM has no unique id; [`Error::Os`] or
    /// [`Error::Unknown`] for unreadable or malformed sysfs attributes.
    pub fn device_id(&self) -> Result<String> {
        device_id(&Sysfs::default(), &self.id()).logged("Source::device_id")
    }

    /// The unsafe shutdown count (`pmem2_source_device_usc`): the sum of
    /// the `dirty_shutdown` counters of the DIMMs of the source's region.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for an anonymous source, when no region backs
    /// the source, or when a DIMM has no counter (emulated NVDIMMs have
    /// none); [`Error::Unknown`] if the sum overflows or a counter is
    /// malformed.
    pub fn device_usc(&self) -> Result<u64> {
        device_usc(&Sysfs::default(), &self.id()).logged("Source::device_usc")
    }

    /// The NUMA node of the region backing the source
    /// (`pmem2_source_numa_node`); `-1` when the kernel doesn't say.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for an anonymous source;
    /// [`Error::DaxRegionNotFound`] when no region backs the source;
    /// [`Error::Unknown`] if `numa_node` is malformed.
    pub fn numa_node(&self) -> Result<i32> {
        numa_node(&Sysfs::default(), &self.id()).logged("Source::numa_node")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use crate::source::FileType;
    use pmem2_nvdimm::fake;

    fn fsdax_id() -> SourceId {
        SourceId {
            file_type: FileType::Regular,
            dev: rustix::fs::makedev(259, 0),
            rdev: 0,
        }
    }

    fn devdax_id() -> SourceId {
        SourceId {
            file_type: FileType::DeviceDax,
            dev: 0,
            rdev: rustix::fs::makedev(252, 1),
        }
    }

    fn tree() -> (tempfile::TempDir, Sysfs) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake::region(root, 0, 0x1_0000_0000, 1 << 30, &["nmem0", "nmem1"]);
        fake::fsdax_namespace(root, 0, 0, "pmem0", "259:0", 0x1_0000_0000, 1 << 30);
        fake::write(root, "bus/nd/devices/region0/numa_node", "1\n");
        fake::region(root, 1, 0x2_0000_0000, 1 << 30, &["nmem2"]);
        fake::devdax_namespace(root, 1, 0, "252:1", 0x2_0000_0000, 1 << 30);
        fake::dimm(root, "nmem0", Some("8089-a2-1809-00000107"), Some("3"));
        fake::dimm(root, "nmem1", Some("8089-a2-1809-00000108"), Some("0x4"));
        fake::dimm(root, "nmem2", None, None);
        let s = Sysfs::new(root);
        (dir, s)
    }

    #[test]
    fn device_id_concatenates_unique_ids() {
        let (_d, s) = tree();
        assert_eq!(
            device_id(&s, &fsdax_id()).unwrap(),
            "8089-a2-1809-000001078089-a2-1809-00000108"
        );
    }

    #[test]
    fn device_id_without_unique_id_is_nosupp() {
        let (_d, s) = tree();
        let e = device_id(&s, &devdax_id()).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
        assert!(e.to_string().contains("nmem2"), "{e}");
    }

    #[test]
    fn usc_sums_dirty_shutdowns() {
        let (_d, s) = tree();
        assert_eq!(device_usc(&s, &fsdax_id()).unwrap(), 7);
    }

    #[test]
    fn usc_without_counters_is_nosupp() {
        let (_d, s) = tree();
        let e = device_usc(&s, &devdax_id()).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
        assert_eq!(
            e.to_string(),
            "Unsafe shutdown count is not supported for this source"
        );
    }

    #[test]
    fn usc_malformed_counter_is_reported() {
        let (d, s) = tree();
        fake::write(
            d.path(),
            "bus/nd/devices/nmem1/nfit/dirty_shutdown",
            "many\n",
        );
        let e = device_usc(&s, &fsdax_id()).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_UNKNOWN);
        assert!(e.to_string().contains("nmem1/nfit/dirty_shutdown"), "{e}");
        fake::write(
            d.path(),
            "bus/nd/devices/nmem1/nfit/dirty_shutdown",
            &format!("{}\n", u64::MAX),
        );
        let e = device_usc(&s, &fsdax_id()).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_UNKNOWN);
    }

    #[test]
    fn numa_node_of_the_region() {
        let (_d, s) = tree();
        assert_eq!(numa_node(&s, &fsdax_id()).unwrap(), 1);
        assert_eq!(numa_node(&s, &devdax_id()).unwrap(), -1);
        let other = SourceId {
            dev: rustix::fs::makedev(8, 1),
            ..fsdax_id()
        };
        let e = numa_node(&s, &other).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_DAX_REGION_NOT_FOUND);
        let e = device_id(&s, &other).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
        let e = device_usc(&s, &other).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_NOSUPP);
    }

    #[test]
    fn anonymous_is_refused_without_reading_sysfs() {
        // a root that doesn't exist: nothing may be read
        let s = Sysfs::new("/nonexistent/pmem2-test-root");
        let anon = Source::anonymous(4096).unwrap().id();
        assert_eq!(device_id(&s, &anon).unwrap_err().code(), PMEM2_E_NOSUPP);
        assert_eq!(device_usc(&s, &anon).unwrap_err().code(), PMEM2_E_NOSUPP);
        assert_eq!(numa_node(&s, &anon).unwrap_err().code(), PMEM2_E_NOSUPP);
    }

    /// A fake NVDIMM tree whose fsdax namespace is the block device under a
    /// real temporary file: the file's own `st_dev` finds the region.
    #[test]
    fn a_real_files_device_reaches_its_fake_region() {
        let f = tempfile::tempfile().unwrap();
        let src = Source::from_file(&f).unwrap();
        let dev = src.id().dev;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let maj_min = format!("{}:{}", rustix::fs::major(dev), rustix::fs::minor(dev));
        fake::region(root, 0, 0x1_0000_0000, 1 << 34, &["nmem0", "nmem1"]);
        fake::fsdax_namespace(root, 0, 0, "pmem7", &maj_min, 0x1_0020_0000, 1 << 33);
        fake::dimm(root, "nmem0", Some("8089-a2-1809-00000107"), Some("2"));
        fake::dimm(root, "nmem1", Some("8089-a2-1809-00000108"), Some("5"));
        fake::write(root, "bus/nd/devices/region0/numa_node", "0\n");
        let s = Sysfs::new(root);
        assert_eq!(
            device_id(&s, &src.id()).unwrap(),
            "8089-a2-1809-000001078089-a2-1809-00000108"
        );
        assert_eq!(device_usc(&s, &src.id()).unwrap(), 7);
        assert_eq!(numa_node(&s, &src.id()).unwrap(), 0);
    }
}
