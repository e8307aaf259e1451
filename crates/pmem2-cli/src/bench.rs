//! `pmem2 bench [PATH] [--quick | --full] [--json]`: durable memcpy, memset
//! and persist on this machine and PATH, for every store granularity and
//! the main flag combinations, beside a plain (not durable) memcpy.
//!
//! Each granularity is forced with `PMEM2_FORCE_GRANULARITY`, set in this
//! process before `Map::new` (pmem2 reads it on every map creation). The
//! operations are the C-ABI function pointers of `pmem2::mem` and
//! `pmem2::persist`, called on the mapping's addresses, as a C program
//! would. Every cell runs for a fixed time, so a slow `msync` makes a cell
//! less precise, never the run longer.
//!
//! A granularity finer than the file's natural one (`byte` or `cache_line`
//! on a file that needs `msync`, `byte` without eADR) leaves stores that
//! are not durable on that file: such rows are measured, to compare costs,
//! but marked "not durable" in the tables, the JSON and the chart
//! (`--plot FILE`, SVG or PNG: bandwidth against size, one line per operation
//! and flag, one panel per granularity).

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bitflags::Flags;
use clap::Args;
use pmem2::mem::MemFlags;
use pmem2::{Config, Granularity, Map, Source};
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::util::{emit, human_bytes, io_err, open_rw_or_ro, pmem_err, temp_file};
use crate::Common;

/// Arguments of `pmem2 bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// File or device DAX to write to (its contents are overwritten; created,
    /// of the size the run needs, when it doesn't exist, as `copy` creates
    /// DST; default: a temporary file created in the current directory and
    /// removed afterwards).
    pub path: Option<PathBuf>,
    /// Three sizes and the main flags, about ten seconds (the default).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// Six sizes, every flag, longer runs per cell (a minute or two).
    #[arg(long)]
    pub full: bool,
    /// Milliseconds to spend on each measurement (default: 60 with --quick,
    /// 250 with --full).
    #[arg(long, value_name = "MS")]
    pub per_cell_ms: Option<u64>,
    /// Also draw the results as a chart in FILE, SVG or PNG by its
    /// extension (.svg, .png): bandwidth against size, one line per
    /// operation and flag, one panel per granularity.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// How much to measure.
struct Plan {
    name: &'static str,
    region: usize,
    sizes: &'static [usize],
    flags: &'static [MemFlags],
    per_cell: Duration,
}

const QUICK: Plan = Plan {
    name: "quick",
    region: 16 << 20,
    sizes: &[256, 4 << 10, 1 << 20],
    flags: &[
        MemFlags::empty(),
        MemFlags::NONTEMPORAL,
        MemFlags::TEMPORAL,
        MemFlags::NOFLUSH,
    ],
    per_cell: Duration::from_millis(60),
};

const FULL: Plan = Plan {
    name: "full",
    region: 64 << 20,
    sizes: &[64, 256, 4 << 10, 64 << 10, 1 << 20, 16 << 20],
    flags: &[
        MemFlags::empty(),
        MemFlags::NONTEMPORAL,
        MemFlags::TEMPORAL,
        MemFlags::NODRAIN,
        MemFlags::NOFLUSH,
        MemFlags::WC,
        MemFlags::WB,
    ],
    per_cell: Duration::from_millis(250),
};

const FORCE_VAR: &str = "PMEM2_FORCE_GRANULARITY";

/// One measured cell.
struct Cell {
    op: &'static str,
    flags: String,
    granularity: Option<Granularity>,
    size: usize,
    ops: u64,
    elapsed: Duration,
    /// Whether the stores are durable on this file (`None`: a plain
    /// memcpy/memset, never meant to be).
    durable: Option<bool>,
}

