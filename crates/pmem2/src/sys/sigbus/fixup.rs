//! A copy that survives a `SIGBUS` on its loads: the Linux kernel's
//! *exception table* idea (`copy_from_user`), for reads of mapped files.
//!
//! [`copy`] is a naked function whose every load from the source lies
//! inside one of two address ranges the handler knows ([`labels`]):
//!
//! * the **main** range: the fast shapes (overlapping 4-, 8- or 16-byte
//!   moves up to 64 bytes, then a loop of four 16-byte SSE2 moves). At
//!   every instruction that can fault, `(rsi, rdi, rcx)` are the next
//!   source byte, the next destination byte and the bytes left, and every
//!   byte before them has been copied: each shape loads before it stores
//!   and advances the registers only after its stores. A fault here
//!   resumes at the **retry** label;
//! * the **retry** range: a byte-by-byte copy from that point on. A fault
//!   here is exactly at the first byte that can't be read; it resumes at
//!   the **done** label, which returns `rcx`, the bytes not copied.
//!
//! No zero page is mapped and nothing is registered per call: the handler
//! looks at the interrupted instruction pointer only. The registers named
//! here are x86\_64's; the aarch64 routine keeps the same invariant in
//! `(x1, x0, x2)`. Other architectures have no such routine (reads there
//! use the slot guard).
//!
//! # References
//! * Linux, `arch/x86/lib/copy_user_64.S` and `Documentation/arch/x86/exception-tables.rst`
//! * [`sigaction(2)`](https://man7.org/linux/man-pages/man2/sigaction.2.html) (`ucontext_t` as the third argument)

/// Where the routine's faulting instructions are, and where to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Labels {
    /// `[main_begin, main_end)`: a fault resumes at `retry`.
    pub main_begin: usize,
    pub main_end: usize,
    /// `[retry, retry_end)`: a fault resumes at `done`.
    pub retry: usize,
    pub retry_end: usize,
    /// Returns the bytes not copied.
    pub done: usize,
}

impl Labels {
    /// Where an instruction pointer interrupted by a fault should resume,
    /// if it is one of the routine's loads.
    pub(crate) fn resume_at(&self, pc: usize) -> Option<usize> {
        if (self.main_begin..self.main_end).contains(&pc) {
            Some(self.retry)
        } else if (self.retry..self.retry_end).contains(&pc) {
            Some(self.done)
        } else {
            None
        }
    }
}

/// The routine's labels.
pub(crate) fn labels() -> Labels {
    let mut out = [0usize; 5];
    // SAFETY: `out` is five writable `usize`s; the function only stores
    // the five label addresses into it.
    unsafe { write_labels(out.as_mut_ptr()) };
    Labels {
        main_begin: out[0],
        main_end: out[1],
        retry: out[2],
        retry_end: out[3],
        done: out[4],
    }
}

