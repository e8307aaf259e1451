//! The checker's lock, which a Rust crash-state checker runs under: the
//! checker may use pmem2 itself (its own calls are not checked, and used to
//! deadlock), and a fork made while another thread holds the lock leaves
//! the child a lock it can take (the child used to hang on its first
//! checked call). A map the checker explores can't be unmapped by the
//! checker itself (it read unmapped memory). Checking is per process and starts before the first map,
//! so this binary holds one test. A hang is a failure here, never a hung
//! run: each part waits with a timeout.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{not_flushed_at, plain_store};
use pmem2::check::Checker;
use pmem2::{Config, Granularity, Map, Source};

const WAIT: Duration = Duration::from_secs(20);

fn file_map(len: u64) -> Map {
    let file = tempfile::tempfile().unwrap();
    file.set_len(len).unwrap();
    Map::new(
        &Config::with_granularity(Granularity::Page),
        &Source::from_file(&file).unwrap(),
    )
    .unwrap()
}

/// Runs `f` on another thread and waits for it at most [`WAIT`]: a
/// deadlock fails the test instead of hanging it.
fn within_wait<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?} (deadlock?)"))
}

/// Waits for the child `pid`, at most [`WAIT`]; kills it past that.
fn wait_child(pid: libc::pid_t) -> Result<i32, String> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            return if libc::WIFEXITED(status) {
                Ok(libc::WEXITSTATUS(status))
            } else {
                Err(format!("child ended by signal, status {status:#x}"))
            };
        }
        if started.elapsed() > WAIT {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(format!("child still running after {WAIT:?} (deadlock?)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the child of the fork does: a checked persist (which hung), then
/// a store it never flushes, which its own checker must find.
fn in_child(map: &Map, checker: &Checker) -> i32 {
    plain_store(map, 4096, 1);
    map.persist(4096, 8).unwrap();
    plain_store(map, 2 * 4096, 2);
    pmem2::check::point("child");
    match not_flushed_at(checker, "child") {
        1 => 0,
        n => {
            eprintln!("child: {n} lines not flushed at \"child\", expected 1:\n{checker}");
            1
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "maps files, forks")]
fn checker_lock_allows_pmem2_inside_the_checker_and_fork() {
    // Cache-line granularity (forced, as in tests/check.rs): CPU flushes
    // and fences count, and each persist is an exploration point.
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "cache_line");
    let runs = Arc::new(AtomicU64::new(0));
    let linger = Arc::new(AtomicBool::new(false));
    let (in_checker_tx, in_checker) = mpsc::channel::<()>();
    // A checked map the checker is handed to delete, then drop, while it
    // explores it; whether the delete was refused.
    let doomed = Arc::new(std::sync::Mutex::new(None::<Map>));
    let refused = Arc::new(std::sync::Mutex::new(None::<String>));
    let checker = {
        let (runs, linger) = (runs.clone(), linger.clone());
        let (doomed, refused) = (doomed.clone(), refused.clone());
        let in_checker_tx = std::sync::Mutex::new(in_checker_tx);
        Checker::start_exploring(move |image| {
            runs.fetch_add(1, Ordering::Relaxed);
            // pmem2 inside the checker: a map, a store, a persist (itself
            // a fence, an exploration point) and a named crash point.
            let mut scratch = Map::new(
                &Config::with_granularity(Granularity::Page),
                &Source::anonymous(4096).unwrap(),
            )
            .unwrap();
            scratch.write(0, &image[..8]).unwrap();
            scratch.persist(0, 8).unwrap();
            pmem2::check::point("inside the checker");
            if let Some(map) = doomed.lock().unwrap().take() {
                let outcome = match map.delete() {
                    Ok(()) => "deleted".to_owned(),
                    Err(e) => {
                        // Dropped: it stays mapped, as the checker reads it.
                        drop(e.handle);
                        e.error.to_string()
                    }
                };
                *refused.lock().unwrap() = Some(outcome);
            }
            if linger.swap(false, Ordering::SeqCst) {
                // Holds the lock while the main thread forks.
                in_checker_tx.lock().unwrap().send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
            true
        })
        .unwrap()
    };
    let checker = Arc::new(checker);
    let map = Arc::new(file_map(64 * 1024));

    // 1. A persist whose exploration runs the checker, which uses pmem2.
    let (m, c) = (map.clone(), checker.clone());
    within_wait("a persist whose checker uses pmem2", move || {
        plain_store(&m, 0, 7);
        m.persist(0, 8).unwrap();
        drop(c);
    });
    assert!(runs.load(Ordering::Relaxed) >= 1, "the checker never ran");
    // The checker's own calls were not checked: its point made no verdict.
    assert_eq!(not_flushed_at(&checker, "inside the checker"), 0);
    // The checker's map was not registered with the checker (it was
    // created under the lock); its persist was not an exploration point.

    // 2. A checked map deleted, then dropped, inside the checker while it
    // is being explored: refused, and kept mapped (the exploration goes on
    // reading it, at this persist and the next ones).
    let victim = file_map(16 * 1024);
    plain_store(&victim, 0, 5);
    victim.persist(0, 8).unwrap();
    *doomed.lock().unwrap() = Some(victim);
    let m = map.clone();
    within_wait("a persist whose checker deletes a checked map", move || {
        plain_store(&m, 128, 9);
        m.persist(128, 8).unwrap();
    });
    let outcome = refused.lock().unwrap().take();
    assert!(
        outcome
            .as_deref()
            .is_some_and(|e| e.starts_with("Map::delete: the crash-state checker")),
        "{outcome:?}"
    );

    // 3. A fork while another thread runs the checker, holding the lock.
    linger.store(true, Ordering::SeqCst);
    let m = map.clone();
    let holder = std::thread::spawn(move || {
        plain_store(&m, 64, 8);
        m.persist(64, 8).unwrap();
    });
    in_checker
        .recv_timeout(WAIT)
        .expect("the checker did not start");
    // SAFETY: the child only runs `in_child` and `_exit`s; glibc makes
    // malloc usable in a child of a multithreaded process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(|| in_child(&map, &checker)).unwrap_or(2);
        // SAFETY: ends the child without running the parent's exit
        // handlers or the test harness.
        unsafe { libc::_exit(code) };
    }
    let child = wait_child(pid);
    holder.join().unwrap();
    assert_eq!(child, Ok(0), "the forked child");

    // The parent's own checking goes on. The child's stores are in the
    // shared map too (another process's, which the parent's checker can't
    // tell from its own); a persist makes them durable first. Then a store
    // the parent never flushes.
    map.persist(0, map.size()).unwrap();
    plain_store(&map, 3 * 4096, 3);
    pmem2::check::point("parent");
    assert_eq!(not_flushed_at(&checker, "parent"), 1, "{checker}");
    map.persist(0, map.size()).unwrap();
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
}
