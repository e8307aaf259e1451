//! The crate's one error type.
//!
//! Every failure is an [`Error`]: one variant per `PMEM2_E_*` code of PMDK's
//! `libpmem2/base.h`, plus [`Error::Os`] for an operating-system errno.
//! [`Error::code`] gives the value the C library returns (a `PMEM2_E_*`
//! constant, or a negated errno), and `Display` gives the message PMDK stores
//! for `pmem2_errormsg()`.

use std::borrow::Cow;
use std::fmt;

pub use rustix::io::Errno;

/// A message attached to an error: static where PMDK's text is fixed,
/// formatted where it carries a number.
type Message = Cow<'static, str>;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Generates the enum, the code table and the `Display` impl from one list,
/// so a variant, its C name and its value can never drift apart.
macro_rules! pmem2_errors {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $cname:ident; )*) => {
        /// An error from a pmem2 operation.
        ///
        /// Each variant but [`Error::Os`] corresponds to one `PMEM2_E_*` code
        /// and carries the human-readable message.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$doc])* #[doc = concat!("\n\nC code: `", stringify!($cname), "` (", stringify!($code), ").")] $variant(Cow<'static, str>), )*
            /// An operating-system error, returned to C as the negated errno.
            Os {
                /// The errno the system call failed with.
                errno: Errno,
                /// What failed, e.g. `"fstat"`; the message is `"<context>: <strerror>"`.
                context: Cow<'static, str>,
            },
        }

        /// The `PMEM2_E_*` constants, with the values of PMDK's `libpmem2/base.h`
        /// (for the crate's tests; the C ABI crate has its own, checked
        /// against these values).
        #[cfg(test)]
        #[allow(dead_code)] // each test uses the few it checks
        pub(crate) mod codes {
            $( #[doc = concat!("`", stringify!($cname), "`")] pub const $cname: i32 = $code; )*
        }

        impl Error {
            /// The value PMDK's C API returns for this error: a `PMEM2_E_*`
            /// code, or `-errno` for [`Error::Os`].
            #[must_use]
            pub fn code(&self) -> i32 {
                match self {
                    $( Error::$variant(_) => $code, )*
                    Error::Os { errno, .. } => -errno.raw_os_error(),
                }
            }

            /// The C name of the code, e.g. `"PMEM2_E_MAP_RANGE"`, or
            /// `"errno"` for [`Error::Os`].
            #[must_use]
            pub fn code_name(&self) -> &'static str {
                match self {
                    $( Error::$variant(_) => stringify!($cname), )*
                    Error::Os { .. } => "errno",
                }
            }
        }

        /// `{}`: the message for Rust users, which names the Rust method and
        /// the fix where PMDK's text names a C function or leaves the fix
        /// unsaid. `{:#}`: PMDK's exact text (what the C library's
        /// `pmem2_errormsg()` returns, and what PMDK's test suites match).
        impl fmt::Display for Error {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Error::$variant(msg) => match rust_text(msg) {
                        Some(rust) if !f.alternate() => rust.write(f, msg),
                        _ => f.write_str(msg),
                    }, )*
                    Error::Os { errno, context } => {
                        write!(f, "{context}: {}", strerror(*errno))
                    }
                }
            }
        }
    };
}

