//! A temporary `SIGILL` guard: runs one probe instruction and learns
//! whether the CPU executes it or traps.
//!
//! The kernel's `HWCAP` words say what the CPU implements, but an emulator
//! can report a feature it does not implement: QEMU's user mode reports
//! `DCPOP` on `-cpu max` yet raises `SIGILL` on `DC CVAP`. A library that
//! trusts the word kills its process at the first flush, so the flush
//! choice executes the instruction once under this guard first.
//!
//! [`executes`] installs a handler for `SIGILL` (keeping the replaced
//! action), marks the calling thread as probing, runs the probe, and puts
//! the replaced action back. A `SIGILL` of the probing thread while it is
//! marked is the probe's instruction: the handler records it and moves the
//! thread's program counter past the instruction (`skip` bytes), so the
//! probe returns normally. Any other `SIGILL` (another thread's, a `kill`)
//! goes to the replaced action, as without pmem2. Probes are serialised.
//!
//! # References
//! - [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html)
//! - [getauxval(3)](https://man7.org/linux/man-pages/man3/getauxval.3.html),
//!   `AT_HWCAP`

use std::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::{Errno, Error, Result};

/// Serialises probes: one handler, one probing thread at a time.
static PROBE_LOCK: Mutex<()> = Mutex::new(());
/// Kernel thread id of the probing thread; 0 when none.
static PROBING: AtomicI32 = AtomicI32::new(0);
/// How many bytes the handler moves the program counter on.
static SKIP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Set by the handler when the probe trapped.
static TRAPPED: AtomicBool = AtomicBool::new(false);
/// Set once `PREVIOUS` holds the action replaced by the current probe.
static READY: AtomicBool = AtomicBool::new(false);

/// The action replaced by the current probe, written before [`READY`].
struct SavedAction(std::cell::UnsafeCell<std::mem::MaybeUninit<libc::sigaction>>);

// SAFETY: written only by the probing thread (holding `PROBE_LOCK`) while
// `READY` is clear, read by the handler only after `READY` is seen set
// (Acquire after Release).
unsafe impl Sync for SavedAction {}

static PREVIOUS: SavedAction =
    SavedAction(std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()));

fn current_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

fn last_errno() -> Errno {
    Errno::from_raw_os_error(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL),
    )
}

/// Runs `probe` under a temporary `SIGILL` guard; returns whether it ran
/// without trapping (`false`: the CPU raised `SIGILL` on its instruction).
/// The process's `SIGILL` action is the same afterwards as before.
///
/// # Safety
/// `probe` must be a function whose only instruction that can raise
/// `SIGILL` is exactly `skip` bytes long, and continuing after that
/// instruction as if it had done nothing must be sound (an `asm!` block
/// with no outputs made of that one instruction).
///
/// # Errors
/// [`Error::Os`] if `sigaction` fails (the probe did not run).
pub(crate) unsafe fn executes(probe: unsafe fn(), skip: usize) -> Result<bool> {
    let _serial = PROBE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: zeroed `sigaction` values are valid (empty mask, SIG_DFL).
    let (mut new, mut old): (libc::sigaction, libc::sigaction) = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as *const () as usize;
    // SA_SIGINFO: the handler needs the context (program counter).
    // SA_NODEFER: as for SIGBUS, so `sigbus::chain` can re-raise at once.
    new.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
    // SAFETY: `new.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigemptyset(&raw mut new.sa_mask) };
    READY.store(false, Ordering::Relaxed);
    TRAPPED.store(false, Ordering::Relaxed);
    SKIP.store(skip, Ordering::Relaxed);
    // SAFETY: `new` and `old` are valid; the handler is async-signal-safe.
    if unsafe { libc::sigaction(libc::SIGILL, &raw const new, &raw mut old) } != 0 {
        return Err(Error::os(last_errno(), "sigaction(SIGILL)"));
    }
    // SAFETY: the only writer (we hold PROBE_LOCK); READY is clear, so the
    // handler does not read it yet.
    unsafe { (*PREVIOUS.0.get()).write(old) };
    READY.store(true, Ordering::Release);
    PROBING.store(current_tid(), Ordering::Relaxed);
    // The handler runs on this thread: ordering is the compiler's only.
    compiler_fence(Ordering::SeqCst);
    // SAFETY: the caller guarantees the probe is sound to run and to skip.
    unsafe { probe() };
    compiler_fence(Ordering::SeqCst);
    PROBING.store(0, Ordering::Relaxed);
    let trapped = TRAPPED.load(Ordering::Relaxed);
    // SAFETY: puts back the action replaced above (`old` is valid). If a
    // foreign SIGILL made the handler reset the action meanwhile, the
    // process is ending by that signal anyway.
    if unsafe { libc::sigaction(libc::SIGILL, &raw const old, std::ptr::null_mut()) } != 0 {
        return Err(Error::os(last_errno(), "sigaction(SIGILL)"));
    }
    Ok(!trapped)
}

