//! `pmem2 check`: runs a program with pmem2's crash-consistency checking on
//! and reports what it found (`docs/check.md`).
//!
//! The program is started with `PMEM2_CHECK=json,out=FILE`; a Rust program
//! using the `pmem2` crate and a C program using `libpmem2.so.1` both read
//! it and write their report to FILE at exit. For C programs the library
//! is looked up with `LD_LIBRARY_PATH` set to `--lib DIR`, or, by default,
//! to `target/capi/lib` next to this binary (`cargo xtask build-c`'s output)
//! when it exists.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use serde_json::Value;

use crate::util;
use crate::Common;

/// Arguments of `pmem2 check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directory holding the libpmem2.so.1 a C program should use (default:
    /// `cargo xtask build-c`'s output next to this binary, if present).
    #[arg(long, value_name = "DIR")]
    pub lib: Option<PathBuf>,
    /// Explore possible crash states at every fence, msync and crash point
    /// (the durable image plus subsets of up to 2 in-flight lines) and run
    /// the --checker on each; report the first it rejects.
    #[arg(long, requires = "checker")]
    pub explore: bool,
    /// The consistency checker for --explore: a command (split at spaces)
    /// given the crash image's path as its last argument; exit status 0
    /// means consistent, 1 not.
    #[arg(long, value_name = "CMD")]
    pub checker: Option<String>,
    /// With --explore: check only the crash state with this ID (as
    /// reported), keeping its image file.
    #[arg(long, value_name = "ID", requires = "explore")]
    pub replay: Option<String>,
    /// With --explore: stop exploring after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub budget: u64,
    /// With --explore: the engine of each named region, as pmreorder's -x
    /// (`NAME=Engine,...`; regions are marked with `.BEGIN`/`.END` names
    /// through `pmem2::check::point` or `pmem2_check_point`). Engines:
    /// `NoReorderNoCheck` (no state checked inside), `NoReorderDoCheck`
    /// (only the state in program order), and `ReorderFull`,
    /// `ReorderPartial`, `ReorderAccumulative`, `ReorderReverseAccumulative`
    /// (pmem2's bounded exploration).
    #[arg(long, short = 'x', value_name = "NAME=ENGINE,...", requires = "explore", value_parser = parse_markers)]
    pub markers: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// The program to run and its arguments (after `--`). With `--json`
    /// the program's standard output goes to standard error.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

/// The engines `--markers` accepts (pmreorder's names).
const ENGINES: [&str; 7] = [
    "NoReorderNoCheck",
    "NoReorderDoCheck",
    "ReorderFull",
    "ReorderPartial",
    "ReorderAccumulative",
    "ReorderReverseAccumulative",
    "ReorderDefault",
];

/// Checks `--markers` (`NAME=Engine,...`), as the program will read it.
fn parse_markers(value: &str) -> Result<String, String> {
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, engine) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not NAME=ENGINE"))?;
        if name.trim().is_empty() {
            return Err(format!("{pair:?}: the region name is empty"));
        }
        if !ENGINES.contains(&engine.trim()) {
            return Err(format!(
                "unknown engine {engine:?} (one of {})",
                ENGINES.join(", ")
            ));
        }
    }
    Ok(value.to_owned())
}

/// `target/capi/lib` relative to this binary (`target/<profile>/pmem2`).
fn default_lib_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("capi").join("lib");
    dir.join("libpmem2.so.1").exists().then_some(dir)
}

/// The report file: in the temporary directory, unique per run, removed on
/// drop.
struct ReportFile(PathBuf);