impl Cell {
    fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }

    fn gib_per_s(&self) -> f64 {
        self.mib_per_s() / 1024.0
    }

    fn mib_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64().max(1e-12);
        (self.ops as f64 * self.size as f64) / secs / f64::from(1u32 << 20)
    }

    /// The row's name in tables and the chart's legend.
    fn series(&self) -> String {
        if self.flags == "-" {
            self.op.to_owned()
        } else {
            format!("{} {}", self.op, self.flags)
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "op": self.op,
            "flags": self.flags,
            "granularity": self.granularity.map(|g| g.to_string()),
            "size": self.size,
            "ops": self.ops,
            "ns_per_op": (self.ns_per_op() * 10.0).round() / 10.0,
            "gib_per_s": (self.gib_per_s() * 1000.0).round() / 1000.0,
            "mib_per_s": (self.mib_per_s() * 10.0).round() / 10.0,
            "durable": self.durable,
        })
    }
}

fn flag_names(flags: MemFlags) -> String {
    if flags.is_empty() {
        return "0".to_owned();
    }
    flags
        .iter_names()
        .map(|(name, _)| name)
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs `pmem2 bench`.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    let mut plan = if args.full { FULL } else { QUICK };
    if let Some(ms) = args.per_cell_ms {
        plan.per_cell = Duration::from_millis(ms);
    }
    let plan = &plan;
    let started = Instant::now();
    let (path, _temp) = bench_file(args, plan)?;
    let (file, writable) = open_rw_or_ro(&path)?;

    if !writable {
        return Err(format!("{}: not writable", path.display()));
    }
    let fail = pmem_err(&path);
    let source = Source::from_file(&file).map_err(&fail)?;
    let size = source.size().map_err(&fail)?;
    let alignment = source.alignment().map_err(&fail)?;
    let largest = plan.sizes.iter().copied().max().unwrap_or(0);
    // The plan's region, in whole alignment units (a device DAX may be
    // aligned to 1 GiB), within the source.
    let region = plan
        .region
        .next_multiple_of(alignment)
        .min(size / alignment * alignment);
    if region < largest {
        return Err(format!(
            "{}: {} is too small for the {} benchmark (needs {})",
            path.display(),
            human_bytes(size as u64),
            plan.name,
            human_bytes(largest.next_multiple_of(alignment) as u64)
        ));
    }

    let user_forced = std::env::var_os(FORCE_VAR);
    // Single-threaded: nothing else reads the environment concurrently.
    std::env::remove_var(FORCE_VAR);
    let natural = map_region(&source, region, None).map_err(&fail)?;
    let natural_granularity = natural.store_granularity();
    drop(natural);

    let per_granularity = plan.sizes.len() * (2 * plan.flags.len() + 1);
    let total = (Granularity::ALL.len() * per_granularity + 2 * plan.sizes.len()) as u64;
    let mut progress = Progress::counting("bench", "cells", total, args.common.progress);
    let mut cells = Vec::new();
    let pattern: Vec<u8> = (0..largest).map(|i| (i * 7 + 1) as u8).collect();

    let result = (|| -> Result<(), String> {
        for granularity in Granularity::ALL {
            let map = map_region(&source, region, Some(granularity)).map_err(&fail)?;
            if map.store_granularity() != granularity {
                return Err(format!(
                    "{}: forced granularity {granularity} gave {}",
                    path.display(),
                    map.store_granularity()
                ));
            }
            for &size in plan.sizes {
                for &flags in plan.flags {
                    cells.push(bench_memcpy(&map, &pattern, size, flags, plan.per_cell));
                    progress.add(1);
                    cells.push(bench_memset(&map, size, flags, plan.per_cell));
                    progress.add(1);
                }
                cells.push(bench_persist(&map, &pattern, size, plan.per_cell));
                progress.add(1);
            }
        }
        let map = map_region(&source, region, None).map_err(&fail)?;
        for &size in plan.sizes {
            cells.push(bench_plain_memcpy(&map, &pattern, size, plan.per_cell));
            cells.push(bench_plain_memset(&map, size, plan.per_cell));
            progress.add(2);
        }
        Ok(())
    })();
    match &user_forced {
        Some(v) => std::env::set_var(FORCE_VAR, v),
        None => std::env::remove_var(FORCE_VAR),
    }
    result?;
    progress.finish();
    for c in &mut cells {
        c.durable = c.granularity.map(|g| durable(g, natural_granularity));
    }

    let mem = pmem2::mem::info();
    let report = json!({
        "path": path.display().to_string(),
        "mode": plan.name,
        "region": region,
        "source_type": source.file_type().to_string(),
        "natural_granularity": natural_granularity.to_string(),
        "not_durable": not_durable(natural_granularity),
        "kernel": mem.kernel.to_string(),
        "flush": mem.flush.to_string(),
        "movnt_threshold": mem.movnt_threshold,
        "per_cell_ms": plan.per_cell.as_millis() as u64,
        "results": cells.iter().map(Cell::to_json).collect::<Vec<_>>(),
        "elapsed_s": (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    });
    if let Some(plot_path) = &args.plot {
        plot(plot_path, &report, plan.sizes, &cells, natural_granularity)?;
    }
    if args.common.json {
        emit(&format!("{report}\n"))
    } else {
        emit(&table(&report, plan.sizes, &cells))
    }
}

/// The granularities whose stores are not durable on a file whose natural
/// granularity is `natural`.
fn not_durable(natural: Granularity) -> Vec<String> {
    Granularity::ALL
        .iter()
        .filter(|&&g| !durable(g, natural))
        .map(ToString::to_string)
        .collect()
}

/// Whether stores made durable for `g` are durable on a file whose natural
/// granularity is `natural`: `g` must need at least as much as the file
/// (`page` flushes everything with `msync`; `cache_line` flushes lines and
/// needs no `msync`; `byte` flushes nothing and needs eADR).
fn durable(g: Granularity, natural: Granularity) -> bool {
    g >= natural
}

/// The file to measure: PATH (created, of the plan's size, when missing,
/// and kept) or a temporary file in the current directory (removed when
/// the returned handle drops).
fn bench_file(
    args: &BenchArgs,
    plan: &Plan,
) -> Result<(PathBuf, Option<tempfile::NamedTempFile>), String> {
    if let Some(plot) = &args.plot {
        if ChartFormat::of(plot).is_none() {
            crate::usage_error(
                "bench",
                &format!(
                    "--plot {}: the chart is drawn as SVG or PNG, by FILE's extension: \
                     give it a .svg or .png name",
                    plot.display()
                ),
            );
        }
    }
    Ok(if let Some(p) = &args.path {
        // A missing PATH is created, of the plan's size, and kept.
        if let Ok(file) = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(p)
        {
            file.set_len(plan.region as u64).map_err(io_err(p))?;
        }
        (p.clone(), None)
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("current directory: {}", crate::util::os_message(&e)))?;
        let temp = temp_file("bench", plan.region as u64, &cwd)?;
        (temp.path().to_path_buf(), Some(temp))
    })
}

