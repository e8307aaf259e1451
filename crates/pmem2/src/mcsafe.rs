//! Machine-check-safe reads and writes of a source
//! (`pmem2_source_pread_mcsafe` / `pmem2_source_pwrite_mcsafe`).
//!
//! * Regular files: `pread(2)` / `pwrite(2)`. On fsdax the kernel copies
//!   with its machine-check-safe routines and returns `EIO` for poisoned
//!   blocks, reported as [`Error::IoFail`]; any other errno is
//!   [`Error::Os`]. A read that hits the end of file early stops there
//!   (the rest of the buffer is left as it was), as in PMDK.
//! * Device DAX (which has no `read`/`write`): the range is mapped (shared,
//!   aligned to the device alignment) and copied under a **SIGBUS guard**.
//!   Poison is reported by the kernel as `SIGBUS` on the faulting access.
//!
//! ## The SIGBUS guard
//!
//! Rust can't use `sigsetjmp`/`siglongjmp` soundly, so recovery does not
//! jump. Instead the guard makes the faulting access *succeed*:
//!
//! 1. A process-wide `SA_SIGINFO` handler is installed while at least one
//!    guarded copy runs (reference-counted under a mutex); the previous
//!    handler is saved and restored when the last guarded copy ends.
//! 2. Each guarded copy registers its mapping `[start, start + len)` and the
//!    mapping's alignment in a slot of a static table, under its kernel
//!    thread id. `SIGBUS` from a fault is delivered to the faulting thread,
//!    so the handler (looking its thread id up) sees exactly the copy that
//!    faulted, and concurrent copies in other threads don't interfere. The
//!    table is atomics, not thread-locals: a thread-local's first access in
//!    a `dlopen`ed library may allocate, which a handler must not do.
//! 3. When `si_addr` falls inside the current thread's guarded mapping, the
//!    handler maps an anonymous zero-filled chunk (one alignment unit, so a
//!    device DAX mapping is split only where the kernel allows it) over the
//!    faulting address with `MAP_FIXED`, records the fault, and returns.
//!    The faulting instruction is restarted and now reads zeros or writes
//!    into the throw-away chunk; the copy runs to completion, and the
//!    guarded copy then reports [`Error::IoFail`]. The temporary mapping is
//!    unmapped afterwards, so no stale page survives.
//! 4. A `SIGBUS` outside any guarded range (another thread's bug, `kill`)
//!    is forwarded to the previous handler, or, if that was the default,
//!    the default action is restored and the signal re-raised.
//!
//! Writes reach a device DAX through the CPU cache and are flushed (cache
//! line flush + fence) before the mapping is removed.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::{Errno, Error, Result};
use crate::source::{FileType, Source};

/// What a machine-check-safe operation needs to know about a source.
#[derive(Debug, Clone, Copy)]
pub struct McsafeTarget<'fd> {
    /// The kind of source.
    pub file_type: FileType,
    /// Its file descriptor (`None` for anonymous sources).
    pub fd: Option<BorrowedFd<'fd>>,
    /// Its size in bytes (`pmem2_source_size`).
    pub size: u64,
    /// Its mapping alignment (`pmem2_source_alignment`): the page size for
    /// regular files, the device alignment for a device DAX.
    pub alignment: u64,
}

