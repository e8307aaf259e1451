//! Mapping configuration: offset, length, sharing, protection and the
//! required store granularity.
//!
//! Setters validate as PMDK's `pmem2_config_set_*` do. Checks that need the
//! source (alignment, range) happen in [`Map::new`](crate::Map::new).

use crate::debug_log::Returned;
use crate::error::{Error, Result};
use crate::flags::flag_set;

/// Store granularity: the unit in which stores become durable.
///
/// Ordered from finest to coarsest, as in PMDK; a mapping succeeds when the
/// effective granularity is no coarser than the required one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Granularity {
    /// Every store is durable once visible (eADR platforms): only a fence is
    /// needed. `PMEM2_GRANULARITY_BYTE`.
    Byte = 0,
    /// Stores are durable after a cache flush and a fence.
    /// `PMEM2_GRANULARITY_CACHE_LINE`.
    CacheLine = 1,
    /// Stores are durable after `msync(2)` of their pages.
    /// `PMEM2_GRANULARITY_PAGE`.
    Page = 2,
}

impl Granularity {
    /// All three, finest first.
    pub const ALL: [Granularity; 3] =
        [Granularity::Byte, Granularity::CacheLine, Granularity::Page];

    /// The lower-case name used by the CLI and JSON output: `"byte"`,
    /// `"cache_line"` or `"page"`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Granularity::Byte => "byte",
            Granularity::CacheLine => "cache_line",
            Granularity::Page => "page",
        }
    }

    /// Parses `PMEM2_FORCE_GRANULARITY` as PMDK does: case-insensitive
    /// `BYTE`, `CACHE_LINE`, `CACHELINE` or `PAGE`; anything else (including
    /// values too long for PMDK's 11-byte buffer) is ignored.
    pub(crate) fn from_env_value(value: &str) -> Option<Granularity> {
        if value.len() > 10 {
            return None;
        }
        match value.to_ascii_uppercase().as_str() {
            "BYTE" => Some(Granularity::Byte),
            "CACHE_LINE" | "CACHELINE" => Some(Granularity::CacheLine),
            "PAGE" => Some(Granularity::Page),
            _ => None,
        }
    }
}

impl std::fmt::Display for Granularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<i32> for Granularity {
    type Error = Error;

    /// Converts PMDK's `enum pmem2_granularity`.
    fn try_from(value: i32) -> Result<Self> {
        match value {
            0 => Ok(Granularity::Byte),
            1 => Ok(Granularity::CacheLine),
            2 => Ok(Granularity::Page),
            _ => Err(Error::GranularityNotSupported(
                format!("unknown granularity value {value}").into(),
            )),
        }
    }
}

/// Whether stores reach the source (shared) or stay in this process (private).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum Sharing {
    /// `MAP_SHARED`: stores go to the file or device. `PMEM2_SHARED`.
    #[default]
    Shared = 0,
    /// `MAP_PRIVATE`: copy-on-write; the source never changes. `PMEM2_PRIVATE`.
    Private = 1,
}

impl TryFrom<i32> for Sharing {
    type Error = Error;

    /// Converts PMDK's `enum pmem2_sharing_type`.
    fn try_from(value: i32) -> Result<Self> {
        match value {
            0 => Ok(Sharing::Shared),
            1 => Ok(Sharing::Private),
            _ => Err(Error::InvalidSharingValue(
                format!("unknown sharing value {value}").into(),
            )),
        }
    }
}

flag_set! {
    /// Memory protection of a mapping, with PMDK's bit values.
    ///
    /// The empty set, [`Protection::empty`], is `PMEM2_PROT_NONE`: no access.
    pub struct Protection {
        /// `PMEM2_PROT_EXEC`: pages may be executed.
        const EXEC = 1 << 29;
        /// `PMEM2_PROT_READ`: pages may be read.
        const READ = 1 << 30;
        /// `PMEM2_PROT_WRITE`: pages may be written.
        const WRITE = 1 << 31;
    }
}

