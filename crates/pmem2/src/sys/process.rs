//! The process: its environment, as set-uid-safe as glibc's `secure_getenv`,
//! and fork handlers.
//!
//! # References
//! - [`secure_getenv(3)`](https://man7.org/linux/man-pages/man3/secure_getenv.3.html)
//! - [`getauxval(3)`](https://man7.org/linux/man-pages/man3/getauxval.3.html)
//! - [`pthread_atfork(3)`](https://man7.org/linux/man-pages/man3/pthread_atfork.3.html)
//! - [`atexit(3)`](https://man7.org/linux/man-pages/man3/atexit.3.html)

use std::any::{Any, TypeId};
use std::cell::RefCell;
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

/// A lock held across `fork`. A child process has only the thread that
/// forked, so a lock another thread held at the fork would never be
/// released in the child; [`hold_across_fork`] makes the forking thread
/// take it just before the fork (waiting for the holder) and release it
/// just after, in the parent and in the child, which starts with it free.
pub(crate) trait ForkLock: 'static {
    /// Takes the lock and returns its guard; `None` when this thread must
    /// not (it holds the lock already, and its copy in the child will
    /// release it).
    fn take() -> Option<Box<dyn Any>>;
}

thread_local! {
    /// The guards the forking thread holds across the fork; in the child,
    /// its only thread is a copy of that thread and finds them here too.
    static HELD: RefCell<Vec<(TypeId, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

extern "C" fn prepare<L: ForkLock>() {
    if let Some(guard) = L::take() {
        // `try_with`: a fork from a thread-local destructor must not panic.
        let _ = HELD.try_with(|held| held.borrow_mut().push((TypeId::of::<L>(), guard)));
    }
}

extern "C" fn release<L: ForkLock>() {
    let guard = HELD.try_with(|held| {
        let mut held = held.borrow_mut();
        let at = held.iter().rposition(|(t, _)| *t == TypeId::of::<L>())?;
        Some(held.remove(at))
    });
    // Unlocks, after the borrow of `HELD` ended.
    drop(guard);
}

/// Registers fork handlers (`pthread_atfork`) that hold `L` across every
/// later `fork`. Prepare handlers run in the reverse order of registration:
/// of two locks taken in a fixed order, register the one taken second
/// first. Returns whether registration worked (`ENOMEM` is its only
/// failure).
pub(crate) fn hold_across_fork<L: ForkLock>() -> bool {
    // SAFETY: the handlers are plain `extern "C"` functions that live for
    // the whole process; pthread_atfork only stores the pointers.
    unsafe { libc::pthread_atfork(Some(prepare::<L>), Some(release::<L>), Some(release::<L>)) == 0 }
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