/// Maps the first `region` bytes, forcing `granularity` if given.
fn map_region(
    source: &Source<'_>,
    region: usize,
    granularity: Option<Granularity>,
) -> pmem2::Result<Map> {
    match granularity {
        // Single-threaded: nothing else reads the environment concurrently.
        Some(g) => std::env::set_var(FORCE_VAR, g.to_string()),
        None => std::env::remove_var(FORCE_VAR),
    }
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_length(region);
    let mut map = Map::new(&config, source)?;
    // Fault every page in and write it back, so the cells measure copies,
    // not page faults and block allocation.
    map.fill(0, region, 0, MemFlags::empty())?;
    Ok(map)
}

/// Runs `op(i)` until `budget` has passed (at least once), in growing
/// batches so reading the clock costs little; returns (ops, elapsed).
fn timed(budget: Duration, mut op: impl FnMut(u64)) -> (u64, Duration) {
    let start = Instant::now();
    let mut ops = 0u64;
    let mut batch = 1u64;
    loop {
        for i in 0..batch {
            op(ops + i);
        }
        ops += batch;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return (ops, elapsed);
        }
        if elapsed < budget / 64 {
            batch *= 2;
        }
    }
}

/// The address of the `i`-th `size`-byte slot of the map (wrapping).
fn slot(map: &Map, size: usize, i: u64) -> *mut u8 {
    let slots = (map.size() / size).max(1) as u64;
    map.addr().wrapping_add((i % slots) as usize * size)
}

