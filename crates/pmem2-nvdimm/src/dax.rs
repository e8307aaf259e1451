//! Device DAX: type detection, size and alignment from sysfs.
//!
//! A character device is a device DAX when
//! `<sysfs>/dev/char/MAJ:MIN/subsystem` resolves to a directory named `dax`.
//! Its size is `<sysfs>/dev/char/MAJ:MIN/size`; its alignment is the device's
//! own `align` attribute (Linux 5.10+) or else the `dax_region/align` of the
//! nearest ancestor that has one, as PMDK reads them without libndctl.
//! Both numbers are read as PMDK reads them: C's `strtoull` over the first
//! 64 bytes, with a newline required right after the number (see
//! [`Error::Format`]); the alignment in decimal, and in hexadecimal when
//! the decimal reading isn't a power of two (kernels before 4.9).

use std::fs;
use std::path::{Path, PathBuf};

use crate::attr;
use crate::error::{DaxAttr, Error, Result};
use crate::number::{strtoull_newline, NumberError};

/// The sysfs directory of character device `major:minor`.
fn char_dev_dir(sysfs: &Path, major: u32, minor: u32) -> PathBuf {
    sysfs.join(format!("dev/char/{major}:{minor}"))
}

/// Resolves a path as `realpath(3)` does.
fn realpath(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).map_err(|e| Error::io("realpath", path, &e))
}

/// Whether character device `major:minor` belongs to the `dax` subsystem.
///
/// # Errors
/// [`Error::Io`] (`realpath`) when the subsystem link can't be resolved.
pub fn is_device_dax(sysfs: &Path, major: u32, minor: u32) -> Result<bool> {
    let link = char_dev_dir(sysfs, major, minor).join("subsystem");
    let resolved = realpath(&link)?;
    Ok(resolved.file_name().is_some_and(|name| name == "dax"))
}

/// Parses a device DAX number attribute, naming it in errors.
fn parse(bytes: &[u8], base: i32, attr: DaxAttr) -> Result<u64> {
    strtoull_newline(bytes, base).map_err(|e| {
        let content = String::from_utf8_lossy(bytes).trim_end().to_owned();
        match e {
            NumberError::Format => Error::Format { attr, content },
            NumberError::Range => Error::Range { attr, content },
        }
    })
}

/// Size in bytes of device DAX `major:minor`.
///
/// # Errors
/// [`Error::Io`] when the attribute can't be read, [`Error::Format`] when
/// it isn't a number followed by a newline, [`Error::Range`] when it doesn't
/// fit.
pub fn device_dax_size(sysfs: &Path, major: u32, minor: u32) -> Result<usize> {
    let bytes = attr::read(&char_dev_dir(sysfs, major, minor).join("size"))?;
    let value = parse(&bytes, 0, DaxAttr::Size)?;
    usize::try_from(value).map_err(|_| Error::Range {
        attr: DaxAttr::Size,
        content: value.to_string(),
    })
}

/// Alignment in bytes of device DAX `major:minor` (not checked to be a
/// power of two: that is the caller's rule).
///
/// # Errors
/// [`Error::Io`] when the device can't be resolved, [`Error::NoAlignment`]
/// when no alignment attribute exists, [`Error::Format`] or
/// [`Error::Range`] when the first one found can't be parsed.
pub fn device_dax_alignment(sysfs: &Path, major: u32, minor: u32) -> Result<usize> {
    let dev = char_dev_dir(sysfs, major, minor);
    let mut candidates = vec![dev.join("align")];
    let resolved = realpath(&dev)?;
    let stop = fs::canonicalize(sysfs.join("devices")).ok();
    let mut dir = resolved.as_path();
    while let Some(parent) = dir.parent() {
        if Some(dir) == stop.as_deref() {
            break;
        }
        candidates.push(parent.join("dax_region/align"));
        dir = parent;
    }
    // The first attribute that can be read decides.
    let Some(bytes) = candidates.iter().find_map(|path| attr::read(path).ok()) else {
        return Err(Error::NoAlignment {
            major,
            minor,
            sysfs: sysfs.to_owned(),
        });
    };
    let mut value = parse(&bytes, 10, DaxAttr::Alignment)?;
    if !value.is_power_of_two() {
        value = parse(&bytes, 16, DaxAttr::Alignment)?;
    }
    usize::try_from(value).map_err(|_| Error::Range {
        attr: DaxAttr::Alignment,
        content: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake;

    fn tree(size: &str, own_align: Option<&str>, region_align: Option<&str>) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fake::device_dax(t.path(), size, own_align, region_align);
        t
    }

    #[test]
    fn detects_device_dax() {
        let t = tree("1073741824\n", Some("2097152\n"), None);
        assert!(is_device_dax(t.path(), 252, 3).unwrap());
        assert!(!is_device_dax(t.path(), 1, 3).unwrap());
        let err = is_device_dax(t.path(), 9, 9).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT));
        assert!(err.to_string().starts_with("realpath \""), "{err}");
    }

    #[test]
    fn size_parsing() {
        let t = tree("1073741824\n", Some("2097152\n"), None);
        assert_eq!(device_dax_size(t.path(), 252, 3).unwrap(), 1 << 30);
        for bad in ["", "\n", "abc\n", "1024", "12x\n"] {
            let t = tree(bad, Some("4096\n"), None);
            let err = device_dax_size(t.path(), 252, 3).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Format {
                        attr: DaxAttr::Size,
                        ..
                    }
                ),
                "{bad:?}: {err:?}"
            );
        }
        let t = tree("0x1000\n", None, Some("4096\n"));
        assert_eq!(device_dax_size(t.path(), 252, 3).unwrap(), 4096);
        let t = tree("99999999999999999999999\n", None, Some("4096\n"));
        let err = device_dax_size(t.path(), 252, 3).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ERANGE));
        assert_eq!(
            err.context(),
            "invalid device size '99999999999999999999999'"
        );
        let err = device_dax_size(t.path(), 1, 3).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT), "{err}");
    }

    #[test]
    fn alignment_sources() {
        let t = tree("4096\n", Some("2097152\n"), Some("4096\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 2 << 20);
        let t = tree("4096\n", None, Some("4096\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 4096);
        // Old kernels: hexadecimal.
        let t = tree("4096\n", None, Some("200000\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 2 << 20);
        let t = tree("4096\n", None, None);
        let err = device_dax_alignment(t.path(), 252, 3).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NoAlignment {
                    major: 252,
                    minor: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let t = tree("4096\n", Some("huge\n"), None);
        let err = device_dax_alignment(t.path(), 252, 3).unwrap_err();
        assert_eq!(err.to_string(), "invalid device alignment format huge");
    }
}
