//! Crash-consistency checking: finds stores that a power cut would lose.
//!
//! Off by default, and then free: the persistence and memory function
//! tables ([`persist`](crate::persist), [`mem`](crate::mem)) are chosen
//! once per process, and with checking on pmem2 hands out *checking*
//! variants from those same tables, so even unmodified C programs using
//! `pmem2_get_persist_fn` and friends are checked. Turn it on
//!
//! * for any program, with the environment variable `PMEM2_CHECK` (read
//!   once, before the first map or persistence function is used): a
//!   comma-separated list of `report` (text report, the default), `json`
//!   (JSON report) and `out=FILE` (write the report to FILE instead of
//!   standard error); the report is written at process exit; or
//! * from Rust, with [`Checker::start`] before the first map; the report is
//!   written when the checker is dropped, and `{checker}` / `{checker:#}`
//!   format it as text / JSON at any time.
//!
//! What it tracks, per registered mapping and per 64-byte line: modified,
//! flushed but not fenced, written by non-temporal stores and not drained,
//! or durable. pmem2's own memcpy/memmove/memset calls are known directly;
//! plain CPU stores are found by comparing the mapping with a shadow copy,
//! line by line, at every flush (the flushed lines), unmap, exit and named
//! [`point`]. From a map's first named point or exploration point on, its
//! pages are write-tracked where the kernel allows (userfaultfd
//! write-protect, asynchronous mode, read with `PAGEMAP_SCAN`;
//! `PMEM2_CHECK_WRITE_TRACKING=0` turns it off), and whole-map comparisons
//! read only the pages written since. On PAGE-granularity maps only `msync`
//! (pmem2's persist and flush) makes lines durable.
//!
//! A store log in pmreorder's format (`PMEM2_CHECK=...,log=FILE`): `START`,
//! `|REGISTER_FILE;path;0xbase;0xsize;0x0` per map, `|STORE;0xaddr;0xvalue;0xsize`
//! per changed 8-byte word (plain stores when they are seen, pmem2's own
//! between `|pmem2_memmove.BEGIN|libpmem2.BEGIN` ... `|libpmem2.END|pmem2_memmove.END`
//! markers, or `pmem2_memset`), `|FLUSH;0xaddr;0xsize` (line-aligned), `|FENCE`,
//! `|STOP` at exit.
//!
//! Crash-state exploration (`PMEM2_CHECK_EXPLORE=CMD`, `pmem2 check
//! --explore --checker CMD`): at every fence, `msync` and crash point, the
//! durable image with subsets of the in-flight lines applied is written to
//! a file and CMD runs with its path as last argument (exit status 0:
//! consistent, 1: not); the first rejected state is reported with an ID
//! that `PMEM2_CHECK_REPLAY=ID` replays. `PMEM2_CHECK_EXPLORE_BUDGET`
//! bounds it in seconds (default 60). From Rust the checker can be a
//! closure ([`Checker::start_exploring`]). Named regions (`point("NAME.BEGIN")`
//! ... `point("NAME.END")`) appear in the store log as PMDK's markers, and
//! `PMEM2_CHECK_EXPLORE_MARKERS=NAME=Engine,...` (pmreorder's `-x`) picks
//! how states inside them are explored.
//!
//! Verdicts, each with the call stack where it arose: (1) stores not
//! durable at a crash point (unmap, exit, [`point`]): modified and never
//! flushed, or flushed and never fenced; (2) non-temporal stores never
//! drained; (3) performance notes, never failures: flushes of lines not
//! modified (superfluous) and of lines already flushed (redundant); (4)
//! persist or flush of a range outside every mapping. See `docs/check.md`.

mod report;
mod tracker;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Granularity;
use crate::error::{Error, Result};
use crate::{env, registry, sys};
use report::PerfTotals;
use tracker::{Finding, Kind, LazySite, Tracked, LINE};

pub(crate) use tracker::Store;

/// How many performance findings keep their call stack (all are counted).
const PERF_SITES: usize = 256;

/// What `PMEM2_CHECK` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Settings {
    json: bool,
    out: Option<PathBuf>,
    /// The store log in pmreorder's format (`log=FILE`).
    log: Option<PathBuf>,
    /// Crash-state exploration: the checker command (`PMEM2_CHECK_EXPLORE`).
    explore: Option<Vec<String>>,
    /// Only this crash state (`PMEM2_CHECK_REPLAY`): point, map, lines.
    replay: Option<StateId>,
    /// Time budget of the exploration (`PMEM2_CHECK_EXPLORE_BUDGET`, s).
    budget: Duration,
    /// The engine of each named region (`PMEM2_CHECK_EXPLORE_MARKERS`,
    /// pmreorder's `-x NAME=Engine,...`).
    markers: Vec<(String, Engine)>,
    /// Write-track the maps' pages where the kernel can (off with
    /// `PMEM2_CHECK_WRITE_TRACKING=0`: every comparison reads everything).
    write_tracking: bool,
}

/// How crash states are explored inside a region (pmreorder's engines,
/// chosen per region with `-x NAME=Engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// pmem2's bounded engine: none, the fence's lines, each line, each
    /// pair (sampled when many). pmreorder's reordering engines map here.
    Bounded,
    /// `NoReorderNoCheck`: no state is checked.
    NoCheck,
    /// `NoReorderDoCheck`: only the state in program order (every line in
    /// flight applied).
    InOrder,
}

impl Engine {
    /// pmreorder's engine names.
    fn parse(name: &str) -> Option<Engine> {
        match name {
            "NoReorderNoCheck" => Some(Engine::NoCheck),
            "NoReorderDoCheck" => Some(Engine::InOrder),
            "ReorderFull"
            | "ReorderPartial"
            | "ReorderAccumulative"
            | "ReorderReverseAccumulative"
            | "ReorderDefault" => Some(Engine::Bounded),
            _ => None,
        }
    }
}

