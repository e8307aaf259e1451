//! The NVDIMM ("nd") model of sysfs, read directly (no libndctl).
//!
//! Layout read here (all under a root, `/sys` by default):
//!
//! | path | content |
//! |---|---|
//! | `bus/nd/devices/regionN/` | `resource`, `size`, `numa_node`, `badblocks`, `deep_flush`, `persistence_domain`, `mappings`, `mappingK` = `"nmemX,offset,length,position"` |
//! | `bus/nd/devices/namespaceN.M/` | `mode`, `holder`, `resource`, `size`, `block/<pmemX>/` for a raw namespace |
//! | `bus/nd/devices/pfnN.M/`, `bttN.M/` | `resource`, `size`, `block/<pmemX>/` |
//! | `bus/nd/devices/daxN.M/` | `resource`, `size`, and the char device's directory `daxN.M/` with `dev` = `"maj:min\n"` |
//! | `bus/nd/devices/nmemX/` | `nfit/id` (the unique id), `nfit/dirty_shutdown` (or `papr/...`) |
//! | `block/pmemX/` | `dev` = `"maj:min\n"`, `badblocks` |
//!
//! Bad-block files list one `"<first sector> <sector count>"` per line, in
//! 512-byte sectors.
//!
//! Parsers never panic: a missing or unreadable file is an [`Error::Io`]
//! naming it, a malformed one an [`Error::Malformed`] (or a more specific
//! kind) naming it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::attr::read_text_opt;
use crate::error::{Error, Result};

mod badblocks;
mod device;
mod dimm;
mod namespace;
mod region;

pub use crate::number::{parse_i64, parse_u64};
pub use badblocks::{parse_badblocks, read_badblocks};
pub use device::dev_matches;
use device::read_dev_matches;

/// Bytes per sector in sysfs bad-block lists.
pub const SECTOR_SIZE: u64 = 512;

/// A sysfs root: where the NVDIMM model is read from; with the device
/// directory (`/dev`) where the NVDIMM bus devices (`ndctlN`) live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
    dev_dir: PathBuf,
}

impl Default for Sysfs {
    /// The system's sysfs, `/sys`.
    fn default() -> Self {
        Sysfs::new(crate::SYSFS_ROOT)
    }
}

/// A range of bad sectors, as a sysfs `badblocks` file lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SectorRange {
    /// First bad sector (512-byte units).
    pub sector: u64,
    /// Number of bad sectors.
    pub count: u64,
}

/// A region's `persistence_domain`: what a store must reach to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersistenceDomain {
    /// `cpu_cache`: the CPU caches are persistent (eADR).
    CpuCache,
    /// `memory_controller`: stores are durable once they reach the memory
    /// controller (ADR): cache flushes are needed.
    MemoryController,
    /// The attribute is empty: no guarantee is advertised.
    None,
}

/// An NVDIMM region, `regionN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The region number `N`.
    pub id: u32,
    /// Its directory, `<root>/bus/nd/devices/regionN`.
    pub path: PathBuf,
}

/// A namespace, `namespaceN.M`, with what claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The name, e.g. `namespace0.0`.
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// The claiming device (`pfnN.M`, `daxN.M`, `bttN.M`), if any.
    pub holder: Option<String>,
    /// The `mode` attribute (`fsdax`, `devdax`, `raw`, `sector`, ...), if present.
    pub mode: Option<String>,
}

/// What a namespace is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceMode {
    /// Claimed by a pfn device: a block device supporting file-system DAX.
    Fsdax,
    /// Claimed by a dax device: device DAX.
    Devdax,
    /// Claimed by a btt device: a sector-atomic block device.
    Sector,
    /// Not claimed: a raw block device.
    Raw,
}

/// A DIMM, `nmemX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimm {
    /// The name, e.g. `nmem0`.
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
}

/// What [`Sysfs::find`] looks for: the device a file or a device DAX is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// A regular file, by its file system's device number (`st_dev`).
    File {
        /// `st_dev` of the file.
        dev: u64,
    },
    /// A device DAX, by its device number (`st_rdev`).
    DeviceDax {
        /// `st_rdev` of the character device.
        rdev: u64,
    },
}

