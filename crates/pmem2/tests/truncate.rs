//! No safe call crashes the process: every safe `Map` method that touches
//! mapped memory returns `EFAULT` when the file under it was truncated (by
//! this process or by another one), the map works again once the file is
//! long enough, and pmem2's one SIGBUS handler leaves every other SIGBUS to
//! the handler (or default action) that was there before it.
//!
//! `PMEM2_FORCE_GRANULARITY` is process-wide: every test here holds
//! [`ENV`] while it sets it and maps. The chaining tests run in a child
//! process (this binary, re-executed), since they change signal actions.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{
    page, skip, temp_file_in, test_dirs, user_mode_emulator, TempFile, FATAL_FAULT_WHY,
    NO_FAULTING_FLUSH_WHY,
};
use pmem2::Errno;
use pmem2::{Config, Granularity, Map, MemFlags, Source};

static ENV: Mutex<()> = Mutex::new(());

const PAGES: usize = 4;

/// Maps a file of `PAGES` pages filled with 0x11 with `granularity` forced.
fn map_file(dir: &Path, granularity: Granularity) -> (TempFile, Map) {
    let f = temp_file_in(dir, PAGES * page(), 0x11);
    let value = match granularity {
        Granularity::Page => "PAGE",
        Granularity::CacheLine => "CACHE_LINE",
        Granularity::Byte => "BYTE",
    };
    std::env::set_var("PMEM2_FORCE_GRANULARITY", value);
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
    assert_eq!(map.store_granularity(), granularity);
    (f, map)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Read,
    Write,
    CopyFromSlice,
    Fill,
    CopyWithin,
    Flush,
    Persist,
}

const METHODS: [Method; 7] = [
    Method::Read,
    Method::Write,
    Method::CopyFromSlice,
    Method::Fill,
    Method::CopyWithin,
    Method::Flush,
    Method::Persist,
];

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Read => "Map::read",
            Method::Write => "Map::write",
            Method::CopyFromSlice => "Map::copy_from_slice",
            Method::Fill => "Map::fill",
            Method::CopyWithin => "Map::copy_within",
            Method::Flush => "Map::flush",
            Method::Persist => "Map::persist",
        }
    }

    /// Calls the method on `[offset, offset + len)` (the source of
    /// `copy_within` is page 0, which stays).
    fn call(self, map: &mut Map, offset: usize, len: usize) -> pmem2::Result<()> {
        match self {
            Method::Read => map.read(offset, &mut vec![0u8; len]),
            Method::Write => map.write(offset, &vec![0x22u8; len]),
            Method::CopyFromSlice => {
                map.copy_from_slice(offset, &vec![0x33u8; len], MemFlags::NONTEMPORAL)
            }
            Method::Fill => map.fill(offset, len, 0x44, MemFlags::empty()),
            Method::CopyWithin => map.copy_within(0, offset, len, MemFlags::empty()),
            Method::Flush => map.flush(offset, len),
            Method::Persist => map.persist(offset, len),
        }
    }

    /// Whether the method touches the pages at this granularity: PAGE
    /// flush/persist is `msync`, which has nothing to fault on; BYTE flush
    /// is nothing at all.
    fn faults(self, granularity: Granularity) -> bool {
        match self {
            Method::Flush | Method::Persist => granularity == Granularity::CacheLine,
            _ => true,
        }
    }

    /// Whether the fault can't be seen here: a cache-line flush under QEMU
    /// user mode (reported as a skip).
    fn fault_unobservable(self, test: &str) -> bool {
        let hidden = matches!(self, Method::Flush | Method::Persist) && user_mode_emulator();
        if hidden {
            skip(&format!("{test} ({self:?}: EFAULT)"), NO_FAULTING_FLUSH_WHY);
        }
        hidden
    }
}

#[derive(Debug, Clone, Copy)]
enum Truncator {
    ThisProcess,
    ChildProcess,
}

fn truncate(f: &TempFile, len: usize, by: Truncator) {
    match by {
        Truncator::ThisProcess => f.file.set_len(len as u64).unwrap(),
        Truncator::ChildProcess => {
            let status = Command::new("truncate")
                .arg("-s")
                .arg(len.to_string())
                .arg(&f.path)
                .status()
                .expect("run truncate(1)");
            assert!(status.success());
        }
    }
}

fn assert_efault(result: pmem2::Result<()>, method: &str, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.errno(), Some(Errno::FAULT), "{what}: {err}");
    let text = err.to_string();
    assert!(text.starts_with(method), "{what}: {text}");
    assert!(
        text.contains("are gone (file truncated?)"),
        "{what}: {text}"
    );
    if method == "Map::read" && cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        // The fault-recoverable copy maps nothing over the gone pages.
        assert!(text.contains("the map is unchanged"), "{what}: {text}");
    } else {
        assert!(text.contains("re-established"), "{what}: {text}");
    }
}