impl Source<'_> {
    /// The [`McsafeTarget`] describing this source: its type, descriptor,
    /// current size and alignment (not read for an anonymous source).
    ///
    /// # Errors
    /// As [`Source::size`] and [`Source::alignment`].
    pub fn mcsafe_target(&self) -> Result<McsafeTarget<'_>> {
        if self.file_type() == FileType::Anonymous {
            return Ok(McsafeTarget {
                file_type: FileType::Anonymous,
                fd: None,
                size: 0,
                alignment: 0,
            });
        }
        Ok(McsafeTarget {
            file_type: self.file_type(),
            fd: self.fd().ok(),
            size: self.size()? as u64,
            alignment: self.alignment()? as u64,
        })
    }

    /// Reads `buf.len()` bytes at `offset` (`pmem2_source_pread_mcsafe`):
    /// see [`pread`].
    ///
    /// # Errors
    /// As [`pread`], and as [`Source::mcsafe_target`].
    pub fn pread_mcsafe(&self, buf: &mut [u8], offset: usize) -> Result<()> {
        pread(&self.mcsafe_target()?, buf, offset as u64)
    }

    /// Writes `buf` at `offset` (`pmem2_source_pwrite_mcsafe`): see
    /// [`pwrite`].
    ///
    /// # Errors
    /// As [`pwrite`], and as [`Source::mcsafe_target`].
    pub fn pwrite_mcsafe(&self, buf: &[u8], offset: usize) -> Result<()> {
        pwrite(&self.mcsafe_target()?, buf, offset as u64)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

fn check<'fd>(
    target: &McsafeTarget<'fd>,
    len: usize,
    offset: u64,
    op: Op,
) -> Result<BorrowedFd<'fd>> {
    let fd = match (target.file_type, target.fd) {
        (FileType::Anonymous, _) | (_, None) => {
            return Err(Error::SourceTypeNotSupported(
                "operation doesn't support provided source type, only sources created from \
                 file descriptor or file handle are supported"
                    .into(),
            ))
        }
        (_, Some(fd)) => fd,
    };
    let fits = offset <= target.size && (len as u64) <= target.size - offset;
    if !fits {
        let what = if op == Op::Read { "read" } else { "write" };
        return Err(Error::LengthOutOfRange(
            format!(
                "size of {what} {len} from offset {offset} goes beyond the file length {}",
                target.size
            )
            .into(),
        ));
    }
    Ok(fd)
}

/// Reads `buf.len()` bytes at `offset` of the source, reporting poisoned
/// ranges as errors instead of crashing.
///
/// # Errors
/// [`Error::SourceTypeNotSupported`] for an anonymous source (checked
/// first); [`Error::LengthOutOfRange`] if `offset + buf.len()` exceeds the
/// size (an `offset` past the end included); [`Error::IoFail`] for a
/// poisoned range (`EIO`, or `SIGBUS` on a device DAX); [`Error::Os`] for
/// other failures.
pub fn pread(target: &McsafeTarget<'_>, buf: &mut [u8], offset: u64) -> Result<()> {
    let fd = check(target, buf.len(), offset, Op::Read)?;
    match target.file_type {
        FileType::DeviceDax => guarded_copy(fd, target.alignment, offset, Dir::FromMap(buf)),
        _ => file_pread(fd, buf, offset),
    }
}

/// Writes `buf` at `offset` of the source, reporting poisoned ranges as
/// errors instead of crashing.
///
/// # Errors
/// As [`pread`].
pub fn pwrite(target: &McsafeTarget<'_>, buf: &[u8], offset: u64) -> Result<()> {
    let fd = check(target, buf.len(), offset, Op::Write)?;
    match target.file_type {
        FileType::DeviceDax => guarded_copy(fd, target.alignment, offset, Dir::ToMap(buf)),
        _ => file_pwrite(fd, buf, offset),
    }
}

fn file_pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        match rustix::io::pread(fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(Errno::IO) => {
                return Err(Error::IoFail(
                    "physical I/O error occurred on read operation, possible bad block".into(),
                ))
            }
            Err(e) => return Err(Error::os(e, "pread")),
        }
    }
    Ok(())
}

fn file_pwrite(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        match rustix::io::pwrite(fd, &buf[done..], offset + done as u64) {
            Ok(0) => return Err(Error::os(Errno::IO, "pwrite wrote nothing")),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(Errno::IO) => {
                return Err(Error::IoFail(
                    "physical I/O error occurred on write operation, possible bad block".into(),
                ))
            }
            Err(e) => return Err(Error::os(e, "pwrite")),
        }
    }
    Ok(())
}

/// The direction of a guarded copy, with the user's buffer.
enum Dir<'a> {
    /// Mapping → buffer.
    FromMap(&'a mut [u8]),
    /// Buffer → mapping.
    ToMap(&'a [u8]),
}

impl Dir<'_> {
    fn len(&self) -> usize {
        match self {
            Dir::FromMap(b) => b.len(),
            Dir::ToMap(b) => b.len(),
        }
    }
}

