//! Helpers shared by the subcommands.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Writes a whole report to stdout. Reports are built in a `String` and
/// written once, so that a closed stdout (`pmem2 bench | head`) is an
/// ordinary error return, and temporary files are still removed, instead of
/// a panic in `println!` or death by `SIGPIPE`. A reader that went away is
/// not an error of ours: that case returns `Ok`.
pub fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// A temporary file in the current directory, removed on drop.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Creates `.pmem2-<what>-<pid>` of `size` zero bytes in the current directory.
    pub fn create(what: &str, size: u64) -> Result<Self, String> {
        let path = std::env::current_dir()
            .map_err(|e| format!("current directory: {e}"))?
            .join(format!(".pmem2-{what}-{}", std::process::id()));
        let file =
            File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let temp = TempFile(path);
        file.set_len(size)
            .map_err(|e| format!("cannot size {}: {e}", temp.0.display()))?;
        Ok(temp)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: nothing useful to do if removal fails.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Opens `path` read-write if allowed, else read-only; says which.
pub fn open_rw_or_ro(path: &Path) -> Result<(File, bool), String> {
    match File::options().read(true).write(true).open(path) {
        Ok(f) => Ok((f, true)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            File::open(path)
                .map(|f| (f, false))
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Formats a pmem2 error for `path` as one line: message and code name.
pub fn pmem_err(path: &Path) -> impl Fn(pmem2::Error) -> String + Copy + '_ {
    move |e| format!("{}: {e} ({})", path.display(), e.code_name())
}

/// Parses a byte count: digits with an optional `K`, `M`, `G` or `T`
/// suffix (powers of 1024; `KiB` and `KB` spellings too), or `0x` hex.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).map_err(|_| format!("invalid size '{s}'"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("invalid size '{s}'"))?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("invalid size suffix in '{s}' (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

/// `1.5 GiB`-style formatting.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("0x1000").unwrap(), 4096);
        assert!(parse_size("12q").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
    }
}
