//! The process-wide SIGBUS guard.
//!
//! A mapped file whose pages have gone away (the file was truncated, by this
//! process or another) or a poisoned device DAX page raises `SIGBUS` on the
//! access. Rust can't recover with `sigsetjmp`/`siglongjmp` soundly, so the
//! guard makes the faulting access *succeed* instead:
//!
//! 1. One handler per process, installed on first use ([`arm`]) and never
//!    restored or removed. The action it replaced is saved at installation
//!    and every `SIGBUS` that isn't pmem2's goes to it (see [`forward`]).
//! 2. A guarded operation stores its range `[start, start + len)` and the
//!    unit the kernel lets it replace (the page size, or a device DAX's
//!    alignment) in its thread's slot of a static table ([`SLOTS`]), keyed
//!    by the kernel thread id. A fault's `SIGBUS` is delivered to the
//!    faulting thread, so the handler, looking its own thread id up, sees
//!    exactly the operation that faulted. The table is atomics, not
//!    thread-locals: the handler must not touch TLS (in a `dlopen`ed
//!    library the first access may allocate) and must not allocate.
//! 3. When the fault address lies in the current thread's range, the
//!    handler maps an anonymous zero-filled chunk (one unit) over the
//!    faulting unit with `MAP_FIXED`, records the fault (lowest and highest
//!    chunk), and returns. The faulting instruction is restarted, now on
//!    valid memory; the operation runs to completion, and its owner learns
//!    from [`Armed::disarm`] that it faulted and must put the real mapping
//!    back (the zero chunk must not stay: later stores would land in
//!    anonymous memory and be lost).
//!
//! Each thread takes a slot the first time it arms the guard and keeps it
//! until it exits, so arming is a handful of plain stores into memory the
//! thread already owns. When every slot is taken, threads share one
//! reserved overflow slot, one at a time, behind a mutex: slower, never
//! unguarded.
//!
//! Reads need none of that on x86\_64 and aarch64: [`copy_recoverable`] is an assembly
//! copy (`fixup`) whose loads all lie between labels the handler knows.
//! When the interrupted instruction pointer (`ucontext_t`'s `REG_RIP`, or
//! `pc` on aarch64) is
//! one of them, the handler moves it to the routine's fixup label and
//! returns; the routine then returns the number of bytes it didn't copy.
//! No zero page, no repair, no per-call registration: the Linux kernel's
//! exception tables for `copy_from_user`, in one routine. This is checked
//! first, before the slots.
//!
//! Zero chunks are visible to every thread until their repair. [`calm`] and
//! [`still_calm`] let a `&self` reader (which may run next to a `&self`
//! flush of the same map that faulted) notice one with a load before and a
//! load after its access.
//!
//! # References
//! * [`sigaction(2)`](https://man7.org/linux/man-pages/man2/sigaction.2.html)
//! * [`mmap(2)`](https://man7.org/linux/man-pages/man2/mmap.2.html) (`SIGBUS` on access past the end of the file)
//! * Linux, `Documentation/arch/x86/exception-tables.rst`

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::error::{Errno, Error, Result};

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod fixup;

/// Copies `len` bytes from mapped memory at `src` to `dst` and returns how
/// many bytes at the end were **not** copied because their pages are gone
/// (a `SIGBUS` on a load; 0 when everything was copied). Nothing is armed:
/// the handler recognises the routine's loads by the interrupted
/// instruction pointer and resumes at its fixup label (see the module
/// docs). `dst[..len - returned]` holds the source bytes, the rest of
/// `dst` is left as it was.
///
/// # Safety
/// The handler must be installed ([`install`] returned `Ok`), or a fault
/// ends the process as any `SIGBUS` would. `src` must be mapped readable
/// memory for `len` bytes (whose pages may be gone), no live Rust
/// reference may point into it, and `dst` must be valid for writes of
/// `len` bytes and not overlap it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline]
pub(crate) unsafe fn copy_recoverable(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // SAFETY: as this function's contract.
    unsafe { fixup::copy(dst, src, len) }
}