/// PMDK's default: `PMEM2_PROT_READ | PMEM2_PROT_WRITE`.
impl Default for Protection {
    fn default() -> Self {
        Protection::READ | Protection::WRITE
    }
}

/// How to map a source: which part, how, and with what store granularity.
///
/// The defaults are PMDK's: offset 0, length 0 (to the end of the source),
/// shared, read-write, and no granularity (which [`Map::new`](crate::Map::new)
/// refuses with [`Error::GranularityNotSet`]).
///
/// ```
/// use pmem2::{Config, Granularity};
/// let mut config = Config::new();
/// config.set_required_store_granularity(Granularity::Page).set_length(4096);
/// assert_eq!(config.required_store_granularity(), Some(Granularity::Page));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) offset: usize,
    pub(crate) length: usize,
    pub(crate) granularity: Option<Granularity>,
    pub(crate) sharing: Sharing,
    pub(crate) protection: Protection,
    /// A weak reference: a config doesn't keep a deleted reservation alive.
    pub(crate) reservation: Option<(crate::reservation::WeakReservation, usize)>,
}

impl Config {
    /// A config with PMDK's defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A config with the required store granularity already set.
    #[must_use]
    pub fn with_granularity(granularity: Granularity) -> Self {
        let mut config = Self::new();
        config.granularity = Some(granularity);
        config
    }

    /// Sets the coarsest store granularity the application can work with.
    pub fn set_required_store_granularity(&mut self, granularity: Granularity) -> &mut Self {
        self.granularity = Some(granularity);
        self
    }

    /// Sets the offset into the source. It must be a multiple of the
    /// source's alignment, which [`Map::new`](crate::Map::new) checks.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] when `offset > i64::MAX` (mmap takes an `off_t`).
    pub fn set_offset(&mut self, offset: usize) -> Result<&mut Self> {
        if offset > i64::MAX as usize {
            return Err(Error::OffsetOutOfRange(
                "offset is greater than INT64_MAX".into(),
            ))
            .logged("Config::set_offset");
        }
        self.offset = offset;
        Ok(self)
    }

    /// Sets the length to map; 0 maps to the end of the source.
    pub fn set_length(&mut self, length: usize) -> &mut Self {
        self.length = length;
        self
    }

    /// Sets shared or private mapping.
    pub fn set_sharing(&mut self, sharing: Sharing) -> &mut Self {
        self.sharing = sharing;
        self
    }

    /// Sets the protection of the mapping.
    pub fn set_protection(&mut self, protection: Protection) -> &mut Self {
        self.protection = protection;
        self
    }

    /// Places the mapping at `offset` of a virtual-memory reservation
    /// (`None` clears it), as `pmem2_config_set_vm_reservation`. The config
    /// refers to the reservation without keeping it alive: once the
    /// reservation is deleted, [`Map::new`](crate::Map::new) with this config
    /// fails with `-EINVAL` (where PMDK would follow a dangling pointer). The offset
    /// is checked by [`Map::new`](crate::Map::new).
    pub fn set_vm_reservation(
        &mut self,
        reservation: Option<&crate::VmReservation>,
        offset: usize,
    ) -> &mut Self {
        self.reservation = reservation.map(|r| (r.downgrade(), offset));
        self
    }

    /// The required store granularity, if set.
    #[must_use]
    pub fn required_store_granularity(&self) -> Option<Granularity> {
        self.granularity
    }

    /// The configured offset.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The configured length (0: to the end of the source).
    #[must_use]
    #[cfg(test)]
    pub(crate) fn length(&self) -> usize {
        self.length
    }

