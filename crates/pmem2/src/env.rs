//! Environment variables PMDK's libpmem2 honours, read with its exact rules.
//!
//! The load-time knobs are parsed once per process ([`tunables`]);
//! `PMEM2_FORCE_GRANULARITY` is read on every map creation, as PMDK does.
//! Like PMDK's `secure_getenv`, nothing is read in a set-uid or set-gid
//! process.

use std::sync::OnceLock;

use crate::config::Granularity;

/// Load-time tunables (PMDK reads them in its library constructor).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one flag per environment variable
pub struct Tunables {
    /// `PMEM_NO_CLWB=1`: don't use CLWB.
    pub no_clwb: bool,
    /// `PMEM_NO_CLFLUSHOPT=1`: don't use CLFLUSHOPT.
    pub no_clflushopt: bool,
    /// `PMEM_NO_MOVNT=1`: no SIMD memory-op kernels (generic ones instead).
    pub no_movnt: bool,
    /// `PMEM_NO_GENERIC_MEMCPY=<non-zero>`: libc memmove/memset instead of the generic kernels.
    pub no_generic_memcpy: bool,
    /// `PMEM_MOVNT_THRESHOLD`: size from which copies use non-temporal stores (default 256).
    pub movnt_threshold: usize,
    /// `PMEM_AVX=0` disables the AVX kernels.
    pub avx: bool,
    /// `PMEM_AVX512F=0` disables the AVX-512F kernels.
    pub avx512f: bool,
    /// `PMEM_MOVDIR64B=<not 0>` opts in to MOVDIR64B.
    pub movdir64b: bool,
    /// `PMEM_WC_WORKAROUND=1|0`, `None` when unset (then: on for Intel CPUs).
    pub wc_workaround: Option<bool>,
}

/// PMDK's default `PMEM_MOVNT_THRESHOLD`.
pub const DEFAULT_MOVNT_THRESHOLD: usize = 256;

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            no_clwb: false,
            no_clflushopt: false,
            no_movnt: false,
            no_generic_memcpy: false,
            movnt_threshold: DEFAULT_MOVNT_THRESHOLD,
            avx: true,
            avx512f: true,
            movdir64b: false,
            wc_workaround: None,
        }
    }
}

impl Tunables {
    /// Parses the tunables from a variable lookup (the process environment,
    /// or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let exactly = |name: &str, value: &str| lookup(name).as_deref() == Some(value);
        let mut t = Tunables {
            no_clwb: exactly("PMEM_NO_CLWB", "1"),
            no_clflushopt: exactly("PMEM_NO_CLFLUSHOPT", "1"),
            no_movnt: exactly("PMEM_NO_MOVNT", "1"),
            no_generic_memcpy: lookup("PMEM_NO_GENERIC_MEMCPY").is_some_and(|v| atoll(&v) != 0),
            avx: !exactly("PMEM_AVX", "0"),
            avx512f: !exactly("PMEM_AVX512F", "0"),
            movdir64b: lookup("PMEM_MOVDIR64B").is_some_and(|v| v != "0"),
            wc_workaround: match lookup("PMEM_WC_WORKAROUND").as_deref() {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            },
            ..Tunables::default()
        };
        if let Some(v) = lookup("PMEM_MOVNT_THRESHOLD") {
            // PMDK ignores negative values and keeps the default.
            if let Ok(threshold) = usize::try_from(atoll(&v)) {
                t.movnt_threshold = threshold;
            }
        }
        t
    }
}

/// The process's tunables, read once.
pub fn tunables() -> &'static Tunables {
    static TUNABLES: OnceLock<Tunables> = OnceLock::new();
    TUNABLES.get_or_init(|| Tunables::from_lookup(secure_getenv))
}

/// `getenv` that returns nothing in set-uid/set-gid processes, as glibc's
/// `secure_getenv` does.
pub(crate) fn secure_getenv(name: &str) -> Option<String> {
    static SECURE: OnceLock<bool> = OnceLock::new();
    // Miri can't call getauxval; a process under Miri is never set-uid.
    #[cfg(miri)]
    let secure = *SECURE.get_or_init(|| false);
    // SAFETY: getauxval only reads the process's auxiliary vector.
    #[cfg(not(miri))]
    let secure = *SECURE.get_or_init(|| unsafe { libc::getauxval(libc::AT_SECURE) } != 0);
    if secure {
        return None;
    }
    std::env::var(name).ok()
}

