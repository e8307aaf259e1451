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
fn read_attr(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| io_error(&e, format!("open \"{}\"", path.display())))
}

/// Why a sysfs number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberError {
    /// No digits, or something other than a newline right after them.
    Format,
    /// Too large for 64 bits (C's `ERANGE`).
    Range,
}

/// Parses a number as PMDK does: `strtoull(buf, &end, base)` over the first
/// 64 bytes, then a check that `*end` is a newline. Like C: leading ASCII
/// white space and one sign are skipped, a negative value wraps, base 0
/// takes `0x` (only when a hex digit follows) and a leading `0` as octal,
/// and anything after the newline is ignored.
fn parse_sysfs_number(bytes: &[u8], base: u32) -> Result<u64, NumberError> {
    const MAX_SIZE_LENGTH: usize = 64;
    let bytes = &bytes[..bytes.len().min(MAX_SIZE_LENGTH)];
    // PMDK's buffer is a C string: a NUL ends it.
    let bytes = bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |nul| &bytes[..nul]);
    let mut i = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(bytes.len());
    let negative = match bytes.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_prefix = |at: usize| {
        bytes.get(at) == Some(&b'0')
            && matches!(bytes.get(at + 1), Some(b'x' | b'X'))
            && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    let radix = match base {
        0 if hex_prefix(i) => {
            i += 2;
            16
        }
        0 if bytes.get(i) == Some(&b'0') => 8,
        0 => 10,
        16 => {
            if hex_prefix(i) {
                i += 2;
            }
            16
        }
        other => other,
    };
    let first_digit = i;
    let mut value: Option<u64> = Some(0);
    while let Some(digit) = bytes.get(i).and_then(|&b| char::from(b).to_digit(radix)) {
        value = value
            .and_then(|v| v.checked_mul(u64::from(radix)))
            .and_then(|v| v.checked_add(u64::from(digit)));
        i += 1;
    }
    if i == first_digit || bytes.get(i) != Some(&b'\n') {
        return Err(NumberError::Format);
    }
    let value = value.ok_or(NumberError::Range)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Size in bytes of device DAX `major:minor`.
///
/// # Errors
/// [`Error::Os`] when the attribute can't be read,
/// [`Error::InvalidSizeFormat`] when it isn't a number followed by a newline.
pub fn device_dax_size(sysfs: &Path, major: u32, minor: u32) -> Result<usize> {
    let path = char_dev_dir(sysfs, major, minor).join("size");
    let bytes = read_attr(&path)?;
    let shown = String::from_utf8_lossy(&bytes);
    let shown = shown.trim_end();
    match parse_sysfs_number(&bytes, 0) {
        Ok(value) => usize::try_from(value)
            .map_err(|_| Error::os(Errno::RANGE, format!("invalid device size '{shown}'"))),
        Err(NumberError::Format) => Err(Error::InvalidSizeFormat(
            format!("invalid device size format '{shown}'").into(),
        )),
        Err(NumberError::Range) => Err(Error::os(
            Errno::RANGE,
            format!("invalid device size '{shown}'"),
        )),
    }
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
        let Ok(bytes) = fs::read(&path) else {
            continue;
        };
        let shown = String::from_utf8_lossy(&bytes);
        let shown = shown.trim_end();
        let refuse = |e: NumberError| match e {
            NumberError::Format => Error::InvalidAlignmentFormat(
                format!("invalid device alignment format {shown}").into(),
            ),
            NumberError::Range => {
                Error::os(Errno::RANGE, format!("invalid device alignment {shown}"))
            }
        };
        let mut value = parse_sysfs_number(&bytes, 10).map_err(refuse)?;
        // Kernels before 4.9 printed the alignment in hexadecimal.
        if !value.is_power_of_two() {
            value = parse_sysfs_number(&bytes, 16).map_err(refuse)?;
        }
        return usize::try_from(value).map_err(|_| refuse(NumberError::Range));
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
        use NumberError::{Format, Range};
        let p = |s: &str, base| parse_sysfs_number(s.as_bytes(), base);
        assert_eq!(p("42\n", 10), Ok(42));
        assert_eq!(p("42", 10), Err(Format));
        assert_eq!(
            p("42\nanything", 10),
            Ok(42),
            "only the next character counts"
        );
        assert_eq!(p("0x10\n", 0), Ok(16));
        assert_eq!(p("010\n", 0), Ok(8));
        assert_eq!(p("08\n", 0), Err(Format), "octal stops at 8");
        assert_eq!(p("0\n", 0), Ok(0));
        assert_eq!(p("ff\n", 16), Ok(255));
        assert_eq!(p("0xff\n", 16), Ok(255));
        assert_eq!(p("\n", 10), Err(Format));
        assert_eq!(p("99999999999999999999999\n", 10), Err(Range));
        assert_eq!(p(" \t+12\n", 10), Ok(12), "C white space and a sign");
        assert_eq!(
            p("-1\n", 10),
            Ok(u64::MAX),
            "a negative value wraps, as in C"
        );
        assert_eq!(p("+0x10\n", 0), Ok(16));
        // Found by fuzzing against C's strtoull:
        assert_eq!(p("0x+10\n", 0), Err(Format), "no sign after the prefix");
        assert_eq!(p("0+10\n", 0), Err(Format));
        assert_eq!(p("\u{a0}4096\n", 10), Err(Format), "only ASCII white space");
        assert_eq!(p("0x\n", 0), Err(Format), "0x without a hex digit");
        assert_eq!(p("12\u{0}\n", 10), Err(Format), "a NUL ends the C string");
    }
}
