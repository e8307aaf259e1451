//! Helpers shared by the pmem2 fuzz targets: a byte reader that turns the
//! fuzzer's input into choices, and the property every [`pmem2::Error`]
//! must satisfy.

use pmem2::Error;

/// Reads choices from the fuzzer's input; once the input is exhausted every
/// read returns zero (or an empty slice), so any input is a valid program.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether all input has been consumed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 when exhausted.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-padded when exhausted.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    /// The next little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// The next little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// Up to `n` next bytes (fewer when the input runs out).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// The property every pmem2 error must have: a non-empty message and a
/// negative code that is either a `PMEM2_E_*` value or `-errno` of
/// [`Error::Os`] (with a positive errno).
///
/// # Panics
/// When the property fails (that is the fuzzer's finding); `what` names the call.
pub fn check_error(what: &str, err: &Error) {
    let code = err.code();
    let msg = err.to_string();
    assert!(!msg.is_empty(), "{what}: empty error message ({err:?})");
    assert!(
        code < 0,
        "{what}: error code {code} is not negative ({err:?})"
    );
    if let Some(errno) = err.errno() {
        let raw = errno.raw_os_error();
        assert!(raw > 0, "{what}: errno {raw} is not positive ({err:?})");
        assert_eq!(code, -raw, "{what}: Os error code is not -errno ({err:?})");
        assert_eq!(err.code_name(), "errno", "{what}: {err:?}");
    } else {
        // PMDK's codes run from PMEM2_E_UNKNOWN (-100000) down to
        // PMEM2_E_IO_FAIL (-100037); -100002 is unused.
        assert!(
            (-100_037..=-100_000).contains(&code) && code != -100_002,
            "{what}: code {code} is no PMEM2_E_* value ({err:?})"
        );
        assert!(err.code_name().starts_with("PMEM2_E_"), "{what}: {err:?}");
    }
}

/// Checks a result with [`check_error`] when it is an error, and hands it back.
pub fn checked<T>(what: &str, result: pmem2::Result<T>) -> pmem2::Result<T> {
    if let Err(err) = &result {
        check_error(what, err);
    }
    result
}
