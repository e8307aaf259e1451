//! `cargo xtask bench-copy [--quick] [--size BYTES] [--rounds N]
//! [--tmpfs DIR] [--disk DIR]`: `pmem2 copy` (persisted and verified)
//! against `cp` and `dd bs=1M conv=fsync`, on tmpfs and on a disk file.
//!
//! Builds the `pmem2` tool (release), writes one SRC file per place, then
//! runs the copies in rounds; each round runs every contender once, in an
//! order that changes from round to round (interleaved, so a busy
//! neighbour slows all of them alike). DST is removed before each run and,
//! on the disk, `sync` runs before each copy so no copy pays for another's
//! writeback. The table shows the median wall time of each and its ratio
//! to pmem2's. Results and how to read them: `docs/benchmarks.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One way of copying SRC to DST.
struct Contender {
    name: &'static str,
    run: fn(&Path, &Path, &Path) -> Command,
}

fn pmem2(bin: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("copy").arg(src).arg(dst);
    c
}

fn pmem2_map(bin: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = pmem2(bin, src, dst);
    c.args(["--method", "map"]);
    c
}

fn pmem2_bytes(bin: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = pmem2(bin, src, dst);
    c.args(["--verify", "bytes"]);
    c
}

fn cp(_: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = Command::new("cp");
    c.arg(src).arg(dst);
    c
}

fn dd(_: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = Command::new("dd");
    c.arg(format!("if={}", src.display()))
        .arg(format!("of={}", dst.display()))
        .args(["bs=1M", "conv=fsync", "status=none"]);
    c
}

/// pmem2's other ways, measured with `--variants`.
const VARIANTS: [Contender; 2] = [
    Contender {
        name: "pmem2 copy --method map",
        run: pmem2_map,
    },
    Contender {
        name: "pmem2 copy --verify bytes",
        run: pmem2_bytes,
    },
];

const CONTENDERS: [Contender; 3] = [
    Contender {
        name: "pmem2 copy",
        run: pmem2,
    },
    Contender {
        name: "cp",
        run: cp,
    },
    Contender {
        name: "dd bs=1M conv=fsync",
        run: dd,
    },
];

struct Options {
    variants: bool,
    size: u64,
    rounds: usize,
    tmpfs: PathBuf,
    disk: PathBuf,
}