    /// The configured sharing.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn sharing(&self) -> Sharing {
        self.sharing
    }

    /// The configured protection.
    #[must_use]
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Validates the length against a source, as PMDK's
    /// `pmem2_config_validate_length`: empty source, unaligned length,
    /// overflowing or too large range.
    pub(crate) fn validate_length(&self, source_size: usize, alignment: usize) -> Result<()> {
        debug_assert!(alignment != 0);
        if source_size == 0 {
            return Err(Error::SourceEmpty("file length is equal 0".into()));
        }
        if !self.length.is_multiple_of(alignment) {
            return Err(Error::LengthUnaligned(
                format!("length is not a multiple of {alignment}").into(),
            ));
        }
        let Some(end) = self.offset.checked_add(self.length) else {
            return Err(Error::MapRange("overflow of offset and length".into()));
        };
        if end > source_size {
            return Err(Error::MapRange("mapping larger than file size".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;

    #[test]
    fn defaults_are_pmdks() {
        let c = Config::new();
        assert_eq!(c.offset(), 0);
        assert_eq!(c.length(), 0);
        assert_eq!(c.required_store_granularity(), None);
        assert_eq!(c.sharing(), Sharing::Shared);
        assert_eq!(c.protection(), Protection::READ | Protection::WRITE);
    }

    #[test]
    fn granularity_from_c() {
        assert_eq!(Granularity::try_from(0).unwrap(), Granularity::Byte);
        assert_eq!(Granularity::try_from(2).unwrap(), Granularity::Page);
        for bad in [-1, 3, i32::MAX] {
            let err = Granularity::try_from(bad).unwrap_err();
            assert_eq!(err.code(), codes::PMEM2_E_GRANULARITY_NOT_SUPPORTED);
            assert_eq!(err.to_string(), format!("unknown granularity value {bad}"));
        }
        assert!(Granularity::Byte < Granularity::CacheLine);
        assert!(Granularity::CacheLine < Granularity::Page);
    }

    #[test]
    fn offset_limit() {
        let mut c = Config::new();
        assert!(c.set_offset(i64::MAX as usize).is_ok());
        let err = c.set_offset(i64::MAX as usize + 1).unwrap_err();
        assert_eq!(err.code(), codes::PMEM2_E_OFFSET_OUT_OF_RANGE);
        assert_eq!(
            c.offset(),
            i64::MAX as usize,
            "a refused offset leaves the old one"
        );
    }

    #[test]
    fn sharing_from_c() {
        assert_eq!(Sharing::try_from(1).unwrap(), Sharing::Private);
        let err = Sharing::try_from(2).unwrap_err();
        assert_eq!(err.code(), codes::PMEM2_E_INVALID_SHARING_VALUE);
        assert_eq!(
            Sharing::try_from(-1).unwrap_err().code(),
            codes::PMEM2_E_INVALID_SHARING_VALUE
        );
    }

    #[test]
    fn length_validation_order() {
        let mut c = Config::new();
        assert_eq!(
            c.validate_length(0, 4096).unwrap_err().code(),
            codes::PMEM2_E_SOURCE_EMPTY
        );
        c.set_length(100);
        assert_eq!(
            c.validate_length(8192, 4096).unwrap_err().code(),
            codes::PMEM2_E_LENGTH_UNALIGNED
        );
        c.set_length(usize::MAX & !4095);
        c.set_offset(8192).unwrap();
        let err = c.validate_length(8192, 4096).unwrap_err();
        assert_eq!(err.code(), codes::PMEM2_E_MAP_RANGE);
        assert_eq!(err.to_string(), "overflow of offset and length");
        c.set_length(4096);
        let err = c.validate_length(8192, 4096).unwrap_err();
        assert_eq!(err.to_string(), "mapping larger than file size");
        c.set_offset(4096).unwrap();
        assert!(c.validate_length(8192, 4096).is_ok());
        c.set_offset(0).unwrap().set_length(0);
        assert!(
            c.validate_length(100, 4096).is_ok(),
            "length 0 maps to the end"
        );
    }

    #[test]
    fn forced_granularity_values() {
        let parse = Granularity::from_env_value;
        assert_eq!(parse("page"), Some(Granularity::Page));
        assert_eq!(parse("CaCHe_Line"), Some(Granularity::CacheLine));
        assert_eq!(parse("CACHELINE"), Some(Granularity::CacheLine));
        assert_eq!(parse("byte"), Some(Granularity::Byte));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("cache_line_x"), None);
        assert_eq!(parse(""), None);
    }
}