/// Copies `len` bytes from `src` to `dst`; returns how many bytes at the
/// end were **not** copied because a load raised `SIGBUS` (0 when all
/// were). Bytes `[0, len - returned)` of `dst` hold the source's bytes;
/// the rest of `dst` is left as it was (every shape stores only bytes it
/// has loaded, and a fault stops it before its stores).
///
/// Recovery needs pmem2's `SIGBUS` handler to be installed
/// ([`super::install`]); without it a fault is an ordinary `SIGBUS`.
///
/// # Safety
/// `src` must be valid for reads of `len` bytes *except* that pages under
/// it may be gone (a truncated file mapping, device DAX poison): it must be
/// mapped, readable memory that isn't referenced by any live Rust
/// reference that assumes it unchanged. `dst` must be valid for writes of
/// `len` bytes and not overlap `src`.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
// One routine, so that its labels enclose every load: it can't be split.
#[allow(clippy::too_many_lines)]
pub(crate) unsafe extern "C" fn copy(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // System V: rdi = dst, rsi = src, rdx = len; returns rax. Only
    // caller-saved registers are used (rax, rcx, rdx, rsi, rdi, xmm0-3).
    core::arch::naked_asm!(
        ".globl {f}_main_begin",
        ".hidden {f}_main_begin",
        "{f}_main_begin:",
        "mov rcx, rdx",
        "cmp rcx, 16",
        "jb 20f",
        "cmp rcx, 32",
        "ja 30f",
        // 16..=32: two overlapping 16-byte moves.
        "movups xmm0, [rsi]",
        "movups xmm1, [rsi + rcx - 16]",
        "movups [rdi], xmm0",
        "movups [rdi + rcx - 16], xmm1",
        "xor eax, eax",
        "ret",
        // 0..16
        "20:",
        "cmp rcx, 8",
        "jb 24f",
        // 8..16: two overlapping 8-byte moves.
        "mov rax, [rsi]",
        "mov rdx, [rsi + rcx - 8]",
        "mov [rdi], rax",
        "mov [rdi + rcx - 8], rdx",
        "xor eax, eax",
        "ret",
        "24:",
        "cmp rcx, 4",
        "jb 26f",
        // 4..8: two overlapping 4-byte moves.
        "mov eax, [rsi]",
        "mov edx, [rsi + rcx - 4]",
        "mov [rdi], eax",
        "mov [rdi + rcx - 4], edx",
        "xor eax, eax",
        "ret",
        // 0..4: bytes.
        "26:",
        "test rcx, rcx",
        "jz 29f",
        "27:",
        "movzx eax, byte ptr [rsi]",
        "mov [rdi], al",
        "inc rsi",
        "inc rdi",
        "dec rcx",
        "jnz 27b",
        "29:",
        "xor eax, eax",
        "ret",
        // More than 32.
        "30:",
        "cmp rcx, 64",
        "ja 40f",
        // 33..=64: four 16-byte moves, the last two overlapping.
        "movups xmm0, [rsi]",
        "movups xmm1, [rsi + 16]",
        "movups xmm2, [rsi + rcx - 32]",
        "movups xmm3, [rsi + rcx - 16]",
        "movups [rdi], xmm0",
        "movups [rdi + 16], xmm1",
        "movups [rdi + rcx - 32], xmm2",
        "movups [rdi + rcx - 16], xmm3",
        "xor eax, eax",
        "ret",
        // More than 64: 64 bytes per iteration while more than 64 are
        // left, then the last 64 (overlapping bytes already copied: a
        // fault there is at or past rsi, the registers still hold). Not
        // `rep movsb`: on the machine measured (AMD EPYC, ERMSB + FSRM) it
        // was 0.7-0.9x this loop at 1 MiB and 0.69x at 4 KiB, cached.
        "40:",
        "41:",
        "movups xmm0, [rsi]",
        "movups xmm1, [rsi + 16]",
        "movups xmm2, [rsi + 32]",
        "movups xmm3, [rsi + 48]",
        "movups [rdi], xmm0",
        "movups [rdi + 16], xmm1",
        "movups [rdi + 32], xmm2",
        "movups [rdi + 48], xmm3",
        "add rsi, 64",
        "add rdi, 64",
        "sub rcx, 64",
        "cmp rcx, 64",
        "ja 41b",
        "movups xmm0, [rsi + rcx - 64]",
        "movups xmm1, [rsi + rcx - 48]",
        "movups xmm2, [rsi + rcx - 32]",
        "movups xmm3, [rsi + rcx - 16]",
        "movups [rdi + rcx - 64], xmm0",
        "movups [rdi + rcx - 48], xmm1",
        "movups [rdi + rcx - 32], xmm2",
        "movups [rdi + rcx - 16], xmm3",
        "xor eax, eax",
        "ret",
        ".globl {f}_main_end",
        ".hidden {f}_main_end",
        "{f}_main_end:",
        // A fault in the main range resumes here, byte by byte from the
        // first byte not yet copied.
        ".globl {f}_retry",
        ".hidden {f}_retry",
        "{f}_retry:",
        "test rcx, rcx",
        "jz 62f",
        "61:",
        "movzx eax, byte ptr [rsi]",
        "mov [rdi], al",
        "inc rsi",
        "inc rdi",
        "dec rcx",
        "jnz 61b",
        "62:",
        "xor eax, eax",
        "ret",
        ".globl {f}_retry_end",
        ".hidden {f}_retry_end",
        "{f}_retry_end:",
        // A fault in the retry loop resumes here: rcx bytes were not copied.
        ".globl {f}_done",
        ".hidden {f}_done",
        "{f}_done:",
        "mov rax, rcx",
        "ret",
        f = sym copy,
    )
}

