//! pmem2 against PMDK's C libpmem2, side by side in one process.
//!
//! Run through `cargo xtask bench` (which installs the C library if needed)
//! or directly: `cargo bench -p pmem2 --bench memops -- [--quick]
//! [--kernels] [--filter TEXT] [--dir /dev/shm]`. See `docs/benchmarks.md`.
//!
//! The C library is loaded at run time with `dlopen`, so building pmem2
//! never needs it. Both libraries map their own file in `--dir` with the
//! granularity forced through `PMEM2_FORCE_GRANULARITY` (read per map by
//! both); every cell runs Rust and C alternately, several rounds, and
//! reports the median time per operation of each and the ratio C / pmem2
//! (above 1: pmem2 is faster), and the paired statistic: the median of the
//! per-round ratios with its distribution-free 95 % confidence interval. A
//! cell is "below" a bar only when the whole interval is. `--aa` measures
//! each library against itself through the same harness (the noise floor).

#![allow(clippy::cast_precision_loss)] // times and sizes as f64 for printing
#![allow(missing_docs)] // a benchmark binary

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pmem2::mem::{self, KernelKind, MemmoveFn, MemsetFn};
use pmem2::persist::PersistFn;
use pmem2::{Config, Granularity, Map, MemFlags, Source};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const SIZES: [usize; 7] = [64, 256, 4 * KIB, 64 * KIB, MIB, 16 * MIB, 256 * MIB];
const FLAG_SETS: [(&str, MemFlags); 5] = [
    ("0", MemFlags::empty()),
    ("NT", MemFlags::NONTEMPORAL),
    ("T", MemFlags::TEMPORAL),
    ("NODRAIN", MemFlags::NODRAIN),
    ("NOFLUSH", MemFlags::NOFLUSH),
];

struct Options {
    quick: bool,
    /// A/A: each library against itself, for the harness's noise floor.
    aa: bool,
    kernels: bool,
    reference: Option<KernelKind>,
    filter: Option<String>,
    dir: PathBuf,
    rounds: usize,
    batch: Duration,
    file_size: usize,
}

fn parse_args() -> Options {
    let mut o = Options {
        quick: false,
        aa: false,
        kernels: false,
        reference: None,
        filter: None,
        dir: PathBuf::from("/dev/shm"),
        rounds: 21,
        batch: Duration::from_millis(1),
        file_size: 1024 * MIB,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--aa" => o.aa = true,
            "--rounds" => {
                o.rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n >= 5)
                    .unwrap_or_else(|| {
                        eprintln!("memops: --rounds needs a number of at least 5");
                        std::process::exit(2);
                    });
            }
            "--kernels" => o.kernels = true,
            "--reference" => {
                let name = args.next().unwrap_or_default();
                o.reference = KernelKind::ALL.into_iter().find(|k| k.to_string() == name);
                if o.reference
                    .is_none_or(|k| mem::ops_with(k, Granularity::Page).is_none())
                {
                    eprintln!("memops: --reference needs a kernel this CPU runs, not {name:?}");
                    std::process::exit(2);
                }
            }
            "--filter" => o.filter = args.next(),
            "--dir" => o.dir = PathBuf::from(args.next().expect("--dir needs a path")),
            "--bench" => {}
            other => {
                eprintln!("memops: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if o.quick && !std::env::args().any(|a| a == "--rounds") {
        o.rounds = 11;
    }
    if o.quick {
        o.batch = Duration::from_micros(500);
        o.file_size = 512 * MIB;
    }
    o
}

// ---------------------------------------------------------------- C library

/// The function `name` of a `dlopen`ed library, as the function-pointer
/// type `T`.
///
/// # Safety
/// `T` is a function-pointer type matching the symbol's C signature.
unsafe fn symbol<T: Copy>(handle: *mut c_void, name: &str) -> Result<T, String> {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
    let c_name = CString::new(name).unwrap();
    // SAFETY: a valid handle and C string.
    let p = unsafe { libc::dlsym(handle, c_name.as_ptr()) };
    if p.is_null() {
        return Err(format!("libpmem2.so.1 has no {name}"));
    }
    // SAFETY: the caller guarantees `T` is the symbol's function-pointer
    // type; function and data pointers have the same size and
    // representation on Linux (checked above).
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

type Ret = c_int;
#[allow(clippy::struct_field_names)] // named as the C functions
struct CLib {
    source_from_fd: unsafe extern "C" fn(*mut *mut c_void, c_int) -> Ret,
    source_delete: unsafe extern "C" fn(*mut *mut c_void) -> Ret,
    config_new: unsafe extern "C" fn(*mut *mut c_void) -> Ret,
    config_delete: unsafe extern "C" fn(*mut *mut c_void) -> Ret,
    config_set_gran: unsafe extern "C" fn(*mut c_void, c_int) -> Ret,
    map_new: unsafe extern "C" fn(*mut *mut c_void, *const c_void, *const c_void) -> Ret,
    map_delete: unsafe extern "C" fn(*mut *mut c_void) -> Ret,
    map_addr: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    map_gran: unsafe extern "C" fn(*mut c_void) -> c_int,
    get_memcpy: unsafe extern "C" fn(*mut c_void) -> MemmoveFn,
    get_memset: unsafe extern "C" fn(*mut c_void) -> MemsetFn,
    get_persist: unsafe extern "C" fn(*mut c_void) -> PersistFn,
    errormsg: unsafe extern "C" fn() -> *const c_char,
}

impl CLib {
    fn load() -> Result<CLib, String> {
        let name = CString::new("libpmem2.so.1").unwrap();
        // SAFETY: dlopen with a valid C string; the handle is never closed,
        // so the symbols stay valid for the process.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err("can't dlopen libpmem2.so.1 (apt-get install libpmem2)".into());
        }
        // SAFETY: each symbol is the libpmem2 function with the signature
        // of its field (PMDK's libpmem2/base.h).
        unsafe {
            Ok(CLib {
                source_from_fd: symbol(handle, "pmem2_source_from_fd")?,
                source_delete: symbol(handle, "pmem2_source_delete")?,
                config_new: symbol(handle, "pmem2_config_new")?,
                config_delete: symbol(handle, "pmem2_config_delete")?,
                config_set_gran: symbol(handle, "pmem2_config_set_required_store_granularity")?,
                map_new: symbol(handle, "pmem2_map_new")?,
                map_delete: symbol(handle, "pmem2_map_delete")?,
                map_addr: symbol(handle, "pmem2_map_get_address")?,
                map_gran: symbol(handle, "pmem2_map_get_store_granularity")?,
                get_memcpy: symbol(handle, "pmem2_get_memcpy_fn")?,
                get_memset: symbol(handle, "pmem2_get_memset_fn")?,
                get_persist: symbol(handle, "pmem2_get_persist_fn")?,
                errormsg: symbol(handle, "pmem2_errormsg")?,
            })
        }
    }

    fn check(&self, ret: Ret, what: &str) {
        if ret != 0 {
            // SAFETY: pmem2_errormsg returns a thread-local C string.
            let msg = unsafe { CStr::from_ptr((self.errormsg)()) };
            panic!("C {what}: {ret} {}", msg.to_string_lossy());
        }
    }

    /// Maps `file` with PAGE required granularity (the forced one wins).
    fn map(&self, file: &File) -> CMap<'_> {
        use std::os::fd::AsRawFd;
        let (mut src, mut cfg, mut map) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        // SAFETY: out-pointers to locals; valid fd; objects freed in Drop.
        unsafe {
            self.check(
                (self.source_from_fd)(&raw mut src, file.as_raw_fd()),
                "source",
            );
            self.check((self.config_new)(&raw mut cfg), "config");
            self.check((self.config_set_gran)(cfg, 2), "granularity");
            self.check((self.map_new)(&raw mut map, cfg, src), "map_new");
            (self.config_delete)(&raw mut cfg);
            (self.source_delete)(&raw mut src);
        }
        CMap { lib: self, map }
    }
}

