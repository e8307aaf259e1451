//! A DIMM's unique id and unsafe-shutdown counter.

use std::path::PathBuf;

use super::{parse_i64, parse_u64, Dimm};
use crate::attr::read_text_opt;
use crate::error::{Error, Result};

impl Dimm {
    fn bus_attr(&self, name: &str) -> Result<Option<(PathBuf, String)>> {
        for bus in ["nfit", "papr"] {
            let path = self.path.join(bus).join(name);
            if let Some(v) = read_text_opt(&path)? {
                return Ok(Some((path, v)));
            }
        }
        Ok(None)
    }

    /// The DIMM's unique id as libndctl reports it (`nfit/id`, or `papr/id`),
    /// `None` when the kernel doesn't expose one.
    ///
    /// # Errors
    /// [`Error::Io`] if the file exists but can't be read.
    pub fn unique_id(&self) -> Result<Option<String>> {
        Ok(self
            .bus_attr("id")?
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    /// The DIMM's dirty (unsafe) shutdown count, `None` when the kernel
    /// doesn't expose one (emulated NVDIMMs).
    ///
    /// # Errors
    /// [`Error::Malformed`] if malformed, [`Error::Io`] if unreadable.
    pub fn dirty_shutdown(&self) -> Result<Option<u64>> {
        match self.bus_attr("dirty_shutdown")? {
            None => Ok(None),
            Some((path, v)) => match parse_i64(&v) {
                // A negative count is how libndctl says "not supported".
                Some(n) if n < 0 => Ok(None),
                Some(n) => Ok(Some(n as u64)),
                None => parse_u64(&v)
                    .map(Some)
                    .ok_or_else(|| Error::malformed(&path, "an unsafe shutdown count", &v)),
            },
        }
    }
}