fn bench_memcpy(map: &Map, pattern: &[u8], size: usize, flags: MemFlags, t: Duration) -> Cell {
    let g = map.store_granularity();
    let memcpy = pmem2::mem::memcpy_fn(g);
    let (ops, elapsed) = timed(t, |i| {
        // SAFETY: every slot lies inside the live, writable map (`slot`
        // wraps within `map.size()`), and `pattern` holds at least `size`
        // bytes of other memory.
        unsafe {
            memcpy(
                slot(map, size, i).cast::<c_void>(),
                pattern.as_ptr().cast::<c_void>(),
                size,
                flags.bits(),
            );
        }
    });
    settle(map);
    Cell {
        op: "memcpy",
        flags: flag_names(flags),
        granularity: Some(g),
        size,
        ops,
        elapsed,
        durable: None,
    }
}

fn bench_memset(map: &Map, size: usize, flags: MemFlags, t: Duration) -> Cell {
    let g = map.store_granularity();
    let memset = pmem2::mem::memset_fn(g);
    let (ops, elapsed) = timed(t, |i| {
        // SAFETY: every slot lies inside the live, writable map.
        unsafe {
            memset(
                slot(map, size, i).cast::<c_void>(),
                c_int::from(i as u8),
                size,
                flags.bits(),
            );
        }
    });
    settle(map);
    Cell {
        op: "memset",
        flags: flag_names(flags),
        granularity: Some(g),
        size,
        ops,
        elapsed,
        durable: None,
    }
}

/// Persist of freshly dirtied slots: a batch of slots is written with a
/// plain copy (not timed), then persisted (timed).
fn bench_persist(map: &Map, pattern: &[u8], size: usize, t: Duration) -> Cell {
    let g = map.store_granularity();
    let persist = pmem2::persist::persist_fn(g);
    let batch = (map.size() / size).clamp(1, 64) as u64;
    let mut ops = 0u64;
    let mut elapsed = Duration::ZERO;
    let wall = Instant::now();
    // The untimed dirtying counts against the budget too (fences are fast).
    while elapsed < t && wall.elapsed() < 2 * t {
        for i in ops..ops + batch {
            // SAFETY: the slot is inside the live, writable map; `pattern`
            // is other memory of at least `size` bytes.
            unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), slot(map, size, i), size) };
        }
        let start = Instant::now();
        for i in ops..ops + batch {
            // SAFETY: the slot is inside the live map.
            unsafe { persist(slot(map, size, i).cast::<c_void>(), size) };
        }
        elapsed += start.elapsed();
        ops += batch;
    }
    Cell {
        op: "persist",
        flags: "-".to_owned(),
        granularity: Some(g),
        size,
        ops,
        elapsed,
        durable: None,
    }
}

fn bench_plain_memcpy(map: &Map, pattern: &[u8], size: usize, t: Duration) -> Cell {
    let (ops, elapsed) = timed(t, |i| {
        // SAFETY: the slot is inside the live, writable map; `pattern` is
        // other memory of at least `size` bytes.
        unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), slot(map, size, i), size) };
    });
    Cell {
        op: "plain memcpy",
        flags: "-".to_owned(),
        granularity: None,
        size,
        ops,
        elapsed,
        durable: None,
    }
}

fn bench_plain_memset(map: &Map, size: usize, t: Duration) -> Cell {
    let (ops, elapsed) = timed(t, |i| {
        // SAFETY: the slot is inside the live, writable map.
        unsafe { std::ptr::write_bytes(slot(map, size, i), i as u8, size) };
    });
    Cell {
        op: "plain memset",
        flags: "-".to_owned(),
        granularity: None,
        size,
        ops,
        elapsed,
        durable: None,
    }
}

/// Completes what NODRAIN or NOFLUSH left pending, so one cell's stores
/// don't slow down the next.
fn settle(map: &Map) {
    // SAFETY: a drain function takes no arguments and only fences.
    unsafe { pmem2::persist::drain_fn(Granularity::Byte)() };
    // Ignoring an msync failure here is fine: the next cell measures again.
    let _ = map.persist_all();
}