/// Stores the five labels of [`copy`] at `out`.
///
/// # Safety
/// `out` must be valid for writes of five `usize`s.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn write_labels(out: *mut usize) {
    core::arch::naked_asm!(
        "lea rax, [rip + {f}_main_begin]",
        "mov [rdi], rax",
        "lea rax, [rip + {f}_main_end]",
        "mov [rdi + 8], rax",
        "lea rax, [rip + {f}_retry]",
        "mov [rdi + 16], rax",
        "lea rax, [rip + {f}_retry_end]",
        "mov [rdi + 24], rax",
        "lea rax, [rip + {f}_done]",
        "mov [rdi + 32], rax",
        "ret",
        f = sym copy,
    )
}

/// The interrupted program counter in the handler's third argument.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to an `SA_SIGINFO`
/// handler running now.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: the caller passes the kernel's ucontext_t.
    unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] as usize }
}

/// Makes the interrupted thread resume at `to` when the handler returns.
///
/// # Safety
/// As [`pc`]; `to` must be a label of [`copy`] that the registers at the
/// interruption are valid for.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn set_pc(ctx: *mut libc::c_void, to: usize) {
    // SAFETY: the caller passes the kernel's ucontext_t, which the kernel
    // restores (with this instruction pointer) when the handler returns.
    unsafe {
        (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] = to as i64;
    }
}