pmem2_errors! {
    /// An unexpected failure, e.g. malformed data from the platform.
    Unknown = -100_000, PMEM2_E_UNKNOWN;
    /// The operation is not supported for this source or platform.
    NotSupported = -100_001, PMEM2_E_NOSUPP;
    /// No file handle was set (kept for code compatibility).
    FileHandleNotSet = -100_003, PMEM2_E_FILE_HANDLE_NOT_SET;
    /// The file descriptor is invalid, closed or write-only.
    InvalidFileHandle = -100_004, PMEM2_E_INVALID_FILE_HANDLE;
    /// The file type can't be mapped (directory, block device, pipe, ...).
    InvalidFileType = -100_005, PMEM2_E_INVALID_FILE_TYPE;
    /// Offset and length don't fit in the source.
    MapRange = -100_006, PMEM2_E_MAP_RANGE;
    /// The requested range is already occupied by a mapping.
    MappingExists = -100_007, PMEM2_E_MAPPING_EXISTS;
    /// No required store granularity was set in the config.
    GranularityNotSet = -100_008, PMEM2_E_GRANULARITY_NOT_SET;
    /// The granularity is invalid, or the platform can't provide it.
    GranularityNotSupported = -100_009, PMEM2_E_GRANULARITY_NOT_SUPPORTED;
    /// The offset is out of range.
    OffsetOutOfRange = -100_010, PMEM2_E_OFFSET_OUT_OF_RANGE;
    /// The offset is not a multiple of the required alignment.
    OffsetUnaligned = -100_011, PMEM2_E_OFFSET_UNALIGNED;
    /// The alignment reported by the platform can't be parsed.
    InvalidAlignmentFormat = -100_012, PMEM2_E_INVALID_ALIGNMENT_FORMAT;
    /// The alignment reported by the platform is not a power of two.
    InvalidAlignmentValue = -100_013, PMEM2_E_INVALID_ALIGNMENT_VALUE;
    /// The size reported by the platform can't be parsed.
    InvalidSizeFormat = -100_014, PMEM2_E_INVALID_SIZE_FORMAT;
    /// The length is not a multiple of the required alignment.
    LengthUnaligned = -100_015, PMEM2_E_LENGTH_UNALIGNED;
    /// No mapping was found.
    MappingNotFound = -100_016, PMEM2_E_MAPPING_NOT_FOUND;
    /// The caller's buffer is too small.
    BufferTooSmall = -100_017, PMEM2_E_BUFFER_TOO_SMALL;
    /// The source is empty (size 0).
    SourceEmpty = -100_018, PMEM2_E_SOURCE_EMPTY;
    /// The sharing value is invalid.
    InvalidSharingValue = -100_019, PMEM2_E_INVALID_SHARING_VALUE;
    /// A device DAX can't be mapped privately.
    SrcDevdaxPrivate = -100_020, PMEM2_E_SRC_DEVDAX_PRIVATE;
    /// Invalid address request type (kept for code compatibility).
    InvalidAddressRequestType = -100_021, PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE;
    /// The address is not aligned as required.
    AddressUnaligned = -100_022, PMEM2_E_ADDRESS_UNALIGNED;
    /// A NULL address was given (kept for code compatibility).
    AddressNull = -100_023, PMEM2_E_ADDRESS_NULL;
    /// The deep-flush range is outside the mapping.
    DeepFlushRange = -100_024, PMEM2_E_DEEP_FLUSH_RANGE;
    /// A region description can't be parsed (kept for code compatibility).
    InvalidRegionFormat = -100_025, PMEM2_E_INVALID_REGION_FORMAT;
    /// No NVDIMM region backs the source.
    DaxRegionNotFound = -100_026, PMEM2_E_DAX_REGION_NOT_FOUND;
    /// A device number in sysfs can't be parsed.
    InvalidDevFormat = -100_027, PMEM2_E_INVALID_DEV_FORMAT;
    /// The bounds of a namespace can't be read.
    CannotReadBounds = -100_028, PMEM2_E_CANNOT_READ_BOUNDS;
    /// No (more) bad blocks were found.
    NoBadBlockFound = -100_029, PMEM2_E_NO_BAD_BLOCK_FOUND;
    /// The length is out of range.
    LengthOutOfRange = -100_030, PMEM2_E_LENGTH_OUT_OF_RANGE;
    /// The protection flags are invalid.
    InvalidProtFlag = -100_031, PMEM2_E_INVALID_PROT_FLAG;
    /// The file can't be mapped with the requested protection.
    NoAccess = -100_032, PMEM2_E_NO_ACCESS;
    /// The reservation still holds mappings.
    VmReservationNotEmpty = -100_033, PMEM2_E_VM_RESERVATION_NOT_EMPTY;
    /// The range overlaps an already registered mapping.
    MapExists = -100_034, PMEM2_E_MAP_EXISTS;
    /// The source has no file descriptor (anonymous).
    FileDescriptorNotSet = -100_035, PMEM2_E_FILE_DESCRIPTOR_NOT_SET;
    /// The operation is not supported for this source type.
    SourceTypeNotSupported = -100_036, PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED;
    /// An I/O error or a machine check hit the operation.
    IoFail = -100_037, PMEM2_E_IO_FAIL;
}

impl Error {
    /// An OS error with the operation that failed, shown as `"<context>: <strerror>"`.
    #[must_use]
    pub(crate) fn os(errno: Errno, context: impl Into<Message>) -> Self {
        Error::Os {
            errno,
            context: context.into(),
        }
    }