/// Parses `NAME=Engine,NAME2=Engine2` (pmreorder's `-x` pairs).
///
/// # Errors
/// A message naming the pair that is malformed or the unknown engine.
fn parse_markers(value: &str) -> std::result::Result<Vec<(String, Engine)>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, engine) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not NAME=Engine"))?;
            let engine = Engine::parse(engine.trim()).ok_or_else(|| {
                format!(
                    "unknown engine {engine:?} (NoReorderNoCheck, NoReorderDoCheck, ReorderFull, \
                     ReorderPartial, ReorderAccumulative, ReorderReverseAccumulative)"
                )
            })?;
            Ok((name.trim().to_owned(), engine))
        })
        .collect()
}

/// The largest subsets of in-flight lines explored at a point.
const EXPLORE_K: usize = 2;

/// The most crash states explored per map and point (a bound on the time
/// and memory a point with thousands of lines in flight costs).
const MAX_STATES: usize = 256;

/// Identifies a crash state: `POINT:MAP:LINES`, the exploration point's
/// number (1-based, in the order the program reaches them), the map's index
/// among the checked maps in address order, and the in-flight lines applied
/// to the durable image, as map offsets joined by `+` (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StateId {
    point: u64,
    map: usize,
    lines: Vec<usize>,
}

impl fmt::Display for StateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| format!("{:#x}", l * LINE))
            .collect();
        write!(f, "{}:{}:{}", self.point, self.map, lines.join("+"))
    }
}

impl StateId {
    fn parse(s: &str) -> Option<StateId> {
        let mut parts = s.trim().splitn(3, ':');
        let point = parts.next()?.parse().ok()?;
        let map = parts.next()?.parse().ok()?;
        let lines = parts
            .next()?
            .split('+')
            .filter(|l| !l.is_empty())
            .map(|l| usize::from_str_radix(l.trim_start_matches("0x"), 16).map(|o| o / LINE))
            .collect::<std::result::Result<_, _>>()
            .ok()?;
        Some(StateId { point, map, lines })
    }
}

impl Settings {
    /// Parses `PMEM2_CHECK`; `None` when it is unset, empty or `0`.
    fn parse(value: Option<&str>) -> Option<Settings> {
        let value = value?.trim();
        if value.is_empty() || value == "0" {
            return None;
        }
        let mut s = Settings::default();
        for token in value.split(',').map(str::trim) {
            match token {
                "1" | "on" | "report" | "text" => s.json = false,
                "json" => s.json = true,
                _ => {
                    if let Some(path) = token.strip_prefix("out=") {
                        s.out = Some(PathBuf::from(path));
                    } else if let Some(path) = token.strip_prefix("log=") {
                        s.log = Some(PathBuf::from(path));
                    } else {
                        eprintln!(
                            "pmem2: PMEM2_CHECK: unknown option {token:?} ignored \
                             (report, json, out=FILE, log=FILE)"
                        );
                    }
                }
            }
        }
        s.explore = env::secure_getenv("PMEM2_CHECK_EXPLORE")
            .map(|c| c.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|argv| !argv.is_empty());
        s.read_exploration_env();
        Some(s)
    }

    /// The settings of a [`Checker`] started from Rust: the defaults, with
    /// the replay and budget of the environment.
    fn for_checker() -> Settings {
        let mut s = Settings::default();
        s.read_exploration_env();
        s
    }

    /// `PMEM2_CHECK_WRITE_TRACKING`, `PMEM2_CHECK_REPLAY`,
    /// `PMEM2_CHECK_EXPLORE_BUDGET` and `PMEM2_CHECK_EXPLORE_MARKERS`.
    fn read_exploration_env(&mut self) {
        let s = self;
        s.write_tracking =
            env::secure_getenv("PMEM2_CHECK_WRITE_TRACKING").is_none_or(|v| v.trim() != "0");
        if let Some(value) = env::secure_getenv("PMEM2_CHECK_EXPLORE_MARKERS") {
            match parse_markers(&value) {
                Ok(markers) => s.markers = markers,
                Err(err) => eprintln!("pmem2: PMEM2_CHECK_EXPLORE_MARKERS: {err}; ignored"),
            }
        }
        s.replay = env::secure_getenv("PMEM2_CHECK_REPLAY").and_then(|id| {
            let parsed = StateId::parse(&id);
            if parsed.is_none() {
                eprintln!("pmem2: PMEM2_CHECK_REPLAY: {id:?} is not a state ID (POINT:MAP:LINES)");
            }
            parsed
        });
        s.budget = Duration::from_secs(
            env::secure_getenv("PMEM2_CHECK_EXPLORE_BUDGET")
                .and_then(|b| b.parse().ok())
                .unwrap_or(60),
        );
    }
}

/// Set by [`Checker::start`] before the decision is taken.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Set by [`Checker::start_exploring`]: maps keep a durable image.
static EXPLORE_CLOSURE: AtomicBool = AtomicBool::new(false);

/// A consistency checker given by Rust code ([`Checker::start_exploring`]).
type Consistent = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// Whether crash states are explored (a checker command or closure), so
/// that maps keep the image of their durable bytes.
fn exploring() -> bool {
    decision().is_some_and(|s| s.explore.is_some()) || EXPLORE_CLOSURE.load(Ordering::SeqCst)
}
/// Whether checking is on; read by the hooks outside the tables.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The settings, `Some` when checking is on; decided once, at the first
/// map or the first choice of a function table.
fn decision() -> Option<&'static Settings> {
    static DECISION: OnceLock<Option<Settings>> = OnceLock::new();
    DECISION
        .get_or_init(|| {
            let from_env = Settings::parse(env::secure_getenv("PMEM2_CHECK").as_deref());
            let settings = if from_env.is_some() {
                // Report at exit (C programs have no other moment).
                if !sys::process::at_exit(at_exit) {
                    eprintln!("pmem2: PMEM2_CHECK: atexit failed, no report at exit");
                }
                from_env
            } else if REQUESTED.load(Ordering::SeqCst) {
                Some(Settings::for_checker())
            } else {
                None
            };
            ACTIVE.store(settings.is_some(), Ordering::SeqCst);
            settings
        })
        .as_ref()
}

