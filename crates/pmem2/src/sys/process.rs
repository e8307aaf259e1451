//! The process: its environment, as set-uid-safe as glibc's `secure_getenv`,
//! and fork handlers.
//!
//! # References
//! - [`secure_getenv(3)`](https://man7.org/linux/man-pages/man3/secure_getenv.3.html)
//! - [`getauxval(3)`](https://man7.org/linux/man-pages/man3/getauxval.3.html)
//! - [`pthread_atfork(3)`](https://man7.org/linux/man-pages/man3/pthread_atfork.3.html)
//! - [`atexit(3)`](https://man7.org/linux/man-pages/man3/atexit.3.html)

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

/// The process's `AT_HWCAP` and `AT_HWCAP2` words: what the kernel says the
/// CPU implements.
///
/// Read with libc's `getauxval`, linked directly: rustix's
/// `param::linux_hwcap` (with `use-libc-auxv`) looks `getauxval` up with
/// `dlsym`, which finds nothing in a statically linked program, and then
/// reports no capability at all (an arm64 `+crt-static` build never chose
/// `DC CVAP`).
#[cfg(all(target_arch = "aarch64", not(miri)))]
pub(crate) fn hwcaps() -> (usize, usize) {
    // SAFETY: getauxval only reads the process's auxiliary vector; an absent
    // entry reads as 0.
    let (hwcap, hwcap2) = unsafe {
        (
            libc::getauxval(libc::AT_HWCAP),
            libc::getauxval(libc::AT_HWCAP2),
        )
    };
    (hwcap as usize, hwcap2 as usize)
}

/// Registers fork handlers (`pthread_atfork`): `prepare` runs in the forking
/// thread before the fork, `after` in the parent and in the child after it.
/// Returns whether registration worked (`ENOMEM` is its only failure).
pub(crate) fn at_fork(prepare: extern "C" fn(), after: extern "C" fn()) -> bool {
    // SAFETY: the handlers are plain `extern "C"` functions that live for
    // the whole process; pthread_atfork only stores the pointers.
    unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after)) == 0 }
}

/// Registers `f` to run at normal process exit (`atexit`). Returns whether
/// registration worked.
///
/// # References
/// - [`atexit(3)`](https://man7.org/linux/man-pages/man3/atexit.3.html)
pub(crate) fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a plain `extern "C"` function that lives for the
    // whole process; atexit only stores the pointer.
    unsafe { libc::atexit(f) == 0 }
}

/// Writes `image` to `path`, then runs `argv` with `path` appended and
/// waits for it (crash-state checkers). Returns its exit code, `None` when
/// it was killed by a signal.
///
/// # Errors
/// The write or the spawn failed.
///
/// # References
/// - [`execvp(3)`](https://man7.org/linux/man-pages/man3/execvp.3.html)
/// - [`waitpid(2)`](https://man7.org/linux/man-pages/man2/waitpid.2.html)
pub(crate) fn run_on_image(
    argv: &[String],
    path: &std::path::Path,
    image: &[u8],
) -> std::io::Result<Option<i32>> {
    std::fs::write(path, image)?;
    let (program, rest) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty checker command"))?;
    let status = std::process::Command::new(program)
        .args(rest)
        .arg(path)
        // The checker must not check itself.
        .env_remove("PMEM2_CHECK")
        .env_remove("PMEM2_CHECK_EXPLORE")
        .env_remove("PMEM2_CHECK_REPLAY")
        .status()?;
    Ok(status.code())
}

/// The path of an open file descriptor (`/proc/self/fd/N`), as pmemcheck
/// finds it for its store log.
///
/// # References
/// - [`proc_pid_fd(5)`](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html)
pub(crate) fn fd_path(fd: std::os::fd::BorrowedFd<'_>) -> Option<std::path::PathBuf> {
    use std::os::fd::AsRawFd as _;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
}