/// Each safe method on a truncated file: `EFAULT`, then, with the file
/// grown back, the same map writes to the file again.
fn method_after_truncation(by: Truncator) {
    let _env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let page = page();
    for dir in test_dirs() {
        for granularity in [Granularity::Page, Granularity::CacheLine] {
            for method in METHODS {
                let what = format!("{method:?} {granularity:?} {by:?} in {}", dir.display());
                let (f, mut map) = map_file(&dir, granularity);
                // Pages 2 and 3 go away.
                truncate(&f, 2 * page, by);
                let (offset, len) = (2 * page + 100, 200);
                let result = method.call(&mut map, offset, len);
                if method.faults(granularity) {
                    if !method.fault_unobservable("method_after_truncation") {
                        assert_efault(result, method.name(), &what);
                    }
                } else {
                    result.unwrap_or_else(|e| panic!("{what}: {e}"));
                }
                // The part still backed by the file works meanwhile.
                map.write(10, b"still here").unwrap();
                // Grown back: the map reaches the file again (no zero
                // chunk left behind), through every method.
                truncate(&f, PAGES * page, by);
                method.call(&mut map, offset, len).unwrap();
                map.write(offset, b"repaired").unwrap();
                map.persist(0, map.size()).unwrap();
                let on_disk = std::fs::read(&f.path).unwrap();
                assert_eq!(&on_disk[offset..offset + 8], b"repaired", "{what}");
                assert_eq!(&on_disk[10..20], b"still here", "{what}");
                let mut back = [0u8; 8];
                map.read(offset, &mut back).unwrap();
                assert_eq!(&back, b"repaired", "{what}");
            }
        }
    }
}

#[test]
fn every_safe_method_reports_efault_after_truncation_by_this_process() {
    method_after_truncation(Truncator::ThisProcess);
}

#[test]
fn every_safe_method_reports_efault_after_truncation_by_another_process() {
    method_after_truncation(Truncator::ChildProcess);
}

#[test]
fn a_large_read_over_many_gone_pages_and_repeated_faults() {
    let _env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = test_dirs().pop().unwrap();
    let (f, mut map) = map_file(&dir, Granularity::CacheLine);
    f.file.set_len(0).unwrap();
    let mut buf = vec![0xffu8; PAGES * page()];
    for _ in 0..3 {
        assert_efault(map.read(0, &mut buf), "Map::read", "read of an empty file");
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            // Nothing could be read: the buffer is left as it was.
            assert!(buf.iter().all(|&b| b == 0xff), "buffer untouched");
        } else {
            assert!(buf.iter().all(|&b| b == 0), "gone pages read as zeros");
        }
        assert_efault(
            map.fill(0, PAGES * page(), 7, MemFlags::NONTEMPORAL),
            "Map::fill",
            "fill of an empty file",
        );
    }
    f.file.set_len((PAGES * page()) as u64).unwrap();
    map.fill(0, PAGES * page(), 7, MemFlags::NONTEMPORAL)
        .unwrap();
    map.persist(0, map.size()).unwrap();
    assert!(std::fs::read(&f.path).unwrap().iter().all(|&b| b == 7));
}

/// A read across the new end of file: the bytes before it are read, the
/// rest of the buffer is left as it was, and the error names the first
/// missing offset (`x86_64`: the fixup copy stops exactly there).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_read_across_the_end_of_file_reads_up_to_it() {
    let _env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let page = page();
    let dir = test_dirs().pop().unwrap();
    for granularity in [Granularity::Page, Granularity::CacheLine] {
        let (f, map) = map_file(&dir, granularity);
        f.file.set_len((2 * page) as u64).unwrap();
        for (before, len) in [(1, 64), (37, 200), (100, 4096), (3000, 8000)] {
            let before: usize = before;
            let mut buf = vec![0xeeu8; len];
            let offset = 2 * page - before;
            let err = map.read(offset, &mut buf).expect_err("read across the end");
            assert_eq!(err.errno(), Some(Errno::FAULT), "{err}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("Map::read: the pages at offset {}..", 2 * page)),
                "{text}"
            );
            assert!(buf[..before].iter().all(|&b| b == 0x11), "{granularity:?}");
            assert!(buf[before..].iter().all(|&b| b == 0xee), "{granularity:?}");
        }
    }
}

