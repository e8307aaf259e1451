//! Writing a sysfs attribute (reading is `pmem2_nvdimm`'s job).

use std::io::Write;
use std::path::Path;

use crate::error::{Errno, Error, Result};

fn io_error(e: &std::io::Error, what: &str, path: &Path) -> Error {
    let errno = e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error);
    Error::os(errno, format!("{what} \"{}\"", path.display()))
}

/// Writes `value` to the attribute at `path` (e.g. `"1"` to a region's
/// `deep_flush`), in one `write`.
///
/// # Errors
/// [`Error::Os`] naming the step (`open` or `write`) and the path, e.g.
/// `EACCES` when not root.
pub(crate) fn write_attr(path: &Path, value: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_error(&e, "open", path))?;
    file.write_all(value)
        .map_err(|e| io_error(&e, "write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_over_the_start_and_names_failures() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("deep_flush");
        std::fs::write(&p, "7\n").unwrap();
        write_attr(&p, b"1").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1\n");
        let missing = dir.path().join("nope");
        let e = write_attr(&missing, b"1").unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
        assert!(e.to_string().starts_with("open \""), "{e}");
    }
}
