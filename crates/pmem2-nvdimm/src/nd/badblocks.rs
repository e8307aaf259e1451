//! Bad-block lists: one `"<first sector> <sector count>"` per line, in
//! 512-byte sectors.

use std::path::Path;

use super::{parse_u64, SectorRange, SECTOR_SIZE};
use crate::attr::read_text_opt;
use crate::error::{Error, Result};

impl SectorRange {
    /// The range in bytes, `(offset, length)`, or `None` if it overflows.
    #[must_use]
    pub fn to_bytes(self) -> Option<(u64, u64)> {
        Some((
            self.sector.checked_mul(SECTOR_SIZE)?,
            self.count.checked_mul(SECTOR_SIZE)?,
        ))
    }
}

/// Parses the content of a `badblocks` file: one `"<sector> <count>"` per
/// line; blank lines are ignored.
///
/// # Errors
/// [`Error::Malformed`] naming `path` for any malformed line.
pub fn parse_badblocks(path: &Path, content: &str) -> Result<Vec<SectorRange>> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(sector), Some(count), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(Error::malformed(
                path,
                "a bad block \"<sector> <count>\"",
                line,
            ));
        };
        let (Some(sector), Some(count)) = (parse_u64(sector), parse_u64(count)) else {
            return Err(Error::malformed(
                path,
                "a bad block \"<sector> <count>\"",
                line,
            ));
        };
        let range = SectorRange { sector, count };
        if range.to_bytes().is_none() || sector.checked_add(count).is_none() {
            return Err(Error::malformed(path, "a bad block within range", line));
        }
        out.push(range);
    }
    Ok(out)
}

/// Reads a `badblocks` file; a missing file means no bad blocks.
///
/// # Errors
/// [`Error::Io`] if it can't be read, [`Error::Malformed`] if malformed.
pub fn read_badblocks(path: &Path) -> Result<Vec<SectorRange>> {
    match read_text_opt(path)? {
        None => Ok(Vec::new()),
        Some(content) => parse_badblocks(path, &content),
    }
}