/// As the x86\_64 [`copy`], for aarch64: `(x1, x0, x2)` are the next source
/// byte, the next destination byte and the bytes left at every load of the
/// main range; shapes of overlapping 4-, 8- and 16-byte (`ldp`/`stp` of
/// `x` registers) moves up to 64 bytes, then a loop of two `ldp`/`stp` of
/// `q` registers (64 bytes).
///
/// # Safety
/// As the x86\_64 [`copy`].
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
// One routine, so that its labels enclose every load: it can't be split.
#[allow(clippy::too_many_lines)]
pub(crate) unsafe extern "C" fn copy(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // AAPCS64: x0 = dst, x1 = src, x2 = len; returns x0. Only
    // caller-saved registers are used (x0-x13, v0-v3).
    core::arch::naked_asm!(
        ".globl {f}_main_begin",
        ".hidden {f}_main_begin",
        "{f}_main_begin:",
        "cmp x2, #16",
        "b.lo 20f",
        "cmp x2, #32",
        "b.hi 30f",
        // 16..=32: two overlapping 16-byte moves.
        "add x4, x1, x2",
        "add x5, x0, x2",
        "ldp x6, x7, [x1]",
        "ldp x8, x9, [x4, #-16]",
        "stp x6, x7, [x0]",
        "stp x8, x9, [x5, #-16]",
        "mov x0, xzr",
        "ret",
        // 0..16
        "20:",
        "cmp x2, #8",
        "b.lo 24f",
        // 8..16: two overlapping 8-byte moves.
        "add x4, x1, x2",
        "add x5, x0, x2",
        "ldr x6, [x1]",
        "ldr x7, [x4, #-8]",
        "str x6, [x0]",
        "str x7, [x5, #-8]",
        "mov x0, xzr",
        "ret",
        "24:",
        "cmp x2, #4",
        "b.lo 26f",
        // 4..8: two overlapping 4-byte moves.
        "add x4, x1, x2",
        "add x5, x0, x2",
        "ldr w6, [x1]",
        "ldr w7, [x4, #-4]",
        "str w6, [x0]",
        "str w7, [x5, #-4]",
        "mov x0, xzr",
        "ret",
        // 0..4: bytes.
        "26:",
        "cbz x2, 29f",
        "27:",
        "ldrb w6, [x1]",
        "strb w6, [x0]",
        "add x1, x1, #1",
        "add x0, x0, #1",
        "subs x2, x2, #1",
        "b.ne 27b",
        "29:",
        "mov x0, xzr",
        "ret",
        // More than 32.
        "30:",
        "cmp x2, #64",
        "b.hi 40f",
        // 33..=64: four 16-byte moves, the last two overlapping.
        "add x4, x1, x2",
        "add x5, x0, x2",
        "ldp x6, x7, [x1]",
        "ldp x8, x9, [x1, #16]",
        "ldp x10, x11, [x4, #-32]",
        "ldp x12, x13, [x4, #-16]",
        "stp x6, x7, [x0]",
        "stp x8, x9, [x0, #16]",
        "stp x10, x11, [x5, #-32]",
        "stp x12, x13, [x5, #-16]",
        "mov x0, xzr",
        "ret",
        // More than 64: 64 bytes per iteration while more than 64 are
        // left, then the last 64 (overlapping bytes already copied).
        "40:",
        "ldp q0, q1, [x1]",
        "ldp q2, q3, [x1, #32]",
        "stp q0, q1, [x0]",
        "stp q2, q3, [x0, #32]",
        "add x1, x1, #64",
        "add x0, x0, #64",
        "sub x2, x2, #64",
        "cmp x2, #64",
        "b.hi 40b",
        "add x4, x1, x2",
        "add x5, x0, x2",
        "ldp q0, q1, [x4, #-64]",
        "ldp q2, q3, [x4, #-32]",
        "stp q0, q1, [x5, #-64]",
        "stp q2, q3, [x5, #-32]",
        "mov x0, xzr",
        "ret",
        ".globl {f}_main_end",
        ".hidden {f}_main_end",
        "{f}_main_end:",
        // A fault in the main range resumes here, byte by byte from the
        // first byte not yet copied.
        ".globl {f}_retry",
        ".hidden {f}_retry",
        "{f}_retry:",
        "cbz x2, 62f",
        "61:",
        "ldrb w6, [x1]",
        "strb w6, [x0]",
        "add x1, x1, #1",
        "add x0, x0, #1",
        "subs x2, x2, #1",
        "b.ne 61b",
        "62:",
        "mov x0, xzr",
        "ret",
        ".globl {f}_retry_end",
        ".hidden {f}_retry_end",
        "{f}_retry_end:",
        // A fault in the retry loop resumes here: x2 bytes were not copied.
        ".globl {f}_done",
        ".hidden {f}_done",
        "{f}_done:",
        "mov x0, x2",
        "ret",
        f = sym copy,
    )
}

/// Stores the five labels of [`copy`] at `out`.
///
/// # Safety
/// `out` must be valid for writes of five `usize`s.
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
unsafe extern "C" fn write_labels(out: *mut usize) {
    core::arch::naked_asm!(
        "adrp x1, {f}_main_begin",
        "add x1, x1, :lo12:{f}_main_begin",
        "str x1, [x0]",
        "adrp x1, {f}_main_end",
        "add x1, x1, :lo12:{f}_main_end",
        "str x1, [x0, #8]",
        "adrp x1, {f}_retry",
        "add x1, x1, :lo12:{f}_retry",
        "str x1, [x0, #16]",
        "adrp x1, {f}_retry_end",
        "add x1, x1, :lo12:{f}_retry_end",
        "str x1, [x0, #24]",
        "adrp x1, {f}_done",
        "add x1, x1, :lo12:{f}_done",
        "str x1, [x0, #32]",
        "ret",
        f = sym copy,
    )
}

/// The interrupted program counter in the handler's third argument.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to an `SA_SIGINFO`
/// handler running now.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: the caller passes the kernel's ucontext_t.
    unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.pc as usize }
}

/// Makes the interrupted thread resume at `to` when the handler returns.
///
/// # Safety
/// As [`pc`]; `to` must be a label of [`copy`] that the registers at the
/// interruption are valid for.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn set_pc(ctx: *mut libc::c_void, to: usize) {
    // SAFETY: the caller passes the kernel's ucontext_t, which the kernel
    // restores (with this program counter) when the handler returns.
    unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.pc = to as u64 };
}
