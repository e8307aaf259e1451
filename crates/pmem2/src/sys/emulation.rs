//! Test support: detects a user-mode emulator (QEMU's `qemu-aarch64`, which
//! CI runs the `aarch64` build under) breaking a kernel behaviour a test
//! relies on. Such a test reports a skip with the reason ([`skip`]) instead
//! of failing or passing silently; a real kernel runs it for real (the
//! x86-64 stage, and the arm64 DAX guest: `cargo xtask dax-test`).
//!
//! - QEMU's user mode (7.2) accepts `MAP_SHARED_VALIDATE | MAP_SYNC` on any
//!   file when the mapping is `MAP_FIXED` (as pmem2 maps: over its
//!   reservation), though it refuses it without `MAP_FIXED`.
//! - It answers ioctls it cannot translate with `ENOSYS`, where the kernel
//!   says `ENOTTY` (not a device that knows the request).

use std::os::fd::{AsFd, AsRawFd};

use rustix::mm::{MapFlags, ProtFlags};

/// Whether `MAP_SHARED_VALIDATE | MAP_SYNC` is accepted on a file of the
/// temporary directory, which a kernel refuses unless the file is on DAX.
pub(crate) fn map_sync_accepted_without_dax() -> bool {
    if cfg!(miri) {
        return false; // no kernel emulator; Miri maps nothing but read-write memory
    }
    let file = tempfile::tempfile().expect("a temporary file");
    let page = rustix::param::page_size();
    file.set_len(page as u64).expect("set_len");
    // SAFETY: a fresh inaccessible range chosen by the kernel, unmapped below.
    let hole = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            page,
            ProtFlags::empty(),
            MapFlags::PRIVATE | MapFlags::NORESERVE,
        )
    }
    .expect("mmap");
    // SAFETY: replaces the range reserved above, which nothing refers to.
    let mapped = unsafe {
        rustix::mm::mmap(
            hole,
            page,
            ProtFlags::READ,
            MapFlags::SHARED_VALIDATE | MapFlags::SYNC | MapFlags::FIXED,
            file.as_fd(),
            0,
        )
    };
    // SAFETY: the range reserved above (whatever is mapped there now).
    unsafe { rustix::mm::munmap(hole, page) }.expect("munmap");
    mapped.is_ok()
}

/// Whether an ioctl unknown to a regular file fails with `ENOSYS` instead
/// of the kernel's `ENOTTY`.
pub(crate) fn unknown_ioctl_answers_enosys() -> bool {
    if cfg!(miri) {
        return false; // no kernel emulator (and no ioctl in Miri)
    }
    let file = tempfile::tempfile().expect("a temporary file");
    let mut buf = [0u8; 32];
    // SAFETY: an ioctl request no regular file implements, with a buffer of
    // the size its number encodes (`_IOWR('N', 1, 32 bytes)`).
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), 0xc020_4e01, buf.as_mut_ptr()) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
}

/// Reports that `test` checked nothing here and why, on the real stderr
/// (libtest captures `eprintln!`, not direct writes), so the skip shows in
/// `cargo test`'s output; CI counts these lines.
pub(crate) fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    // One write, so the line isn't cut by the harness's own output.
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The reason given when [`map_sync_accepted_without_dax`] holds.
pub(crate) const MAP_SYNC_WHY: &str =
    "MAP_SYNC is accepted on a non-DAX file here (QEMU user mode ignores the flag); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";
/// The reason given when [`unknown_ioctl_answers_enosys`] holds.
pub(crate) const IOCTL_WHY: &str =
    "unknown ioctls fail with ENOSYS, not ENOTTY, here (QEMU user mode); checked where a real kernel runs the tests (the x86-64 stage, the arm64 DAX guest)";
