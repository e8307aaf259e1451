//! Device DAX: type detection, size and alignment from sysfs.
//!
//! A character device is a device DAX when
//! `<sysfs>/dev/char/MAJ:MIN/subsystem` resolves to a directory named `dax`.
//! Its size is `<sysfs>/dev/char/MAJ:MIN/size`; its alignment is the device's
//! own `align` attribute (Linux 5.10+) or else the `dax_region/align` of the
//! nearest ancestor that has one, as PMDK reads them without libndctl.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Errno, Error, Result};

/// The sysfs directory of character device `major:minor`.
fn char_dev_dir(sysfs: &Path, major: u32, minor: u32) -> PathBuf {
    sysfs.join(format!("dev/char/{major}:{minor}"))
}

fn io_error(err: &io::Error, context: String) -> Error {
    let errno = err
        .raw_os_error()
        .map_or(Errno::IO, Errno::from_raw_os_error);
    Error::os(errno, context)
}

/// Whether character device `major:minor` belongs to the `dax` subsystem.
///
/// # Errors
/// [`Error::Os`] when the subsystem link can't be resolved (as PMDK's
/// `realpath` failure).
pub fn is_device_dax(sysfs: &Path, major: u32, minor: u32) -> Result<bool> {
    let link = char_dev_dir(sysfs, major, minor).join("subsystem");
    let resolved = fs::canonicalize(&link)
        .map_err(|e| io_error(&e, format!("realpath \"{}\"", link.display())))?;
    Ok(resolved.file_name().is_some_and(|name| name == "dax"))
}

/// Reads a small sysfs attribute.
fn read_attr(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| io_error(&e, format!("open \"{}\"", path.display())))
}

/// Parses an unsigned number the way `strtoull(s, &end, base)` followed by a
/// check that the next character is a newline does. Base 0 accepts `0x`
/// prefixes and octal as C does.
fn parse_sysfs_number(text: &str, base: u32) -> Option<u64> {
    let body = text.strip_suffix('\n')?;
    let body = body.trim_start();
    let (radix, digits) = match base {
        0 => {
            if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
                (16, hex)
            } else if body.len() > 1 && body.starts_with('0') {
                (8, &body[1..])
            } else {
                (10, body)
            }
        }
        16 => (
            16,
            body.strip_prefix("0x")
                .or_else(|| body.strip_prefix("0X"))
                .unwrap_or(body),
        ),
        b => (b, body),
    };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Size in bytes of device DAX `major:minor`.
///
/// # Errors
/// [`Error::Os`] when the attribute can't be read,
/// [`Error::InvalidSizeFormat`] when it isn't a number followed by a newline.
pub fn device_dax_size(sysfs: &Path, major: u32, minor: u32) -> Result<usize> {
    let path = char_dev_dir(sysfs, major, minor).join("size");
    let text = read_attr(&path)?;
    parse_sysfs_number(&text, 0)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| {
            Error::InvalidSizeFormat(
                format!("invalid device size format '{}'", text.trim_end()).into(),
            )
        })
}