/// Whether checking is on (takes the decision if not taken yet): the
/// function tables call this once, when they are chosen.
pub(crate) fn enabled() -> bool {
    decision().is_some()
}

/// Appends `|STORE;0xaddr;0xvalue;0xsize` records.
fn store_records(out: &mut String, stores: impl Iterator<Item = (usize, u64, usize)>) {
    for (addr, value, size) in stores {
        let _ = write!(out, "|STORE;{addr:#x};{value:#x};{size:#x}");
    }
}

/// Whether a store log is written (map creation then names the file).
pub(crate) fn logging() -> bool {
    decision().is_some_and(|s| s.log.is_some())
}

/// Whether checking is on, as a cheap load for hooks outside the tables.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

#[derive(Default)]
struct State {
    maps: BTreeMap<usize, Tracked>,
    findings: Vec<Finding>,
    perf_sites: usize,
    totals: PerfTotals,
    explore: Exploration,
    /// The store log, once opened.
    log: Option<std::io::BufWriter<std::fs::File>>,
    /// The Rust consistency checker, if any (it takes the place of the
    /// command).
    consistent: Option<Consistent>,
    /// The open regions (user-named, and pmem2's own memory functions),
    /// innermost last, with the engine each explores with.
    regions: Vec<(String, Engine)>,
    /// The write-trackers of the maps that have one, by map start.
    writes: BTreeMap<usize, sys::wrtrack::WriteTracker>,
    /// Maps whose write-tracking was tried already (armed or refused).
    write_tracking_tried: std::collections::BTreeSet<usize>,
    /// Maps checked so far, and how many of them with write-tracking.
    maps_checked: usize,
    maps_write_tracked: usize,
}

/// The progress of crash-state exploration.
#[derive(Default)]
struct Exploration {
    /// Exploration points reached so far.
    points: u64,
    /// When the first point was reached.
    started: Option<Instant>,
    /// Hashes of the images already checked.
    seen: Option<HashSet<u64>>,
    /// Images given to the checker.
    runs: u64,
    /// A failing state was found (only the first is reported) or the
    /// budget ran out.
    done: bool,
    /// The budget ran out.
    budget_spent: bool,
}

thread_local! {
    /// Whether this thread holds the checker's lock (a [`StateGuard`]).
    static HOLDING: Cell<bool> = const { Cell::new(false) };

    /// The maps a Rust crash-state checker running on this thread explores
    /// (set around the exploration): they must stay mapped while it runs.
    static EXPLORED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Sets [`EXPLORED`] for as long as it lives.
struct ExploredMaps;

impl ExploredMaps {
    fn set(starts: Vec<usize>) -> ExploredMaps {
        let _ = EXPLORED.try_with(|e| *e.borrow_mut() = starts);
        ExploredMaps
    }
}

impl Drop for ExploredMaps {
    fn drop(&mut self) {
        let _ = EXPLORED.try_with(|e| e.borrow_mut().clear());
    }
}

/// The checker's state, locked by this thread.
struct StateGuard(MutexGuard<'static, State>);

impl Deref for StateGuard {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl DerefMut for StateGuard {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.0
    }
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        let _ = HOLDING.try_with(|h| h.set(false));
    }
}

/// Locks the checker's state; `None` on a thread that holds it already: a
/// Rust crash-state checker runs under the lock (inside the pmem2 call that
/// fences), and the pmem2 calls it makes itself are not checked, rather
/// than deadlocking on the lock.
fn state() -> Option<StateGuard> {
    if HOLDING.try_with(Cell::get).unwrap_or(false) {
        return None;
    }
    fork::install();
    Some(lock_state())
}

/// Locks the checker's state (blocking; the caller knows this thread does
/// not hold it).
fn lock_state() -> StateGuard {
    let guard = state_mutex().lock().unwrap_or_else(PoisonError::into_inner);
    let _ = HOLDING.try_with(|h| h.set(true));
    StateGuard(guard)
}

fn state_mutex() -> &'static Mutex<State> {
    static STATE: Mutex<State> = Mutex::new(State {
        maps: BTreeMap::new(),
        findings: Vec::new(),
        perf_sites: 0,
        totals: PerfTotals {
            superfluous: 0,
            redundant: 0,
            explored: None,
            budget_spent: false,
            maps_checked: 0,
            maps_write_tracked: 0,
        },
        explore: Exploration {
            points: 0,
            started: None,
            seen: None,
            runs: 0,
            done: false,
            budget_spent: false,
        },
        log: None,
        consistent: None,
        regions: Vec::new(),
        writes: BTreeMap::new(),
        write_tracking_tried: std::collections::BTreeSet::new(),
        maps_checked: 0,
        maps_write_tracked: 0,
    });
    &STATE
}

/// Fork safety, as the registry's: a checker lock another thread held at a
/// fork (while it recorded a flush, or ran a crash-state checker) would
/// never be released in the child, whose first checked pmem2 call would
/// hang. Registered after the registry's handlers, so that before a fork
/// the checker's lock is taken first, the order pmem2 itself takes them in.
mod fork {
    // Miri can't fork: there the handlers are never registered.
    #![cfg_attr(miri, allow(dead_code))]

    use crate::sys::process::{hold_across_fork, ForkLock};

    struct CheckerLock;

    impl ForkLock for CheckerLock {
        fn take() -> Option<Box<dyn std::any::Any>> {
            // A thread that holds the lock itself (a Rust checker starting
            // a process) keeps holding it: in the child its copy goes on
            // and releases it.
            let held = super::HOLDING.try_with(std::cell::Cell::get);
            (held == Ok(false)).then(|| Box::new(super::lock_state()) as Box<dyn std::any::Any>)
        }
    }

    /// Registers the handlers once per process, after the registry's.
    pub(super) fn install() {
        #[cfg(not(miri))]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                // Installs the registry's handlers first.
                drop(crate::registry::read());
                // ENOMEM is the only documented failure; checking then
                // works as before, only not across a fork made while
                // another thread holds the lock.
                let registered = hold_across_fork::<CheckerLock>();
                debug_assert!(registered, "pthread_atfork");
            });
        }
    }
}