/// Maps `[offset, offset + len)` of `fd` (rounded out to `alignment`) and
/// copies under the SIGBUS guard. Tests use it on a truncated regular file,
/// whose pages past the end raise `SIGBUS` like poisoned device DAX pages.
fn guarded_copy(fd: BorrowedFd<'_>, alignment: u64, offset: u64, dir: Dir<'_>) -> Result<()> {
    let len = dir.len();
    if len == 0 {
        return Ok(());
    }
    let page = rustix::param::page_size() as u64;
    let align = if alignment.is_power_of_two() {
        alignment.max(page)
    } else {
        page
    };
    let map_off = offset - offset % align;
    let end = offset
        .checked_add(len as u64)
        .and_then(|e| e.checked_next_multiple_of(align))
        .ok_or_else(|| Error::LengthOutOfRange("range overflows".into()))?;
    let map_len = usize::try_from(end - map_off)
        .map_err(|_| Error::LengthOutOfRange("range too large to map".into()))?;
    let prot = match dir {
        Dir::FromMap(_) => rustix::mm::ProtFlags::READ,
        Dir::ToMap(_) => rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
    };
    // SAFETY: a new shared mapping at an address the kernel chooses; it
    // aliases no Rust object and is unmapped below before returning.
    let base = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            map_len,
            prot,
            rustix::mm::MapFlags::SHARED,
            fd,
            map_off,
        )
    }
    .map_err(|e| Error::os(e, "mmap"))?;
    let delta = (offset - map_off) as usize;

    let installed = HandlerGuard::install();
    let faulted = match installed {
        Err(e) => Err(e),
        Ok(_guard) => {
            let slot = GuardSlot::claim(base as usize, map_len, align as usize);
            // The handler reads and writes these cells: keep the compiler from
            // moving their accesses across the guarded copy.
            compiler_fence(Ordering::SeqCst);
            // SAFETY: `base + delta .. + len` lies inside the mapping just
            // created (map_len covers offset - map_off + len); the user's
            // buffer is a distinct Rust slice of `len` bytes. A poisoned
            // access raises SIGBUS, which the guard turns into a retry on a
            // zero-filled anonymous chunk at the same address, so the copy
            // always completes with valid memory on both sides.
            unsafe {
                let p = base.cast::<u8>().add(delta);
                match dir {
                    Dir::FromMap(buf) => {
                        std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), len);
                    }
                    Dir::ToMap(buf) => {
                        std::ptr::copy_nonoverlapping(buf.as_ptr(), p, len);
                        crate::deep_flush::cpu_persist(p, len);
                    }
                }
            }
            compiler_fence(Ordering::SeqCst);
            Ok(slot.release())
        }
    };
    // SAFETY: unmaps exactly the mapping created above (including any
    // anonymous chunks the handler placed inside it); nothing refers to it.
    let unmapped = unsafe { rustix::mm::munmap(base, map_len) };
    let faulted = faulted?;
    unmapped.map_err(|e| Error::os(e, "munmap"))?;
    if faulted {
        return Err(Error::IoFail(
            "physical I/O error occurred, possible bad block".into(),
        ));
    }
    Ok(())
}

/// How many threads can run a guarded copy at once; more wait for a slot.
const GUARD_SLOTS: usize = 64;

/// One thread's guarded mapping, found by the SIGBUS handler through the
/// kernel thread id. A global table of atomics rather than thread-locals:
/// in a `dlopen`ed library a thread-local's first access may allocate
/// (`__tls_get_addr`), which a signal handler must not do.
struct GuardSlot {
    /// Owner's kernel thread id; 0 when free.
    tid: AtomicI32,
    /// Start of the guarded mapping.
    start: AtomicUsize,
    /// Its length.
    len: AtomicUsize,
    /// Its alignment: the unit replaced on a fault.
    align: AtomicUsize,
    /// Whether a fault hit it.
    faulted: AtomicBool,
}

static GUARDS: [GuardSlot; GUARD_SLOTS] = [const {
    GuardSlot {
        tid: AtomicI32::new(0),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        align: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    }
}; GUARD_SLOTS];

/// The current thread's kernel id (`gettid`, async-signal-safe).
fn current_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