/// Entry point from the task table.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut opts = Options {
        variants: false,
        size: 1 << 30,
        rounds: 7,
        tmpfs: PathBuf::from("/dev/shm"),
        disk: PathBuf::from("target/bench-copy"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        match arg.as_str() {
            "--variants" => opts.variants = true,
            "--quick" => {
                opts.size = 256 << 20;
                opts.rounds = 3;
            }
            "--size" => {
                let v = value("a byte count (M and G suffixes)")?;
                opts.size = parse_size::Config::new()
                    .with_binary()
                    .parse_size(&v)
                    .map_err(|e| format!("--size '{v}': {e}"))?;
            }
            "--rounds" => {
                opts.rounds = value("a count")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?;
            }
            "--tmpfs" => opts.tmpfs = PathBuf::from(value("a directory")?),
            "--disk" => opts.disk = PathBuf::from(value("a directory")?),
            "--help" | "-h" => {
                println!(
                    "usage: cargo xtask bench-copy [--quick] [--variants] [--size BYTES] [--rounds N] [--tmpfs DIR] [--disk DIR]\n\
                     \n  --quick      256 MiB, 3 rounds (default 1 GiB, 7 rounds)\
                     \n  --variants   also pmem2 copy --method map and --verify bytes\
                     \n  --tmpfs DIR  the tmpfs place (default /dev/shm)\
                     \n  --disk DIR   the disk place (default target/bench-copy)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if opts.rounds == 0 {
        return Err("--rounds must be at least 1".to_owned());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "pmem2-cli"])
        .status()
        .map_err(|e| format!("can't run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("building pmem2 failed ({status})"));
    }
    let bin = std::env::current_dir()
        .map_err(|e| e.to_string())?
        .join("target/release/pmem2");

    println!(
        "pmem2 copy against cp and dd: {} MiB, {} rounds, medians of wall time",
        opts.size >> 20,
        opts.rounds
    );
    for (place, dir, sync) in [("tmpfs", &opts.tmpfs, false), ("disk", &opts.disk, true)] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let src = dir.join(format!("bench-copy-src-{}", std::process::id()));
        let dst = dir.join(format!("bench-copy-dst-{}", std::process::id()));
        let result = measure(&bin, &src, &dst, &opts, sync);
        let _ = std::fs::remove_file(&src);
        let _ = std::fs::remove_file(&dst);
        let runs = result?;
        for (i, c) in contenders(&opts).enumerate() {
            println!(
                "{place:<6} {:<26} wall {:>7.3} s  pmem2/this {:>5.2}x  paired {:>5.2}x   cpu {:>7.3} s  pmem2/this {:>5.2}x",
                c.name,
                runs.wall[i],
                runs.wall[0] / runs.wall[i],
                runs.paired[i],
                runs.cpu[i],
                runs.cpu[0] / runs.cpu[i],
            );
        }
    }
    println!(
        "\npmem2/this: pmem2's median over the other's (wall time; CPU time of the process \
         and its threads); paired: the median over rounds of pmem2's wall time over the \
         other's in the same round (steadier on a loaded machine); at most 1.20 against cp \
         on tmpfs and at most 1.00 against dd on the disk are the targets for wall time \
         (docs/benchmarks.md)."
    );
    Ok(())
}

/// Each contender's medians over the rounds.
struct Runs {
    /// Wall seconds.
    wall: Vec<f64>,
    /// User + system seconds, all threads.
    cpu: Vec<f64>,
    /// pmem2's wall time over this one's in the same round.
    paired: Vec<f64>,
}

/// Writes SRC, then runs every contender `opts.rounds` times, interleaved.
fn measure(bin: &Path, src: &Path, dst: &Path, opts: &Options, sync: bool) -> Result<Runs, String> {
    write_source(src, opts.size)?;
    if sync {
        run_sync()?;
    }
    let contenders: Vec<&Contender> = contenders(opts).collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..opts.rounds {
        // Rotate the order each round.
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            let _ = std::fs::remove_file(dst);
            if sync {
                run_sync()?;
            }
            let mut cmd = (contenders[i].run)(bin, src, dst);
            let cpu_before = children_cpu();
            let start = Instant::now();
            let out = cmd
                .output()
                .map_err(|e| format!("{}: {e}", contenders[i].name))?;
            let secs = start.elapsed().as_secs_f64();
            cpu[i].push(children_cpu() - cpu_before);
            if !out.status.success() {
                return Err(format!(
                    "{} failed ({}): {}",
                    contenders[i].name,
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            if std::fs::metadata(dst).map(|m| m.len()).ok() != Some(opts.size) {
                return Err(format!(
                    "{}: DST is not {} bytes long",
                    contenders[i].name, opts.size
                ));
            }
            times[i].push(secs);
        }
        eprint!(".");
    }
    eprintln!();
    let paired = times
        .iter()
        .map(|t| {
            median(
                &mut times[0]
                    .iter()
                    .zip(t)
                    .map(|(p, o)| p / o)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    Ok(Runs {
        wall: times.iter_mut().map(|t| median(t)).collect(),
        cpu: cpu.iter_mut().map(|t| median(t)).collect(),
        paired,
    })
}

/// User + system seconds of the children waited for so far.
fn children_cpu() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_CHILDREN only
    // reads the kernel's accounting.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) } != 0 {
        return 0.0;
    }
    // Seconds of CPU time fit an f64 exactly for millennia.
    #[allow(clippy::cast_precision_loss)]
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The contenders measured: pmem2, cp, dd, and pmem2's variants if asked.
fn contenders(opts: &Options) -> impl Iterator<Item = &'static Contender> {
    let variants: &'static [Contender] = if opts.variants { &VARIANTS } else { &[] };
    CONTENDERS.iter().chain(variants)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

/// `size` bytes of a cheap pseudo-random sequence (xorshift), so no copier
/// meets runs of zeros it could skip.
fn write_source(path: &Path, size: u64) -> Result<(), String> {
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run_sync() -> Result<(), String> {
    let status = Command::new("sync")
        .status()
        .map_err(|e| format!("sync: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("sync failed ({status})"))
    }
}