impl State {
    /// Arms write-tracking on the maps not tried yet, at a point that
    /// compares whole maps and may come again (a named crash point, an
    /// exploration point): each page written from now on is marked, and
    /// all pages are marked now, so the comparison that follows reads the
    /// whole map once, after arming (no write can fall between the two).
    /// A map that only ever sees flushes and its unmap is never armed: the
    /// first write to each page after arming costs a (kernel-resolved)
    /// fault, which only repeated whole-map comparisons repay.
    fn arm_writes(&mut self) {
        if !decision().is_some_and(|s| s.write_tracking) {
            return;
        }
        let page = sys::mm::page_size();
        let State {
            maps,
            writes,
            write_tracking_tried,
            maps_write_tracked,
            ..
        } = self;
        for (&start, t) in maps.iter_mut() {
            if !write_tracking_tried.insert(start) {
                continue;
            }
            let len = (t.end() - start).next_multiple_of(page);
            // SAFETY: the map stays mapped until `on_unmap`, which drops
            // the tracker before the map is unmapped.
            if let Ok(w) = unsafe { sys::wrtrack::WriteTracker::new(start, len) } {
                t.track_writes(page);
                t.mark_written(&[(start, start + len)]);
                writes.insert(start, w);
                *maps_write_tracked += 1;
            }
        }
    }

    /// Marks in each write-tracked map the pages written since the last
    /// call; a tracker that fails is dropped and its map compared whole
    /// from then on.
    fn sync_writes(&mut self) {
        let State { maps, writes, .. } = self;
        let mut pages = Vec::new();
        writes.retain(|start, w| {
            let Some(t) = maps.get_mut(start) else {
                return false;
            };
            pages.clear();
            if let Err(err) = w.take_written(&mut pages) {
                eprintln!("pmem2: check: write-tracking stopped: {err}");
                t.stop_tracking_writes();
                return false;
            }
            t.mark_written(&pages);
            true
        });
    }

    /// The totals to report, with the exploration's when exploring.
    fn totals(&self) -> PerfTotals {
        PerfTotals {
            explored: exploring().then_some(self.explore.runs),
            budget_spent: self.explore.budget_spent,
            maps_checked: self.maps_checked,
            maps_write_tracked: self.maps_write_tracked,
            ..self.totals
        }
    }

    /// The tracked maps overlapping `[start, end)`.
    fn overlapping(&mut self, start: usize, end: usize) -> impl Iterator<Item = &mut Tracked> {
        self.maps
            .range_mut(..end)
            .map(|(_, t)| t)
            .filter(move |t| t.end() > start)
    }

    fn perf(&mut self, kind: Kind, lines: usize, addr: usize, site: &mut LazySite) {
        if lines == 0 {
            return;
        }
        match kind {
            Kind::Superfluous => self.totals.superfluous += lines,
            _ => self.totals.redundant += lines,
        }
        if self.perf_sites < PERF_SITES {
            self.perf_sites += 1;
            self.findings.push(Finding {
                kind,
                point: "flush".into(),
                lines,
                addr,
                offset: None,
                site: Some(site.get()),
                detail: None,
            });
        }
    }

    /// Observes the whole of every map, then turns every line in flight
    /// into findings.
    fn crash_point_all(&mut self, point: &str, site: &mut LazySite) {
        self.explore(point, site);
        self.arm_writes();
        self.sync_writes();
        let State { maps, findings, .. } = self;
        for t in maps.values_mut() {
            let (first, last) = t.lines_of(t.start, usize::MAX);
            t.observe_written(first, last);
            t.fill_sites(first, last, site);
            t.crash_point(point, findings);
        }
    }
}

impl State {
    /// Appends `records` (each `|`-prefixed) to the store log, opening it
    /// (with `START`) first; the stores the maps saw come first.
    fn log(&mut self, records: &str) {
        let Some(path) = decision().and_then(|s| s.log.as_ref()) else {
            return;
        };
        let mut stores = String::new();
        for t in self.maps.values_mut() {
            if let Some(seen) = &mut t.stores {
                store_records(&mut stores, seen.drain(..));
            }
        }
        if self.log.is_none() {
            match std::fs::File::create(path) {
                Ok(file) => {
                    let mut w = std::io::BufWriter::new(file);
                    let _ = w.write_all(b"START");
                    self.log = Some(w);
                }
                Err(err) => {
                    eprintln!("pmem2: PMEM2_CHECK: log {}: {err}", path.display());
                    return;
                }
            }
        }
        if let Some(w) = &mut self.log {
            let _ = w.write_all(stores.as_bytes());
            let _ = w.write_all(records.as_bytes());
        }
    }

    /// Ends the store log (`STOP`).
    fn close_log(&mut self) {
        self.log("|STOP\n");
        if let Some(mut w) = self.log.take() {
            let _ = w.flush();
        }
    }
}

impl State {
    /// Opens region `name` (`|NAME.BEGIN` in the store log): its engine is
    /// the one `PMEM2_CHECK_EXPLORE_MARKERS` names, else the enclosing
    /// region's, as pmreorder's `-x` does.
    fn begin_region(&mut self, name: &str) {
        let engine = decision()
            .and_then(|s| s.markers.iter().find(|(n, _)| n == name))
            .map(|(_, e)| *e)
            .or_else(|| self.regions.last().map(|r| r.1))
            .unwrap_or(Engine::Bounded);
        self.regions.push((name.to_owned(), engine));
        self.log(&format!("|{name}.BEGIN"));
    }

    /// Closes region `name`, which must be the innermost one open (regions
    /// don't cross, as pmreorder requires).
    fn end_region(&mut self, name: &str) -> std::result::Result<(), String> {
        match self.regions.last() {
            Some((top, _)) if top == name => {
                self.regions.pop();
                self.log(&format!("|{name}.END"));
                Ok(())
            }
            Some((top, _)) => Err(format!(
                "{name}.END does not close the innermost open region, {top}"
            )),
            None => Err(format!("{name}.END: no region is open")),
        }
    }
}

