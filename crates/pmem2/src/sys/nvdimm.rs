//! The errors of the NVDIMM sysfs model (`pmem2_nvdimm`) as pmem2's, with
//! PMDK's codes:
//!
//! | `pmem2_nvdimm::Error` | pmem2 [`Error`] |
//! |---|---|
//! | `Io` (a failed call on a sysfs path), `Range` (`ERANGE`) | [`Error::Os`] with its errno and context |
//! | `NotText`, `Malformed` | [`Error::Unknown`] |
//! | `InvalidDev` | [`Error::InvalidDevFormat`] |
//! | `Format` of a size | [`Error::InvalidSizeFormat`] |
//! | `Format` of an alignment, `NoAlignment` | [`Error::InvalidAlignmentFormat`] |
//! | `CannotReadBounds`, `NamespaceBeforeRegion` | [`Error::CannotReadBounds`] |
//!
//! The message is the one `pmem2_nvdimm` gives, which is PMDK's.

use pmem2_nvdimm::{DaxAttr, Error as NdError};

use crate::error::{Errno, Error};

impl From<NdError> for Error {
    fn from(e: NdError) -> Self {
        if let Some(errno) = e.errno() {
            return Error::os(Errno::from_raw_os_error(errno), e.context());
        }
        let message = e.to_string().into();
        match e {
            NdError::InvalidDev { .. } => Error::InvalidDevFormat(message),
            NdError::Format {
                attr: DaxAttr::Size,
                ..
            } => Error::InvalidSizeFormat(message),
            NdError::Format {
                attr: DaxAttr::Alignment,
                ..
            }
            | NdError::NoAlignment { .. } => Error::InvalidAlignmentFormat(message),
            NdError::CannotReadBounds { .. } | NdError::NamespaceBeforeRegion { .. } => {
                Error::CannotReadBounds(message)
            }
            // `NotText`, `Malformed`, and whatever a later version adds.
            _ => Error::Unknown(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use std::path::PathBuf;

    fn path() -> PathBuf {
        PathBuf::from("/sys/dev/char/252:3/size")
    }

    #[test]
    fn every_kind_gets_pmdks_code_and_message() {
        let io = NdError::Io {
            op: "open",
            path: path(),
            errno: libc::EACCES,
        };
        let e = Error::from(io.clone());
        assert_eq!(e.errno(), Some(Errno::ACCESS));
        assert_eq!(e.to_string(), io.to_string());
        assert_eq!(
            e.to_string(),
            "open \"/sys/dev/char/252:3/size\": Permission denied"
        );
        let range = NdError::Range {
            attr: DaxAttr::Size,
            content: "99999999999999999999999".into(),
        };
        let e = Error::from(range);
        assert_eq!(e.errno(), Some(Errno::RANGE));
        assert_eq!(
            e.to_string(),
            "invalid device size '99999999999999999999999': Numerical result out of range"
        );
        let cases = [
            (
                NdError::Format {
                    attr: DaxAttr::Size,
                    content: "x".into(),
                },
                PMEM2_E_INVALID_SIZE_FORMAT,
                "invalid device size format 'x'",
            ),
            (
                NdError::Format {
                    attr: DaxAttr::Alignment,
                    content: "x".into(),
                },
                PMEM2_E_INVALID_ALIGNMENT_FORMAT,
                "invalid device alignment format x",
            ),
            (
                NdError::NoAlignment {
                    major: 252,
                    minor: 3,
                    sysfs: "/sys".into(),
                },
                PMEM2_E_INVALID_ALIGNMENT_FORMAT,
                "cannot find the alignment of device dax 252:3 in /sys",
            ),
            (
                NdError::InvalidDev {
                    path: path(),
                    problem: pmem2_nvdimm::DevProblem::Empty,
                },
                PMEM2_E_INVALID_DEV_FORMAT,
                "/sys/dev/char/252:3/size is empty",
            ),
            (
                NdError::Malformed {
                    path: path(),
                    what: "a number",
                    content: "lots".into(),
                },
                PMEM2_E_UNKNOWN,
                "/sys/dev/char/252:3/size: cannot parse a number from \"lots\"",
            ),
            (
                NdError::NotText { path: path() },
                PMEM2_E_UNKNOWN,
                "/sys/dev/char/252:3/size is not valid text",
            ),
            (
                NdError::NamespaceBeforeRegion {
                    holder: "dax",
                    offset: 0x1000,
                    region_start: 0x2000,
                },
                PMEM2_E_CANNOT_READ_BOUNDS,
                "(dax) namespace offset 0x1000 lies before its region's start 0x2000",
            ),
            (
                NdError::CannotReadBounds {
                    holder: "dax",
                    what: "offset",
                    cause: Box::new(NdError::Io {
                        op: "open",
                        path: "/r".into(),
                        errno: libc::ENOENT,
                    }),
                },
                PMEM2_E_CANNOT_READ_BOUNDS,
                "(dax) cannot read offset of the namespace: open \"/r\": No such file or directory",
            ),
        ];
        for (nd, code, message) in cases {
            let e = Error::from(nd);
            assert_eq!((e.code(), e.to_string().as_str()), (code, message));
        }
    }
}
