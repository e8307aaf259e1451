//! The `pmem2` command-line tool.
//!
//! Every subcommand prints a human-readable report, or one JSON object with
//! `--json`. Errors are one line on stderr and a non-zero exit status:
//! 1 for a failed operation, 2 for bad usage (clap's convention).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod info;

/// Persistent memory from the command line: platform and mapping facts.
#[derive(Debug, Parser)]
#[command(name = "pmem2", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::doc_markdown)] // doc comments are the --help text, read without markdown
enum Command {
    /// Report the platform (flush instruction, eADR, NVDIMM regions) and how
    /// PATH maps: source type, size, alignment, MAP_SYNC, store granularity.
    Info(info::InfoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pmem2: {message}");
            ExitCode::FAILURE
        }
    }
}