impl State {
    /// An exploration point (a fence, an `msync`, a crash point), before
    /// its effect: the possible crash states are the durable image of each
    /// map with subsets of its in-flight lines applied: none, each one,
    /// each pair ([`EXPLORE_K`]), and all those the fence makes durable.
    /// Each new image (by hash) is given to the checker command; the first
    /// it rejects (exit status 1) becomes a finding with its [`StateId`].
    fn explore(&mut self, point: &str, site: &mut LazySite) {
        let Some(settings) = decision() else { return };
        let argv = settings.explore.as_deref().unwrap_or_default();
        if (argv.is_empty() && self.consistent.is_none()) || self.explore.done {
            return;
        }
        self.explore.points += 1;
        let n = self.explore.points;
        let engine = self.regions.last().map_or(Engine::Bounded, |r| r.1);
        if engine == Engine::NoCheck || settings.replay.as_ref().is_some_and(|r| r.point != n) {
            return;
        }
        let started = *self.explore.started.get_or_insert_with(Instant::now);
        let image_path = image_path(settings.replay.as_ref());
        self.arm_writes();
        self.sync_writes();
        let State {
            maps,
            findings,
            explore,
            consistent,
            ..
        } = self;
        let seen = explore.seen.get_or_insert_with(HashSet::new);
        // A Rust checker may drop or delete a map; those it explores stay.
        let _explored = consistent
            .is_some()
            .then(|| ExploredMaps::set(maps.keys().copied().collect()));
        for (m, t) in maps.values_mut().enumerate() {
            let (first, last) = t.lines_of(t.start, usize::MAX);
            t.observe_written(first, last);
            t.fill_sites(first, last, site);
            let sets = match &settings.replay {
                Some(id) if id.map == m => vec![id.lines.clone()],
                Some(_) => continue,
                None if engine == Engine::InOrder => vec![t.in_flight()],
                None => candidates(t),
            };
            for lines in sets {
                if started.elapsed() > settings.budget {
                    eprintln!(
                        "pmem2: crash-state exploration stopped: budget of {:?} spent after {} \
                         states",
                        settings.budget, explore.runs
                    );
                    explore.done = true;
                    explore.budget_spent = true;
                    return;
                }
                // A map created before exploration was asked for keeps no
                // durable image: it is not explored.
                let Some(image) = t.image(&lines) else { break };
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (m, &image).hash(&mut h);
                if !seen.insert(h.finish()) && settings.replay.is_none() {
                    continue;
                }
                explore.runs += 1;
                let id = StateId {
                    point: n,
                    map: m,
                    lines: lines.clone(),
                };
                let verdict = match consistent {
                    Some(f) => check_with(f, &image),
                    None => sys::process::run_on_image(argv, &image_path, &image),
                };
                let image_path = consistent.is_none().then_some(image_path.as_path());
                match verdict {
                    Ok(Some(0)) => {}
                    Ok(Some(1)) => {
                        findings.push(Finding {
                            kind: Kind::CrashState,
                            point: point.to_owned(),
                            lines: 1,
                            addr: t.start,
                            offset: None,
                            site: Some(site.get()),
                            detail: Some(describe_state(t, &id, image_path, explore.runs)),
                        });
                        explore.done = true;
                        return;
                    }
                    Ok(other) => {
                        eprintln!(
                            "pmem2: crash-state checker {argv:?} on state {id}: exit status \
                             {other:?} (0: consistent, 1: not)"
                        );
                    }
                    Err(err) => {
                        let who = match image_path {
                            Some(_) => format!("{argv:?}"),
                            None => "(Rust)".into(),
                        };
                        eprintln!("pmem2: crash-state checker {who}: {err}; exploration stopped");
                        explore.done = true;
                        return;
                    }
                }
            }
        }
    }
}

/// Where a checker command finds the crash image: one file per process,
/// or per state when replaying one.
fn image_path(replay: Option<&StateId>) -> PathBuf {
    std::env::temp_dir().join(match replay {
        Some(id) => format!(
            "pmem2-crash-{}.img",
            id.to_string().replace([':', '+'], "_")
        ),
        None => format!("pmem2-crash-{}.img", std::process::id()),
    })
}

/// Runs the Rust checker on `image`, as a command's exit status: 0
/// consistent, 1 not; a panic stops the exploration (it must not unwind
/// into the persistence function that called it, which may be C's).
fn check_with(consistent: &mut Consistent, image: &[u8]) -> std::io::Result<Option<i32>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| consistent(image))) {
        Ok(ok) => Ok(Some(i32::from(!ok))),
        Err(_) => Err(std::io::Error::other("the Rust checker panicked")),
    }
}

/// The crash states explored at a point for one map: the durable image
/// with none of its in-flight lines, with those a fence makes durable, with
/// each one, and with each pair ([`EXPLORE_K`]); at most [`MAX_STATES`]. With
/// more lines in flight than that allows (a large copy), pairs are left out
/// and the lines are sampled evenly: each sampled line alone, and every
/// in-flight line but the sampled one.
fn candidates(t: &Tracked) -> Vec<Vec<usize>> {
    let lines = t.in_flight();
    let n = lines.len();
    let mut sets = vec![Vec::new(), t.fenceable()];
    if n + n * n.saturating_sub(1) / 2 <= MAX_STATES - sets.len() {
        for (i, &a) in lines.iter().enumerate() {
            sets.push(vec![a]);
            if EXPLORE_K >= 2 {
                for &b in &lines[i + 1..] {
                    sets.push(vec![a, b]);
                }
            }
        }
        return sets;
    }
    sets.push(lines.clone());
    let step = n.div_ceil((MAX_STATES - sets.len()) / 2);
    for i in (0..n).step_by(step) {
        sets.push(vec![lines[i]]);
        let mut all_but = lines.clone();
        all_but.remove(i);
        sets.push(all_but);
    }
    sets
}

