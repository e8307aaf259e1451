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
    /// Write the man pages, pmem2(1) and pmem2-SUBCOMMAND(1), into DIR
    /// (used by `cargo xtask install-c`).
    #[command(hide = true)]
    GenerateMan {
        /// The directory to write into.
        dir: std::path::PathBuf,
    },
    /// Print a shell completion script for pmem2 (e.g. `source <(pmem2
    /// completions bash)`).
    Completions(CompletionsArgs),
    /// Run PROGRAM with pmem2's crash-consistency checking on (a Rust
    /// program using the pmem2 crate, or a C program using libpmem2.so.1)
    /// and report stores a power cut would lose; exit status 1 when there
    /// is any durability verdict (docs/check.md).
    Check(check::CheckArgs),
}

/// Arguments of `pmem2 completions`.
#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell to complete in.
    shell: clap_complete::Shell,
}

impl Command {
    fn common(&self) -> Common {
        match self {
            Command::Info(a) => a.common,
            Command::Bench(a) => a.common,
            Command::Copy(a) => a.common,
            Command::Badblocks(a) => a.common,
            Command::GenerateMan { .. } | Command::Completions(_) => Common {
                json: false,
                progress: false,
            },
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
        let (message, usage) = usage_message(&err.render().to_string());
        let _ = util::emit(&format!(
            "{}\n",
            serde_json::json!({ "error": message, "usage": true, "usage_line": usage })
        ));
    }
    err.exit()
}

/// Writes pmem2.1 and one page per (visible) subcommand into `dir`, with
/// `clap_mangen` from the same definitions as `--help`.
fn generate_man(dir: &std::path::Path) -> Result<(), String> {
    let write = |name: &str, cmd: clap::Command| {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .render(&mut out)
            .map_err(|e| format!("{name}.1: {e}"))?;
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cli = Cli::command();
    cli.build();
    for sub in cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("pmem2-{}", sub.get_name());
        write(
            &name,
            sub.clone().bin_name(format!("pmem2 {}", sub.get_name())),
        )?;
    }
    write("pmem2", cli)
}

/// Splits clap's rendered error into the whole message, on one line, and
/// the usage line: `error: the following required arguments were not
/// provided:\n  <SRC DST>...\n\nUsage: pmem2 copy <SRC DST>...\n\nFor more
/// information, try '--help'.` gives `the following required arguments
/// were not provided: <SRC DST>...` and `pmem2 copy <SRC DST>...`.
fn usage_message(rendered: &str) -> (String, Option<String>) {
    let mut message = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_owned());
        } else if usage.is_none() && !line.is_empty() {
            message.push(line.strip_prefix("error: ").unwrap_or(line));
        } else if line.starts_with("For more information") {
            break;
        }
    }
    let message = if message.is_empty() {
        "usage error".to_owned()
    } else {
        message.join(" ")
    };
    (message, usage)
}

fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|e| exit_usage(&e));
    let common = cli.command.common();
    let result = match &cli.command {
        Command::Info(args) => info::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Badblocks(args) => badblocks::run(args),
        Command::GenerateMan { dir } => generate_man(dir),
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "pmem2", &mut out);
            util::emit(&String::from_utf8_lossy(&out))
        }
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

#[cfg(test)]
mod tests {
    use super::usage_message;

    #[test]
    fn usage_errors_keep_their_whole_message() {
        let rendered = "error: the following required arguments were not provided:\n  \
                        <SRC DST>...\n\nUsage: pmem2 copy --json <SRC DST>...\n\n\
                        For more information, try '--help'.\n";
        assert_eq!(
            usage_message(rendered),
            (
                "the following required arguments were not provided: <SRC DST>...".to_owned(),
                Some("pmem2 copy --json <SRC DST>...".to_owned())
            )
        );
        assert_eq!(
            usage_message("error: unexpected argument '--bogus' found\n"),
            ("unexpected argument '--bogus' found".to_owned(), None)
        );
    }
}
