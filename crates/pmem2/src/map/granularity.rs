//! The effective store granularity of a new mapping, as PMDK decides it.

use std::path::Path;
use std::sync::OnceLock;

use crate::config::{Granularity, Sharing};
use crate::debug_log::{plog, DETAIL};
use crate::env;
use crate::error::{Error, Result};
use pmem2_nvdimm::{eadr, SYSFS_ROOT};

/// PMDK's message when `MAP_SYNC` was refused.
pub(crate) const NO_MAP_SYNC_MSG: &str = "requested granularity not available because fd doesn't point to DAX-enabled file or kernel doesn't support MAP_SYNC flag (Linux >= 4.15)";
/// PMDK's message when the platform is not eADR.
pub(crate) const NO_EADR_MSG: &str =
    "requested granularity not available because the platform doesn't support eADR";

/// The finest store granularity a new mapping provides, as PMDK decides it:
/// anonymous and private mappings are [`Byte`](Granularity::Byte) (nothing
/// to make durable); then `PMEM2_FORCE_GRANULARITY` wins; without
/// `MAP_SYNC` only `msync` works ([`Page`](Granularity::Page)); with it,
/// cache flushes suffice ([`CacheLine`](Granularity::CacheLine)), and on
/// an eADR platform not even those ([`Byte`](Granularity::Byte)).
pub(crate) fn effective_granularity(
    anonymous: bool,
    sharing: Sharing,
    forced: Option<Granularity>,
    map_sync: bool,
    eadr: bool,
) -> Granularity {
    if anonymous || sharing == Sharing::Private {
        Granularity::Byte
    } else if let Some(forced) = forced {
        forced
    } else if !map_sync {
        Granularity::Page
    } else if !eadr {
        Granularity::CacheLine
    } else {
        Granularity::Byte
    }
}

/// The refusal when `available` is coarser than `required`, with PMDK's message.
pub(crate) fn check_granularity(required: Granularity, available: Granularity) -> Result<()> {
    if available <= required {
        return Ok(());
    }
    let msg = if available == Granularity::Page {
        NO_MAP_SYNC_MSG
    } else {
        NO_EADR_MSG
    };
    Err(Error::GranularityNotSupported(msg.into()))
}

/// Whether this platform is eADR, read from sysfs once per process (PMDK
/// re-walks sysfs on every map; the answer only changes when NVDIMM regions
/// are reconfigured, which needs a reboot in practice).
#[must_use]
pub fn platform_is_eadr() -> bool {
    static EADR: OnceLock<bool> = OnceLock::new();
    *EADR.get_or_init(|| {
        let eadr = eadr::is_eadr(Path::new(SYSFS_ROOT));
        plog!(
            DETAIL,
            "platform_is_eadr",
            "read {SYSFS_ROOT}/bus/nd/devices/region*/persistence_domain: eADR {}",
            if eadr { "detected" } else { "not detected" }
        );
        eadr
    })
}

/// Why a new mapping got its granularity, for the debug log's level 2.
pub(crate) fn granularity_reason(
    anonymous: bool,
    sharing: Sharing,
    forced: Option<Granularity>,
    map_sync: bool,
    eadr: bool,
) -> &'static str {
    if anonymous {
        "anonymous memory"
    } else if sharing == Sharing::Private {
        "private mapping"
    } else if forced.is_some() {
        "PMEM2_FORCE_GRANULARITY"
    } else if !map_sync {
        "MAP_SYNC refused"
    } else if !eadr {
        "MAP_SYNC accepted, no eADR"
    } else {
        "MAP_SYNC accepted, eADR detected"
    }
}

/// The granularity forced through `PMEM2_FORCE_GRANULARITY`, read now.
pub(crate) fn forced_granularity() -> Option<Granularity> {
    let value = env::forced_granularity()?;
    let forced = Granularity::from_env_value(&value);
    plog!(
        DETAIL,
        "Map::new",
        "PMEM2_FORCE_GRANULARITY={value}: {}",
        forced.map_or_else(|| "invalid, ignored".to_owned(), |g| format!("{g:?}"))
    );
    forced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_decision_over_all_inputs() {
        use Granularity::{Byte, CacheLine, Page};
        for anonymous in [false, true] {
            for sharing in [Sharing::Shared, Sharing::Private] {
                for forced in [None, Some(Byte), Some(CacheLine), Some(Page)] {
                    for map_sync in [false, true] {
                        for eadr in [false, true] {
                            let got =
                                effective_granularity(anonymous, sharing, forced, map_sync, eadr);
                            let expected = if anonymous || sharing == Sharing::Private {
                                Byte
                            } else if let Some(f) = forced {
                                f
                            } else {
                                match (map_sync, eadr) {
                                    (false, _) => Page,
                                    (true, false) => CacheLine,
                                    (true, true) => Byte,
                                }
                            };
                            assert_eq!(
                                got, expected,
                                "anon={anonymous} {sharing:?} {forced:?} sync={map_sync} eadr={eadr}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refusal_messages_are_pmdks() {
        use Granularity::{Byte, CacheLine, Page};
        for required in [Byte, CacheLine, Page] {
            for available in [Byte, CacheLine, Page] {
                let result = check_granularity(required, available);
                if available <= required {
                    assert!(result.is_ok());
                    continue;
                }
                let err = result.unwrap_err();
                assert_eq!(
                    err.code(),
                    crate::error::codes::PMEM2_E_GRANULARITY_NOT_SUPPORTED
                );
                let expected = if available == Page {
                    NO_MAP_SYNC_MSG
                } else {
                    NO_EADR_MSG
                };
                assert_eq!(err.to_string(), expected);
            }
        }
    }
}