struct CMap<'a> {
    lib: &'a CLib,
    map: *mut c_void,
}

impl Drop for CMap<'_> {
    fn drop(&mut self) {
        // SAFETY: a map created by `CLib::map`, deleted once.
        unsafe { (self.lib.map_delete)(&raw mut self.map) };
    }
}

// ---------------------------------------------------------------- sides

/// One library's functions and mapping.
#[derive(Clone, Copy)]
struct Side {
    memcpy: MemmoveFn,
    memset: MemsetFn,
    persist: PersistFn,
    base: *mut u8,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Memcpy,
    Memset,
    Persist,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Memcpy => "memcpy",
            Op::Memset => "memset",
            Op::Persist => "persist",
        }
    }
}

/// Where successive calls go: the same place, or walking through the file.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Hot,
    Stream,
}

struct Cell {
    op: Op,
    flags: MemFlags,
    size: usize,
    mode: Mode,
}

/// Runs `iters` operations and returns the elapsed time.
///
/// Streaming, the calls walk the file from `*pos` (wrapping), and the
/// source from the same offset. The caller picks a fresh random `*pos` for
/// each batch of each side: in a VM some pages of the same file are
/// markedly slower than others, and memory touched recently is faster, so
/// fixed or lockstep positions favour one side; random ones don't.
fn run(
    lib: Side,
    cell: &Cell,
    src: &[u8],
    file_size: usize,
    iters: usize,
    pos: &mut usize,
) -> Duration {
    let (size, flags) = (cell.size, cell.flags.bits());
    let last = stream_span(cell, src, file_size);
    let start = Instant::now();
    for _ in 0..iters {
        let off = if cell.mode == Mode::Hot { 0 } else { *pos };
        // SAFETY: `off + size <= file_size`, inside the side's mapping, and
        // `off + size <= src.len()`.
        unsafe {
            let d = lib.base.add(off).cast::<c_void>();
            match cell.op {
                Op::Memcpy => {
                    black_box((lib.memcpy)(d, src.as_ptr().add(off).cast(), size, flags));
                }
                Op::Memset => {
                    black_box((lib.memset)(d, 0x5a, size, flags));
                }
                Op::Persist => (lib.persist)(d, size),
            }
        }
        if cell.mode == Mode::Stream {
            *pos += size;
            if *pos > last {
                *pos = 0;
            }
        }
    }
    start.elapsed()
}

/// xorshift64: the benchmark's reproducible randomness.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median ns per operation for each side, measured alternately.
/// The last offset a streaming cell may start at (only copies read `src`).
fn stream_span(cell: &Cell, src: &[u8], file_size: usize) -> usize {
    if cell.op == Op::Memcpy {
        file_size.min(src.len()) - cell.size
    } else {
        file_size - cell.size
    }
}

/// One cell's result: each side's median time per call and, per round, the
/// ratio of the second side's time to the first's (both sides ran back to
/// back in that round, so they saw the same neighbours).
struct Measured {
    medians: [f64; 2],
    ratios: Vec<f64>,
}

/// The paired statistic of a cell: the median of the per-round ratios and
/// its distribution-free confidence interval of at least 95 % (the order
/// statistics the sign test gives: `[x(k), x(n+1-k)]`, the largest `k` with
/// `P(Binomial(n, 1/2) < k) <= 2.5 %`; for 21 rounds `k = 6`, coverage
/// 97.3 %). No assumption on the distribution, which is skewed here (a
/// neighbour's burst slows one round of one side).
struct Paired {
    median: f64,
    low: f64,
    high: f64,
}