#[test]
fn maps_in_a_reservation_are_guarded_and_repaired_too() {
    let _env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let page = page();
    let dir = test_dirs().pop().unwrap();
    let f = temp_file_in(&dir, PAGES * page, 0x11);
    let rsv = pmem2::VmReservation::new(None, 2 * PAGES * page).unwrap();
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_vm_reservation(Some(&rsv), PAGES * page);
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "CACHE_LINE");
    let source = Source::from_file(&f.file).unwrap();
    let mut map = Map::new(&config, &source).unwrap();
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
    drop(source);
    assert_eq!(map.addr(), rsv.addr().wrapping_add(PAGES * page));
    f.file.set_len(page as u64).unwrap();
    for method in METHODS {
        let result = method.call(&mut map, 3 * page, 64);
        if method.fault_unobservable("maps_in_a_reservation_are_guarded_and_repaired_too") {
            continue;
        }
        assert_efault(
            result,
            method.name(),
            &format!("{method:?} in a reservation"),
        );
    }
    f.file.set_len((PAGES * page) as u64).unwrap();
    map.write(3 * page, b"reserved").unwrap();
    map.persist(3 * page, 8).unwrap();
    assert_eq!(
        &std::fs::read(&f.path).unwrap()[3 * page..3 * page + 8],
        b"reserved"
    );
    drop(map);
    rsv.delete().unwrap();
}

#[test]
fn threads_fault_independently() {
    let _env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = test_dirs().pop().unwrap();
    let (good_f, good) = map_file(&dir, Granularity::Page);
    let (bad_f, bad) = map_file(&dir, Granularity::Page);
    bad_f.file.set_len(0).unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let map = if i % 2 == 0 { &good } else { &bad };
            s.spawn(move || {
                let mut buf = vec![0u8; 2 * page()];
                for _ in 0..50 {
                    let r = map.read(page(), &mut buf);
                    if i % 2 == 0 {
                        r.unwrap();
                        assert!(buf.iter().all(|&b| b == 0x11));
                    } else {
                        assert_efault(r, "Map::read", "bad map");
                    }
                }
            });
        }
    });
    drop(good_f);
}

// ---------------------------------------------------------------- chaining, in a child

static USER_HANDLER_RAN: AtomicUsize = AtomicUsize::new(0);
static USER_FAULT_FIXED: AtomicBool = AtomicBool::new(false);

extern "C" fn user_siginfo(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    USER_HANDLER_RAN.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the kernel's siginfo for an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code > 0 {
        // A real fault: make the access succeed, as an application's own
        // recovery would.
        let page = 4096usize.max(rustix::param::page_size());
        // SAFETY: replaces the faulting page of the test's own mapping.
        unsafe {
            libc::mmap(
                (addr & !(page - 1)) as *mut libc::c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
        }
        USER_FAULT_FIXED.store(true, Ordering::SeqCst);
    }
}

extern "C" fn user_plain(_: libc::c_int) {
    USER_HANDLER_RAN.fetch_add(1, Ordering::SeqCst);
}

fn set_action(action: usize, siginfo: bool) {
    // SAFETY: installs a valid disposition for SIGBUS.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = action;
        act.sa_flags = if siginfo { libc::SA_SIGINFO } else { 0 };
        libc::sigemptyset(&raw mut act.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &raw const act, std::ptr::null_mut()),
            0
        );
    }
}

/// A map whose pages 2.. are gone, after one guarded call (so pmem2's
/// handler is installed on top of whatever was there).
fn truncated_map_with_pmem2_installed() -> (TempFile, Map) {
    let dir = test_dirs().pop().unwrap();
    let (f, map) = map_file(&dir, Granularity::CacheLine);
    f.file.set_len(2 * page() as u64).unwrap();
    assert_efault(map.read(3 * page(), &mut [0u8; 8]), "Map::read", "install");
    (f, map)
}

/// An unguarded read of a gone page (what unsafe code may do).
fn unguarded_fault(map: &Map) -> u8 {
    // SAFETY: deliberately touches a page past the end of the file; the
    // test expects the signal this raises.
    unsafe { std::ptr::read_volatile(map.addr().add(3 * page())) }
}

