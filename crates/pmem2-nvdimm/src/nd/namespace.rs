//! A namespace's kind and bounds.

use super::{Namespace, NamespaceMode, Region, Sysfs};
use crate::attr::read_u64;
use crate::error::{Error, Result};

impl Namespace {
    /// What the namespace is used as, from its holder (and `mode`).
    #[must_use]
    pub fn kind(&self) -> NamespaceMode {
        match self.holder.as_deref() {
            Some(h) if h.starts_with("pfn") => NamespaceMode::Fsdax,
            Some(h) if h.starts_with("dax") => NamespaceMode::Devdax,
            Some(h) if h.starts_with("btt") => NamespaceMode::Sector,
            _ => match self.mode.as_deref() {
                Some("fsdax" | "memory") => NamespaceMode::Fsdax,
                Some("devdax" | "dax") => NamespaceMode::Devdax,
                Some("sector" | "safe") => NamespaceMode::Sector,
                _ => NamespaceMode::Raw,
            },
        }
    }

    /// The namespace's data area relative to its region, `(offset, size)` in
    /// bytes: from the pfn or dax device when claimed by one (the data
    /// starts after their info block), from the namespace otherwise.
    ///
    /// # Errors
    /// [`Error::CannotReadBounds`] if the bounds can't be read,
    /// [`Error::NamespaceBeforeRegion`] if they make no sense,
    /// [`Error::Io`]/[`Error::Malformed`] for the region's `resource`.
    pub fn bounds(&self, sysfs: &Sysfs, region: &Region) -> Result<(u64, u64)> {
        let (dir, holder) = match self.holder.as_deref() {
            Some(h) if h.starts_with("pfn") => (sysfs.nd_device(h), "pfn"),
            Some(h) if h.starts_with("dax") => (sysfs.nd_device(h), "dax"),
            _ => (self.path.clone(), "raw/btt"),
        };
        let bounds = |what, attr| {
            read_u64(&dir.join(attr)).map_err(|cause| Error::CannotReadBounds {
                holder,
                what,
                cause: Box::new(cause),
            })
        };
        let offset = bounds("offset", "resource")?;
        let size = bounds("size", "size")?;
        let region_start = region.resource()?;
        let rel = offset
            .checked_sub(region_start)
            .ok_or(Error::NamespaceBeforeRegion {
                holder,
                offset,
                region_start,
            })?;
        Ok((rel, size))
    }
}