fn paired(ratios: &[f64]) -> Paired {
    let mut r = ratios.to_vec();
    r.sort_by(f64::total_cmp);
    let n = r.len();
    // P(X <= j) for X ~ Binomial(n, 1/2), accumulated until it passes 2.5 %.
    let mut k = 0;
    let mut cdf = 0.0;
    let mut pmf = 0.5f64.powi(n as i32); // P(X = 0)
    for j in 0..n {
        cdf += pmf;
        if cdf > 0.025 {
            break;
        }
        k = j + 1; // P(X < k) = P(X <= j) <= 2.5 %
        pmf *= (n - j) as f64 / (j + 1) as f64;
    }
    // With too few rounds for a 95 % interval, the whole range.
    let k = k.max(1);
    Paired {
        median: r[n / 2],
        low: r[k - 1],
        high: r[n - k],
    }
}

/// Checks of [`paired`] (run at startup: a bench binary has no test harness).
fn check_paired() {
    // 21 rounds: the 6th and 16th order statistics (coverage 97.3 %).
    let r: Vec<f64> = (1..=21).map(f64::from).collect();
    let p = paired(&r);
    assert_eq!((p.median, p.low, p.high), (11.0, 6.0, 16.0));
    // 11 rounds: P(X <= 1) = 0.6 % and P(X <= 2) = 3.3 %: k = 2.
    let r: Vec<f64> = (1..=11).map(f64::from).collect();
    let p = paired(&r);
    assert_eq!((p.median, p.low, p.high), (6.0, 2.0, 10.0));
    // 5 rounds: no 95 % interval exists; the whole range.
    let p = paired(&[5.0, 1.0, 3.0, 2.0, 4.0]);
    assert_eq!((p.median, p.low, p.high), (3.0, 1.0, 5.0));
}

fn measure(sides: [Side; 2], cell: &Cell, src: &[u8], o: &Options) -> [f64; 2] {
    measure_paired(sides, cell, src, o).medians
}

fn measure_paired(sides: [Side; 2], cell: &Cell, src: &[u8], o: &Options) -> Measured {
    let span = stream_span(cell, src, o.file_size);
    // A different sequence for every cell and run.
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = (clock ^ cell.size as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let random_pos = |rng: &mut u64| (next_random(rng) as usize % (span + 1)) & !4095;
    // Warm up both sides, then calibrate the batch length on the first.
    let mut pos = 0;
    let once = run(sides[0], cell, src, o.file_size, 1, &mut pos);
    let _ = run(sides[1], cell, src, o.file_size, 1, &mut pos);
    let per = once.as_nanos().max(1) as f64;
    let iters = ((o.batch.as_nanos() as f64 / per) as usize).clamp(1, 1_000_000);
    let probe = run(sides[0], cell, src, o.file_size, iters, &mut pos);
    let per = probe.as_nanos() as f64 / iters as f64;
    let iters = ((o.batch.as_nanos() as f64 / per) as usize).clamp(1, 1_000_000);
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..o.rounds {
        // Random order per round, so a periodic neighbour can't line up
        // with one side.
        let first = (next_random(&mut rng) >> 32) as usize & 1;
        for k in 0..2 {
            let which = (k + first) % 2;
            let mut pos = random_pos(&mut rng);
            let d = run(sides[which], cell, src, o.file_size, iters, &mut pos);
            times[which].push(d.as_nanos() as f64 / iters as f64);
        }
    }
    let ratios = times[0].iter().zip(&times[1]).map(|(a, b)| b / a).collect();
    Measured {
        medians: [median(&mut times[0]), median(&mut times[1])],
        ratios,
    }
}

fn fmt_time(ns: f64, size: usize, op: Op) -> String {
    if size >= MIB && op != Op::Persist {
        format!("{:.1} GB/s", size as f64 / ns)
    } else if ns >= 10_000.0 {
        format!("{:.1} us", ns / 1000.0)
    } else {
        format!("{ns:.1} ns")
    }
}

fn fmt_size(size: usize) -> String {
    if size >= MIB {
        format!("{}M", size / MIB)
    } else if size >= KIB {
        format!("{}K", size / KIB)
    } else {
        format!("{size}")
    }
}

fn granularity_env(g: Granularity) -> &'static str {
    match g {
        Granularity::Byte => "BYTE",
        Granularity::CacheLine => "CACHE_LINE",
        Granularity::Page => "PAGE",
    }
}

