//! Helpers shared by the subcommands.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

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

/// A temporary file of `size` zero bytes named `.pmem2-<what>-*` in `dir`,
/// removed on drop.
pub fn temp_file(what: &str, size: u64, dir: &Path) -> Result<tempfile::NamedTempFile, String> {
    let temp = tempfile::Builder::new()
        .prefix(&format!(".pmem2-{what}-"))
        .tempfile_in(dir)
        .map_err(|e| {
            format!(
                "cannot create a temporary file in {}: {}",
                dir.display(),
                os_message(&e)
            )
        })?;
    temp.as_file()
        .set_len(size)
        .map_err(|e| format!("cannot size {}: {}", temp.path().display(), os_message(&e)))?;
    Ok(temp)
}

/// An I/O error as one phrase: the system's message without Rust's
/// `(os error N)` suffix, so every path reports a problem in the same words
/// (`x: Is a directory`, whichever of SRC or DST `x` is).
pub fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    let Some(i) = text.find(" (os error ") else {
        return text;
    };
    let rest = &text[i..];
    let after = rest.find(')').map_or("", |j| &rest[j + 1..]);
    // tempfile adds ` at path "..."`: the caller names the place already.
    let after = if after.starts_with(" at path") {
        ""
    } else {
        after
    };
    format!("{}{after}", &text[..i])
}

/// `path: message` for an I/O error on `path`.
pub fn io_err<P: AsRef<Path> + ?Sized>(path: &P) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {}", path.as_ref().display(), os_message(&e))
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
            File::open(path).map(|f| (f, false)).map_err(io_err(path))
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Formats a pmem2 error for `path` as one line: message and code name.
pub fn pmem_err(path: &Path) -> impl Fn(pmem2::Error) -> String + Copy + '_ {
    move |e| format!("{}: {e} ({})", path.display(), e.code_name())
}

/// Parses a byte count with parse-size: a number with an optional unit,
/// `K`, `M`, `G`, `T` (and `KiB`, `KB`, ... spellings) all powers of 1024,
/// or `0x` hex.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).map_err(|e| format!("invalid size '{s}': {e}"));
    }
    parse_size::Config::new()
        .with_binary()
        .parse_size(t)
        .map_err(|e| format!("invalid size '{s}': {e}"))
}

/// `1.50 GiB`-style formatting (indicatif's).
pub fn human_bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
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
        assert_eq!(parse_size("1.5K").unwrap(), 1536);
        assert_eq!(parse_size("8 KB").unwrap(), 8192);
        assert_eq!(parse_size("0x1000").unwrap(), 4096);
        assert!(parse_size("12q").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(1 << 30), "1.00 GiB");
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn os_messages_have_no_rust_suffix() {
        let e = std::io::Error::from_raw_os_error(21);
        assert_eq!(os_message(&e), "Is a directory");
        assert_eq!(io_err("/tmp")(e), "/tmp: Is a directory");
        let wrapped = std::io::Error::other(
            "No such file or directory (os error 2) at path \"/proc/.pmem2-x\"",
        );
        assert_eq!(os_message(&wrapped), "No such file or directory");
        let custom = std::io::Error::other("ended early");
        assert_eq!(os_message(&custom), "ended early");
    }
}
