//! The `pmem2` command-line tool.
//!
//! Every subcommand prints a human-readable report, or one JSON object with
//! `--json`. Errors are one line on stderr (and, with `--json`, an
//! `{"error": ...}` object on stdout) and a non-zero exit status: 1 for a
//! failed operation, 2 for bad usage (clap's convention).

// Rates, percentages and timings are shown as f64: losing precision past
// 2^52 bytes is irrelevant there.
#![allow(clippy::cast_precision_loss)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::process::ExitCode;

/// Appends a line to a `String` report (see [`util::emit`]).
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        // Writing to a String can't fail.
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Appends to a `String` report without a newline.
macro_rules! outp {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        // Writing to a String can't fail.
        let _ = write!($out, $($arg)*);
    }};
}

use clap::{Args, CommandFactory, Parser, Subcommand};

mod badblocks;
mod bench;
mod check;
mod copy;
mod info;
mod progress;
mod util;

/// Persistent memory from the command line: platform and mapping facts,
/// benchmarks, durable copies, bad blocks.
#[derive(Debug, Parser)]
#[command(name = "pmem2", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Copy, Args)]
pub struct Common {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Draw a progress bar on stderr even when stderr is not a terminal.
    #[arg(long)]
    pub progress: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::doc_markdown)] // doc comments are the --help text, read without markdown
enum Command {
    /// Report the platform (flush instruction, eADR, NVDIMM regions) and how
    /// PATH maps: source type, size, alignment, MAP_SYNC, store granularity,
    /// bad blocks, unsafe shutdown count, NUMA node.
    Info(info::InfoArgs),
    /// Measure durable memcpy, memset and persist on PATH for every store
    /// granularity and flag combination, beside a plain memcpy.
    Bench(bench::BenchArgs),
    /// Copy SRC to DST (files, device DAX, `-` for stdin/stdout), durably,
    /// in bounded memory, then verify; or zero a range of DST.
    Copy(copy::CopyArgs),
    /// List the bad blocks of PATH (byte offset and length), or clear them.
    Badblocks(badblocks::BadblocksArgs),
    /// Run PROGRAM with pmem2's crash-consistency checking on (a Rust
    /// program using the pmem2 crate, or a C program using libpmem2.so.1)
    /// and report stores a power cut would lose; exit status 1 when there
    /// is any durability verdict (docs/check.md).
    Check(check::CheckArgs),
}

impl Command {
    fn common(&self) -> Common {
        match self {
            Command::Info(a) => a.common,
            Command::Bench(a) => a.common,
            Command::Copy(a) => a.common,
            Command::Badblocks(a) => a.common,
            Command::Check(a) => a.common,
        }
    }
}

/// Reports bad usage of `subcommand` the way clap does (exit status 2,
/// with the subcommand's usage line) and exits.
pub fn usage_error(subcommand: &str, message: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let mut cmd = cli
        .find_subcommand(subcommand)
        .cloned()
        .unwrap_or_else(Cli::command);
    exit_usage(&cmd.error(clap::error::ErrorKind::ArgumentConflict, message))
}

/// Exits on a clap error: help and version go to stdout with status 0;
/// usage errors to stderr with status 2, and, when `--json` was asked for,
/// as `{"error": ..., "usage": true}` on stdout too.
fn exit_usage(err: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    let is_usage = !matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if is_usage && std::env::args_os().any(|a| a == "--json") {
        let rendered = err.render().to_string();
        let first = rendered.lines().next().unwrap_or("usage error");
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let _ = util::emit(&format!(
            "{}\n",
            serde_json::json!({ "error": message, "usage": true })
        ));
    }
    err.exit()
}

fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|e| exit_usage(&e));
    let common = cli.command.common();
    let result = match &cli.command {
        Command::Info(args) => info::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Badblocks(args) => badblocks::run(args),
        Command::Check(args) => match check::run(args) {
            Ok(code) => return code,
            Err(message) => Err(message),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, whatever the message carried.
            let message = message.replace('\n', " ");
            if common.json {
                let _ = util::emit(&format!("{}\n", serde_json::json!({ "error": message })));
            }
            eprintln!("pmem2: {message}");
            ExitCode::FAILURE
        }
    }
}
