//! eADR detection: is the CPU cache inside the persistence domain?
//!
//! The platform is eADR when every NVDIMM region under
//! `<sysfs>/bus/nd/devices` (the entries whose name contains `region`)
//! has a `persistence_domain` attribute reading `cpu_cache`. No regions,
//! a missing attribute, any other value, or a read error means "not eADR",
//! as in PMDK.

use std::fs;
use std::path::{Path, PathBuf};

use crate::attr;

/// One NVDIMM region and what its `persistence_domain` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionDomain {
    /// Region name, e.g. `region0`.
    pub name: String,
    /// The attribute's content without the newline; `None` when absent or unreadable.
    pub persistence_domain: Option<String>,
}

/// The regions under `<sysfs>/bus/nd/devices`, sorted by name.
#[must_use]
pub fn regions(sysfs: &Path) -> Vec<RegionDomain> {
    let dir: PathBuf = sysfs.join("bus/nd/devices");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<RegionDomain> = entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("region"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink() || t.is_dir()))
        .map(|e| RegionDomain {
            name: e.file_name().to_string_lossy().into_owned(),
            persistence_domain: read_domain(&e.path().join("persistence_domain")),
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// Reads at most 32 bytes; the value must end with a newline (PMDK's rule).
fn read_domain(path: &Path) -> Option<String> {
    let bytes = attr::read(path).ok()?;
    if bytes.len() > 32 {
        return None;
    }
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_suffix('\n').map(str::to_owned)
}

/// Whether the platform flushes CPU caches on power loss (eADR), judged
/// from the regions under `sysfs`.
#[must_use]
pub fn is_eadr(sysfs: &Path) -> bool {
    let regions = regions(sysfs);
    !regions.is_empty()
        && regions
            .iter()
            .all(|r| r.persistence_domain.as_deref() == Some("cpu_cache"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use tempfile::TempDir;

    fn tree(domains: &[Option<&str>]) -> TempDir {
        let t = tempfile::tempdir().unwrap();
        let devices = t.path().join("bus/nd/devices");
        fs::create_dir_all(&devices).unwrap();
        for (i, domain) in domains.iter().enumerate() {
            let real = t.path().join(format!("devices/ndbus0/region{i}"));
            fs::create_dir_all(&real).unwrap();
            if let Some(d) = domain {
                fs::write(real.join("persistence_domain"), d).unwrap();
            }
            symlink(&real, devices.join(format!("region{i}"))).unwrap();
            // Non-region entries are ignored.
            let nmem = t.path().join(format!("devices/ndbus0/nmem{i}"));
            fs::create_dir_all(&nmem).unwrap();
            symlink(&nmem, devices.join(format!("nmem{i}"))).unwrap();
        }
        t
    }

    #[test]
    fn no_sysfs_or_no_regions_is_not_eadr() {
        let t = tempfile::tempdir().unwrap();
        assert!(!is_eadr(t.path()));
        let t = tree(&[]);
        assert!(!is_eadr(t.path()));
    }

    #[test]
    fn every_region_must_say_cpu_cache() {
        assert!(is_eadr(tree(&[Some("cpu_cache\n")]).path()));
        assert!(is_eadr(
            tree(&[Some("cpu_cache\n"), Some("cpu_cache\n")]).path()
        ));
        assert!(!is_eadr(
            tree(&[Some("cpu_cache\n"), Some("memory_controller\n")]).path()
        ));
        assert!(!is_eadr(tree(&[Some("memory_controller\n")]).path()));
        assert!(!is_eadr(tree(&[None]).path()));
        assert!(!is_eadr(tree(&[Some("cpu_cache\n"), None]).path()));
    }

    #[test]
    fn malformed_values_are_not_eadr() {
        assert!(!is_eadr(tree(&[Some("cpu_cache")]).path()), "no newline");
        assert!(!is_eadr(tree(&[Some("")]).path()));
        let long = format!("cpu_cache{}\n", " ".repeat(40));
        assert!(!is_eadr(tree(&[Some(long.as_str())]).path()));
        assert!(!is_eadr(tree(&[Some("\u{0}\u{ff}\n")]).path()));
    }

    #[test]
    fn lists_regions_with_domains() {
        let t = tree(&[Some("cpu_cache\n"), None]);
        let r = regions(t.path());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "region0");
        assert_eq!(r[0].persistence_domain.as_deref(), Some("cpu_cache"));
        assert_eq!(r[1].persistence_domain, None);
    }
}