impl GuardSlot {
    /// Takes a free slot for the current thread and guards
    /// `[start, start + len)`.
    fn claim(start: usize, len: usize, align: usize) -> &'static GuardSlot {
        let tid = current_tid();
        loop {
            for slot in &GUARDS {
                // Win the slot first, then fill it: only this thread's
                // handler reads it, and only during the copy that follows.
                if slot
                    .tid
                    .compare_exchange(0, tid, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    slot.start.store(start, Ordering::SeqCst);
                    slot.len.store(len, Ordering::SeqCst);
                    slot.align.store(align, Ordering::SeqCst);
                    slot.faulted.store(false, Ordering::SeqCst);
                    return slot;
                }
            }
            std::thread::yield_now();
        }
    }

    /// Ends the guard; returns whether a fault hit the range.
    fn release(&self) -> bool {
        let faulted = self.faulted.load(Ordering::SeqCst);
        self.tid.store(0, Ordering::SeqCst);
        faulted
    }

    /// The current thread's slot, if it is running a guarded copy.
    fn of_current_thread() -> Option<&'static GuardSlot> {
        let tid = current_tid();
        GUARDS.iter().find(|s| s.tid.load(Ordering::SeqCst) == tid)
    }
}

/// Number of guarded copies running, and the saved previous action.
static HANDLER_USERS: Mutex<Option<SavedAction>> = Mutex::new(None);

struct SavedAction {
    users: usize,
    old: libc::sigaction,
}

// SAFETY: `libc::sigaction` is plain data (a function address, a mask and
// flags); it is only read and written under the mutex.
unsafe impl Send for SavedAction {}

/// The previous handler's address and flags, for forwarding from the
/// signal handler (which can't take the mutex).
static OLD_HANDLER: AtomicUsize = AtomicUsize::new(libc::SIG_DFL);
static OLD_FLAGS: AtomicI32 = AtomicI32::new(0);

/// Keeps the SIGBUS handler installed while alive.
struct HandlerGuard(());

