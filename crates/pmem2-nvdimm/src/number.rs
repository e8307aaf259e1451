//! Numbers in sysfs attributes.
//!
//! Two readings, as the two users of sysfs do:
//!
//! * [`strtoull_newline`]: PMDK's reading of a device DAX's `size` and
//!   `align`: C's `strtoull` over the first 64 bytes (a C string: a NUL
//!   ends it), then a check that a newline follows the number right away.
//!   So, as in C: leading ASCII white space and one sign are skipped, a
//!   negative value wraps, base 0 takes `0x` (when a hex digit follows) as
//!   hexadecimal and a leading `0` as octal, base 16 accepts an optional
//!   `0x`, and anything after the newline is ignored.
//! * [`parse_u64`] / [`parse_i64`]: libndctl's reading of the NVDIMM bus
//!   attributes: decimal or `0x` hexadecimal, surrounding white space
//!   ignored, no sign (but `-` for signed values), no overflow.

use std::ffi::{c_char, c_int};

/// Why [`strtoull_newline`] refused a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// No digits, or something other than a newline right after them.
    Format,
    /// Too large for 64 bits (C's `ERANGE`).
    Range,
}

/// How many bytes of an attribute PMDK reads.
const MAX_NUMBER_LENGTH: usize = 64;

/// Parses a number as PMDK does: `strtoull(buf, &end, base)` over the first
/// 64 bytes, then a check that `*end` is a newline (see the module docs).
#[allow(unsafe_code)] // the crate's one call into C; see the SAFETY comments
pub(crate) fn strtoull_newline(bytes: &[u8], base: c_int) -> Result<u64, NumberError> {
    let bytes = &bytes[..bytes.len().min(MAX_NUMBER_LENGTH)];
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    // A C string: the bytes up to the first NUL, then a NUL.
    let mut buf = [0u8; MAX_NUMBER_LENGTH + 1];
    buf[..len].copy_from_slice(&bytes[..len]);
    let start = buf.as_ptr().cast::<c_char>();
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: `__errno_location` returns this thread's errno, valid for
    // writes for the thread's lifetime.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: `start` is a NUL-terminated string (`buf[len]` is 0) that
    // lives until the end of this function; `end` is a valid place for the
    // end pointer; strtoull only reads the string.
    let value = unsafe { libc::strtoull(start, &raw mut end, base) };
    // SAFETY: as above; read right after the call, before anything else
    // can change errno.
    let errno = unsafe { *libc::__errno_location() };
    // `end` points into `buf` (at `start` when nothing was converted):
    // compare addresses, no dereference.
    let index = (end as usize).wrapping_sub(start as usize);
    if index == 0 || buf.get(index) != Some(&b'\n') {
        return Err(NumberError::Format);
    }
    if errno == libc::ERANGE {
        return Err(NumberError::Range);
    }
    Ok(value)
}

/// Parses an unsigned number as sysfs prints them: decimal, or hexadecimal
/// with a `0x` prefix. Surrounding white space is ignored.
#[must_use]
pub fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    }
}

/// Parses a signed decimal number (e.g. a `numa_node` of `-1`).
#[must_use]
pub fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_with_newline() {
        use NumberError::{Format, Range};
        let p = |s: &str, base| strtoull_newline(s.as_bytes(), base);
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
        assert_eq!(p("", 10), Err(Format));
        assert_eq!(p("99999999999999999999999\n", 10), Err(Range));
        assert_eq!(p("99999999999999999999999", 10), Err(Format));
        assert_eq!(p(&format!("{}\n", u64::MAX), 10), Ok(u64::MAX));
        assert_eq!(p(" \t+12\n", 10), Ok(12), "C white space and a sign");
        assert_eq!(
            p("-1\n", 10),
            Ok(u64::MAX),
            "a negative value wraps, as in C"
        );
        assert_eq!(p("+0x10\n", 0), Ok(16));
        // The fuzz regressions (fuzz/regressions/sysfs_parsers):
        assert_eq!(p("0x+10\n", 0), Err(Format), "no sign after the prefix");
        assert_eq!(p("0+10\n", 0), Err(Format));
        assert_eq!(p("\u{a0}4096\n", 10), Err(Format), "only ASCII white space");
        assert_eq!(p("0x\n", 0), Err(Format), "0x without a hex digit");
        assert_eq!(p("12\u{0}\n", 10), Err(Format), "a NUL ends the C string");
        // Only 64 bytes are read: the newline must be among them.
        let long = format!("{}1\n", "0".repeat(62));
        assert_eq!(p(&long, 10), Ok(1));
        let too_long = format!("{}1\n", "0".repeat(63));
        assert_eq!(p(&too_long, 10), Err(Format));
    }

    #[test]
    fn parses_ndctl_numbers() {
        assert_eq!(parse_u64("0x10\n"), Some(16));
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64(""), None);
        assert_eq!(parse_u64("0x"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("99999999999999999999999"), None);
        assert_eq!(parse_i64("-1\n"), Some(-1));
        assert_eq!(parse_i64("-"), None);
        assert_eq!(parse_i64("1x"), None);
    }

    proptest::proptest! {
        /// Numbers round-trip in both sysfs spellings, and through C.
        #[test]
        fn numbers_round_trip(n in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(parse_u64(&format!("{n}\n")), Some(n));
            proptest::prop_assert_eq!(parse_u64(&format!("{n:#x}")), Some(n));
            proptest::prop_assert_eq!(strtoull_newline(format!("{n}\n").as_bytes(), 10), Ok(n));
            proptest::prop_assert_eq!(strtoull_newline(format!("{n:#x}\n").as_bytes(), 0), Ok(n));
        }

        /// Any bytes give a value or an error, never a panic.
        #[test]
        fn strtoull_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = strtoull_newline(&bytes, 0);
            let _ = strtoull_newline(&bytes, 16);
        }
    }
}
