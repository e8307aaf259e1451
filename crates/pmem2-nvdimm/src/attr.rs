//! The one sysfs attribute reader of the crate.
//!
//! An attribute is opened and read whole (sysfs attributes are at most a
//! page); failures are [`Error::Io`] naming the step (`open` or `read`)
//! and the path.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// Reads an attribute's bytes; `Ok(None)` when it doesn't exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("open", path, &e)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, &e))?;
    Ok(Some(bytes))
}

/// Reads an attribute's bytes; a missing file is an error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    read_opt(path)?.ok_or_else(|| Error::Io {
        op: "open",
        path: path.to_owned(),
        errno: libc::ENOENT,
    })
}

/// An attribute's bytes as text, with every trailing newline removed (as
/// libndctl reads attributes).
pub(crate) fn text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    let mut s = String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_owned(),
    })?;
    while s.ends_with('\n') {
        s.pop();
    }
    Ok(s)
}

/// Reads an attribute as text without its trailing newlines.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    text(path, read(path)?)
}

/// Reads an optional attribute as text without its trailing newlines.
pub(crate) fn read_text_opt(path: &Path) -> Result<Option<String>> {
    read_opt(path)?.map(|b| text(path, b)).transpose()
}

/// Reads an attribute holding an unsigned number ([`crate::nd::parse_u64`]).
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let s = read_text(path)?;
    crate::nd::parse_u64(&s).ok_or_else(|| Error::malformed(path, "a number", &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_unreadable_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert_eq!(read_opt(&missing).unwrap(), None);
        let e = read(&missing).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert!(e.to_string().starts_with("open \""), "{e}");
        // a directory opens but can't be read
        let e = read(dir.path()).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EISDIR), "{e}");
        assert!(e.to_string().starts_with("read \""), "{e}");
        let f = dir.path().join("attr");
        std::fs::write(&f, "abc\n\n").unwrap();
        assert_eq!(read_text(&f).unwrap(), "abc");
        std::fs::write(&f, b"\xff\n").unwrap();
        assert!(matches!(read_text(&f), Err(Error::NotText { .. })));
        std::fs::write(&f, "0x20\n").unwrap();
        assert_eq!(read_u64(&f).unwrap(), 32);
        std::fs::write(&f, "x\n").unwrap();
        assert!(matches!(read_u64(&f), Err(Error::Malformed { .. })));
    }
}