/// A file of `size` bytes in `dir`, removed once mapped.
fn scratch_file(dir: &Path, tag: &str, size: usize) -> File {
    let path = dir.join(format!("pmem2-bench-{}-{tag}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.set_len(size as u64).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// Touches every page so the measurements see no page faults.
fn prefault(base: *mut u8, size: usize) {
    // SAFETY: `base..base+size` is a writable mapping.
    unsafe { std::ptr::write_bytes(base, 1, size) };
}

/// The bar of the issue's criterion: no cell below 0.95x.
const BAR: f64 = 0.95;

struct Summary {
    worst: Option<(f64, String)>,
    rows: usize,
    nt_copy_256m: Option<[f64; 2]>,
    /// Cells whose whole paired interval is below [`BAR`].
    below: Vec<String>,
    /// Cells whose paired median (but not the whole interval) is below [`BAR`].
    median_below: usize,
    /// A/A: the widest half-width of an interval, and how many intervals
    /// miss 1.00.
    aa_widest: f64,
    aa_miss_one: usize,
}

/// The paired columns: median of per-round ratios, its interval, and a
/// mark when the whole interval is below [`BAR`].
fn fmt_paired(p: &Paired) -> String {
    format!(
        "{:>6.2}x [{:.2}, {:.2}]{}",
        p.median,
        p.low,
        p.high,
        if p.high < BAR { " BELOW" } else { "" }
    )
}

/// The names of a cell's flags and mode, as the table prints them.
fn flags_and_mode(cell: &Cell) -> (&'static str, &'static str) {
    let flags = FLAG_SETS
        .iter()
        .find(|(_, f)| *f == cell.flags)
        .map_or("?", |(n, _)| n);
    let mode = if cell.mode == Mode::Hot {
        "hot"
    } else {
        "stream"
    };
    (flags, mode)
}

fn cell_name(label: &str, cell: &Cell) -> String {
    let (flags, mode) = flags_and_mode(cell);
    format!(
        "{label} {} {flags} {} {mode}",
        cell.op.name(),
        fmt_size(cell.size)
    )
}

fn print_row(label: &str, cell: &Cell, m: &Measured, summary: &mut Summary) {
    let t = m.medians;
    let ratio = t[1] / t[0];
    let p = paired(&m.ratios);
    if p.high < BAR {
        summary.below.push(cell_name(label, cell));
    } else if p.median < BAR {
        summary.median_below += 1;
    }
    let (flags, mode) = flags_and_mode(cell);
    println!(
        "{label:<11} {:<8} {flags:<8} {:>5} {mode:<6} {:>12} {:>12} {:>6.2}x {}",
        cell.op.name(),
        fmt_size(cell.size),
        fmt_time(t[0], cell.size, cell.op),
        fmt_time(t[1], cell.size, cell.op),
        ratio,
        fmt_paired(&p)
    );
    summary.rows += 1;
    if summary.worst.as_ref().is_none_or(|(r, _)| ratio < *r) {
        summary.worst = Some((
            ratio,
            format!(
                "{label} {} {:?} {}",
                cell.op.name(),
                cell.flags,
                fmt_size(cell.size)
            ),
        ));
    }
}

fn header() {
    println!(
        "{:<11} {:<8} {:<8} {:>5} {:<6} {:>12} {:>12} {:>7} {:>7} 95% CI",
        "granularity", "op", "flags", "size", "mode", "pmem2", "C", "C/pmem2", "paired"
    );
}

/// A/A: each library against itself, the same way as a table row.
fn print_aa_row(label: &str, cell: &Cell, c: &Measured, r: &Measured, summary: &mut Summary) {
    let (pc, pr) = (paired(&c.ratios), paired(&r.ratios));
    for p in [&pc, &pr] {
        summary.aa_widest = summary.aa_widest.max((p.high - p.low) / 2.0);
        if p.low > 1.0 || p.high < 1.0 {
            summary.aa_miss_one += 1;
        }
        if p.high < BAR {
            summary.below.push(cell_name(label, cell));
        }
    }
    summary.rows += 1;
    println!(
        "{:<34} C/C {:>6.2}x {}   pmem2/pmem2 {:>6.2}x {}",
        cell_name(label, cell),
        c.medians[1] / c.medians[0],
        fmt_paired(&pc),
        r.medians[1] / r.medians[0],
        fmt_paired(&pr)
    );
}

fn cells(quick: bool) -> Vec<Cell> {
    let mut v = Vec::new();
    for op in [Op::Memcpy, Op::Memset, Op::Persist] {
        let flag_sets: &[(&str, MemFlags)] = if op == Op::Persist {
            &FLAG_SETS[..1]
        } else {
            &FLAG_SETS
        };
        for &(_, flags) in flag_sets {
            for size in SIZES {
                if quick && size == 16 * MIB {
                    continue;
                }
                if size <= MIB {
                    v.push(Cell {
                        op,
                        flags,
                        size,
                        mode: Mode::Hot,
                    });
                }
                if size >= MIB {
                    v.push(Cell {
                        op,
                        flags,
                        size,
                        mode: Mode::Stream,
                    });
                }
            }
        }
    }
    v
}

fn matches(o: &Options, text: &str) -> bool {
    o.filter.as_ref().is_none_or(|f| text.contains(f.as_str()))
}

fn main() {
    check_paired();
    let o = parse_args();
    let lib = match CLib::load() {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!("memops: {e}");
            std::process::exit(1);
        }
    };
    let info = mem::info();
    println!(
        "pmem2 kernel {} (flush {}, movnt threshold {}, wc workaround {}); files in {}; {} rounds, medians",
        info.kernel,
        info.flush,
        info.movnt_threshold,
        info.wc_workaround,
        o.dir.display(),
        o.rounds
    );
    let src: Vec<u8> = (0..256 * MIB + 4096).map(|i| (i * 7) as u8).collect();
    let mut summary = Summary {
        worst: None,
        rows: 0,
        nt_copy_256m: None,
        below: Vec::new(),
        median_below: 0,
        aa_widest: 0.0,
        aa_miss_one: 0,
    };

    if o.kernels {
        kernels(&o, &lib, &src);
        machine(&o, &src, &summary);
        return;
    }

    if o.aa {
        println!("A/A: each library against itself through the same harness (the noise floor); ratio of medians, then paired median [95% CI]");
    } else {
        header();
    }
    table(&o, &lib, &src, &mut summary);
    if o.aa {
        print_aa_summary(&summary);
        return;
    }
    if matches(&o, "map") {
        map_cycle(&o, &lib, &mut summary);
    }
    safe_access(&o);
    machine(&o, &src, &summary);
    print_summary(&summary);
}

/// The table: every cell of every granularity (or A/A rows with `--aa`).
fn table(o: &Options, lib: &CLib, src: &[u8], summary: &mut Summary) {
    for g in [Granularity::Page, Granularity::CacheLine, Granularity::Byte] {
        let label = g.to_string();
        if !cells(o.quick)
            .iter()
            .any(|c| matches(o, &format!("{label} {} {}", c.op.name(), fmt_size(c.size))))
        {
            continue;
        }
        std::env::set_var("PMEM2_FORCE_GRANULARITY", granularity_env(g));
        // Both libraries map the same file, so they write to the same
        // physical pages (in a VM, pages differ in speed).
        let file = scratch_file(&o.dir, "data", o.file_size);
        let source = Source::from_file(&file).unwrap();
        let rmap = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
        let cmap = lib.map(&file);
        // SAFETY: a live C map.
        let cg = unsafe { (lib.map_gran)(cmap.map) };
        assert_eq!(rmap.store_granularity(), g);
        assert_eq!(cg, g as c_int, "C granularity");
        let rust = Side {
            memcpy: mem::memcpy_fn(g),
            memset: mem::memset_fn(g),
            persist: pmem2::persist::persist_fn(g),
            base: rmap.addr(),
        };
        // SAFETY: live C map; the getters never fail.
        let c = unsafe {
            Side {
                memcpy: (lib.get_memcpy)(cmap.map),
                memset: (lib.get_memset)(cmap.map),
                persist: (lib.get_persist)(cmap.map),
                base: (lib.map_addr)(cmap.map).cast(),
            }
        };
        prefault(rust.base, o.file_size);
        prefault(c.base, o.file_size);
        // A/A: a second map of the same file for each library, so the two
        // sides differ in everything but the code, as in the A/B table.
        let aa_maps = o.aa.then(|| {
            let rmap = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
            (rmap, lib.map(&file))
        });
        let twins = aa_maps.as_ref().map(|(rmap2, cmap2)| {
            // SAFETY: a live C map.
            let base = unsafe { (lib.map_addr)(cmap2.map) };
            let c2 = Side {
                base: base.cast(),
                ..c
            };
            let rust2 = Side {
                base: rmap2.addr(),
                ..rust
            };
            prefault(c2.base, o.file_size);
            prefault(rust2.base, o.file_size);
            [c2, rust2]
        });
        for cell in cells(o.quick) {
            let text = format!("{label} {} {}", cell.op.name(), fmt_size(cell.size));
            if !matches(o, &text) {
                continue;
            }
            if let Some([c2, rust2]) = twins {
                let mc = measure_paired([c, c2], &cell, src, o);
                let mr = measure_paired([rust, rust2], &cell, src, o);
                print_aa_row(&label, &cell, &mc, &mr, summary);
                continue;
            }
            let m = measure_paired([rust, c], &cell, src, o);
            let t = m.medians;
            print_row(&label, &cell, &m, summary);
            if g == Granularity::CacheLine
                && cell.op == Op::Memcpy
                && cell.flags == MemFlags::NONTEMPORAL
                && cell.size == 256 * MIB
            {
                summary.nt_copy_256m = Some(t);
            }
        }
        drop(aa_maps);
        drop(rmap);
    }
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
}

fn print_aa_summary(summary: &Summary) {
    println!(
        "\n{} cells, 2 A/A pairs each; widest half-interval {:.3}; {} of {} intervals miss 1.00 (about 3 % expected by chance); {} below {BAR:.2}x",
        summary.rows,
        summary.aa_widest,
        summary.aa_miss_one,
        2 * summary.rows,
        summary.below.len()
    );
    for name in &summary.below {
        println!("  below: {name}");
    }
}

fn print_summary(summary: &Summary) {
    if let Some((ratio, what)) = &summary.worst {
        println!(
            "\n{} cells; lowest C/pmem2 ratio of medians {ratio:.2}x at {what}",
            summary.rows
        );
        println!(
            "paired: {} cells below {BAR:.2}x (whole 95% interval below), {} more with the paired median below {BAR:.2}x but the interval reaching it",
            summary.below.len(),
            summary.median_below
        );
        for name in &summary.below {
            println!("  below: {name}");
        }
    }
}

/// Map creation + deletion, 2 MiB file, PAGE granularity.
fn map_cycle(o: &Options, lib: &CLib, summary: &mut Summary) {
    let file_r = scratch_file(&o.dir, "map-r", 2 * MIB);
    let file_c = scratch_file(&o.dir, "map-c", 2 * MIB);
    let source = Source::from_file(&file_r).unwrap();
    let config = Config::with_granularity(Granularity::Page);
    let iters = if o.quick { 200 } else { 500 };
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..o.rounds {
        for k in 0..2 {
            let which = (k + round) % 2;
            let t = Instant::now();
            for _ in 0..iters {
                if which == 0 {
                    Map::new(&config, &source).unwrap().delete().unwrap();
                } else {
                    drop(black_box(lib.map(&file_c)));
                }
            }
            times[which].push(t.elapsed().as_nanos() as f64 / f64::from(iters));
        }
    }
    let t = [median(&mut times[0]), median(&mut times[1])];
    let ratio = t[1] / t[0];
    println!(
        "{:<11} {:<8} {:<8} {:>5} {:<6} {:>12} {:>12} {:>6.2}x",
        "page",
        "map+del",
        "-",
        "2M",
        "-",
        fmt_time(t[0], 0, Op::Persist),
        fmt_time(t[1], 0, Op::Persist),
        ratio
    );
    summary.rows += 1;
    if summary.worst.as_ref().is_none_or(|(r, _)| ratio < *r) {
        summary.worst = Some((ratio, "map create+delete".into()));
    }
}

// ---------------------------------------------------------------- safe access

/// Median ns per call of `f(k, iters)` for each side `k < N`, measured
/// alternately (a random rotation per round), as [`measure`] does.
fn measure_sides<const N: usize>(
    o: &Options,
    mut f: impl FnMut(usize, usize) -> Duration,
) -> [f64; N] {
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        | 1;
    for k in 0..N {
        let _ = f(k, 1);
    }
    let once = f(0, 1);
    let per = once.as_nanos().max(1) as f64;
    let iters = ((o.batch.as_nanos() as f64 / per) as usize).clamp(1, 1_000_000);
    let per = f(0, iters).as_nanos() as f64 / iters as f64;
    let iters = ((o.batch.as_nanos() as f64 / per.max(0.1)) as usize).clamp(1, 1_000_000);
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    // These cells are cheap: at least 31 rounds, for a steadier median.
    for _ in 0..o.rounds.max(31) {
        let first = (next_random(&mut rng) >> 32) as usize % N;
        for k in 0..N {
            let which = (k + first) % N;
            times[which].push(f(which, iters).as_nanos() as f64 / iters as f64);
        }
    }
    times.map(|mut t| median(&mut t))
}

/// The safe `Map::write`/`Map::read` under the SIGBUS guard, against the
/// very same methods on an unguarded map of the same file, and against the
/// raw copy; cache-line granularity (no `msync` to hide the guard's cost),
/// hot.
///
/// The unguarded map is `Map::from_existing` over a second mapping of the
/// file made here: pmem2 can't re-map memory it didn't map, so it doesn't
/// guard such maps, and everything else on the path (checks, kernel choice,
/// kernel, fence) is identical. The raw side is the memcpy function with
/// flags 0 (same kernel and fence) for `write`, `ptr::copy_nonoverlapping`
/// for `read`, without the safe API's checks.
fn safe_access(o: &Options) {
    const SAFE_SIZES: [usize; 3] = [64, 4 * KIB, MIB];
    const LEN: usize = 4 * MIB;
    let labels = SAFE_SIZES
        .iter()
        .flat_map(|&s| ["write", "read"].map(|op| format!("safe {op} {}", fmt_size(s))));
    if !labels.into_iter().any(|l| matches(o, &l)) {
        return;
    }
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "CACHE_LINE");
    let file = scratch_file(&o.dir, "safe", LEN);
    let source = Source::from_file(&file).unwrap();
    let mut map = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
    let g = map.store_granularity();
    assert_eq!(g, Granularity::CacheLine);
    // SAFETY: a new shared mapping of the scratch file at a kernel-chosen
    // address; unmapped at the end of this function, after `plain` is gone.
    let second = unsafe {
        use std::os::fd::AsRawFd;
        libc::mmap(
            std::ptr::null_mut(),
            LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(second, libc::MAP_FAILED);
    // SAFETY: `second` is mapped readable and writable for LEN bytes until
    // the munmap below, after `plain` is dropped; the file isn't truncated.
    let mut plain = unsafe {
        Map::from_existing(
            &source,
            std::ptr::NonNull::new(second.cast()).unwrap(),
            LEN,
            g,
        )
    }
    .unwrap();
    prefault(map.addr(), LEN);
    prefault(plain.addr(), LEN);
    let memcpy = mem::memcpy_fn(g);
    let data: Vec<u8> = (0..MIB).map(|i| (i * 13) as u8).collect();
    let mut buf = vec![0u8; MIB];
    println!(
        "\nsafe access, cache_line, hot: Map method guarded, the same method unguarded, the raw copy;\n\
         {:<11} {:<8} {:>5} {:>12} {:>12} {:>12} {:>17} {:>11}",
        "", "op", "size", "guarded", "unguarded", "raw", "unguarded/guarded", "raw/guarded"
    );
    for size in SAFE_SIZES {
        for op in ["write", "read"] {
            if !matches(o, &format!("safe {op} {}", fmt_size(size))) {
                continue;
            }
            let off = MIB;
            let t: [f64; 3] = measure_sides(o, |which, iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    match (op, which) {
                        ("write", 0) => map.write(off, black_box(&data[..size])).unwrap(),
                        ("write", 1) => plain.write(off, black_box(&data[..size])).unwrap(),
                        ("write", _) => {
                            // SAFETY: `off + size` is inside the 4 MiB map;
                            // `data` holds at least `size` bytes.
                            unsafe {
                                black_box(memcpy(
                                    map.addr().add(off).cast(),
                                    black_box(data.as_ptr()).cast(),
                                    size,
                                    0,
                                ));
                            }
                        }
                        (_, 0) => map.read(off, black_box(&mut buf[..size])).unwrap(),
                        (_, 1) => plain.read(off, black_box(&mut buf[..size])).unwrap(),
                        _ => {
                            // SAFETY: as above; `buf` holds `size` bytes.
                            unsafe {
                                std::ptr::copy_nonoverlapping(
                                    map.addr().add(off),
                                    black_box(buf.as_mut_ptr()),
                                    size,
                                );
                            }
                        }
                    }
                    black_box(&buf);
                }
                start.elapsed()
            });
            println!(
                "{:<11} {op:<8} {:>5} {:>12} {:>12} {:>12} {:>16.3}x {:>10.3}x",
                "safe",
                fmt_size(size),
                fmt_time(t[0], size, Op::Memcpy),
                fmt_time(t[1], size, Op::Memcpy),
                fmt_time(t[2], size, Op::Memcpy),
                t[1] / t[0],
                t[2] / t[0]
            );
        }
    }
    drop(plain);
    // SAFETY: the second mapping made above; `plain` no longer refers to it.
    unsafe { libc::munmap(second, LEN) };
}

// ---------------------------------------------------------------- machine references

unsafe extern "C" fn plain_nt_memcpy(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    _: u32,
) -> *mut c_void {
    // SAFETY: the benchmark passes valid, 64-aligned ranges of 256-byte multiples.
    unsafe { nt_copy(d.cast(), s.cast(), n) };
    d
}

unsafe extern "C" fn plain_nt_memcpy_ymm(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    _: u32,
) -> *mut c_void {
    // SAFETY: as above.
    unsafe { nt_copy_ymm(d.cast(), s.cast(), n) };
    d
}

unsafe extern "C" fn plain_nt_memset(d: *mut c_void, _: c_int, n: usize, _: u32) -> *mut c_void {
    // SAFETY: as above.
    unsafe { nt_fill(d.cast(), n) };
    d
}

unsafe extern "C" fn glibc_memcpy(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    _: u32,
) -> *mut c_void {
    // SAFETY: the benchmark passes valid, non-overlapping ranges.
    unsafe { libc::memcpy(d, s, n) }
}

unsafe extern "C" fn glibc_memset(d: *mut c_void, c: c_int, n: usize, _: u32) -> *mut c_void {
    // SAFETY: the benchmark passes a valid range.
    unsafe { libc::memset(d, c, n) }
}

/// pmem2's cache-line memcpy/memset, non-temporal, against the machine's
/// own loops and glibc, interleaved like the other cells.
fn machine(o: &Options, src: &[u8], summary: &Summary) {
    let any = [MIB, 256 * MIB].iter().any(|&size| {
        ["memcpy", "memset"]
            .iter()
            .any(|op| matches(o, &format!("machine {op} {}", fmt_size(size))))
    });
    if !any {
        return;
    }
    let file = scratch_file(&o.dir, "machine", o.file_size);
    let source = Source::from_file(&file).unwrap();
    let map = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    let base = map.addr();
    prefault(base, o.file_size);
    let g = Granularity::CacheLine;
    let pmem2 = Side {
        memcpy: mem::memcpy_fn(g),
        memset: mem::memset_fn(g),
        persist: pmem2::persist::persist_fn(g),
        base,
    };
    let plain = Side {
        memcpy: plain_nt_memcpy,
        memset: plain_nt_memset,
        ..pmem2
    };
    let plain_ymm = Side {
        memcpy: plain_nt_memcpy_ymm,
        ..plain
    };
    let glibc = Side {
        memcpy: glibc_memcpy,
        memset: glibc_memset,
        ..pmem2
    };
    println!("\npmem2 (cache_line, NONTEMPORAL) against the machine, streaming; pmem2's share of the reference's bandwidth:");
    for size in [MIB, 256 * MIB] {
        for (op, reference, name) in [
            (Op::Memcpy, plain, "NT copy zmm"),
            (Op::Memcpy, plain_ymm, "NT copy ymm"),
            (Op::Memcpy, glibc, "glibc memcpy"),
            (Op::Memset, plain, "plain NT fill"),
            (Op::Memset, glibc, "glibc memset"),
        ] {
            let cell = Cell {
                op,
                flags: MemFlags::NONTEMPORAL,
                size,
                mode: Mode::Stream,
            };
            if !matches(o, &format!("machine {} {}", op.name(), fmt_size(size))) {
                continue;
            }
            let [r, m] = measure([pmem2, reference], &cell, src, o);
            println!(
                "  {:<7} {:>5}  pmem2 {:>12}  {name:<14} {:>12}  {:>4.0}%",
                op.name(),
                fmt_size(size),
                fmt_time(r, size, op),
                fmt_time(m, size, op),
                100.0 * m / r
            );
        }
    }
    println!(
        "  (plain loops, 4 lines per iteration: NT copy zmm = {}, NT copy ymm = {})",
        nt_loop_name(),
        nt_ymm_loop_name()
    );
    if let Some([r, c]) = summary.nt_copy_256m {
        println!(
            "  cache_line memcpy NONTEMPORAL 256M in the table: pmem2/C = {:.2}x",
            c / r
        );
    }
}

#[cfg(target_arch = "x86_64")]
fn nt_loop_name() -> &'static str {
    if std::arch::is_x86_feature_detected!("avx512f") {
        "AVX-512 vmovntdq zmm"
    } else {
        "SSE2 movntdq"
    }
}