/// The detail of a failing crash state: its ID, how to replay it, the
/// lines applied and lost.
fn describe_state(t: &Tracked, id: &StateId, image: Option<&std::path::Path>, runs: u64) -> String {
    let offsets = |lines: &mut dyn Iterator<Item = usize>| {
        lines
            .map(|l| format!("{:#x}", l * LINE))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing = offsets(&mut t.in_flight().into_iter().filter(|l| !id.lines.contains(l)));
    format!(
        "state {id} (replay: PMEM2_CHECK_REPLAY={id}, image {}): durable image plus in-flight \
         lines [{}], lost [{missing}]; state {runs} of the exploration",
        image.map_or_else(
            || "not written: a Rust checker".into(),
            |p| p.display().to_string()
        ),
        offsets(&mut id.lines.iter().copied()),
    )
}

/// A map was created: track it (if checking is on and it is readable).
pub(crate) fn on_map(
    start: usize,
    size: usize,
    granularity: Granularity,
    readable: bool,
    file: Option<&std::path::Path>,
) {
    if !enabled() || !readable || size == 0 {
        return;
    }
    let explore = exploring();
    let logging = decision().is_some_and(|s| s.log.is_some());
    // SAFETY: a registered, readable map stays mapped until `on_unmap`,
    // which runs before it is unmapped.
    let tracked = unsafe { Tracked::new(start, size, granularity, explore, logging) };
    let Some(mut st) = state() else { return };
    st.maps_checked += 1;
    st.maps.insert(start, tracked);
    if logging {
        let path = file.map_or_else(|| "<anonymous>".into(), |p| p.display().to_string());
        st.log(&format!("|REGISTER_FILE;{path};{start:#x};{size:#x};0x0"));
    }
}

/// A map is about to be unmapped: a crash point. Returns `false`, and
/// records nothing, when it must not be unmapped now: a Rust crash-state
/// checker running on this thread reads it.
pub(crate) fn on_unmap(start: usize) -> bool {
    if !active() {
        return true;
    }
    let Some(mut st) = state() else {
        return !EXPLORED
            .try_with(|e| e.borrow().contains(&start))
            .unwrap_or(false);
    };
    st.explore("unmap", &mut LazySite::default());
    st.sync_writes();
    // Unregistered before the unmap.
    st.writes.remove(&start);
    st.write_tracking_tried.remove(&start);
    if let Some(mut t) = st.maps.remove(&start) {
        let mut site = LazySite::default();
        let (first, last) = t.lines_of(t.start, usize::MAX);
        t.observe_written(first, last);
        t.fill_sites(first, last, &mut site);
        t.crash_point("unmap", &mut st.findings);
        if let Some(stores) = t.stores.take() {
            let mut records = String::new();
            store_records(&mut records, stores.into_iter());
            st.log(&records);
        }
    }
    true
}

/// Records a finding when `[ptr, ptr + len)` is not covered by the
/// registered mappings.
fn check_inside(st: &mut State, ptr: usize, len: usize, what: &str, site: &mut LazySite) {
    if len == 0 {
        return;
    }
    let end = ptr.saturating_add(len);
    let mut covered = ptr;
    for (s, e, _) in registry::read().overlapping(ptr, end) {
        if s > covered {
            break;
        }
        covered = covered.max(e);
    }
    if covered < end {
        st.findings.push(Finding {
            kind: Kind::OutsideMappings,
            point: what.into(),
            lines: 1,
            addr: ptr,
            offset: None,
            site: Some(site.get()),
            detail: None,
        });
    }
}

/// A CPU flush of `[ptr, ptr + len)`, followed by a fence when `fenced`
/// (a persist), recorded before the flush instructions run.
pub(crate) fn on_flush(ptr: *const u8, len: usize, fenced: bool) {
    let (ptr, mut site) = (ptr as usize, LazySite::default());
    let Some(mut st) = state() else { return };
    check_inside(
        &mut st,
        ptr,
        len,
        if fenced { "persist" } else { "flush" },
        &mut site,
    );
    let mut perf = Vec::new();
    let mut records = String::new();
    for t in st.overlapping(ptr, ptr.saturating_add(len)) {
        let (first, last) = t.lines_of(ptr, len);
        t.observe(first, last);
        if t.stores.is_some() && last > first {
            let _ = write!(
                records,
                "|FLUSH;{:#x};{:#x}",
                t.start + first * LINE,
                (last - first) * LINE
            );
        }
        let (superfluous, redundant) = t.flush(first, last);
        perf.push((superfluous, redundant, t.start + first * LINE));
        if !fenced {
            t.fill_sites(first, last, &mut site);
        }
    }
    for (superfluous, redundant, addr) in perf {
        st.perf(Kind::Superfluous, superfluous, addr, &mut site);
        st.perf(Kind::Redundant, redundant, addr, &mut site);
    }
    st.log(&records);
    if fenced {
        st.explore("persist", &mut site);
        st.log("|FENCE");
        for t in st.maps.values_mut() {
            t.fence();
        }
        for t in st.overlapping(ptr, ptr.saturating_add(len)) {
            let (first, last) = t.lines_of(ptr, len);
            t.fill_sites(first, last, &mut site);
        }
    }
}

/// A fence (drain): flushed and non-temporal lines become durable.
pub(crate) fn on_fence() {
    let Some(mut st) = state() else { return };
    st.explore("fence", &mut LazySite::default());
    st.log("|FENCE");
    for t in st.maps.values_mut() {
        t.fence();
    }
}

/// `msync` of the pages of `[ptr, ptr + len)` (after it succeeded).
pub(crate) fn on_msync(ptr: *const u8, len: usize) {
    msync_event(ptr, len, true);
}

/// A deep flush of `[ptr, ptr + len)` succeeded: its lines are durable. It
/// is expected after a persist, so it is never a superfluous flush.
pub(crate) fn on_deep_flush(ptr: *const u8, len: usize) {
    msync_event(ptr, len, false);
}

fn msync_event(ptr: *const u8, len: usize, count_superfluous: bool) {
    let page = sys::mm::page_size();
    let (ptr, mut site) = (ptr as usize, LazySite::default());
    let start = ptr & !(page - 1);
    let end = ptr.saturating_add(len).saturating_add(page - 1) & !(page - 1);
    let Some(mut st) = state() else { return };
    check_inside(&mut st, ptr, len, "persist (msync)", &mut site);
    st.explore("msync", &mut site);
    st.sync_writes();
    let mut superfluous = Vec::new();
    for t in st.overlapping(start, end) {
        let (first, last) = t.lines_of(start, end - start);
        t.observe_written(first, last);
        if !t.msync(first, last) && count_superfluous {
            superfluous.push((last - first, t.start + first * LINE));
        }
    }
    for (lines, addr) in superfluous {
        st.perf(Kind::Superfluous, lines, addr, &mut site);
    }
    // As PMDK tells pmemcheck after an msync: a flush of the range + fence.
    if len > 0 {
        st.log(&format!("|FLUSH;{start:#x};{:#x}|FENCE", end - start));
    }
}

/// A pmem2 memory function stored `[dest, dest + len)` (after it ran).
/// Returns whether it touched a checked map: then its regions are open,
/// and [`on_store_end`] must close them.
pub(crate) fn on_store(dest: *const u8, len: usize, how: Store, memset: bool) -> bool {
    let (dest, mut site) = (dest as usize, LazySite::default());
    let Some(mut st) = state() else {
        return false;
    };
    let name = if memset {
        "pmem2_memset"
    } else {
        "pmem2_memmove"
    };
    let tracked = st.overlapping(dest, dest.saturating_add(len)).count() > 0;
    if tracked {
        // PMDK's markers (after the stores seen before this call), the
        // stores, the flush the kernel did; the fence or msync that ends
        // the call comes before the end markers (`on_store_end`).
        st.begin_region(name);
        st.begin_region("libpmem2");
    }
    for t in st.overlapping(dest, dest.saturating_add(len)) {
        let (first, last) = t.lines_of(dest, len);
        t.stored(first, last, how);
        t.fill_sites(first, last, &mut site);
    }
    if tracked {
        let flush = if how == Store::NoFlush {
            String::new()
        } else {
            format!("|FLUSH;{:#x};{:#x}", dest & !(LINE - 1), {
                let end = (dest + len).div_ceil(LINE) * LINE;
                end - (dest & !(LINE - 1))
            })
        };
        st.log(&flush);
    }
    tracked
}

/// The end of a pmem2 memory function whose [`on_store`] returned `true`
/// (after its fence or `msync`): closes its regions.
pub(crate) fn on_store_end(memset: bool) {
    let Some(mut st) = state() else { return };
    let _ = st.end_region("libpmem2");
    let _ = st.end_region(if memset {
        "pmem2_memset"
    } else {
        "pmem2_memmove"
    });
}

/// Renders and clears what was found, to the configured destination.
fn emit(settings: &Settings) {
    let Some(mut st) = state() else { return };
    let findings = std::mem::take(&mut st.findings);
    let totals = st.totals();
    st.totals = PerfTotals::default();
    st.perf_sites = 0;
    drop(st);
    let text = if settings.json {
        report::json(&findings, totals)
    } else {
        report::text(&findings, totals)
    };
    match &settings.out {
        Some(path) => {
            if let Err(err) = std::fs::write(path, &text) {
                eprintln!("pmem2: PMEM2_CHECK: cannot write {}: {err}", path.display());
                eprint!("{text}");
            }
        }
        None => eprint!("{text}"),
    }
}

extern "C" fn at_exit() {
    let Some(settings) = decision() else {
        return;
    };
    // A panic must not unwind into the C runtime's exit.
    let _ = std::panic::catch_unwind(|| {
        let Some(mut st) = state() else { return };
        st.crash_point_all("exit", &mut LazySite::default());
        st.close_log();
        drop(st);
        emit(settings);
    });
}

/// Marks a named crash point, or the beginning or end of a named region.
///
/// A crash point: every store made so far must be durable now. Each line
/// still in flight (modified, flushed but not fenced, or written by
/// non-temporal stores and not drained) becomes a verdict at
/// `point "NAME"`. Typical use: right after a commit record was made
/// durable, so that data the commit depends on but that was never
/// persisted is reported.
///
/// A region marker: a name ending in `.BEGIN` or `.END` (`"commit.BEGIN"`,
/// then `"commit.END"`) is written to the store log as PMDK's markers are
/// (`|commit.BEGIN`), for pmreorder's `-x commit=Engine`; crash-state
/// exploration honours the same mapping (`PMEM2_CHECK_EXPLORE_MARKERS`,
/// `pmem2 check --markers`) inside the region. Regions nest and must not
/// cross; a marker that breaks this, or whose name pmreorder can't parse
/// (`|`, `;`, `.`, START, STOP), is reported on standard error and
/// ignored. It is not a crash point.
///
/// Does nothing when checking is off.
pub fn point(name: &str) {
    if !active() {
        return;
    }
    let marker = name
        .strip_suffix(".BEGIN")
        .map(|n| (n, true))
        .or_else(|| name.strip_suffix(".END").map(|n| (n, false)));
    let Some((region, begin)) = marker else {
        if let Some(mut st) = state() {
            st.crash_point_all(&format!("point {name:?}"), &mut LazySite::default());
        }
        return;
    };
    // pmreorder splits the log at `|` and `;`, names a region by the text
    // before the first `.`, and cuts the log at any record containing
    // START or STOP.
    let result = if region.is_empty()
        || region.contains(['|', ';', '.'])
        || region.contains("START")
        || region.contains("STOP")
    {
        Err(format!(
            "{name:?}: a region name is not empty and has no '|', ';', '.', START or STOP"
        ))
    } else {
        match state() {
            Some(mut st) if begin => {
                st.begin_region(region);
                Ok(())
            }
            Some(mut st) => st.end_region(region),
            None => Ok(()),
        }
    };
    if let Err(err) = result {
        eprintln!("pmem2: check::point: {err}; marker ignored");
    }
}

/// Crash-consistency checking for this process, from Rust.
///
/// [`Checker::start`] turns checking on (it must come before the first map
/// or persistence function). Dropping the checker makes a last crash point
/// of every live map (`end of check`) and writes the report: to standard
/// error, or as `PMEM2_CHECK` says (`json`, `out=FILE`). `{checker}`
/// formats what was found so far as text, `{checker:#}` as JSON (the
/// document `pmem2 check --json` prints).
#[derive(Debug)]
pub struct Checker {
    _private: (),
}

impl Checker {
    /// Turns checking on for this process.
    ///
    /// # Errors
    /// [`Error::NotSupported`] when the decision was already taken with
    /// checking off: a map was created or a persistence or memory function
    /// chosen before this call.
    pub fn start() -> Result<Checker> {
        REQUESTED.store(true, Ordering::SeqCst);
        if enabled() {
            Ok(Checker { _private: () })
        } else {
            Err(Error::NotSupported(
                "Checker::start: pmem2 was already used with checking off; call it before \
                 the first map or persistence function, or set PMEM2_CHECK=report"
                    .into(),
            ))
        }
    }
}

impl Checker {
    /// Turns checking on, as [`Checker::start`], with crash-state
    /// exploration: at every fence, `msync` and crash point the possible
    /// crash images of each map (its durable bytes with subsets of the lines
    /// in flight applied; see `docs/check.md`) are given to `consistent`,
    /// which returns whether the program could recover from that image. The
    /// first image it rejects is a `crash_state` verdict in the report, with
    /// the ID `PMEM2_CHECK_REPLAY` replays; `PMEM2_CHECK_EXPLORE_BUDGET`
    /// bounds the time (60 s by default). It takes the place of a checker
    /// command (`PMEM2_CHECK_EXPLORE`).
    ///
    /// `consistent` runs inside the pmem2 call that fences, with the
    /// checker's lock held: what it does with pmem2 itself (maps, persists)
    /// is not checked, and `{checker}` can't be read inside it. The maps it
    /// explores can't be unmapped from it: [`Map::delete`](crate::Map::delete)
    /// fails with [`Error::NotSupported`], and a map dropped there stays
    /// mapped until the process ends. It must not wait for another thread
    /// that calls pmem2 (that thread waits for the lock). A panic in it
    /// stops the exploration.
    ///
    /// # Errors
    /// As [`Checker::start`].
    pub fn start_exploring(
        consistent: impl FnMut(&[u8]) -> bool + Send + 'static,
    ) -> Result<Checker> {
        EXPLORE_CLOSURE.store(true, Ordering::SeqCst);
        let checker = Checker::start();
        let Ok(checker) = checker else {
            EXPLORE_CLOSURE.store(false, Ordering::SeqCst);
            return checker;
        };
        let Some(mut st) = state() else {
            return Err(Error::NotSupported(
                "Checker::start_exploring: called from inside a crash-state checker; call it \
                 once, before the first map"
                    .into(),
            ));
        };
        st.consistent = Some(Box::new(consistent));
        Ok(checker)
    }
}

impl fmt::Display for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(st) = state() else {
            return f.write_str("(the report can't be read inside the crash-state checker)");
        };
        let (findings, totals) = (st.findings.clone(), st.totals());
        drop(st);
        if f.alternate() {
            f.write_str(&report::json(&findings, totals))
        } else {
            f.write_str(&report::text(&findings, totals))
        }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        let Some(mut st) = state() else { return };
        st.crash_point_all("end of check", &mut LazySite::default());
        st.close_log();
        drop(st);
        if let Some(settings) = decision() {
            emit(settings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert_eq!(Settings::parse(None), None);
        assert_eq!(Settings::parse(Some("")), None);
        assert_eq!(Settings::parse(Some("0")), None);
        let s = Settings::parse(Some("report")).unwrap();
        assert!(!s.json && s.out.is_none());
        let s = Settings::parse(Some("json,out=/tmp/x")).unwrap();
        assert!(s.json);
        assert_eq!(s.out.as_deref(), Some(std::path::Path::new("/tmp/x")));
    }

    #[test]
    fn markers_parse() {
        assert_eq!(
            parse_markers("tx=NoReorderNoCheck, log = NoReorderDoCheck,pmem2_memset=ReorderFull,")
                .unwrap(),
            vec![
                ("tx".to_owned(), Engine::NoCheck),
                ("log".to_owned(), Engine::InOrder),
                ("pmem2_memset".to_owned(), Engine::Bounded),
            ]
        );
        assert!(parse_markers("tx").unwrap_err().contains("NAME=Engine"));
        assert!(parse_markers("tx=Fast")
            .unwrap_err()
            .contains("unknown engine"));
    }

    #[test]
    fn state_ids_round_trip() {
        let id = StateId {
            point: 12,
            map: 0,
            lines: vec![0, 3],
        };
        assert_eq!(id.to_string(), "12:0:0x0+0xc0");
        assert_eq!(StateId::parse("12:0:0x0+0xc0"), Some(id));
        assert_eq!(StateId::parse("3:1:").unwrap().lines, Vec::<usize>::new());
        assert_eq!(StateId::parse("x:1:"), None);
    }

    /// Once pmem2 was used with checking off, it can't be turned on.
    #[test]
    fn start_after_first_use_fails() {
        let map = crate::Map::new(
            &crate::Config::with_granularity(Granularity::Page),
            &crate::Source::anonymous(4096).unwrap(),
        )
        .unwrap();
        if std::env::var_os("PMEM2_CHECK").is_none() {
            let err = Checker::start().unwrap_err();
            assert!(matches!(err, Error::NotSupported(_)), "{err}");
            assert!(err.to_string().starts_with("Checker::start:"), "{err}");
        }
        drop(map);
    }
}