impl HandlerGuard {
    fn install() -> Result<HandlerGuard> {
        let mut state = HANDLER_USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(saved) = state.as_mut() {
            saved.users += 1;
            return Ok(HandlerGuard(()));
        }
        // SAFETY: zeroed `sigaction` structs are valid (empty mask, no
        // flags, SIG_DFL); the new one is filled in before use.
        let (mut new, mut old): (libc::sigaction, libc::sigaction) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        new.sa_sigaction = sigbus_handler as *const () as usize;
        // SA_ONSTACK: like std's own SIGBUS/SIGSEGV handler, so a forwarded
        // stack-overflow fault still runs on the alternate stack.
        new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `sa_mask` is a valid sigset_t owned by `new`.
        unsafe { libc::sigemptyset(&raw mut new.sa_mask) };
        // SAFETY: `sigaction` reads `new` and writes `old`, both valid; the
        // handler is async-signal-safe (see `sigbus_handler`).
        if unsafe { libc::sigaction(libc::SIGBUS, &raw const new, &raw mut old) } != 0 {
            return Err(Error::os(
                Errno::from_raw_os_error(last_errno()),
                "sigaction",
            ));
        }
        OLD_HANDLER.store(old.sa_sigaction, Ordering::SeqCst);
        OLD_FLAGS.store(old.sa_flags, Ordering::SeqCst);
        *state = Some(SavedAction { users: 1, old });
        Ok(HandlerGuard(()))
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        let mut state = HANDLER_USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(saved) = state.as_mut() else {
            return;
        };
        saved.users -= 1;
        if saved.users == 0 {
            let old = saved.old;
            // SAFETY: restores the action saved at installation; `old` is a
            // valid sigaction and the old-action pointer may be null.
            unsafe { libc::sigaction(libc::SIGBUS, &raw const old, std::ptr::null_mut()) };
            *state = None;
        }
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The SIGBUS handler. Only async-signal-safe work: atomics in a static
/// table, and raw system calls (`gettid`, `mmap`, `sigaction`, `raise`).
extern "C" fn sigbus_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let addr = if info.is_null() {
        0
    } else {
        // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO
        // handler; `si_addr` is meaningful for SIGBUS.
        unsafe { (*info).si_addr() as usize }
    };
    let slot = GuardSlot::of_current_thread();
    let (start, len, align) = slot.map_or((0, 0, 1), |s| {
        (
            s.start.load(Ordering::SeqCst),
            s.len.load(Ordering::SeqCst),
            s.align.load(Ordering::SeqCst).max(1),
        )
    });
    if let Some(slot) = slot.filter(|_| addr >= start && addr - start < len) {
        let chunk = start + (addr - start) / align * align;
        let chunk_len = align.min(start + len - chunk);
        // SAFETY: replaces part of this thread's own temporary mapping,
        // which no Rust reference points into; the copy loop only accesses
        // it through raw pointers and resumes on the fresh zero pages.
        let remapped = unsafe {
            rustix::mm::mmap_anonymous(
                chunk as *mut libc::c_void,
                chunk_len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::FIXED,
            )
        };
        if remapped.is_ok() {
            slot.faulted.store(true, Ordering::SeqCst);
            return;
        }
    }
    forward(sig, info, ctx);
}

/// Hands a SIGBUS that isn't ours to the previous handler.
fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let old = OLD_HANDLER.load(Ordering::SeqCst);
    let flags = OLD_FLAGS.load(Ordering::SeqCst);
    if old == libc::SIG_IGN {
        // A fault can't be ignored: the kernel would force the default.
        // SAFETY: reading si_code from the kernel's siginfo.
        let user_sent = info.is_null() || unsafe { (*info).si_code } <= 0;
        if user_sent {
            return;
        }
    }
    if old == libc::SIG_DFL || old == libc::SIG_IGN {
        // SAFETY: resets SIGBUS to its default action and re-raises it;
        // both are async-signal-safe. The signal is blocked while this
        // handler runs, so it is delivered (and kills) on return; a fault
        // would also simply recur on return.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &raw const dfl, std::ptr::null_mut());
            libc::raise(libc::SIGBUS);
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so
        // its address is a function of this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(old) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous handler was installed without SA_SIGINFO,
        // so its address is a `void (*)(int)`.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(old) };
        f(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    /// Serialises the tests that touch the process-wide SIGBUS action.
    static SIGNAL_TESTS: Mutex<()> = Mutex::new(());

    fn file_with(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn target(f: &std::fs::File, file_type: FileType) -> McsafeTarget<'_> {
        McsafeTarget {
            file_type,
            fd: Some(f.as_fd()),
            size: f.metadata().unwrap().len(),
            alignment: rustix::param::page_size() as u64,
        }
    }

    #[test]
    fn regular_file_read_and_write() {
        let data: Vec<u8> = (0..8192u32).map(|i| i as u8).collect();
        let f = file_with(&data);
        let t = target(&f, FileType::Regular);
        let mut buf = vec![0u8; 100];
        pread(&t, &mut buf, 4000).unwrap();
        assert_eq!(buf, data[4000..4100]);
        pwrite(&t, &[7u8; 10], 8182).unwrap();
        pread(&t, &mut buf[..10], 8182).unwrap();
        assert_eq!(&buf[..10], &[7u8; 10]);
        // empty reads at the very end are in range
        pread(&t, &mut [], 8192).unwrap();
    }

    #[test]
    fn ranges_past_the_end_are_length_out_of_range() {
        let f = file_with(&[1u8; 4096]);
        let t = target(&f, FileType::Regular);
        let mut buf = [0u8; 2];
        let e = pread(&t, &mut buf, 4095).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        assert_eq!(
            e.to_string(),
            "size of read 2 from offset 4095 goes beyond the file length 4096"
        );
        // an offset past the end doesn't wrap around (PMDK's unsigned bug)
        let e = pread(&t, &mut [], 5000).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        let e = pwrite(&t, &[0u8; 1], u64::MAX).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
        assert!(e.to_string().starts_with("size of write 1"));
    }

    #[test]
    fn anonymous_and_fdless_sources_are_refused_first() {
        let t = McsafeTarget {
            file_type: FileType::Anonymous,
            fd: None,
            size: 0,
            alignment: 4096,
        };
        let e = pread(&t, &mut [0u8; 8], 1 << 40).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
        let e = pwrite(&t, &[0u8; 8], 0).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
    }

    #[test]
    fn os_failures_carry_the_errno() {
        // a read-only descriptor can't be written: EBADF, not IO_FAIL
        let f = file_with(&[0u8; 64]);
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f));
        let ro = std::fs::File::open(path).unwrap();
        let t = target(&ro, FileType::Regular);
        let e = pwrite(&t, &[1u8; 4], 0).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::BADF), "{e}");
        assert!(e.to_string().starts_with("pwrite: "));
    }

    #[test]
    fn guarded_copy_reads_a_mapping() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let data: Vec<u8> = (0..3 * page).map(|i| (i % 251) as u8).collect();
        let f = file_with(&data);
        let mut buf = vec![0u8; page + 10];
        guarded_copy(f.as_fd(), page as u64, 100, Dir::FromMap(&mut buf)).unwrap();
        assert_eq!(buf, data[100..100 + page + 10]);
        guarded_copy(f.as_fd(), page as u64, 5, Dir::ToMap(&[9u8; 3])).unwrap();
        let mut back = [0u8; 3];
        file_pread(f.as_fd(), &mut back, 5).unwrap();
        assert_eq!(back, [9u8; 3]);
    }

    #[test]
    fn sigbus_becomes_io_fail_and_the_old_handler_is_restored() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let data = vec![0x11u8; 3 * page];
        let f = file_with(&data);
        // pages past the end of file raise SIGBUS when touched
        f.set_len(page as u64).unwrap();

        // SAFETY: querying the current action only.
        let before = unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &raw mut a);
            a.sa_sigaction
        };
        let mut buf = vec![0xffu8; 3 * page];
        let e = guarded_copy(f.as_fd(), page as u64, 0, Dir::FromMap(&mut buf)).unwrap_err();
        assert_eq!(e.code(), PMEM2_E_IO_FAIL);
        assert_eq!(
            e.to_string(),
            "physical I/O error occurred, possible bad block"
        );
        // the readable page was copied; the poisoned ones read as zeros
        assert!(buf[..page].iter().all(|&b| b == 0x11));
        assert!(buf[page..].iter().all(|&b| b == 0));
        let e = guarded_copy(
            f.as_fd(),
            page as u64,
            page as u64 * 2,
            Dir::ToMap(&[1u8; 8]),
        )
        .unwrap_err();
        assert_eq!(e.code(), PMEM2_E_IO_FAIL);
        // SAFETY: as above.
        let after = unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &raw mut a);
            a.sa_sigaction
        };
        assert_eq!(before, after);
        // the good page still works afterwards
        let mut one = [0u8; 4];
        guarded_copy(f.as_fd(), page as u64, 8, Dir::FromMap(&mut one)).unwrap();
        assert_eq!(one, [0x11; 4]);
    }

    static FORWARDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    extern "C" fn custom(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
        FORWARDED.store(true, Ordering::SeqCst);
    }

    #[test]
    fn foreign_sigbus_goes_to_the_previous_handler() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: installs a handler that only stores to an atomic, keeping
        // the original action to put back at the end.
        let original = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = custom as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO;
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(
                libc::sigaction(libc::SIGBUS, &raw const act, &raw mut old),
                0
            );
            old
        };
        FORWARDED.store(false, Ordering::SeqCst);
        {
            let _guard = HandlerGuard::install().unwrap();
            // SAFETY: a user-sent SIGBUS outside any guarded copy.
            unsafe { libc::raise(libc::SIGBUS) };
            assert!(FORWARDED.load(Ordering::SeqCst));
        }
        // SAFETY: querying, then restoring the original action.
        unsafe {
            let mut now: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &raw mut now);
            assert_eq!(now.sa_sigaction, custom as *const () as usize);
            libc::sigaction(libc::SIGBUS, &raw const original, std::ptr::null_mut());
        }
    }

    #[test]
    fn concurrent_guarded_copies_only_fail_where_they_fault() {
        let _lock = SIGNAL_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = rustix::param::page_size();
        let good = file_with(&vec![0x22u8; 2 * page]);
        let bad = file_with(&vec![0x33u8; 2 * page]);
        bad.set_len(0).unwrap();
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for i in 0..4 {
                let (good, bad) = (&good, &bad);
                handles.push(s.spawn(move || {
                    let mut ok = 0;
                    let mut failed = 0;
                    for _ in 0..50 {
                        let mut buf = vec![0u8; 2 * page];
                        let f = if i % 2 == 0 { good } else { bad };
                        match guarded_copy(f.as_fd(), page as u64, 0, Dir::FromMap(&mut buf)) {
                            Ok(()) => {
                                assert!(buf.iter().all(|&b| b == 0x22));
                                ok += 1;
                            }
                            Err(e) => {
                                assert_eq!(e.code(), PMEM2_E_IO_FAIL);
                                failed += 1;
                            }
                        }
                    }
                    (i, ok, failed)
                }));
            }
            for h in handles {
                let (i, ok, failed) = h.join().unwrap();
                if i % 2 == 0 {
                    assert_eq!((ok, failed), (50, 0));
                } else {
                    assert_eq!((ok, failed), (0, 50));
                }
            }
        });
    }
}
