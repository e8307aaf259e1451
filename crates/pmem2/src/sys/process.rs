//! The process: its environment, as set-uid-safe as glibc's `secure_getenv`.
//!
//! # References
//! - [`secure_getenv(3)`](https://man7.org/linux/man-pages/man3/secure_getenv.3.html)
//! - [`getauxval(3)`](https://man7.org/linux/man-pages/man3/getauxval.3.html)

use std::sync::OnceLock;

/// `getenv` that returns nothing in set-uid/set-gid processes
/// (`AT_SECURE`), as glibc's `secure_getenv` does.
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