/// Slots in the table; the last one is the shared overflow slot.
const SLOTS_LEN: usize = 128;
const OVERFLOW: usize = SLOTS_LEN - 1;

/// One thread's guarded range.
struct Slot {
    /// Owner's kernel thread id; 0 when free.
    tid: AtomicI32,
    /// Start of the guarded range.
    start: AtomicUsize,
    /// Its length; 0 while nothing is guarded (written last when arming).
    len: AtomicUsize,
    /// The unit replaced on a fault (a power of two).
    unit: AtomicUsize,
    /// Lowest faulting chunk, `usize::MAX` when none.
    fault_lo: AtomicUsize,
    /// Highest faulting chunk (valid when `fault_lo` is set).
    fault_hi: AtomicUsize,
}

static SLOTS: [Slot; SLOTS_LEN] = [const {
    Slot {
        tid: AtomicI32::new(0),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        unit: AtomicUsize::new(0),
        fault_lo: AtomicUsize::new(usize::MAX),
        fault_hi: AtomicUsize::new(0),
    }
}; SLOTS_LEN];

/// Serialises the threads that found no slot of their own.
static OVERFLOW_LOCK: Mutex<()> = Mutex::new(());

/// The current thread's kernel id (`gettid`: a raw system call,
/// async-signal-safe).
fn current_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// A thread's lease on a slot, released when the thread exits.
struct Lease {
    index: Cell<Option<usize>>,
}