/// C's `atoll`: optional whitespace and sign, then leading digits; 0 if none.
fn atoll(s: &str) -> i64 {
    let s = s.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// Parses `PMEM2_FORCE_GRANULARITY` as PMDK does: case-insensitive `BYTE`,
/// `CACHE_LINE`, `CACHELINE` or `PAGE`; anything else (including values too
/// long for PMDK's 11-byte buffer) is ignored.
#[must_use]
pub fn parse_forced_granularity(value: &str) -> Option<Granularity> {
    if value.len() > 10 {
        return None;
    }
    match value.to_ascii_uppercase().as_str() {
        "BYTE" => Some(Granularity::Byte),
        "CACHE_LINE" | "CACHELINE" => Some(Granularity::CacheLine),
        "PAGE" => Some(Granularity::Page),
        _ => None,
    }
}

/// The granularity forced through `PMEM2_FORCE_GRANULARITY`, read now.
pub(crate) fn forced_granularity() -> Option<Granularity> {
    secure_getenv("PMEM2_FORCE_GRANULARITY").and_then(|v| parse_forced_granularity(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Tunables {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Tunables::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[]), Tunables::default());
        assert_eq!(Tunables::default().movnt_threshold, 256);
    }

    #[test]
    fn exact_one_required_for_no_flags() {
        assert!(parse(&[("PMEM_NO_CLWB", "1")]).no_clwb);
        assert!(!parse(&[("PMEM_NO_CLWB", "yes")]).no_clwb);
        assert!(!parse(&[("PMEM_NO_CLWB", "2")]).no_clwb);
        assert!(parse(&[("PMEM_NO_CLFLUSHOPT", "1")]).no_clflushopt);
        assert!(parse(&[("PMEM_NO_MOVNT", "1")]).no_movnt);
    }

    #[test]
    fn threshold_parsing() {
        assert_eq!(
            parse(&[("PMEM_MOVNT_THRESHOLD", "1024")]).movnt_threshold,
            1024
        );
        assert_eq!(parse(&[("PMEM_MOVNT_THRESHOLD", "5")]).movnt_threshold, 5);
        assert_eq!(
            parse(&[("PMEM_MOVNT_THRESHOLD", "-15")]).movnt_threshold,
            256
        );
        assert_eq!(parse(&[("PMEM_MOVNT_THRESHOLD", "abc")]).movnt_threshold, 0);
        assert_eq!(
            parse(&[("PMEM_MOVNT_THRESHOLD", " 12kb")]).movnt_threshold,
            12
        );
    }

    #[test]
    fn simd_switches() {
        assert!(!parse(&[("PMEM_AVX", "0")]).avx);
        assert!(parse(&[("PMEM_AVX", "no")]).avx);
        assert!(!parse(&[("PMEM_AVX512F", "0")]).avx512f);
        assert!(parse(&[("PMEM_MOVDIR64B", "1")]).movdir64b);
        assert!(!parse(&[("PMEM_MOVDIR64B", "0")]).movdir64b);
        assert!(parse(&[("PMEM_NO_GENERIC_MEMCPY", "3")]).no_generic_memcpy);
        assert!(!parse(&[("PMEM_NO_GENERIC_MEMCPY", "0")]).no_generic_memcpy);
        assert_eq!(
            parse(&[("PMEM_WC_WORKAROUND", "1")]).wc_workaround,
            Some(true)
        );
        assert_eq!(parse(&[("PMEM_WC_WORKAROUND", "x")]).wc_workaround, None);
    }

    #[test]
    fn forced_granularity_values() {
        assert_eq!(parse_forced_granularity("page"), Some(Granularity::Page));
        assert_eq!(
            parse_forced_granularity("CaCHe_Line"),
            Some(Granularity::CacheLine)
        );
        assert_eq!(
            parse_forced_granularity("CACHELINE"),
            Some(Granularity::CacheLine)
        );
        assert_eq!(parse_forced_granularity("byte"), Some(Granularity::Byte));
        assert_eq!(parse_forced_granularity("0"), None);
        assert_eq!(parse_forced_granularity("cache_line_x"), None);
        assert_eq!(parse_forced_granularity(""), None);
    }
}
