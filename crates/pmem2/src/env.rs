//! Environment variables PMDK's libpmem2 honours, read with its exact rules.
//!
//! The load-time knobs are parsed once per process ([`tunables`]);
//! `PMEM2_FORCE_GRANULARITY` is read on every map creation, as PMDK does.
//! Like PMDK's `secure_getenv`, nothing is read in a set-uid or set-gid
//! process.

use std::sync::OnceLock;

use crate::debug_log::{plog, DETAIL};

pub(crate) use crate::sys::process::secure_getenv;

/// Load-time tunables (PMDK reads them in its library constructor).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one flag per environment variable
pub(crate) struct Tunables {
    /// `PMEM_NO_CLWB=1`: don't use CLWB.
    pub(crate) no_clwb: bool,
    /// `PMEM_NO_CLFLUSHOPT=1`: don't use CLFLUSHOPT.
    pub(crate) no_clflushopt: bool,
    /// `PMEM_NO_MOVNT=1`: no SIMD memory-op kernels (generic ones instead).
    pub(crate) no_movnt: bool,
    /// `PMEM_NO_GENERIC_MEMCPY=<non-zero>`: libc memmove/memset instead of the generic kernels.
    pub(crate) no_generic_memcpy: bool,
    /// `PMEM_MOVNT_THRESHOLD`: size from which copies use non-temporal stores (default 256).
    pub(crate) movnt_threshold: usize,
    /// `PMEM_AVX=0` disables the AVX kernels.
    pub(crate) avx: bool,
    /// `PMEM_AVX512F=0` disables the AVX-512F kernels.
    pub(crate) avx512f: bool,
    /// `PMEM_AVX512F` set to anything but `0`: AVX-512F throughout, even
    /// where the measured default mixes in AVX.
    pub(crate) avx512f_opt_in: bool,
    /// `PMEM_MOVDIR64B=<not 0>` opts in to MOVDIR64B.
    pub(crate) movdir64b: bool,
    /// `PMEM_WC_WORKAROUND=1|0`, `None` when unset (then: on for Intel CPUs).
    pub(crate) wc_workaround: Option<bool>,
}

/// PMDK's default `PMEM_MOVNT_THRESHOLD`.
pub(crate) const DEFAULT_MOVNT_THRESHOLD: usize = 256;

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
            avx512f_opt_in: false,
            movdir64b: false,
            wc_workaround: None,
        }
    }
}

impl Tunables {
    /// Parses the tunables from a variable lookup (the process environment,
    /// or a map in tests).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let exactly = |name: &str, value: &str| lookup(name).as_deref() == Some(value);
        let mut t = Tunables {
            no_clwb: exactly("PMEM_NO_CLWB", "1"),
            no_clflushopt: exactly("PMEM_NO_CLFLUSHOPT", "1"),
            no_movnt: exactly("PMEM_NO_MOVNT", "1"),
            no_generic_memcpy: lookup("PMEM_NO_GENERIC_MEMCPY").is_some_and(|v| atoll(&v) != 0),
            avx: !exactly("PMEM_AVX", "0"),
            avx512f: !exactly("PMEM_AVX512F", "0"),
            avx512f_opt_in: lookup("PMEM_AVX512F").is_some_and(|v| v != "0"),
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
pub(crate) fn tunables() -> &'static Tunables {
    static TUNABLES: OnceLock<Tunables> = OnceLock::new();
    TUNABLES.get_or_init(|| {
        let lookup = |name: &str| {
            let value = secure_getenv(name);
            if let Some(v) = &value {
                plog!(DETAIL, "env", "{name}={v}");
            }
            value
        };
        let tunables = Tunables::from_lookup(lookup);
        plog!(DETAIL, "env", "{tunables:?}");
        tunables
    })
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

/// The raw value of `PMEM2_FORCE_GRANULARITY`, read now (PMDK reads it on
/// every map creation).
pub(crate) fn forced_granularity() -> Option<String> {
    secure_getenv("PMEM2_FORCE_GRANULARITY")
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
        assert!(parse(&[("PMEM_AVX512F", "1")]).avx512f_opt_in);
        assert!(!parse(&[("PMEM_AVX512F", "0")]).avx512f_opt_in);
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
}