fn table(report: &Value, sizes: &[usize], cells: &[Cell]) -> String {
    let natural = report["natural_granularity"].as_str().unwrap_or("?");
    let mut out = String::new();
    outln!(
        out,
        "pmem2 bench ({}): {} ({}, {}), natural granularity {natural}",
        report["mode"].as_str().unwrap_or("?"),
        report["path"].as_str().unwrap_or("?"),
        report["source_type"].as_str().unwrap_or("?"),
        human_bytes(report["region"].as_u64().unwrap_or(0)),
    );
    outln!(
        out,
        "kernel {}, flush {}, non-temporal from {} bytes; {} ms per cell",
        report["kernel"].as_str().unwrap_or("?"),
        report["flush"].as_str().unwrap_or("?"),
        report["movnt_threshold"],
        report["per_cell_ms"],
    );
    let not_durable: Vec<&str> = report["not_durable"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !not_durable.is_empty() {
        outln!(
            out,
            "granularity marked * : finer than this file's ({natural}), its stores are NOT \
             durable here ({}); measured for comparison only",
            not_durable.join(", ")
        );
    }
    outln!(out);
    outln!(out, "throughput, MiB/s");
    grid(&mut out, sizes, cells, |c| format!("{:.1}", c.mib_per_s()));
    outln!(out);
    outln!(out, "time per operation, microseconds");
    grid(&mut out, sizes, cells, |c| {
        format!("{:.3}", c.ns_per_op() / 1e3)
    });
    outln!(out);
    outln!(
        out,
        "elapsed {:.1} s",
        report["elapsed_s"].as_f64().unwrap_or(0.0)
    );
    out
}

/// One row per (op, flags, granularity) in measuring order, one column per
/// size; a granularity whose stores aren't durable on the file gets a `*`.
fn grid(out: &mut String, sizes: &[usize], cells: &[Cell], show: impl Fn(&Cell) -> String) {
    outp!(out, "{:<13}{:<13}{:<12}", "op", "flags", "granularity");
    for &s in sizes {
        outp!(out, "{:>13}", size_label(s as f64));
    }
    outln!(out);
    let same =
        |a: &Cell, b: &Cell| a.op == b.op && a.flags == b.flags && a.granularity == b.granularity;
    for (i, c) in cells.iter().enumerate() {
        if cells.iter().position(|x| same(x, c)) != Some(i) {
            continue; // not the first cell of its row
        }
        let granularity = match (c.granularity, c.durable) {
            (Some(g), Some(false)) => format!("{g} *"),
            (Some(g), _) => g.to_string(),
            (None, _) => "-".to_owned(),
        };
        outp!(out, "{:<13}{:<13}{granularity:<12}", c.op, c.flags);
        for &s in sizes {
            let cell = cells
                .iter()
                .find(|x| same(x, c) && x.size == s)
                .map_or_else(|| "-".to_owned(), &show);
            outp!(out, "{cell:>13}");
        }
        outln!(out);
    }
}

/// The chart's file format, by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChartFormat {
    Svg,
    Png,
}

impl ChartFormat {
    /// `.svg` or `.png` (any case); `None` for anything else.
    fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("svg") {
            Some(ChartFormat::Svg)
        } else if ext.eq_ignore_ascii_case("png") {
            Some(ChartFormat::Png)
        } else {
            None
        }
    }
}

/// The chart's size in pixels (SVG user units).
const CHART: (u32, u32) = (1500, 620);

/// `DejaVu` Sans (Bitstream Vera license: `fonts/LICENSE-DejaVu.txt`), built
/// in: the PNG's text is rasterized from it (`ab_glyph`), so labels render on
/// a machine with no fonts installed, and the SVG's text is laid out with
/// the same metrics.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Draws the chart into `path`, as SVG or PNG by its extension.
fn plot(
    path: &Path,
    report: &Value,
    sizes: &[usize],
    cells: &[Cell],
    natural: Granularity,
) -> Result<(), String> {
    use plotters::prelude::*;

    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // Registering again (a second chart in one process) replaces the same
    // bytes; the font is valid, so this fails only on a broken build.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| err(&"the built-in font can't be read"))?;
    match ChartFormat::of(path) {
        Some(ChartFormat::Svg) => draw(
            &SVGBackend::new(path, CHART).into_drawing_area(),
            report,
            sizes,
            cells,
            natural,
        )
        .map_err(|e| err(&e)),
        Some(ChartFormat::Png) => {
            let (w, h) = CHART;
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            draw(
                &BitMapBackend::with_buffer(&mut rgb, CHART).into_drawing_area(),
                report,
                sizes,
                cells,
                natural,
            )
            .map_err(|e| err(&e))?;
            write_png(path, CHART, &rgb).map_err(|e| err(&e))
        }
        None => Err(err(&"the chart is drawn as .svg or .png")),
    }
}