    /// The errno of an [`Error::Os`], if this is one.
    #[must_use]
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The errno equivalent of this error, as PMDK's `pmem2_err_to_errno`
    /// computes it: `ENOTSUP` for [`Error::NotSupported`], `EINVAL` for any
    /// other library code, the errno itself for [`Error::Os`].
    #[must_use]
    pub(crate) fn to_errno(&self) -> Errno {
        match self {
            Error::NotSupported(_) => Errno::NOTSUP,
            Error::Os { errno, .. } => *errno,
            _ => Errno::INVAL,
        }
    }
}

/// How the Rust message of a PMDK text reads.
#[derive(Debug, Clone, Copy)]
enum RustText {
    /// PMDK's text names a C function: the whole message is replaced.
    Replace(&'static str),
    /// PMDK's text is right but says no fix: the fix is appended.
    Hint(&'static str),
}

impl RustText {
    fn write(self, f: &mut fmt::Formatter<'_>, pmdk: &str) -> fmt::Result {
        match self {
            RustText::Replace(text) => f.write_str(text),
            RustText::Hint(hint) => write!(f, "{pmdk}; {hint}"),
        }
    }
}

/// The Rust messages, keyed by the start of PMDK's text (the variants keep
/// PMDK's text, so the C ABI and `{:#}` still give it byte for byte).
const RUST_TEXTS: &[(&str, RustText)] = &[
    (
        "please define the max granularity requested for the mapping",
        RustText::Replace(
            "the Config has no required store granularity: make it with \
             Config::with_granularity(granularity), or call \
             Config::set_required_store_granularity, before Map::new",
        ),
    ),
    (
        "mmap: Permission denied",
        RustText::Hint(
            "the file descriptor does not allow the Config's protection: for a file \
             opened read-only (File::open) call Config::set_protection(Protection::READ), \
             or open it with OpenOptions::new().read(true).write(true)",
        ),
    ),
    (
        "cannot set fd to directory in pmem2_source_from_fd",
        RustText::Replace(
            "cannot map a directory: Source::open, Source::from_file and Source::from_fd \
             take a regular file or a device DAX",
        ),
    ),
    (
        "length is not a multiple of",
        RustText::Hint(
            "round it with Source::aligned_range(offset, len) before Config::set_length",
        ),
    ),
    (
        "offset is not a multiple of",
        RustText::Hint(
            "round it with Source::aligned_range(offset, len) before Config::set_offset",
        ),
    ),
    (
        "reservation size",
        RustText::Hint("round it up with size.next_multiple_of(pmem2::page_size())"),
    ),
    (
        "reservation offset",
        RustText::Hint(
            "offsets in a reservation are alignment multiples: size the maps before it \
             with Source::aligned_range(0, source.size()?)",
        ),
    ),
    (
        "file length is equal 0",
        RustText::Hint("the source is empty: give the file a size first (File::set_len)"),
    ),
];

/// The Rust message of a PMDK text, if it has one.
fn rust_text(pmdk: &str) -> Option<RustText> {
    RUST_TEXTS
        .iter()
        .find(|(start, _)| pmdk.starts_with(start))
        .map(|&(_, text)| text)
}

/// `?` on a `std::io::Error` in a function returning [`Result`]: the error
/// becomes [`Error::Os`] with its errno (context `"I/O"`), or, for an
/// error that carries none (e.g. `ErrorKind::UnexpectedEof` from
/// `read_exact`), [`Error::Os`] with `EIO` and the error's text as context.
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        if let Some(raw) = err.raw_os_error() {
            return Error::os(Errno::from_raw_os_error(raw), "I/O");
        }
        let text = err.to_string();
        match err
            .into_inner()
            .map(<dyn std::error::Error + Send + Sync>::downcast::<Error>)
        {
            // An Error that went through io::Error comes back as it was.
            Some(Ok(ours)) => *ours,
            _ => Error::os(Errno::IO, text),
        }
    }
}

/// A refused `delete`: the object is still valid and is handed back.
///
/// Returned by [`Map::delete`](crate::Map::delete) and
/// [`VmReservation::delete`](crate::VmReservation::delete).
#[derive(Debug)]
pub struct DeleteError<T> {
    /// The object, unchanged and still usable.
    pub handle: T,
    /// Why it could not be deleted.
    pub error: Error,
}

impl<T> std::fmt::Display for DeleteError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: std::fmt::Debug> std::error::Error for DeleteError<T> {}