impl Drop for ReportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `pmem2 check`; the exit status is 0 when the program succeeded and
/// no durability verdict was found, 1 otherwise.
pub fn run(args: &CheckArgs) -> Result<ExitCode, String> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or("check: no program given")?;
    let report = ReportFile(std::env::temp_dir().join(format!(
        "pmem2-check-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )));
    let mut out = OsString::from("json,out=");
    out.push(report.0.as_os_str());
    let mut cmd = Command::new(program);
    cmd.args(rest).env("PMEM2_CHECK", out);
    for var in [
        "PMEM2_CHECK_EXPLORE",
        "PMEM2_CHECK_REPLAY",
        "PMEM2_CHECK_EXPLORE_BUDGET",
        "PMEM2_CHECK_EXPLORE_MARKERS",
    ] {
        cmd.env_remove(var);
    }
    if args.explore {
        if let Some(checker) = &args.checker {
            cmd.env("PMEM2_CHECK_EXPLORE", checker)
                .env("PMEM2_CHECK_EXPLORE_BUDGET", args.budget.to_string());
        }
        if let Some(id) = &args.replay {
            cmd.env("PMEM2_CHECK_REPLAY", id);
        }
        if let Some(markers) = &args.markers {
            cmd.env("PMEM2_CHECK_EXPLORE_MARKERS", markers);
        }
    }
    if args.common.json {
        // Standard output holds the one JSON document: the program's own
        // output goes to standard error.
        cmd.stdout(std::io::stderr());
    }
    if let Some(dir) = args.lib.clone().or_else(default_lib_dir) {
        let mut path = dir.into_os_string();
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|o| !o.is_empty()) {
            path.push(":");
            path.push(old);
        }
        cmd.env("LD_LIBRARY_PATH", path);
    }
    let name = Path::new(program).display().to_string();
    let status = cmd
        .status()
        .map_err(|e| format!("check: cannot run {name}: {e}"))?;
    let text = std::fs::read_to_string(&report.0).map_err(|_| {
        format!(
            "check: {name} ({status}) wrote no report: does it use pmem2 (the Rust crate, or \
             libpmem2.so.1 from --lib DIR)?"
        )
    })?;
    let mut doc: Value = serde_json::from_str(&text)
        .map_err(|e| format!("check: the report of {name} is not JSON: {e}"))?;
    let verdicts = doc["durability_verdicts"].as_u64().unwrap_or(0);
    if args.common.json {
        doc["program"] = Value::from(name.clone());
        doc["exit_status"] = status.code().map_or(Value::Null, Value::from);
        util::emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ))?;
    } else {
        util::emit(&render(&doc))?;
    }
    if !status.success() {
        eprintln!("pmem2: check: {name} failed ({status})");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if verdicts == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report as text.
fn render(doc: &Value) -> String {
    let mut s = String::new();
    let verdicts = doc["durability_verdicts"].as_u64().unwrap_or(0);
    outln!(
        s,
        "pmem2 check: {verdicts} durability verdict{}; performance: {} superfluous, {} redundant \
         line flushes",
        if verdicts == 1 { "" } else { "s" },
        doc["superfluous_line_flushes"],
        doc["redundant_line_flushes"]
    );
    let empty = Vec::new();
    for (i, f) in doc["findings"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let kind = f["kind"].as_str().unwrap_or("?");
        let what = match kind {
            "not_flushed" => "stores not durable: modified, never flushed",
            "not_fenced" => "stores not durable: flushed, never fenced",
            "nt_not_drained" => "non-temporal stores never drained",
            "outside_mappings" => "persist or flush of a range outside every mapping",
            "superfluous_flush" => "performance: superfluous flush (lines not modified)",
            "redundant_flush" => "performance: redundant flush (lines already flushed)",
            "crash_state" => "a possible crash state fails the checker",
            _ => kind,
        };
        let count = f["count"].as_u64().unwrap_or(0);
        let unit = if kind == "outside_mappings" {
            "call"
        } else {
            "line"
        };
        outp!(
            s,
            "[{}] {what} at {}: {count} {unit}{}",
            i + 1,
            f["point"].as_str().unwrap_or("?"),
            if count == 1 { "" } else { "s" }
        );
        if let Some(off) = f["offset"].as_u64() {
            outln!(s, ", first at map offset {off:#x}");
        } else {
            outln!(s, ", first at {}", f["address"].as_str().unwrap_or("?"));
        }
        if let Some(detail) = f["detail"].as_str() {
            outln!(s, "    {detail}");
        }
        for (n, frame) in f["stack"].as_array().unwrap_or(&empty).iter().enumerate() {
            outln!(s, "    {n:2}: {}", frame.as_str().unwrap_or("?"));
        }
    }
    s
}