#[cfg(target_arch = "x86_64")]
fn nt_ymm_loop_name() -> &'static str {
    if std::arch::is_x86_feature_detected!("avx") {
        "AVX vmovntdq ymm"
    } else {
        "SSE2 movntdq"
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn nt_ymm_loop_name() -> &'static str {
    nt_loop_name()
}

#[cfg(not(target_arch = "x86_64"))]
fn nt_loop_name() -> &'static str {
    "ptr::copy_nonoverlapping (no NT stores)"
}

/// A plain non-temporal copy: 64-byte aligned `dst`, `len` a multiple of 256.
///
/// # Safety
/// `dst` writable and `src` readable for `len` bytes.
#[cfg(target_arch = "x86_64")]
unsafe fn nt_copy(dst: *mut u8, src: *const u8, len: usize) {
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; forwarded contract.
        unsafe { nt_copy_avx512(dst, src, len) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { nt_copy_sse2(dst, src, len) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn nt_copy_avx512(dst: *mut u8, src: *const u8, len: usize) {
    use std::arch::x86_64::{_mm512_loadu_si512, _mm512_stream_si512, _mm_sfence};
    let mut i = 0;
    // SAFETY: `i + 256 <= len`; `dst + i` is 64-aligned; sfence at the end.
    unsafe {
        while i + 256 <= len {
            let v0 = _mm512_loadu_si512(src.add(i).cast());
            let v1 = _mm512_loadu_si512(src.add(i + 64).cast());
            let v2 = _mm512_loadu_si512(src.add(i + 128).cast());
            let v3 = _mm512_loadu_si512(src.add(i + 192).cast());
            _mm512_stream_si512(dst.add(i).cast(), v0);
            _mm512_stream_si512(dst.add(i + 64).cast(), v1);
            _mm512_stream_si512(dst.add(i + 128).cast(), v2);
            _mm512_stream_si512(dst.add(i + 192).cast(), v3);
            i += 256;
        }
        _mm_sfence();
    }
}

/// A plain non-temporal copy with 32-byte stores (AVX), else SSE2.
///
/// # Safety
/// As [`nt_copy`].
#[cfg(target_arch = "x86_64")]
unsafe fn nt_copy_ymm(dst: *mut u8, src: *const u8, len: usize) {
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX; forwarded contract.
        unsafe { nt_copy_avx(dst, src, len) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { nt_copy_sse2(dst, src, len) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn nt_copy_avx(dst: *mut u8, src: *const u8, len: usize) {
    use std::arch::x86_64::{_mm256_loadu_si256, _mm256_stream_si256, _mm_sfence};
    let mut i = 0;
    // SAFETY: `i + 256 <= len`; `dst + i` is 64-aligned; sfence at the end.
    unsafe {
        while i + 256 <= len {
            let mut v = [_mm256_loadu_si256(src.add(i).cast()); 8];
            for (k, x) in v.iter_mut().enumerate().skip(1) {
                *x = _mm256_loadu_si256(src.add(i + 32 * k).cast());
            }
            for (k, x) in v.iter().enumerate() {
                _mm256_stream_si256(dst.add(i + 32 * k).cast(), *x);
            }
            i += 256;
        }
        _mm_sfence();
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn nt_copy_sse2(dst: *mut u8, src: *const u8, len: usize) {
    use std::arch::x86_64::{_mm_loadu_si128, _mm_sfence, _mm_stream_si128};
    let mut i = 0;
    // SAFETY: `i + 16 <= len`; `dst + i` 16-aligned; sfence at the end.
    unsafe {
        while i + 16 <= len {
            _mm_stream_si128(dst.add(i).cast(), _mm_loadu_si128(src.add(i).cast()));
            i += 16;
        }
        _mm_sfence();
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn nt_fill(dst: *mut u8, len: usize) {
    use std::arch::x86_64::{_mm_set1_epi8, _mm_sfence, _mm_stream_si128};
    let mut i = 0;
    // SAFETY: `i + 16 <= len`; `dst + i` 16-aligned; sfence at the end.
    unsafe {
        let v = _mm_set1_epi8(1);
        while i + 16 <= len {
            _mm_stream_si128(dst.add(i).cast(), v);
            i += 16;
        }
        _mm_sfence();
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn nt_copy(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: forwarded contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn nt_copy_ymm(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: forwarded contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn nt_fill(dst: *mut u8, len: usize) {
    // SAFETY: forwarded contract.
    unsafe { std::ptr::write_bytes(dst, 1, len) }
}

// ---------------------------------------------------------------- kernel sweep

/// Every pmem2 kernel this CPU runs, forced, against C's default, at cache
/// line granularity: how the default kernel was chosen.
fn kernels(o: &Options, lib: &CLib, src: &[u8]) {
    std::env::set_var("PMEM2_FORCE_GRANULARITY", "CACHE_LINE");
    let file = scratch_file(&o.dir, "data", o.file_size);
    let source = Source::from_file(&file).unwrap();
    let rmap = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    let cmap = lib.map(&file);
    prefault(rmap.addr(), o.file_size);
    // SAFETY: live C map.
    let c = unsafe {
        Side {
            memcpy: (lib.get_memcpy)(cmap.map),
            memset: (lib.get_memset)(cmap.map),
            persist: (lib.get_persist)(cmap.map),
            base: (lib.map_addr)(cmap.map).cast(),
        }
    };
    prefault(c.base, o.file_size);
    let (c, reference) = match o.reference {
        Some(kind) => {
            let ops = mem::ops_with(kind, Granularity::CacheLine).unwrap();
            let side = Side {
                memcpy: ops.memmove,
                memset: ops.memset,
                persist: c.persist,
                base: c.base,
            };
            (side, format!("pmem2 {kind}"))
        }
        None => (c, "C default".to_owned()),
    };
    println!("kernel sweep, cache_line; columns: kernel, {reference}, {reference}/kernel");
    header();
    let mut summary = Summary {
        worst: None,
        rows: 0,
        nt_copy_256m: None,
        below: Vec::new(),
        median_below: 0,
        aa_widest: 0.0,
        aa_miss_one: 0,
    };
    for kind in KernelKind::ALL
        .into_iter()
        .filter(|&k| mem::ops_with(k, Granularity::Page).is_some())
    {
        let ops = mem::ops_with(kind, Granularity::CacheLine).unwrap();
        let rust = Side {
            memcpy: ops.memmove,
            memset: ops.memset,
            persist: pmem2::persist::persist_fn(Granularity::CacheLine),
            base: rmap.addr(),
        };
        for (op, flags, size, mode) in [
            (Op::Memcpy, MemFlags::NONTEMPORAL, 256 * MIB, Mode::Stream),
            (Op::Memcpy, MemFlags::NONTEMPORAL, MIB, Mode::Hot),
            (Op::Memcpy, MemFlags::NONTEMPORAL, 4 * KIB, Mode::Hot),
            (Op::Memcpy, MemFlags::TEMPORAL, 256 * MIB, Mode::Stream),
            (Op::Memcpy, MemFlags::TEMPORAL, 4 * KIB, Mode::Hot),
            (Op::Memcpy, MemFlags::empty(), 64, Mode::Hot),
            (Op::Memcpy, MemFlags::NOFLUSH, 4 * KIB, Mode::Hot),
            (Op::Memcpy, MemFlags::NOFLUSH, 64 * KIB, Mode::Hot),
            (Op::Memset, MemFlags::NONTEMPORAL, 256 * MIB, Mode::Stream),
            (Op::Memset, MemFlags::NONTEMPORAL, MIB, Mode::Stream),
            (Op::Memset, MemFlags::TEMPORAL, 4 * KIB, Mode::Hot),
        ] {
            let cell = Cell {
                op,
                flags,
                size,
                mode,
            };
            if !matches(o, &format!("{kind} {} {}", op.name(), fmt_size(size))) {
                continue;
            }
            let m = measure_paired([rust, c], &cell, src, o);
            print_row(&kind.to_string(), &cell, &m, &mut summary);
        }
    }
    std::env::remove_var("PMEM2_FORCE_GRANULARITY");
}
