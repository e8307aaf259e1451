//! The crate's error type.
//!
//! Each kind keeps what a user (pmem2) needs to report it with its own
//! codes: the errno of a failed system call, which attribute was
//! malformed, which device DAX number was refused and why. `Display` gives
//! the message PMDK gives for the same failure; for the kinds carrying an
//! errno it is [`Error::context`], `": "` and the C library's text for the
//! errno.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A device DAX attribute parsed as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaxAttr {
    /// The device's `size`.
    Size,
    /// The device's `align`, or its region's `dax_region/align`.
    Alignment,
}

/// What is wrong with a `dev` file (`"maj:min\n"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DevProblem {
    /// The file is empty.
    Empty,
    /// The content doesn't end with a newline.
    NoNewline,
}

/// A failure to read the NVDIMM model from sysfs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A system call on a sysfs path failed.
    Io {
        /// The operation: `"open"`, `"read"`, `"opendir"`, `"readdir"`, `"realpath"`.
        op: &'static str,
        /// The path it was applied to.
        path: PathBuf,
        /// The errno it failed with (`EIO` when the OS gave none).
        errno: i32,
    },
    /// An attribute isn't UTF-8 text.
    NotText {
        /// The attribute.
        path: PathBuf,
    },
    /// An attribute's content can't be parsed.
    Malformed {
        /// The attribute.
        path: PathBuf,
        /// What was expected, e.g. `"a number"`.
        what: &'static str,
        /// The content (or the offending line), without trailing white space.
        content: String,
    },
    /// A `dev` file is empty or lacks its newline.
    InvalidDev {
        /// The `dev` file.
        path: PathBuf,
        /// What is wrong with it.
        problem: DevProblem,
    },
    /// A device DAX's size or alignment is not a number followed by a newline.
    Format {
        /// Which attribute.
        attr: DaxAttr,
        /// Its content, without trailing white space.
        content: String,
    },
    /// A device DAX's size or alignment doesn't fit in 64 bits (C's `ERANGE`).
    Range {
        /// Which attribute.
        attr: DaxAttr,
        /// Its content, without trailing white space.
        content: String,
    },
    /// No alignment attribute exists for a device DAX.
    NoAlignment {
        /// The device's major number.
        major: u32,
        /// The device's minor number.
        minor: u32,
        /// The sysfs root searched.
        sysfs: PathBuf,
    },
    /// A namespace's `resource` or `size` can't be read.
    CannotReadBounds {
        /// The device the bounds come from: `"pfn"`, `"dax"` or `"raw/btt"`.
        holder: &'static str,
        /// `"offset"` (the `resource` attribute) or `"size"`.
        what: &'static str,
        /// Why.
        cause: Box<Error>,
    },
    /// A namespace starts before its region.
    NamespaceBeforeRegion {
        /// The device the bounds come from: `"pfn"`, `"dax"` or `"raw/btt"`.
        holder: &'static str,
        /// The namespace's physical start.
        offset: u64,
        /// The region's physical start.
        region_start: u64,
    },
}

impl Error {
    /// An [`Error::Io`] from a failed `std` call.
    pub(crate) fn io(op: &'static str, path: &Path, err: &io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_owned(),
            errno: err.raw_os_error().unwrap_or(libc::EIO),
        }
    }

    /// An [`Error::Malformed`].
    pub(crate) fn malformed(path: &Path, what: &'static str, content: &str) -> Self {
        Error::Malformed {
            path: path.to_owned(),
            what,
            content: content.trim_end().to_owned(),
        }
    }

    /// The errno of the kinds that stand for one: [`Error::Io`], and
    /// `ERANGE` for [`Error::Range`].
    #[must_use]
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { errno, .. } => Some(*errno),
            Error::Range { .. } => Some(libc::ERANGE),
            _ => None,
        }
    }

    /// The message without the errno's text: what failed, e.g.
    /// `open "/sys/dev/char/252:3/size"`. For kinds without an errno, the
    /// whole message.
    #[must_use]
    pub fn context(&self) -> String {
        match self {
            Error::Io { op, path, .. } => format!("{op} \"{}\"", path.display()),
            Error::Range {
                attr: DaxAttr::Size,
                content,
            } => format!("invalid device size '{content}'"),
            Error::Range {
                attr: DaxAttr::Alignment,
                content,
            } => format!("invalid device alignment {content}"),
            other => other.to_string(),
        }
    }
}

/// The C library's text for an errno (`strerror`): std's text without its
/// `" (os error N)"` suffix.
fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    text.strip_suffix(suffix.as_str())
        .unwrap_or(&text)
        .to_owned()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(errno) = self.errno() {
            return write!(f, "{}: {}", self.context(), strerror(errno));
        }
        match self {
            Error::NotText { path } => write!(f, "{} is not valid text", path.display()),
            Error::Malformed {
                path,
                what,
                content,
            } => write!(
                f,
                "{}: cannot parse {what} from {content:?}",
                path.display()
            ),
            Error::InvalidDev {
                path,
                problem: DevProblem::Empty,
            } => write!(f, "{} is empty", path.display()),
            Error::InvalidDev {
                path,
                problem: DevProblem::NoNewline,
            } => write!(f, "{} doesn't end with new line", path.display()),
            Error::Format {
                attr: DaxAttr::Size,
                content,
            } => write!(f, "invalid device size format '{content}'"),
            Error::Format {
                attr: DaxAttr::Alignment,
                content,
            } => write!(f, "invalid device alignment format {content}"),
            Error::NoAlignment {
                major,
                minor,
                sysfs,
            } => write!(
                f,
                "cannot find the alignment of device dax {major}:{minor} in {}",
                sysfs.display()
            ),
            Error::CannotReadBounds {
                holder,
                what,
                cause,
            } => write!(
                f,
                "({holder}) cannot read {what} of the namespace: {cause}"
            ),
            Error::NamespaceBeforeRegion {
                holder,
                offset,
                region_start,
            } => write!(
                f,
                "({holder}) namespace offset {offset:#x} lies before its region's start {region_start:#x}"
            ),
            // The errno kinds are written above.
            Error::Io { .. } | Error::Range { .. } => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::CannotReadBounds { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_kinds_show_the_c_text() {
        let e = Error::Io {
            op: "open",
            path: "/sys/x".into(),
            errno: libc::ENOENT,
        };
        assert_eq!(e.to_string(), "open \"/sys/x\": No such file or directory");
        assert_eq!(e.context(), "open \"/sys/x\"");
        let e = Error::Range {
            attr: DaxAttr::Size,
            content: "9".repeat(30),
        };
        assert_eq!(e.errno(), Some(libc::ERANGE));
        assert_eq!(
            e.to_string(),
            format!(
                "invalid device size '{}': Numerical result out of range",
                "9".repeat(30)
            )
        );
    }

    #[test]
    fn bounds_messages_nest_their_cause() {
        let e = Error::CannotReadBounds {
            holder: "pfn",
            what: "size",
            cause: Box::new(Error::malformed(Path::new("/s/size"), "a number", "huge\n")),
        };
        assert_eq!(
            e.to_string(),
            "(pfn) cannot read size of the namespace: /s/size: cannot parse a number from \"huge\""
        );
        assert!(std::error::Error::source(&e).is_some());
    }
}