/// The temporary `SIGILL` handler (async-signal-safe: atomics, `gettid`,
/// and the chaining of `sigbus::chain`).
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if !ctx.is_null() && PROBING.load(Ordering::Relaxed) == current_tid() {
        TRAPPED.store(true, Ordering::Relaxed);
        // SAFETY: the kernel passes this thread's saved context to an
        // SA_SIGINFO handler; moving its program counter past the probe's
        // instruction is what the probe's contract allows.
        unsafe { skip_instruction(ctx.cast(), SKIP.load(Ordering::Relaxed)) };
        return;
    }
    while !READY.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    // SAFETY: READY is set: PREVIOUS holds the replaced action.
    let previous = unsafe { (*PREVIOUS.0.get()).assume_init_ref() };
    // ILL_* codes (1 to 8) are all synchronous: the instruction re-executes.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let fault = !info.is_null() && unsafe { (*info).si_code } > 0;
    // SAFETY: this is the SIGILL handler, installed with SA_SIGINFO and
    // SA_NODEFER, called with the kernel's arguments.
    unsafe { super::sigbus::chain(sig, previous, fault, info, ctx) };
}

/// Moves the saved program counter of `ctx` on by `skip` bytes.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to the handler.
unsafe fn skip_instruction(ctx: *mut libc::ucontext_t, skip: usize) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the caller passes the kernel's context; `pc` is its saved PC.
    unsafe {
        (*ctx).uc_mcontext.pc += skip as u64;
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller passes the kernel's context; REG_RIP indexes the
    // saved instruction pointer.
    unsafe {
        (*ctx).uc_mcontext.gregs[libc::REG_RIP as usize] += skip as i64;
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed_action() -> usize {
        // SAFETY: queries the current action only.
        unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGILL, std::ptr::null(), &raw mut a);
            a.sa_sigaction
        }
    }

    /// An instruction every CPU of the architecture rejects, and its length.
    #[cfg(target_arch = "x86_64")]
    const UNDEFINED_LEN: usize = 2;
    #[cfg(target_arch = "aarch64")]
    const UNDEFINED_LEN: usize = 4;

    /// Executes the architecture's permanently undefined instruction.
    unsafe fn undefined() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: raises SIGILL, which the probe's guard skips.
        unsafe {
            std::arch::asm!("ud2", options(nostack));
        };
        #[cfg(target_arch = "aarch64")]
        // SAFETY: raises SIGILL, which the probe's guard skips.
        unsafe {
            std::arch::asm!("udf #0", options(nostack));
        };
    }

    /// Executes an instruction every CPU of the architecture has.
    unsafe fn defined() {
        // SAFETY: a no-op.
        unsafe { std::arch::asm!("nop", options(nostack, preserves_flags)) };
    }

    #[test]
    fn a_trapping_probe_is_skipped_and_reported() {
        let before = installed_action();
        // SAFETY: `undefined` is one UNDEFINED_LEN-byte instruction with no
        // outputs.
        assert!(!unsafe { executes(undefined, UNDEFINED_LEN) }.unwrap());
        assert_eq!(installed_action(), before, "the previous action is back");
        // SAFETY: as above; `nop` never traps.
        assert!(unsafe { executes(defined, UNDEFINED_LEN) }.unwrap());
        assert_eq!(installed_action(), before);
        // A second trap after a clean probe: the state is reset each time.
        // SAFETY: as above.
        assert!(!unsafe { executes(undefined, UNDEFINED_LEN) }.unwrap());
    }

    #[test]
    fn probes_from_many_threads_are_serialised() {
        let threads: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    let (probe, traps): (unsafe fn(), bool) = if i % 2 == 0 {
                        (undefined, true)
                    } else {
                        (defined, false)
                    };
                    // SAFETY: both probes are one instruction, no outputs.
                    unsafe { executes(probe, UNDEFINED_LEN) }.unwrap() != traps
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
    }
}
