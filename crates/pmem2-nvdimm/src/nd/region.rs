//! A region's attributes: resource, size, NUMA node, bad blocks, deep
//! flush, persistence domain and the DIMMs it interleaves.

use std::fs;
use std::path::PathBuf;

use super::{
    parse_i64, parse_u64, read_badblocks, Dimm, PersistenceDomain, Region, SectorRange, Sysfs,
};
use crate::attr::{read_text, read_text_opt, read_u64};
use crate::error::{Error, Result};

impl Region {
    fn attr(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The region's physical start address (`resource`).
    ///
    /// # Errors
    /// [`Error::Io`] if missing, [`Error::Malformed`] if malformed.
    pub fn resource(&self) -> Result<u64> {
        read_u64(&self.attr("resource"))
    }

    /// The region's size in bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if missing, [`Error::Malformed`] if malformed.
    pub fn size(&self) -> Result<u64> {
        read_u64(&self.attr("size"))
    }

    /// The NUMA node the region is attached to; `-1` when the attribute is
    /// absent (as libndctl reports it).
    ///
    /// # Errors
    /// [`Error::Malformed`] if the attribute is malformed, [`Error::Io`] if
    /// unreadable.
    pub fn numa_node(&self) -> Result<i32> {
        let path = self.attr("numa_node");
        match read_text_opt(&path)? {
            None => Ok(-1),
            Some(s) => parse_i64(&s)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| Error::malformed(&path, "a NUMA node", &s)),
        }
    }

    /// The region's bad sectors, relative to its start.
    ///
    /// # Errors
    /// As [`read_badblocks`].
    pub fn badblocks(&self) -> Result<Vec<SectorRange>> {
        read_badblocks(&self.attr("badblocks"))
    }

    /// The number `N` of the bus (`ndbusN`) the region sits on: the
    /// parent directory of the region's real sysfs path. `None` when it
    /// isn't an `ndbusN` directory.
    #[must_use]
    pub fn bus_id(&self) -> Option<u32> {
        let real = fs::canonicalize(&self.path).ok()?;
        let parent = real.parent()?.file_name()?.to_str()?;
        let digits = parent.strip_prefix("ndbus")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The region's `deep_flush` attribute.
    #[must_use]
    pub fn deep_flush_path(&self) -> PathBuf {
        self.attr("deep_flush")
    }

    /// The region's `deep_flush` attribute as a number (non-zero when the
    /// region has a flush mechanism to trigger); `Ok(None)` when the
    /// attribute doesn't exist (the kernel hides it when there is none).
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable, [`Error::Malformed`] if not a number.
    pub fn deep_flush(&self) -> Result<Option<u64>> {
        let path = self.deep_flush_path();
        read_text_opt(&path)?
            .map(|s| parse_u64(&s).ok_or_else(|| Error::malformed(&path, "a number", &s)))
            .transpose()
    }

    /// The region's persistence domain; `Ok(None)` when the attribute
    /// doesn't exist (older kernels).
    ///
    /// # Errors
    /// [`Error::Malformed`] for an unknown value, [`Error::Io`] if unreadable.
    pub fn persistence_domain(&self) -> Result<Option<PersistenceDomain>> {
        let path = self.attr("persistence_domain");
        match read_text_opt(&path)? {
            None => Ok(None),
            Some(s) => match s.trim() {
                "cpu_cache" => Ok(Some(PersistenceDomain::CpuCache)),
                "memory_controller" => Ok(Some(PersistenceDomain::MemoryController)),
                "" => Ok(Some(PersistenceDomain::None)),
                _ => Err(Error::malformed(&path, "a persistence domain", &s)),
            },
        }
    }

    /// The DIMMs the region is built from, in `mappingK` order.
    ///
    /// # Errors
    /// [`Error::Io`] if `mappings` or a `mappingK` is unreadable,
    /// [`Error::Malformed`] if malformed.
    pub fn dimms(&self, sysfs: &Sysfs) -> Result<Vec<Dimm>> {
        let count_path = self.attr("mappings");
        let count = read_u64(&count_path)?;
        if count > 4096 {
            return Err(Error::malformed(
                &count_path,
                "a mapping count",
                &count.to_string(),
            ));
        }
        let mut dimms = Vec::new();
        for k in 0..count {
            let path = self.attr(&format!("mapping{k}"));
            let text = read_text(&path)?;
            let name = text.split(',').next().unwrap_or_default().trim();
            if !name.starts_with("nmem")
                || name.len() == 4
                || !name[4..].bytes().all(|b| b.is_ascii_digit())
            {
                return Err(Error::malformed(
                    &path,
                    "a mapping \"nmemX,offset,length,position\"",
                    &text,
                ));
            }
            dimms.push(Dimm {
                name: name.to_owned(),
                path: sysfs.nd_device(name),
            });
        }
        Ok(dimms)
    }
}