/// Alignment in bytes of device DAX `major:minor` (not yet checked to be a
/// power of two: [`Source::alignment`](crate::Source::alignment) does that).
///
/// # Errors
/// [`Error::Os`] when the device can't be resolved,
/// [`Error::InvalidAlignmentFormat`] when no alignment attribute exists or
/// it can't be parsed.
pub fn device_dax_alignment(sysfs: &Path, major: u32, minor: u32) -> Result<usize> {
    let dev = char_dev_dir(sysfs, major, minor);
    let own = dev.join("align");
    let mut candidates = vec![own];
    let resolved = fs::canonicalize(&dev)
        .map_err(|e| io_error(&e, format!("realpath \"{}\"", dev.display())))?;
    let stop = fs::canonicalize(sysfs.join("devices")).ok();
    let mut dir = resolved.as_path();
    while let Some(parent) = dir.parent() {
        if Some(dir) == stop.as_deref() {
            break;
        }
        candidates.push(parent.join("dax_region/align"));
        dir = parent;
    }
    for path in candidates {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let invalid = || {
            Error::InvalidAlignmentFormat(
                format!("invalid device alignment format {}", text.trim_end()).into(),
            )
        };
        let mut value = parse_sysfs_number(&text, 10).ok_or_else(invalid)?;
        // Kernels before 4.9 printed the alignment in hexadecimal.
        if !value.is_power_of_two() {
            value = parse_sysfs_number(&text, 16).ok_or_else(invalid)?;
        }
        return usize::try_from(value).map_err(|_| invalid());
    }
    Err(Error::InvalidAlignmentFormat(
        format!(
            "cannot find the alignment of device dax {major}:{minor} in {}",
            sysfs.display()
        )
        .into(),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake sysfs tree with device DAX 252:3 (`dax3.0` in region 3) and
    /// a non-DAX character device 1:3.
    pub(crate) fn fake_sysfs(
        size: &str,
        own_align: Option<&str>,
        region_align: Option<&str>,
    ) -> tempdir::TempDir {
        let root = tempdir::TempDir::new();
        let p = root.path();
        let dax_dev = p.join("devices/platform/ACPI0012:00/ndbus0/region3/dax3.0/dax/dax3.0");
        fs::create_dir_all(&dax_dev).unwrap();
        fs::create_dir_all(p.join("class/dax")).unwrap();
        fs::create_dir_all(p.join("class/mem")).unwrap();
        fs::create_dir_all(p.join("dev/char")).unwrap();
        symlink(p.join("class/dax"), dax_dev.join("subsystem")).unwrap();
        fs::write(dax_dev.join("size"), size).unwrap();
        if let Some(a) = own_align {
            fs::write(dax_dev.join("align"), a).unwrap();
        }
        if let Some(a) = region_align {
            let region = p.join("devices/platform/ACPI0012:00/ndbus0/region3/dax3.0/dax_region");
            fs::create_dir_all(&region).unwrap();
            fs::write(region.join("align"), a).unwrap();
        }
        symlink(&dax_dev, p.join("dev/char/252:3")).unwrap();
        let null = p.join("devices/virtual/mem/null");
        fs::create_dir_all(&null).unwrap();
        symlink(p.join("class/mem"), null.join("subsystem")).unwrap();
        symlink(&null, p.join("dev/char/1:3")).unwrap();
        root
    }

    /// A minimal temporary directory, removed on drop.
    pub(crate) mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub(crate) struct TempDir(PathBuf);

        impl TempDir {
            pub(crate) fn new() -> Self {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "pmem2-test-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                TempDir(path)
            }

            pub(crate) fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn detects_device_dax() {
        let t = fake_sysfs("1073741824\n", Some("2097152\n"), None);
        assert!(is_device_dax(t.path(), 252, 3).unwrap());
        assert!(!is_device_dax(t.path(), 1, 3).unwrap());
        let err = is_device_dax(t.path(), 9, 9).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::NOENT));
    }

    #[test]
    fn size_parsing() {
        let t = fake_sysfs("1073741824\n", Some("2097152\n"), None);
        assert_eq!(device_dax_size(t.path(), 252, 3).unwrap(), 1 << 30);
        for bad in ["", "\n", "abc\n", "1024", "12x\n"] {
            let t = fake_sysfs(bad, Some("4096\n"), None);
            let err = device_dax_size(t.path(), 252, 3).unwrap_err();
            assert_eq!(
                err.code(),
                crate::error::codes::PMEM2_E_INVALID_SIZE_FORMAT,
                "{bad:?}"
            );
        }
        let t = fake_sysfs("0x1000\n", None, Some("4096\n"));
        assert_eq!(device_dax_size(t.path(), 252, 3).unwrap(), 4096);
    }

    #[test]
    fn alignment_sources() {
        let t = fake_sysfs("4096\n", Some("2097152\n"), Some("4096\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 2 << 20);
        let t = fake_sysfs("4096\n", None, Some("4096\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 4096);
        // Old kernels: hexadecimal.
        let t = fake_sysfs("4096\n", None, Some("200000\n"));
        assert_eq!(device_dax_alignment(t.path(), 252, 3).unwrap(), 2 << 20);
        let t = fake_sysfs("4096\n", None, None);
        let err = device_dax_alignment(t.path(), 252, 3).unwrap_err();
        assert_eq!(
            err.code(),
            crate::error::codes::PMEM2_E_INVALID_ALIGNMENT_FORMAT
        );
        let t = fake_sysfs("4096\n", Some("huge\n"), None);
        let err = device_dax_alignment(t.path(), 252, 3).unwrap_err();
        assert_eq!(
            err.code(),
            crate::error::codes::PMEM2_E_INVALID_ALIGNMENT_FORMAT
        );
    }

    #[test]
    fn number_parser_matches_strtoull_with_newline() {
        assert_eq!(parse_sysfs_number("42\n", 10), Some(42));
        assert_eq!(parse_sysfs_number("42", 10), None);
        assert_eq!(parse_sysfs_number("0x10\n", 0), Some(16));
        assert_eq!(parse_sysfs_number("010\n", 0), Some(8));
        assert_eq!(parse_sysfs_number("0\n", 0), Some(0));
        assert_eq!(parse_sysfs_number("ff\n", 16), Some(255));
        assert_eq!(parse_sysfs_number("\n", 10), None);
        assert_eq!(parse_sysfs_number("99999999999999999999999\n", 10), None);
    }
}