/// Takes a free slot for thread `tid`.
fn claim_free(tid: i32) -> Option<usize> {
    SLOTS[..OVERFLOW].iter().position(|slot| {
        slot.tid
            .compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

impl Drop for Lease {
    fn drop(&mut self) {
        // From now on (other thread-local destructors) this thread uses the
        // overflow slot.
        INDEX.try_with(|i| i.set(NO_SLOT)).ok();
        if let Some(i) = self.index.get() {
            // Only if still ours (after a fork the child starts afresh).
            if SLOTS[i].tid.load(Ordering::Relaxed) == current_tid() {
                SLOTS[i].len.store(0, Ordering::Relaxed);
                SLOTS[i].tid.store(0, Ordering::Release);
            }
        }
    }
}

/// [`INDEX`] before the thread's first guard.
const UNCLAIMED: usize = usize::MAX;
/// [`INDEX`] when the thread has no slot of its own.
const NO_SLOT: usize = usize::MAX - 1;

thread_local! {
    /// This thread's slot index: a plain `const` thread-local (one load on
    /// the fast path, never touched by the handler).
    static INDEX: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// The lease behind `INDEX`, claimed on first use; gives the slot back
    /// when the thread exits.
    static LEASE: Lease = const { Lease { index: Cell::new(None) } };
    /// Nesting depth of this thread's use of the overflow slot.
    static OVERFLOW_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// This thread's slot index, claiming one on first use.
#[inline]
fn slot_index() -> Option<usize> {
    let index = INDEX.try_with(Cell::get).unwrap_or(NO_SLOT);
    if index < OVERFLOW {
        return Some(index);
    }
    if index == NO_SLOT {
        return None;
    }
    claim_slot()
}

/// The thread's first guard: claims a slot (or learns there is none).
#[cold]
#[inline(never)]
fn claim_slot() -> Option<usize> {
    let tid = current_tid();
    // Without the lease (thread-local destructors running) no slot is
    // claimed: it could never be given back.
    let index = LEASE
        .try_with(|lease| match lease.index.get() {
            Some(i) if SLOTS[i].tid.load(Ordering::Relaxed) == tid => Some(i),
            _ => {
                let claimed = claim_free(tid);
                lease.index.set(claimed);
                claimed
            }
        })
        .ok()
        .flatten();
    INDEX.try_with(|i| i.set(index.unwrap_or(NO_SLOT))).ok();
    index
}

/// A guarded range; [`Armed::disarm`] ends it.
pub(crate) struct Armed {
    slot: &'static Slot,
    /// The range that was guarded before (nested use: a signal handler
    /// running a guarded call on top of one), put back on disarm.
    saved: Option<(usize, usize, usize, usize, usize)>,
    /// Held while this thread uses the overflow slot (outermost level only).
    overflow: Option<MutexGuard<'static, ()>>,
    uses_overflow: bool,
}

/// Faults recovered with a zero chunk, as one word so a reader checks it
/// with one load: the high 32 bits count the faults so far in the process
/// (an epoch, bumped by the handler *before* it maps a zero chunk), the
/// low 32 bits the guarded operations whose zero chunks are still in place
/// (counted at an operation's first fault, in the same update; dropping
/// its [`Fault`] after the repair uncounts it). Faults recovered by the
/// fixup copy ([`copy_recoverable`]) map nothing and don't count.
static FAULTS: AtomicU64 = AtomicU64::new(0);
/// One fault in [`FAULTS`]' epoch half.
const EPOCH_ONE: u64 = 1 << 32;

/// A moment with no zero chunk in place anywhere: see [`calm`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calm(u64);

/// Zero chunks are process-wide: while one thread's fault awaits repair,
/// another thread reading the same map (`&self` methods run concurrently)
/// could read the zeros without faulting. Such a reader takes `calm()`
/// before its access and checks [`still_calm`] after it: `None` here, or
/// `false` there, means a fault somewhere overlapped the access, which is
/// then repeated after [`wait_for_repairs`]. One load each.
#[inline]
pub(crate) fn calm() -> Option<Calm> {
    // Acquire: the access's loads stay after this one. If it sees no
    // unrepaired operation, every zero chunk mapped before it was
    // repaired before it (the count drops only after the repair), and any
    // chunk mapped later comes after an epoch bump that `still_calm` sees.
    let faults = FAULTS.load(Ordering::Acquire);
    (faults as u32 == 0).then_some(Calm(faults))
}

/// Whether no fault was recovered with a zero chunk since `calm` (see
/// [`calm`]).
#[inline]
pub(crate) fn still_calm(calm: Calm) -> bool {
    // Orders the access's loads before the check's: if the access saw a
    // zero chunk, it sees the epoch bumped before that chunk was mapped.
    std::sync::atomic::fence(Ordering::Acquire);
    FAULTS.load(Ordering::Relaxed) == calm.0
}

/// Waits until every fault's zero chunks have been repaired.
pub(crate) fn wait_for_repairs() {
    while FAULTS.load(Ordering::SeqCst) as u32 != 0 {
        std::thread::yield_now();
    }
}

/// The chunks a guarded operation faulted on: `[lo, hi + unit)` covers
/// every chunk the handler replaced. Drop it once the chunks are repaired
/// (or unmapped).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    /// Lowest replaced chunk.
    pub lo: usize,
    /// Highest replaced chunk.
    pub hi: usize,
    /// The chunk size.
    pub unit: usize,
}

impl Drop for Fault {
    fn drop(&mut self) {
        FAULTS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Guards `[start, start + len)`: a `SIGBUS` from an access of this thread
/// inside it replaces the faulting `unit` (a power of two, at least the page
/// size; `start` a multiple of it) with zeros instead of killing the process.
///
/// # Errors
/// [`Error::Os`] if the handler can't be installed (only the first call
/// installs it).
#[inline]
pub(crate) fn arm(start: usize, len: usize, unit: usize) -> Result<Armed> {
    install()?;
    match slot_index() {
        Some(i) => Ok(fill(&SLOTS[i], start, len, unit, None, false)),
        None => Ok(arm_overflow(start, len, unit)),
    }
}

/// No slot of our own (the table is full, or this runs in a thread-local
/// destructor): the shared one, one thread at a time.
#[cold]
#[inline(never)]
fn arm_overflow(start: usize, len: usize, unit: usize) -> Armed {
    let depth = OVERFLOW_DEPTH.try_with(Cell::get).unwrap_or(0);
    let guard = if depth == 0 {
        Some(OVERFLOW_LOCK.lock().unwrap_or_else(PoisonError::into_inner))
    } else {
        None // nested on this thread: the lock is already ours
    };
    OVERFLOW_DEPTH.try_with(|d| d.set(depth + 1)).ok();
    let slot = &SLOTS[OVERFLOW];
    slot.tid.store(current_tid(), Ordering::Relaxed);
    fill(slot, start, len, unit, guard, true)
}

/// Stores the range into `slot` (saving a range already there: nesting).
#[inline(always)]
fn fill(
    slot: &'static Slot,
    start: usize,
    len: usize,
    unit: usize,
    overflow: Option<MutexGuard<'static, ()>>,
    uses_overflow: bool,
) -> Armed {
    let active = slot.len.load(Ordering::Relaxed);
    let saved = (active != 0).then(|| {
        (
            slot.start.load(Ordering::Relaxed),
            active,
            slot.unit.load(Ordering::Relaxed),
            slot.fault_lo.load(Ordering::Relaxed),
            slot.fault_hi.load(Ordering::Relaxed),
        )
    });
    // The handler runs on this thread, so ordering against it is a matter
    // of the compiler only: disable, fill, then enable, with compiler fences
    // in between so a signal never sees a half-written range. (`fault_hi`
    // needs no reset: the first fault stores it.)
    if saved.is_some() {
        slot.len.store(0, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
    }
    slot.start.store(start, Ordering::Relaxed);
    slot.unit.store(unit, Ordering::Relaxed);
    slot.fault_lo.store(usize::MAX, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
    slot.len.store(len, Ordering::Relaxed);
    // Keeps the guarded accesses from being moved before this point.
    compiler_fence(Ordering::SeqCst);
    Armed {
        slot,
        saved,
        overflow,
        uses_overflow,
    }
}

impl Armed {
    /// Ends the guard; returns the fault, if one hit the range.
    #[inline]
    pub(crate) fn disarm(self) -> Option<Fault> {
        // Keeps the guarded accesses from being moved after this point.
        compiler_fence(Ordering::SeqCst);
        let lo = self.slot.fault_lo.load(Ordering::Relaxed);
        let fault = (lo != usize::MAX).then(|| Fault {
            lo,
            hi: self.slot.fault_hi.load(Ordering::Relaxed),
            unit: self.slot.unit.load(Ordering::Relaxed),
        });
        drop(self);
        fault
    }
}

impl Drop for Armed {
    #[inline]
    fn drop(&mut self) {
        let slot = self.slot;
        slot.len.store(0, Ordering::Relaxed);
        if let Some((start, len, unit, lo, hi)) = self.saved {
            compiler_fence(Ordering::SeqCst);
            slot.start.store(start, Ordering::Relaxed);
            slot.unit.store(unit, Ordering::Relaxed);
            slot.fault_lo.store(lo, Ordering::Relaxed);
            slot.fault_hi.store(hi, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            slot.len.store(len, Ordering::Relaxed);
        }
        if self.uses_overflow {
            self.leave_overflow();
        }
        // `self.overflow` (the lock) is released after the slot is cleared.
    }
}

impl Armed {
    #[cold]
    #[inline(never)]
    fn leave_overflow(&self) {
        let slot = self.slot;
        {
            let depth = OVERFLOW_DEPTH.try_with(Cell::get).unwrap_or(1);
            OVERFLOW_DEPTH.try_with(|d| d.set(depth - 1)).ok();
            if self.overflow.is_some() {
                slot.tid.store(0, Ordering::Relaxed);
            }
        }
    }
}

// ------------------------------------------------------------ installation

/// The action replaced at installation, written once before [`READY`].
struct SavedAction(std::cell::UnsafeCell<std::mem::MaybeUninit<libc::sigaction>>);

// SAFETY: written exactly once, by the installing thread, before `READY` is
// set (Release); only read after `READY` is seen set (Acquire).
unsafe impl Sync for SavedAction {}

static PREVIOUS: SavedAction =
    SavedAction(std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()));
/// Set once `PREVIOUS` holds the replaced action.
static READY: AtomicBool = AtomicBool::new(false);

/// Installs the handler once per process; later calls only read a flag.
/// Guarded maps call it when they are created, so that [`copy_recoverable`]
/// needs no check of its own.
///
/// # Errors
/// [`Error::Os`] if `sigaction` fails (only the first call can).
#[inline]
pub(crate) fn install() -> Result<()> {
    if READY.load(Ordering::Relaxed) {
        return Ok(());
    }
    install_slow()
}

#[cold]
fn install_slow() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), Errno>> = OnceLock::new();
    INSTALLED
        .get_or_init(install_once)
        .map_err(|errno| Error::os(errno, "sigaction(SIGBUS)"))
}

fn install_once() -> std::result::Result<(), Errno> {
    // SAFETY: zeroed `sigaction` and `sigset_t` values are valid (empty
    // masks, no flags, SIG_DFL); the new action is filled in before use.
    let (mut new, mut old, mut block, mut prev_mask): (
        libc::sigaction,
        libc::sigaction,
        libc::sigset_t,
        libc::sigset_t,
    ) = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler as *const () as usize;
    // SA_SIGINFO: the handler needs si_addr and si_code.
    // SA_ONSTACK: like std's own SIGSEGV/SIGBUS handler, so a forwarded
    //   stack-overflow fault still runs on the alternate stack.
    // SA_NODEFER: SIGBUS stays deliverable inside the handler, so the
    //   re-raise in `forward` (default action) takes effect at once, and a
    //   fault inside a chained handler reaches us again instead of being
    //   forced fatal by the kernel.
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
    // SAFETY: the masks are valid sigset_t values owned by this frame.
    unsafe {
        libc::sigemptyset(&raw mut new.sa_mask);
        libc::sigemptyset(&raw mut block);
        libc::sigaddset(&raw mut block, libc::SIGBUS);
    }
    // Block SIGBUS in this thread while installing, so a SIGBUS sent to it
    // can't meet the handler before `PREVIOUS` is written (other threads'
    // handlers wait for `READY`). Nothing here can fault.
    // SAFETY: valid masks; pthread_sigmask changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &raw const block, &raw mut prev_mask) };
    // SAFETY: registers a child-side fork hook that only touches atomics
    // and a const thread-local.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    // SAFETY: `new` and `old` are valid; the handler is async-signal-safe.
    let rc = unsafe { libc::sigaction(libc::SIGBUS, &raw const new, &raw mut old) };
    let result = if rc == 0 {
        // SAFETY: the only write to PREVIOUS, before READY is published;
        // no reader looks at it until READY is set.
        unsafe { (*PREVIOUS.0.get()).write(old) };
        READY.store(true, Ordering::Release);
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL),
        ))
    };
    // SAFETY: puts this thread's mask back as it was.
    unsafe {
        libc::pthread_sigmask(
            libc::SIG_SETMASK,
            &raw const prev_mask,
            std::ptr::null_mut(),
        )
    };
    result
}

/// In a forked child only the forking thread exists, under a new thread id:
/// every slot is free again, and that thread claims a new one on its next
/// guard (the handler keys slots by thread id, so the parent's would never
/// match).
extern "C" fn after_fork_in_child() {
    for slot in &SLOTS {
        slot.len.store(0, Ordering::Relaxed);
        slot.tid.store(0, Ordering::Relaxed);
    }
    INDEX.try_with(|i| i.set(UNCLAIMED)).ok();
}

/// Whether pmem2's handler is the installed `SIGBUS` action (tests).
#[cfg(test)]
pub(crate) fn handler_address() -> usize {
    handler as *const () as usize
}

// ------------------------------------------------------------ the handler

/// The `SIGBUS` handler. Only async-signal-safe work: atomics in static
/// memory, raw system calls (`gettid`, `mmap`), `sigaction`, `raise`,
/// `pthread_sigmask`; `errno` is preserved.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: __errno_location returns this thread's errno cell.
    let errno = unsafe { *libc::__errno_location() };
    if !try_fixup(info, ctx) && !try_recover(info) {
        forward(sig, info, ctx);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Whether `si_code` says the kernel raised the signal for a fault of the
/// instruction being executed (returning re-executes it).
fn synchronous_fault(info: *const libc::siginfo_t) -> bool {
    if info.is_null() {
        return false;
    }
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    // BUS_ADRALN 1, BUS_ADRERR 2, BUS_OBJERR 3, BUS_MCEERR_AR 4; not
    // BUS_MCEERR_AO (5, asynchronous) nor user-sent codes (<= 0).
    (1..=4).contains(&code)
}

/// Resumes a fault of one of [`copy_recoverable`]'s loads at its fixup
/// label; returns whether it did.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn try_fixup(info: *const libc::siginfo_t, ctx: *mut libc::c_void) -> bool {
    if ctx.is_null() || !synchronous_fault(info) {
        return false;
    }
    // SAFETY: the kernel passes its ucontext_t to an SA_SIGINFO handler.
    let pc = unsafe { fixup::pc(ctx) };
    match fixup::labels().resume_at(pc) {
        Some(to) => {
            // SAFETY: the kernel's ucontext_t; `resume_at` picked the label
            // whose code expects the registers of the interrupted range.
            unsafe { fixup::set_pc(ctx, to) };
            true
        }
        None => false,
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn try_fixup(_: *const libc::siginfo_t, _: *mut libc::c_void) -> bool {
    false
}

/// Replaces the faulting unit if the fault is inside this thread's guarded
/// range; returns whether it did.
fn try_recover(info: *mut libc::siginfo_t) -> bool {
    if !synchronous_fault(info) {
        return false;
    }
    // SAFETY: checked non-null above; si_addr is meaningful for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let tid = current_tid();
    for slot in &SLOTS {
        if slot.tid.load(Ordering::Relaxed) != tid {
            continue;
        }
        let len = slot.len.load(Ordering::Relaxed);
        let start = slot.start.load(Ordering::Relaxed);
        if len == 0 || addr < start || addr - start >= len {
            continue;
        }
        let unit = slot.unit.load(Ordering::Relaxed).max(1);
        let chunk = start + (addr - start) / unit * unit;
        let chunk_len = unit.min(start + len - chunk);
        let first = slot.fault_lo.load(Ordering::Relaxed) == usize::MAX;
        // Counted before the zero chunk appears (see `calm`).
        FAULTS.fetch_add(EPOCH_ONE + u64::from(first), Ordering::SeqCst);
        // SAFETY: replaces part of this thread's own guarded range, which
        // no Rust reference points into: the guarded operation accesses it
        // through raw pointers and resumes on the fresh zero pages, and its
        // owner re-establishes the real mapping afterwards.
        let mapped = unsafe {
            rustix::mm::mmap_anonymous(
                chunk as *mut libc::c_void,
                chunk_len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::FIXED,
            )
        };
        if mapped.is_err() {
            if first {
                FAULTS.fetch_sub(1, Ordering::SeqCst);
            }
            return false;
        }
        if first {
            slot.fault_hi.store(chunk, Ordering::Relaxed);
        } else {
            slot.fault_hi.fetch_max(chunk, Ordering::Relaxed);
        }
        slot.fault_lo.fetch_min(chunk, Ordering::Relaxed);
        return true;
    }
    false
}

/// Hands a `SIGBUS` that isn't pmem2's to the action it replaced.
fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Another thread may be installing right now (it published the
    // handler before PREVIOUS): it finishes within a few instructions.
    while !READY.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    // SAFETY: READY is set, so PREVIOUS was written and is never written again.
    let previous = unsafe { (*PREVIOUS.0.get()).assume_init_ref() };
    // SAFETY: called from the handler of `sig` with the kernel's arguments.
    unsafe { chain(sig, previous, synchronous_fault(info), info, ctx) };
}

/// Hands signal `sig` to `previous`, the action a handler of ours replaced,
/// as the kernel would have: a handler is called with its mask added; the
/// default action (or `SIG_IGN` for a `fault`, which the kernel overrides)
/// is carried out by resetting the disposition to `SIG_DFL` and, unless
/// `fault` (the faulting instruction re-executes on return), raising `sig`
/// again.
///
/// # Safety
/// Must be called from a signal handler of `sig` installed with
/// `SA_SIGINFO | SA_NODEFER`, with the arguments the kernel passed it.
pub(super) unsafe fn chain(
    sig: libc::c_int,
    previous: &libc::sigaction,
    fault: bool,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let action = previous.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        if action == libc::SIG_IGN && !fault {
            // Ignored, as it would have been without pmem2.
            return;
        }
        // The default action (terminate with a core dump) can't be called:
        // the kernel carries it out only when it delivers the signal while
        // the disposition is SIG_DFL. So the disposition is set to SIG_DFL,
        // and the process dies right after:
        // * a synchronous fault (also under SIG_IGN, which the kernel
        //   overrides for faults): returning re-executes the faulting
        //   instruction, which faults again and meets SIG_DFL, with the
        //   genuine siginfo (address, code) in the core dump, exactly as
        //   without pmem2;
        // * anything else (kill, raise, an asynchronous machine check):
        //   raised again; SA_NODEFER leaves the signal unblocked here, so it
        //   is delivered at once (unless the application itself blocked it,
        //   in which case it stays pending as it would have).
        // The reset is never seen by a live process: it ends by this signal.
        // SAFETY: sigaction and raise are async-signal-safe; `dfl` is valid.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&raw mut dfl.sa_mask);
            libc::sigaction(sig, &raw const dfl, std::ptr::null_mut());
            if !fault {
                libc::raise(sig);
            }
        }
        return;
    }
    // A handler: called with the same arguments, with its own mask added
    // to the blocked set for the call, as the kernel would have done.
    // SAFETY: valid masks; pthread_sigmask is async-signal-safe.
    let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::pthread_sigmask(
            libc::SIG_BLOCK,
            &raw const previous.sa_mask,
            &raw mut old_mask,
        )
    };
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: installed with SA_SIGINFO, so the address is a
        // `void (*)(int, siginfo_t *, void *)`.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(sig, info, ctx);
    } else {
        // SAFETY: installed without SA_SIGINFO: a `void (*)(int)`.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(sig);
    }
    // SAFETY: restores the mask this handler ran with.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old_mask, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed_action() -> usize {
        // SAFETY: queries the current action only.
        unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &raw mut a);
            a.sa_sigaction
        }
    }

    /// A shared mapping of a file of `pages` pages, of which only the first
    /// `kept` remain (the file was truncated under the mapping); the kept
    /// bytes are `i as u8 ^ 0x5a` at offset `i`.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn mapping_with_gone_pages(pages: usize, kept: usize) -> (std::fs::File, *mut u8) {
        use std::os::fd::AsRawFd;
        let page = rustix::param::page_size();
        let file = tempfile::tempfile().unwrap();
        file.set_len((pages * page) as u64).unwrap();
        // SAFETY: a new shared mapping of the whole file at a kernel-chosen
        // address, leaked by the test (never unmapped).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base.cast::<u8>();
        for i in 0..kept * page {
            // SAFETY: inside the mapping, before the truncation.
            unsafe { base.add(i).write(i as u8 ^ 0x5a) };
        }
        file.set_len((kept * page) as u64).unwrap();
        (file, base)
    }

    /// Copies `[start, start + len)` of the mapping (gone from `boundary`
    /// on) and checks the remainder is exactly the bytes at or past the
    /// boundary, the bytes before it were copied and the rest of the
    /// buffer is untouched.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn check_copy(base: *mut u8, boundary: usize, start: usize, len: usize) {
        let mut buf = vec![0xa5u8; len + 16];
        // SAFETY: the handler is installed; `[start, start + len)` is inside
        // the test's mapping, which nothing references; `buf` holds
        // `len + 16` bytes.
        let left = unsafe { copy_recoverable(buf.as_mut_ptr().add(8), base.add(start), len) };
        let copied = boundary.saturating_sub(start).min(len);
        assert_eq!(left, len - copied, "start {start} len {len}");
        for (i, &b) in buf.iter().enumerate() {
            let want = if (8..8 + copied).contains(&i) {
                (start + i - 8) as u8 ^ 0x5a
            } else {
                0xa5
            };
            assert_eq!(b, want, "start {start} len {len} byte {i}");
        }
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn the_fixup_copy_stops_exactly_at_the_first_gone_byte() {
        install().unwrap();
        let page = rustix::param::page_size();
        // Short shapes: a 2-page file cut to 1 page, every length 0..=200
        // from every start that puts the boundary inside, before or just
        // after the copy.
        let (_file, base) = mapping_with_gone_pages(2, 1);
        for len in 0..=200 {
            for start in page - len.max(1) - 2..=page + 2 {
                check_copy(base, page, start, len);
            }
        }
        // Long copies (the 64-byte loop): a 4-page file cut to 3 pages.
        let (_file, base) = mapping_with_gone_pages(4, 3);
        let boundary = 3 * page;
        for len in [
            201,
            255,
            256,
            1000,
            2047,
            2048,
            2049,
            page,
            page + 77,
            2 * page,
            3 * page - 5,
        ] {
            for back in [0, 1, 7, 15, 16, 33, 63, 64, 65, 100, len / 2, len - 1, len] {
                if back <= boundary && back <= len {
                    check_copy(base, boundary, boundary - back, len);
                }
            }
        }
        // A fault outside the copy is still no business of the fixup:
        // after all of the above, the handler is untouched.
        assert_eq!(installed_action(), handler_address());
    }

    #[test]
    fn arming_installs_once_and_never_restores() {
        let page = rustix::param::page_size();
        let armed = arm(0x1000_0000, page, page).unwrap();
        assert_eq!(armed.disarm(), None);
        assert_eq!(installed_action(), handler_address());
        let armed = arm(0x1000_0000, page, page).unwrap();
        drop(armed);
        assert_eq!(installed_action(), handler_address());
    }

    #[test]
    fn nested_guards_restore_the_outer_range() {
        let page = rustix::param::page_size();
        let outer = arm(0x2000_0000, 4 * page, page).unwrap();
        let slot = outer.slot;
        {
            let inner = arm(0x3000_0000, page, page).unwrap();
            assert_eq!(slot.start.load(Ordering::Relaxed), 0x3000_0000);
            assert_eq!(inner.disarm(), None);
        }
        assert_eq!(slot.start.load(Ordering::Relaxed), 0x2000_0000);
        assert_eq!(slot.len.load(Ordering::Relaxed), 4 * page);
        drop(outer);
        assert_eq!(slot.len.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_table_falls_back_to_the_overflow_slot() {
        const NAME: &str = "sys::sigbus::tests::a_full_table_falls_back_to_the_overflow_slot";
        // Other tests' threads claim and free slots while this one holds the
        // table full, so it runs alone, in a child process of this binary
        // (through the test runner, e.g. qemu-user, when there is one).
        if std::env::var_os("PMEM2_SIGBUS_TABLE_CHILD").is_none() {
            let exe = std::env::current_exe().unwrap();
            let runner = std::env::var("PMEM2_TEST_RUNNER").unwrap_or_default();
            let mut words = runner.split_whitespace();
            let mut cmd = match words.next() {
                Some(program) => {
                    let mut c = std::process::Command::new(program);
                    c.args(words).arg(&exe);
                    c
                }
                None => std::process::Command::new(&exe),
            };
            let out = cmd
                .args(["--exact", NAME, "--test-threads=1"])
                .env("PMEM2_SIGBUS_TABLE_CHILD", "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{out:?}");
            assert!(stdout.contains("1 passed"), "{stdout}");
            return;
        }
        // Fill every free slot with fake owners, arm from a fresh thread
        // (which finds none), then give the slots back.
        let taken: Vec<usize> = (0..OVERFLOW)
            .filter(|&i| {
                SLOTS[i]
                    .tid
                    .compare_exchange(0, -1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .collect();
        let used_overflow = std::thread::spawn(|| {
            let page = rustix::param::page_size();
            let armed = arm(0x4000_0000, page, page).unwrap();
            let overflow = armed.uses_overflow;
            assert_eq!(SLOTS[OVERFLOW].tid.load(Ordering::Relaxed), current_tid());
            assert_eq!(armed.disarm(), None);
            overflow
        })
        .join()
        .unwrap();
        assert_eq!(SLOTS[OVERFLOW].tid.load(Ordering::Relaxed), 0);
        for i in taken {
            SLOTS[i].tid.store(0, Ordering::Release);
        }
        assert!(used_overflow);
    }
}