/// `map.delete()?` in a function returning [`Result`]: the handle is dropped
/// (which retries the release, ignoring errors) and the error kept.
impl<T> From<DeleteError<T>> for Error {
    fn from(refused: DeleteError<T>) -> Self {
        refused.error
    }
}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        let kind_errno = err.to_errno();
        std::io::Error::new(
            std::io::Error::from_raw_os_error(kind_errno.raw_os_error()).kind(),
            err,
        )
    }
}

impl std::error::Error for Error {}

/// The C library's text for an errno, as `strerror(3)` prints it (without
/// std's " (os error N)" suffix), so messages match PMDK's byte for byte.
#[must_use]
pub(crate) fn strerror(errno: Errno) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a writable buffer of the length passed; the XSI
    // `strerror_r` (libc's `strerror_r` on glibc with the `__xpg_` name)
    // writes a NUL-terminated string into it and touches nothing else.
    let rc = unsafe {
        libc::strerror_r(
            errno.raw_os_error(),
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
        )
    };
    if rc != 0 {
        return format!("Unknown error {}", errno.raw_os_error());
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = String::from_utf8_lossy(&buf[..len]);
    // Miri's emulated strerror_r formats like std; keep C's text either way.
    let suffix = format!(" (os error {})", errno.raw_os_error());
    text.strip_suffix(suffix.as_str())
        .unwrap_or(&text)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "opens a file, which Miri's isolation refuses")]
    fn question_mark_on_io_errors() {
        fn open_missing() -> Result<std::fs::File> {
            Ok(std::fs::File::open("/nonexistent/pmem2-test")?)
        }
        let err = open_missing().unwrap_err();
        assert_eq!(err.errno(), Some(Errno::NOENT));
        assert_eq!(err.code(), -libc::ENOENT);
        // An Error that went through io::Error comes back unchanged.
        let io: std::io::Error = Error::MapRange("x".into()).into();
        assert_eq!(Error::from(io), Error::MapRange("x".into()));
        let eof = Error::from(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert_eq!(eof.errno(), Some(Errno::IO));
        assert!(
            eof.to_string().starts_with("unexpected end of file"),
            "{eof}"
        );
    }

    #[test]
    fn rust_messages_and_pmdk_texts() {
        let err = Error::GranularityNotSet(
            "please define the max granularity requested for the mapping".into(),
        );
        assert!(err.to_string().contains("Config::with_granularity"));
        assert_eq!(
            format!("{err:#}"),
            "please define the max granularity requested for the mapping"
        );
        let err = Error::NoAccess("mmap: Permission denied".into());
        assert!(err
            .to_string()
            .starts_with("mmap: Permission denied; the file descriptor"));
        assert!(err.to_string().contains("Protection::READ"));
        assert_eq!(format!("{err:#}"), "mmap: Permission denied");
        let err =
            Error::InvalidFileType("cannot set fd to directory in pmem2_source_from_fd".into());
        assert!(!err.to_string().contains("pmem2_source_from_fd"));
        assert!(err.to_string().contains("Source::from_file"));
        // Texts without a Rust rewrite are the same in both forms.
        let err = Error::MapRange("mapping larger than file size".into());
        assert_eq!(err.to_string(), format!("{err:#}"));
    }

    #[test]
    fn codes_match_pmdk_header() {
        assert_eq!(Error::Unknown("".into()).code(), -100_000);
        assert_eq!(Error::NotSupported("".into()).code(), -100_001);
        assert_eq!(Error::FileHandleNotSet("".into()).code(), -100_003);
        assert_eq!(Error::MapRange("".into()).code(), -100_006);
        assert_eq!(Error::IoFail("".into()).code(), -100_037);
        assert_eq!(codes::PMEM2_E_MAP_EXISTS, -100_034);
        assert_eq!(
            Error::GranularityNotSupported("".into()).code_name(),
            "PMEM2_E_GRANULARITY_NOT_SUPPORTED"
        );
    }

    #[test]
    fn os_error_code_and_message() {
        let err = Error::os(Errno::BADF, "fstat");
        assert_eq!(err.code(), -9);
        assert_eq!(err.to_string(), "fstat: Bad file descriptor");
        assert_eq!(err.errno(), Some(Errno::BADF));
    }

    #[test]
    fn err_to_errno_follows_pmdk() {
        assert_eq!(Error::NotSupported("".into()).to_errno(), Errno::NOTSUP);
        assert_eq!(Error::Unknown("".into()).to_errno(), Errno::INVAL);
        assert_eq!(Error::os(Errno::NOTSUP, "x").to_errno(), Errno::NOTSUP);
    }
}