/// Encodes 8-bit RGB pixels as a PNG file.
fn write_png(path: &Path, (w, h): (u32, u32), rgb: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| crate::util::os_message(&e))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// Draws the chart: one panel per granularity (the file's natural one and
/// the not-durable ones named as such in the panel's title, the latter on a
/// red-tinted background), MiB/s against size on log scales, one line per
/// operation and flag, the plain memcpy/memset in every panel.
fn draw<DB: plotters::prelude::DrawingBackend>(
    root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    report: &Value,
    sizes: &[usize],
    cells: &[Cell],
    natural: Granularity,
) -> Result<(), plotters::prelude::DrawingAreaErrorKind<DB::ErrorType>> {
    use plotters::prelude::*;

    // One color per series, the same in every panel.
    let mut names: Vec<String> = cells.iter().map(Cell::series).collect();
    names.dedup();
    let names: Vec<String> = names.iter().fold(Vec::new(), |mut v, n| {
        if !v.contains(n) {
            v.push(n.clone());
        }
        v
    });
    let color = |name: &str| {
        let i = names.iter().position(|n| n == name).unwrap_or(0);
        Palette99::pick(i).to_rgba()
    };
    // x: log2 of the size, so the axis' round numbers are powers of two.
    let x_range = ((*sizes.iter().min().unwrap_or(&1) as f64).log2() - 0.5)
        ..((*sizes.iter().max().unwrap_or(&1) as f64).log2() + 0.5);
    let (lo, hi) = cells
        .iter()
        .map(Cell::mib_per_s)
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let y_range = (lo.min(hi) / 2.0).max(1e-3)..(hi * 2.0).max(1.0);

    root.fill(&WHITE)?;
    let title = format!(
        "pmem2 bench ({}): {} ({}), natural granularity {natural}",
        report["mode"].as_str().unwrap_or("?"),
        report["path"].as_str().unwrap_or("?"),
        report["source_type"].as_str().unwrap_or("?"),
    );
    let root = root.titled(&title, ("sans-serif", 26))?;
    let panels = root.split_evenly((1, Granularity::ALL.len()));
    for (panel, g) in panels.iter().zip(Granularity::ALL) {
        let caption = if g == natural {
            format!("{g}: natural granularity of this file")
        } else if durable(g, natural) {
            format!("{g}: durable here (more than needed)")
        } else {
            panel.fill(&RGBColor(255, 236, 236))?;
            format!("{g}: NOT DURABLE on this file")
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(&caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(x_range.clone(), y_range.clone().log_scale())?;
        chart
            .configure_mesh()
            .x_desc("size")
            .y_desc("MiB/s")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&|x| size_label(x.exp2()))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for c in cells
            .iter()
            .filter(|c| c.granularity.is_none_or(|cg| cg == g))
        {
            series
                .entry(c.series())
                .or_default()
                .push(((c.size as f64).log2(), c.mib_per_s().max(y_range.start)));
        }
        for (name, mut points) in series {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let c = color(&name);
            let dashed = name.starts_with("plain");
            let style = ShapeStyle {
                color: c,
                filled: false,
                stroke_width: if dashed { 1 } else { 2 },
            };
            chart
                .draw_series(LineSeries::new(points.clone(), style))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()
}

/// `256 B`, `4 KiB`, `1 MiB`: whole units where the size is a multiple.
fn size_label(size: f64) -> String {
    let n = size.round() as u64;
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else if (size - n as f64).abs() < 1e-6 * size.max(1.0) {
        format!("{n} B")
    } else {
        human_bytes(n)
    }
}