/// Where a device lives: its region and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdMatch {
    /// The region holding the namespace.
    pub region: Region,
    /// The namespace holding the source.
    pub namespace: Namespace,
    /// For a regular file: the block device name (`pmem0`, `pmem0s`, ...).
    pub block_device: Option<String>,
    /// For a device DAX: the dax device name (`dax0.0`).
    pub dax_device: Option<String>,
}

/// Lists the names of a directory's entries, sorted; a missing directory
/// is empty.
fn list_dir(path: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("opendir", path, &e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("readdir", path, &e))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    names.sort_by_key(|n| natural_key(n));
    Ok(names)
}

/// Sort key putting `region2` before `region10`.
fn natural_key(name: &str) -> (String, Vec<u64>) {
    let prefix: String = name.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let nums = name[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (prefix, nums)
}

/// `"region12"` → 12.
fn region_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("region")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `"namespace3.1"` → (3, 1); also for `pfn`, `dax`, `btt` names.
fn split_dotted(name: &str, prefix: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(prefix)?;
    let (a, b) = rest.split_once('.')?;
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if !a.bytes().all(|c| c.is_ascii_digit()) || !b.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Sysfs {
    /// A sysfs tree rooted at `root` (normally `/sys`).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Sysfs {
            root: root.into(),
            dev_dir: PathBuf::from("/dev"),
        }
    }

    /// The same tree with another device directory (default `/dev`).
    #[must_use]
    pub fn with_dev_dir(mut self, dev_dir: impl Into<PathBuf>) -> Self {
        self.dev_dir = dev_dir.into();
        self
    }

    /// The NVDIMM bus device of bus `N`, `<dev>/ndctlN`.
    #[must_use]
    pub fn bus_device(&self, bus: u32) -> PathBuf {
        self.dev_dir.join(format!("ndctl{bus}"))
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/bus/nd/devices`.
    #[must_use]
    pub fn nd_devices(&self) -> PathBuf {
        self.root.join("bus/nd/devices")
    }

    /// The directory of an nd device by name (`region0`, `pfn0.1`, ...).
    #[must_use]
    pub fn nd_device(&self, name: &str) -> PathBuf {
        self.nd_devices().join(name)
    }

    /// `<root>/block/<name>`.
    #[must_use]
    pub fn block_device(&self, name: &str) -> PathBuf {
        self.root.join("block").join(name)
    }

    /// All regions, by number.
    ///
    /// # Errors
    /// [`Error::Io`] if the devices directory exists but can't be listed.
    pub fn regions(&self) -> Result<Vec<Region>> {
        let dir = self.nd_devices();
        let mut regions: Vec<Region> = list_dir(&dir)?
            .into_iter()
            .filter_map(|name| {
                region_number(&name).map(|id| Region {
                    id,
                    path: dir.join(&name),
                })
            })
            .collect();
        regions.sort_by_key(|r| r.id);
        Ok(regions)
    }

    /// A region by number, if it exists.
    #[must_use]
    pub fn region(&self, id: u32) -> Option<Region> {
        let path = self.nd_device(&format!("region{id}"));
        path.is_dir().then_some(Region { id, path })
    }

    /// The namespaces of a region (`namespaceN.M` with `N` the region's number).
    ///
    /// # Errors
    /// [`Error::Io`] on unreadable directories or attributes,
    /// [`Error::Malformed`] on malformed ones.
    pub fn namespaces(&self, region: &Region) -> Result<Vec<Namespace>> {
        let dir = self.nd_devices();
        let mut out = Vec::new();
        for name in list_dir(&dir)? {
            let Some((rid, _)) = split_dotted(&name, "namespace") else {
                continue;
            };
            if rid != region.id {
                continue;
            }
            let path = dir.join(&name);
            let holder = read_text_opt(&path.join("holder"))?
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty());
            let mode = read_text_opt(&path.join("mode"))?.map(|m| m.trim().to_owned());
            out.push(Namespace {
                name,
                path,
                holder,
                mode,
            });
        }
        Ok(out)
    }

    /// The first entry of `<dir>/block/`, the block device a namespace,
    /// pfn or btt device exposes.
    fn block_name_under(dir: &Path) -> Result<Option<String>> {
        Ok(list_dir(&dir.join("block"))?.into_iter().next())
    }

    /// The block device of a non-devdax namespace: its holder's (pfn/btt)
    /// or its own.
    ///
    /// # Errors
    /// [`Error::Io`] if a directory can't be listed.
    pub fn namespace_block_device(&self, ns: &Namespace) -> Result<Option<String>> {
        if let Some(holder) = &ns.holder {
            if let Some(name) = Self::block_name_under(&self.nd_device(holder))? {
                return Ok(Some(name));
            }
        }
        Self::block_name_under(&ns.path)
    }

    /// The dax character devices of a devdax namespace: `daxX.Y`
    /// directories with a `dev` file under its holder (`daxN.M/daxX.Y`, or
    /// `daxN.M/dax/daxX.Y` with the old `dax` class layout), as
    /// `(name, path of the dev file)`.
    ///
    /// # Errors
    /// [`Error::Io`] if a directory can't be listed.
    pub fn namespace_dax_devices(&self, ns: &Namespace) -> Result<Vec<(String, PathBuf)>> {
        let Some(holder) = &ns.holder else {
            return Ok(Vec::new());
        };
        let base = self.nd_device(holder);
        let mut out = Vec::new();
        for dir in [base.clone(), base.join("dax")] {
            for name in list_dir(&dir)? {
                let dev = dir.join(&name).join("dev");
                if split_dotted(&name, "dax").is_some() && dev.is_file() {
                    out.push((name, dev));
                }
            }
        }
        Ok(out)
    }

    /// Fallback for a device DAX not found under its namespace: resolves
    /// `<root>/dev/char/MAJ:MIN` and takes the `regionN` among its
    /// ancestors, and the namespace whose holder is the ancestor right
    /// below the region.
    fn find_devdax_by_char_dev(&self, rdev: u64) -> Result<Option<NdMatch>> {
        let link =
            self.root
                .join("dev/char")
                .join(format!("{}:{}", libc::major(rdev), libc::minor(rdev)));
        let Ok(real) = fs::canonicalize(&link) else {
            return Ok(None);
        };
        let names: Vec<String> = real
            .components()
            .filter_map(|c| c.as_os_str().to_str().map(str::to_owned))
            .collect();
        let Some(pos) = names.iter().rposition(|n| region_number(n).is_some()) else {
            return Ok(None);
        };
        let Some(region) = region_number(&names[pos]).and_then(|id| self.region(id)) else {
            return Ok(None);
        };
        let holder = names.get(pos + 1).cloned();
        let dax_device = names.last().cloned();
        let Some(namespace) = self
            .namespaces(&region)?
            .into_iter()
            .find(|ns| ns.holder.is_some() && ns.holder == holder)
        else {
            return Ok(None);
        };
        Ok(Some(NdMatch {
            region,
            namespace,
            block_device: None,
            dax_device,
        }))
    }

    /// Finds the region and namespace holding a device, as PMDK's
    /// `pmem2_region_namespace` does: a device DAX by `st_rdev` against the
    /// `dev` of the dax devices of devdax namespaces; a regular file by
    /// `st_dev` against `<root>/block/<dev>/dev` of the block devices of
    /// the other namespaces. `Ok(None)` when nothing matches (e.g. a file on
    /// tmpfs, or no NVDIMM at all).
    ///
    /// # Errors
    /// [`Error::InvalidDev`] for a `dev` file that is empty or lacks its
    /// newline; [`Error::Io`] for unreadable files.
    pub fn find(&self, device: Device) -> Result<Option<NdMatch>> {
        for region in self.regions()? {
            for ns in self.namespaces(&region)? {
                let is_dax = ns.holder.as_deref().is_some_and(|h| h.starts_with("dax"));
                match (device, is_dax) {
                    (Device::DeviceDax { rdev }, true) => {
                        for (dax, dev_file) in self.namespace_dax_devices(&ns)? {
                            if read_dev_matches(&dev_file, rdev)? {
                                return Ok(Some(NdMatch {
                                    region,
                                    namespace: ns,
                                    block_device: None,
                                    dax_device: Some(dax),
                                }));
                            }
                        }
                    }
                    (Device::File { dev }, false) => {
                        let Some(bdev) = self.namespace_block_device(&ns)? else {
                            continue;
                        };
                        let dev_file = self.block_device(&bdev).join("dev");
                        if read_dev_matches(&dev_file, dev)? {
                            return Ok(Some(NdMatch {
                                region,
                                namespace: ns,
                                block_device: Some(bdev),
                                dax_device: None,
                            }));
                        }
                    }
                    _ => {}
                }
            }
        }
        match device {
            Device::DeviceDax { rdev } => self.find_devdax_by_char_dev(rdev),
            Device::File { .. } => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DevProblem;
    use crate::fake;

    fn dev(maj: u32, min: u32) -> u64 {
        libc::makedev(maj, min)
    }

    fn file(maj: u32, min: u32) -> Device {
        Device::File { dev: dev(maj, min) }
    }

    fn devdax(maj: u32, min: u32) -> Device {
        Device::DeviceDax {
            rdev: dev(maj, min),
        }
    }

    fn tree() -> (tempfile::TempDir, Sysfs) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake::region(root, 0, 0x1_0000_0000, 1 << 30, &["nmem0", "nmem1"]);
        fake::fsdax_namespace(root, 0, 0, "pmem0", "259:0", 0x1_0020_0000, 1 << 29);
        fake::region(root, 1, 0x2_0000_0000, 1 << 30, &["nmem2"]);
        fake::devdax_namespace(root, 1, 0, "252:3", 0x2_0020_0000, 1 << 29);
        fake::dimm(root, "nmem0", Some("8089-a2-1809-00000107"), Some("3"));
        fake::dimm(root, "nmem1", Some("8089-a2-1809-00000108"), Some("4"));
        fake::dimm(root, "nmem2", None, None);
        let sysfs = Sysfs::new(root);
        (dir, sysfs)
    }

    proptest::proptest! {
        /// Any content, however malformed, gives a value or an error.
        #[test]
        fn parsers_never_panic(text in "\\PC*", dev_num in proptest::prelude::any::<u64>()) {
            let p = Path::new("/fuzz");
            if let Ok(list) = parse_badblocks(p, &text) {
                for r in list {
                    proptest::prop_assert!(r.to_bytes().is_some());
                }
            }
            let _ = dev_matches(p, &text, dev_num);
        }

    }

    #[test]
    fn parses_badblocks() {
        let p = Path::new("/x/badblocks");
        assert_eq!(
            parse_badblocks(p, "8 2\n100 1\n\n").unwrap(),
            vec![
                SectorRange {
                    sector: 8,
                    count: 2
                },
                SectorRange {
                    sector: 100,
                    count: 1
                }
            ]
        );
        assert!(parse_badblocks(p, "").unwrap().is_empty());
        for bad in ["8", "8 2 3", "a 2", "8 -1", "18446744073709551615 1"] {
            let err = parse_badblocks(p, bad).unwrap_err();
            assert!(matches!(err, Error::Malformed { .. }), "{bad}: {err:?}");
            assert!(err.to_string().contains("/x/badblocks"), "{err}");
        }
    }

    #[test]
    fn dev_format_rules() {
        let p = Path::new("/sys/block/pmem0/dev");
        assert!(dev_matches(p, "259:0\n", dev(259, 0)).unwrap());
        assert!(!dev_matches(p, "259:1\n", dev(259, 0)).unwrap());
        let e = dev_matches(p, "", dev(259, 0)).unwrap_err();
        assert_eq!(e.to_string(), "/sys/block/pmem0/dev is empty");
        let e = dev_matches(p, "259:0", dev(259, 0)).unwrap_err();
        assert_eq!(
            e,
            Error::InvalidDev {
                path: p.to_owned(),
                problem: DevProblem::NoNewline
            }
        );
        assert_eq!(
            e.to_string(),
            "/sys/block/pmem0/dev doesn't end with new line"
        );
    }

    #[test]
    fn enumerates_regions_and_namespaces() {
        let (_d, sysfs) = tree();
        let regions = sysfs.regions().unwrap();
        assert_eq!(regions.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 1]);
        let ns = sysfs.namespaces(&regions[0]).unwrap();
        assert_eq!(ns.len(), 1);
        assert_eq!(ns[0].name, "namespace0.0");
        assert_eq!(ns[0].kind(), NamespaceMode::Fsdax);
        assert_eq!(
            sysfs.namespace_block_device(&ns[0]).unwrap().as_deref(),
            Some("pmem0")
        );
        let ns1 = sysfs.namespaces(&regions[1]).unwrap();
        assert_eq!(ns1[0].kind(), NamespaceMode::Devdax);
        let daxes = sysfs.namespace_dax_devices(&ns1[0]).unwrap();
        assert_eq!(daxes.len(), 1);
        assert_eq!(daxes[0].0, "dax1.0");
        assert_eq!(regions[0].resource().unwrap(), 0x1_0000_0000);
        assert_eq!(regions[0].size().unwrap(), 1 << 30);
        assert_eq!(
            ns[0].bounds(&sysfs, &regions[0]).unwrap(),
            (0x20_0000, 1 << 29)
        );
    }

    #[test]
    fn no_nd_bus_means_no_regions() {
        let dir = tempfile::tempdir().unwrap();
        let sysfs = Sysfs::new(dir.path());
        assert!(sysfs.regions().unwrap().is_empty());
        assert_eq!(sysfs.find(file(8, 1)).unwrap(), None);
        assert_eq!(sysfs.find(devdax(252, 1)).unwrap(), None);
    }

    #[test]
    fn matches_fsdax_file_by_st_dev() {
        let (_d, sysfs) = tree();
        let m = sysfs.find(file(259, 0)).unwrap().unwrap();
        assert_eq!(m.region.id, 0);
        assert_eq!(m.namespace.name, "namespace0.0");
        assert_eq!(m.block_device.as_deref(), Some("pmem0"));
        assert_eq!(sysfs.find(file(8, 1)).unwrap(), None);
    }

    #[test]
    fn matches_devdax_by_st_rdev() {
        let (_d, sysfs) = tree();
        let m = sysfs.find(devdax(252, 3)).unwrap().unwrap();
        assert_eq!(m.region.id, 1);
        assert_eq!(m.dax_device.as_deref(), Some("dax1.0"));
        // a regular file never matches a devdax namespace, even with equal numbers
        assert_eq!(sysfs.find(file(252, 3)).unwrap(), None);
    }

    #[test]
    fn devdax_old_class_layout_and_char_dev_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake::region(root, 2, 0x3_0000_0000, 1 << 30, &[]);
        // old layout: daxN.M/dax/daxX.Y/dev
        fake::write(root, "bus/nd/devices/namespace2.0/holder", "dax2.0\n");
        fake::write(root, "bus/nd/devices/dax2.0/dax/dax2.0/dev", "251:9\n");
        let sysfs = Sysfs::new(root);
        let m = sysfs.find(devdax(251, 9)).unwrap().unwrap();
        assert_eq!((m.region.id, m.dax_device.as_deref()), (2, Some("dax2.0")));

        // only reachable through /sys/dev/char: a symlink into the region
        fake::write(root, "bus/nd/devices/namespace2.1/holder", "dax2.1\n");
        fake::write(root, "bus/nd/devices/region2/dax2.1/dax2.1/dev", "251:10\n");
        fake::mkdir(root, "dev/char");
        std::os::unix::fs::symlink(
            root.join("bus/nd/devices/region2/dax2.1/dax2.1"),
            root.join("dev/char/251:10"),
        )
        .unwrap();
        let m = sysfs.find(devdax(251, 10)).unwrap().unwrap();
        assert_eq!(m.region.id, 2);
        assert_eq!(m.namespace.name, "namespace2.1");
        assert_eq!(m.dax_device.as_deref(), Some("dax2.1"));
        // unknown char device: nothing
        assert_eq!(sysfs.find(devdax(251, 11)).unwrap(), None);
    }

    #[test]
    fn malformed_block_dev_file_is_invalid_dev_format() {
        let (d, sysfs) = tree();
        fake::write(d.path(), "block/pmem0/dev", "259:0");
        let e = sysfs.find(file(259, 0)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidDev {
                    problem: DevProblem::NoNewline,
                    ..
                }
            ),
            "{e:?}"
        );
        fake::write(d.path(), "block/pmem0/dev", "");
        let e = sysfs.find(file(259, 0)).unwrap_err();
        assert!(e.to_string().ends_with("block/pmem0/dev is empty"), "{e}");
    }

    #[test]
    fn region_attributes() {
        let (d, sysfs) = tree();
        let r0 = sysfs.region(0).unwrap();
        assert!(sysfs.region(7).is_none());
        // absent numa_node → -1, like libndctl
        assert_eq!(r0.numa_node().unwrap(), -1);
        fake::write(d.path(), "bus/nd/devices/region0/numa_node", "1\n");
        assert_eq!(r0.numa_node().unwrap(), 1);
        fake::write(d.path(), "bus/nd/devices/region0/numa_node", "one\n");
        let e = r0.numa_node().unwrap_err();
        assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
        assert!(e.to_string().contains("region0/numa_node"));

        assert_eq!(r0.persistence_domain().unwrap(), None);
        fake::write(
            d.path(),
            "bus/nd/devices/region0/persistence_domain",
            "cpu_cache\n",
        );
        assert_eq!(
            r0.persistence_domain().unwrap(),
            Some(PersistenceDomain::CpuCache)
        );
        fake::write(
            d.path(),
            "bus/nd/devices/region0/persistence_domain",
            "memory_controller\n",
        );
        assert_eq!(
            r0.persistence_domain().unwrap(),
            Some(PersistenceDomain::MemoryController)
        );
        fake::write(d.path(), "bus/nd/devices/region0/persistence_domain", "\n");
        assert_eq!(
            r0.persistence_domain().unwrap(),
            Some(PersistenceDomain::None)
        );
        fake::write(d.path(), "bus/nd/devices/region0/persistence_domain", "x\n");
        assert!(r0.persistence_domain().is_err());

        assert!(r0.badblocks().unwrap().is_empty());
        fake::write(d.path(), "bus/nd/devices/region0/badblocks", "16 8\n");
        assert_eq!(
            r0.badblocks().unwrap(),
            [SectorRange {
                sector: 16,
                count: 8
            }]
        );
    }

    #[test]
    fn dimms_and_their_attributes() {
        let (d, sysfs) = tree();
        let r0 = sysfs.region(0).unwrap();
        let dimms = r0.dimms(&sysfs).unwrap();
        assert_eq!(
            dimms.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["nmem0", "nmem1"]
        );
        assert_eq!(
            dimms[0].unique_id().unwrap().as_deref(),
            Some("8089-a2-1809-00000107")
        );
        assert_eq!(dimms[1].dirty_shutdown().unwrap(), Some(4));
        let r1 = sysfs.region(1).unwrap();
        let d2 = &r1.dimms(&sysfs).unwrap()[0];
        assert_eq!(d2.unique_id().unwrap(), None);
        assert_eq!(d2.dirty_shutdown().unwrap(), None);
        fake::write(d.path(), "bus/nd/devices/nmem2/nfit/dirty_shutdown", "-1\n");
        assert_eq!(d2.dirty_shutdown().unwrap(), None);
        fake::write(d.path(), "bus/nd/devices/nmem2/papr/dirty_shutdown", "x\n");
        fake::write(d.path(), "bus/nd/devices/nmem2/nfit/dirty_shutdown", "x\n");
        assert!(d2.dirty_shutdown().is_err());

        fake::write(d.path(), "bus/nd/devices/region0/mapping1", "garbage\n");
        let e = r0.dimms(&sysfs).unwrap_err();
        assert!(e.to_string().contains("region0/mapping1"), "{e}");
        fake::write(d.path(), "bus/nd/devices/region0/mappings", "x\n");
        assert!(r0.dimms(&sysfs).is_err());
        fake::write(d.path(), "bus/nd/devices/region0/mappings", "3\n");
        fake::write(
            d.path(),
            "bus/nd/devices/region0/mapping1",
            "nmem1,0,4096,1\n",
        );
        let e = r0.dimms(&sysfs).unwrap_err();
        assert!(e.to_string().contains("mapping2"), "{e}");
    }

    #[test]
    fn unreadable_bounds_use_cannot_read_bounds() {
        let (d, sysfs) = tree();
        let r0 = sysfs.region(0).unwrap();
        let ns = sysfs.namespaces(&r0).unwrap().remove(0);
        fake::write(d.path(), "bus/nd/devices/pfn0.0/size", "huge\n");
        let e = ns.bounds(&sysfs, &r0).unwrap_err();
        assert!(
            matches!(
                e,
                Error::CannotReadBounds {
                    holder: "pfn",
                    what: "size",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e
            .to_string()
            .starts_with("(pfn) cannot read size of the namespace"));
        fake::write(d.path(), "bus/nd/devices/pfn0.0/size", "4096\n");
        fake::write(d.path(), "bus/nd/devices/pfn0.0/resource", "0x1000\n");
        let e = ns.bounds(&sysfs, &r0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "(pfn) namespace offset 0x1000 lies before its region's start 0x100000000"
        );
    }
}