fn child(scenario: &str) {
    // No core files from the scenarios that end by SIGBUS.
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: sets this process's core size limit.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &raw const zero) };
    match scenario {
        "user_siginfo" => {
            set_action(user_siginfo as *const () as usize, true);
            let (_f, map) = truncated_map_with_pmem2_installed();
            assert_eq!(USER_HANDLER_RAN.load(Ordering::SeqCst), 0);
            // SAFETY: a user-sent SIGBUS, not pmem2's: goes to the user.
            unsafe { libc::raise(libc::SIGBUS) };
            assert_eq!(USER_HANDLER_RAN.load(Ordering::SeqCst), 1);
            // SAFETY: as above, through kill: process-directed, so any
            // thread may take it; wait for it.
            unsafe { libc::kill(libc::getpid(), libc::SIGBUS) };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while USER_HANDLER_RAN.load(Ordering::SeqCst) < 2
                && std::time::Instant::now() < deadline
            {
                std::thread::yield_now();
            }
            assert_eq!(USER_HANDLER_RAN.load(Ordering::SeqCst), 2);
            // A fault outside pmem2's guarded calls goes to the user too,
            // with its siginfo (the handler fixes the page).
            assert_eq!(unguarded_fault(&map), 0);
            assert!(USER_FAULT_FIXED.load(Ordering::SeqCst));
            assert_eq!(USER_HANDLER_RAN.load(Ordering::SeqCst), 3);
            println!("scenario passed");
        }
        "user_plain" => {
            set_action(user_plain as *const () as usize, false);
            let (_f, _map) = truncated_map_with_pmem2_installed();
            // SAFETY: a user-sent SIGBUS.
            unsafe { libc::raise(libc::SIGBUS) };
            assert_eq!(USER_HANDLER_RAN.load(Ordering::SeqCst), 1);
            println!("scenario passed");
        }
        // Rust's std installs its own SIGBUS handler (stack overflow
        // detection) before main: it is what pmem2 chains to here, and it
        // resets the action to SIG_DFL for a fault that isn't its own.
        "std_fault" => {
            let (_f, map) = truncated_map_with_pmem2_installed();
            println!("about to fault");
            let _ = unguarded_fault(&map);
            println!("survived an unguarded fault");
        }
        "default_fault" => {
            set_action(libc::SIG_DFL, false);
            let (_f, map) = truncated_map_with_pmem2_installed();
            println!("about to fault");
            let _ = unguarded_fault(&map);
            println!("survived an unguarded fault");
        }
        "default_raise" => {
            set_action(libc::SIG_DFL, false);
            let (_f, _map) = truncated_map_with_pmem2_installed();
            println!("about to raise");
            // SAFETY: a user-sent SIGBUS with the default action.
            unsafe { libc::raise(libc::SIGBUS) };
            println!("survived raise");
        }
        "ignored" => {
            set_action(libc::SIG_IGN, false);
            let (_f, map) = truncated_map_with_pmem2_installed();
            // SAFETY: an ignored, user-sent SIGBUS.
            unsafe { libc::raise(libc::SIGBUS) };
            println!("survived an ignored raise");
            let _ = unguarded_fault(&map);
            println!("survived an unguarded fault");
        }
        "fork" => {
            // The guard in a forked child: its thread has a new id, the
            // slot table must follow.
            let (_f, map) = truncated_map_with_pmem2_installed();
            // SAFETY: the child only maps, reads and exits (glibc's malloc
            // is fork-safe).
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                let ok = map
                    .read(3 * page(), &mut [0u8; 8])
                    .is_err_and(|e| e.errno() == Some(Errno::FAULT));
                // SAFETY: ends the forked child without running the
                // parent's test harness again.
                unsafe { libc::_exit(if ok { 0 } else { 3 }) };
            }
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            assert_eq!(unsafe { libc::waitpid(pid, &raw mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "child status {status:#x}");
            assert_eq!(libc::WEXITSTATUS(status), 0);
            println!("scenario passed");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Entry point of the child process; does nothing in a normal run.
#[test]
#[ignore = "run by the chaining tests in a child process"]
fn chaining_child() {
    if let Ok(scenario) = std::env::var("PMEM2_SIGBUS_SCENARIO") {
        child(&scenario);
    }
}

fn run_child(scenario: &str) -> (std::process::ExitStatus, String) {
    let out = common::self_command()
        .args([
            "--ignored",
            "--exact",
            "chaining_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PMEM2_SIGBUS_SCENARIO", scenario)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

#[test]
fn a_handler_installed_before_pmem2_gets_every_sigbus_pmem2_does_not_own() {
    for scenario in ["user_siginfo", "user_plain", "fork"] {
        let (status, out) = run_child(scenario);
        assert!(
            status.success() && out.contains("scenario passed"),
            "{scenario}: {status:?}\n{out}"
        );
    }
}

#[test]
fn without_a_handler_a_foreign_sigbus_still_kills_by_sigbus() {
    let emulated = user_mode_emulator();
    for (scenario, reached, not_reached) in [
        ("std_fault", "about to fault", "survived an unguarded fault"),
        (
            "default_fault",
            "about to fault",
            "survived an unguarded fault",
        ),
        ("default_raise", "about to raise", "survived raise"),
        (
            "ignored",
            "survived an ignored raise",
            "survived an unguarded fault",
        ),
    ] {
        if emulated && scenario != "default_raise" {
            skip(
                &format!("without_a_handler_a_foreign_sigbus_still_kills_by_sigbus ({scenario})"),
                FATAL_FAULT_WHY,
            );
            continue;
        }
        let (status, out) = run_child(scenario);
        assert_eq!(
            status.signal(),
            Some(libc::SIGBUS),
            "{scenario}: {status:?}\n{out}"
        );
        assert!(out.contains(reached), "{scenario}: {out}");
        assert!(!out.contains(not_reached), "{scenario}: {out}");
    }
}
